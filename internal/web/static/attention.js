// @ts-check
// Getting the reader's attention back to the tab: the number of unread
// messages over every conversation in the title ("(3) Parley") and as a
// badge on the icon, and, once the reader allows it, a browser
// notification for each new message from someone else while the tab is
// hidden. Everything shown is written from the store's numbers; the read
// cursor itself is the conversation view's, which does not move it while
// the tab is hidden, so a hidden tab's open conversation counts too.

import { fetchConversation } from "./api.js";
import { UNKNOWN_NAME, messageText } from "./format.js";
import { byId, coalesce } from "./markup.js";
import { titleOf } from "./store.js";

/** @typedef {import("./wire.js").Message} Message */
/** @typedef {import("./store.js").Store} Store */

/** The page's title with nothing unread. */
const TITLE = "Parley";
/** The icon's size in pixels when it carries a badge. */
const ICON_SIZE = 64;

/**
 * The text of the unread badge: the number, or "99+" past it.
 * @param {number} n
 * @returns {string}
 */
export function badgeText(n) {
  return n > 99 ? "99+" : String(n);
}

/** The title, the icon's badge and the notifications of the main view. */
export class Attention {
  /**
   * @param {Store} store
   * @param {(id: number) => void} open opens a conversation (its notification was clicked)
   */
  constructor(store, open) {
    this.store = store;
    this.open = open;
    /** @type {HTMLLinkElement | null} */
    this.icon = document.querySelector('link[rel="icon"]');
    this.defaultIcon = this.icon ? this.icon.href : "";
    /** @type {Promise<HTMLImageElement | null> | null} the default icon, loaded once to draw on */
    this.iconImage = null;
    /** the unread count the title and the icon show, -1 before the first render */
    this.shown = -1;
    /** counts icon drawings, so that a slow one does not overwrite a newer one */
    this.drawing = 0;
    this.offer = byId("notify-offer", HTMLElement);
    this.button = byId("notify-button", HTMLButtonElement);
    /** @type {Set<string>} "conversation:seq" of the messages notified while hidden */
    this.notified = new Set();
    this.invalidate = coalesce(() => this.render());
  }

  /** Follows the store and offers notifications when the browser can ask for them. */
  start() {
    this.store.subscribe(this.invalidate);
    this.button.addEventListener("click", async () => {
      if (!("Notification" in window)) return;
      try {
        await Notification.requestPermission();
      } finally {
        this.renderOffer();
      }
    });
    // The permission can change in the browser's settings while the page is open.
    if ("permissions" in navigator) {
      navigator.permissions.query({ name: "notifications" }).then(
        (status) => status.addEventListener("change", () => this.renderOffer()),
        () => {},
      );
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.notified.clear();
    });
    this.renderOffer();
    this.render();
  }

  /** Writes the title and the icon from the store's unread count. */
  render() {
    const n = this.store.unreadTotal();
    if (n === this.shown) return;
    this.shown = n;
    document.title = n > 0 ? `(${badgeText(n)}) ${TITLE}` : TITLE;
    this.drawIcon(n);
  }

  /** Shows the button while the browser has not been asked yet. */
  renderOffer() {
    this.offer.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  /**
   * Puts the icon with a badge of n (none for 0) into the page's <link rel="icon">.
   * @param {number} n
   * @returns {Promise<void>}
   */
  async drawIcon(n) {
    const icon = this.icon;
    if (!icon) return;
    const drawing = ++this.drawing;
    if (n === 0) {
      icon.href = this.defaultIcon;
      return;
    }
    this.iconImage ??= loadImage(this.defaultIcon);
    const image = await this.iconImage;
    if (drawing !== this.drawing) return; // a newer count is being drawn
    const canvas = document.createElement("canvas");
    canvas.width = ICON_SIZE;
    canvas.height = ICON_SIZE;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    if (image) ctx.drawImage(image, 0, 0, ICON_SIZE, ICON_SIZE);
    const text = badgeText(n);
    const r = text.length > 1 ? 24 : 20;
    ctx.fillStyle = "#d0261d";
    ctx.beginPath();
    ctx.arc(ICON_SIZE - r, r, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.font = `bold ${text.length > 2 ? 20 : 28}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, ICON_SIZE - r, r + 1);
    icon.href = canvas.toDataURL("image/png");
  }

  /**
   * A message frame arrived: when the tab is hidden and notifications are
   * allowed, a message from someone else that is unread and not notified
   * yet shows a notification; clicking it brings the tab forward with the
   * conversation open.
   * @param {Message} m
   * @returns {Promise<void>}
   */
  async notify(m) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden" || m.sender_id === this.store.me) return;
    const text = m.kind === "system" ? "" : messageText(m);
    if (!text) return; // a change to a group, with no text to show
    let row = this.store.row(m.conversation_id);
    if (row && m.seq <= row.last_read_seq) return;
    const key = `${m.conversation_id}:${m.seq}`;
    if (this.notified.has(key)) return;
    this.notified.add(key);
    if (!row) {
      // A conversation new to the page: its name comes with its row.
      try {
        row = (await fetchConversation(m.conversation_id)).conversation;
      } catch {
        row = undefined;
      }
    }
    let n;
    try {
      n = new Notification(row ? titleOf(row) : TITLE, {
        // In a group the title is the group's: the body says who wrote.
        body: row?.kind === "group" ? `${this.store.nameOf(m.sender_id) ?? UNKNOWN_NAME}: ${text}` : text,
        // One notification per conversation: a newer message replaces the older.
        tag: `conversation-${m.conversation_id}`,
        icon: this.defaultIcon,
      });
    } catch {
      return; // some browsers (Chrome on Android) show them only from a service worker
    }
    n.addEventListener("click", () => {
      window.focus();
      this.open(m.conversation_id);
      n.close();
    });
  }
}

/**
 * Loads an image, or null when it does not load.
 * @param {string} src
 * @returns {Promise<HTMLImageElement | null>}
 */
async function loadImage(src) {
  const image = new Image();
  image.src = src;
  try {
    await image.decode();
    return image;
  } catch {
    return null;
  }
}
