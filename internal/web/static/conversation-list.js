// @ts-check
// The conversation list: one row per conversation of the store's list, in
// its order, redrawn from the store whenever it changes (a row only when
// its data did), and fetched again from the server when the page learns of
// a conversation it does not know.

import { fetchConversation, fetchConversations } from "./api.js";
import { listTime, previewText } from "./format.js";
import { byId, cloneTemplate, coalesce, part, reconcileChildren } from "./markup.js";
import { titleOf, unreadOf } from "./store.js";

/** @typedef {import("./wire.js").ConversationRow} ConversationRow */
/** @typedef {import("./store.js").Store} Store */
/** @typedef {import("./conversation-view.js").Names} Names */

/** How long a refresh waits for more reasons to refresh, so a burst makes one fetch. */
const REFRESH_DELAY_MS = 100;

/**
 * Fills a row cloned from #conversation-row-template with a conversation:
 * everything the "conversation-row" template fills on the server.
 * @param {HTMLElement} li
 * @param {ConversationRow} row
 * @param {boolean} active the open conversation
 * @param {string} preview the last message as the row says it (previewText)
 */
function fillRow(li, row, active, preview) {
  // A group has no online dot (rows.html hides it): who is online shows
  // in its header.
  const online = !!(row.other_user && row.other_user.online);
  const unread = unreadOf(row);
  li.classList.toggle("online", online);
  li.classList.toggle("group", row.kind === "group");
  li.classList.toggle("active", active);
  li.dataset.id = String(row.id);
  part(li, "a", HTMLAnchorElement).href = `/c/${row.id}`;
  part(li, ".online-dot", HTMLElement).setAttribute("aria-label", online ? "online" : "offline");
  part(li, ".name", HTMLElement).textContent = titleOf(row);
  const time = part(li, ".time", HTMLTimeElement);
  time.dateTime = row.last_message ? row.last_message.created_at : "";
  time.textContent = row.last_message ? listTime(new Date(row.last_message.created_at)) : "";
  part(li, ".preview", HTMLElement).textContent = preview;
  const badge = part(li, ".unread", HTMLElement);
  badge.textContent = String(unread);
  badge.setAttribute("aria-label", `${unread} unread`);
  badge.hidden = unread === 0;
}

/** The list of conversations in the sidebar. */
export class ConversationList {
  /**
   * @param {Store} store
   * @param {(id: number) => void} onOpen a row was clicked (a plain click: others follow the link)
   * @param {Names} names
   */
  constructor(store, onOpen, names) {
    this.store = store;
    this.names = names;
    this.onOpen = onOpen;
    this.list = byId("conversation-list", HTMLElement);
    this.empty = byId("no-conversations", HTMLElement);
    /** @type {Map<number, {li: HTMLElement, row: ConversationRow | null, active: boolean, preview: string}>} what each row shows */
    this.items = new Map();
    /** @type {WeakMap<Element, number>} the conversation of each row element */
    this.ids = new WeakMap();
    /** @type {ReturnType<typeof setTimeout> | 0} */
    this.refreshTimer = 0;
    this.refreshAgain = false;
    this.invalidate = coalesce(() => this.render());
  }

  /** Draws the list and follows the store. */
  start() {
    this.list.addEventListener("click", (e) => {
      if (!(e.target instanceof Element) || e.metaKey || e.ctrlKey || e.shiftKey) return;
      const li = e.target.closest("li.conversation");
      const id = li ? this.ids.get(li) : undefined;
      if (id === undefined) return;
      e.preventDefault();
      this.onOpen(id);
    });
    this.store.subscribe(this.invalidate);
    this.render();
  }

  /** Writes the rows from the store: the server's rows are replaced on the first call. */
  render() {
    const openId = this.store.openId;
    /** @type {HTMLElement[]} */
    const nodes = [];
    const shown = new Set();
    for (const row of this.store.listRows()) {
      let item = this.items.get(row.id);
      if (!item) {
        item = { li: cloneTemplate("conversation-row-template"), row: null, active: false, preview: "" };
        this.items.set(row.id, item);
        this.ids.set(item.li, row.id);
      }
      const active = row.id === openId;
      const preview = previewText(this.store.me, row, (user) => this.names.name(row.id, user));
      if (item.row !== row || item.active !== active || item.preview !== preview) {
        fillRow(item.li, row, active, preview);
        item.row = row;
        item.active = active;
        item.preview = preview;
      }
      nodes.push(item.li);
      shown.add(row.id);
    }
    for (const id of [...this.items.keys()]) {
      if (!shown.has(id)) this.items.delete(id);
    }
    reconcileChildren(this.list, nodes);
    this.empty.hidden = nodes.length > 0;
  }

  /**
   * Puts the keyboard focus on a conversation's row, if it is listed.
   * @param {number} id
   */
  focusRow(id) {
    const item = this.items.get(id);
    if (item) part(item.li, "a", HTMLAnchorElement).focus();
  }

  /**
   * Fetches the list's first page into the store.
   * @returns {Promise<void>}
   */
  async refresh() {
    const data = await fetchConversations();
    this.store.setList(data.conversations);
  }

  /**
   * Refreshes the list soon, once for any number of calls meanwhile; a call
   * that comes while a refresh is under way gets another one after it, so
   * nothing that arrived during the fetch is left out.
   */
  scheduleRefresh() {
    if (this.refreshTimer) {
      this.refreshAgain = true;
      return;
    }
    this.refreshTimer = setTimeout(async () => {
      this.refreshAgain = false;
      try {
        await this.refresh();
      } catch {
        // The next reconnect refreshes it.
      } finally {
        this.refreshTimer = 0;
        if (this.refreshAgain) this.scheduleRefresh();
      }
    }, REFRESH_DELAY_MS);
  }

  /**
   * Fetches one conversation's row into the store.
   * @param {number} id
   * @returns {Promise<void>}
   */
  async refreshRow(id) {
    try {
      const data = await fetchConversation(id);
      this.store.putRow(data.conversation);
    } catch {
      // Left as it was; the next reconnect refreshes the list.
    }
  }
}
