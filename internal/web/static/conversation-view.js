// @ts-check
// The open conversation: its header (name, online or typing, closed
// account), its history drawn from the store (day separators, "Seen", the
// messages still in the outbox at the end), older pages loaded as the
// reader scrolls up, gaps filled from the server, and the read cursor moved
// when the newest message is in view.

import { fetchConversation, fetchMessages, postRead } from "./api.js";
import { Composer } from "./composer.js";
import { dayKey, dayLabel, timeLabel } from "./format.js";
import { byId, cloneTemplate, coalesce, part, reconcileChildren } from "./markup.js";
import { newestSeq, titleOf } from "./store.js";

/** @typedef {import("./wire.js").ConversationRow} ConversationRow */
/** @typedef {import("./wire.js").Message} Message */
/** @typedef {import("./wire.js").TypingFrame} TypingFrame */
/** @typedef {import("./store.js").Store} Store */
/** @typedef {import("./store.js").History} History */
/** @typedef {import("./outbox.js").Outbox} Outbox */
/** @typedef {import("./outbox.js").PendingSend} PendingSend */
/** @typedef {import("./connection.js").Connection} Connection */

/** Messages per page of history. */
const PAGE_SIZE = 50;
/** Messages per request when filling a gap. */
const GAP_PAGE_SIZE = 100;
/** How long "typing…" shows after a typing frame. */
const TYPING_SHOWN_MS = 3500;
/** Older messages load when the reader is this close to the top (px). */
const LOAD_OLDER_WITHIN_PX = 300;
/** The reader counts as at the bottom this close to it (px). */
const AT_BOTTOM_WITHIN_PX = 80;

/**
 * Fills a row cloned from #message-row-template with a message: everything
 * the "message-row" template fills on the server.
 * @param {HTMLElement} li
 * @param {Message} m
 * @param {boolean} own
 */
function fillMessage(li, m, own) {
  li.classList.toggle("own", own);
  li.dataset.seq = String(m.seq);
  part(li, ".body", HTMLElement).textContent = m.body;
  const time = part(li, ".time", HTMLTimeElement);
  time.dateTime = m.created_at;
  time.textContent = timeLabel(new Date(m.created_at));
}

/**
 * Fills a row cloned from #message-row-template with a message not stored
 * yet: no seq, marked pending (or failed, with the reason in place of the
 * time).
 * @param {HTMLElement} li
 * @param {PendingSend} p
 */
function fillPending(li, p) {
  li.classList.add("own");
  li.classList.toggle("pending", !p.failure);
  li.classList.toggle("failed", !!p.failure);
  delete li.dataset.seq;
  part(li, ".body", HTMLElement).textContent = p.body;
  const time = part(li, ".time", HTMLTimeElement);
  time.dateTime = p.createdAt;
  time.textContent = p.failure ? `Not sent: ${p.failure}` : timeLabel(new Date(p.createdAt));
}

/**
 * Fills a row cloned from #day-row-template: what the "day-row" template
 * fills on the server.
 * @param {HTMLElement} li
 * @param {Date} date
 */
function fillDay(li, date) {
  part(li, "span", HTMLElement).textContent = dayLabel(date);
}

/** The conversation pane. */
export class ConversationView {
  /**
   * @param {Store} store
   * @param {Outbox} outbox
   * @param {Connection} conn
   */
  constructor(store, outbox, conn) {
    this.store = store;
    this.outbox = outbox;
    this.conn = conn;
    this.app = part(document, ".app", HTMLElement);
    this.section = byId("conversation", HTMLElement);
    this.placeholder = part(document, ".placeholder", HTMLElement);
    this.titleEl = byId("conversation-title", HTMLElement);
    this.statusEl = byId("conversation-status", HTMLElement);
    this.scroller = byId("message-scroller", HTMLElement);
    this.messages = byId("messages", HTMLElement);
    this.closedNotice = byId("closed-notice", HTMLElement);
    this.composer = new Composer({ onSend: (body) => this.send(body), onTyping: () => this.sendTyping() });
    this.seenMark = cloneTemplate("seen-mark-template");

    // What the message list shows, so that a render only touches what changed.
    /** @type {number | null} the conversation drawn */
    this.drawnId = null;
    /** @type {Map<number, {li: HTMLElement, message: Message}>} */
    this.messageNodes = new Map();
    /** @type {Map<string, HTMLElement>} by dayKey */
    this.dayNodes = new Map();
    /** @type {Map<string, {li: HTMLElement, failure: string}>} by client_id */
    this.pendingNodes = new Map();
    this.firstSeq = 0;
    this.scrollToEnd = false;

    this.typingUntil = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.typingTimer = undefined;
    this.openTicket = 0;
    this.loadingOlder = false;
    this.filling = false;
    this.fillAgain = false;
    /** the row's last_seq the last gap fill was started for */
    this.fillTarget = 0;
    this.invalidate = coalesce(() => this.render());
  }

  /** Listens to the page and follows the store and the outbox. */
  start() {
    this.composer.start();
    byId("back-link", HTMLAnchorElement).addEventListener("click", (e) => {
      e.preventDefault();
      this.close(true);
    });
    window.addEventListener("popstate", () => {
      const m = window.location.pathname.match(/^\/c\/(\d+)$/);
      if (m) this.open(Number(m[1]), false);
      else this.close(false);
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < LOAD_OLDER_WITHIN_PX) this.loadOlder();
      this.markRead();
    });
    document.addEventListener("visibilitychange", () => this.markRead());
    window.addEventListener("focus", () => this.markRead());
    this.store.subscribe(this.invalidate);
    this.outbox.subscribe((id) => {
      if (id === this.store.openId) this.invalidate();
    });
    this.render();
  }

  /**
   * Opens a conversation: fetches its row and newest page, then shows it.
   * @param {number} id
   * @param {boolean} push whether to add a history entry (not when going back)
   */
  async open(id, push) {
    if (this.store.openId === id) return;
    const ticket = ++this.openTicket;
    let row, page;
    try {
      [row, page] = await Promise.all([fetchConversation(id), fetchMessages(id, { limit: PAGE_SIZE })]);
    } catch {
      window.location.assign(`/c/${id}`); // the server's page says what is wrong
      return;
    }
    if (ticket !== this.openTicket) return; // another was opened meanwhile
    if (push) history.pushState({ id }, "", `/c/${id}`);
    this.store.open(row.conversation, page);
    this.render(); // now, so that the composer can take the focus
    this.composer.focus();
  }

  /**
   * Closes the conversation, back to the list.
   * @param {boolean} push whether to add a history entry
   */
  close(push) {
    this.openTicket++;
    this.store.close();
    if (push) history.pushState({}, "", "/");
  }

  /** Writes the pane from the store. */
  render() {
    const id = this.store.openId;
    const row = id === null ? undefined : this.store.row(id);
    const h = id === null ? null : this.store.history(id);
    const shown = id !== null && !!row && !!h;
    this.section.hidden = !shown;
    this.placeholder.hidden = shown;
    this.app.classList.toggle("has-conversation", shown);
    if (id === null || !row || !h) {
      this.forget(null);
      delete this.section.dataset.id;
      return;
    }
    if (this.drawnId !== id) this.forget(id);
    this.section.dataset.id = String(id);
    this.titleEl.textContent = titleOf(row);
    const online = !!(row.other_user && row.other_user.online);
    this.statusEl.textContent = Date.now() < this.typingUntil ? "typing…" : online ? "online" : "offline";
    const closed = !!(row.other_user && row.other_user.closed);
    this.composer.show(id, !closed);
    this.closedNotice.hidden = !closed;
    this.renderMessages(id, row, h);
    // The history must reach the row's newest message: frames missed while
    // away, or one that came before its predecessors, leave a gap.
    if (row.last_seq > newestSeq(h) && row.last_seq > this.fillTarget) {
      this.fillTarget = row.last_seq;
      this.fillGap();
    }
    this.markRead();
    this.fillViewport();
  }

  /**
   * Drops what was drawn for another conversation.
   * @param {number | null} id the conversation about to be drawn
   */
  forget(id) {
    if (this.drawnId === id) return;
    this.drawnId = id;
    this.messageNodes.clear();
    this.dayNodes.clear();
    this.pendingNodes.clear();
    this.messages.replaceChildren();
    this.seenMark.remove();
    this.firstSeq = 0;
    this.fillTarget = 0;
    this.typingUntil = 0;
    this.scrollToEnd = true;
  }

  /**
   * Writes the message list: day separators, messages, "Seen", then the
   * messages still in the outbox; and keeps the reader's place.
   * @param {number} id
   * @param {ConversationRow} row
   * @param {History} h
   */
  renderMessages(id, row, h) {
    const wasAtBottom = this.atBottom();
    const oldHeight = this.scroller.scrollHeight;
    /** @type {HTMLElement[]} */
    const nodes = [];
    const seqs = new Set();
    const days = new Set();
    /** @type {HTMLElement | null} */
    let seenLi = null;
    let day = "";
    for (const m of h.messages) {
      const at = new Date(m.created_at);
      const key = dayKey(at);
      if (key !== day) {
        day = key;
        days.add(key);
        nodes.push(this.dayNode(key, at));
      }
      const li = this.messageNode(m);
      nodes.push(li);
      seqs.add(m.seq);
      // "Seen" goes under the newest own message the other person has read.
      if (m.sender_id === this.store.me && m.seq <= row.other_read_seq) seenLi = li;
    }
    const clientIds = new Set();
    for (const p of this.outbox.pending(id)) {
      nodes.push(this.pendingNode(p));
      clientIds.add(p.clientId);
    }
    for (const seq of [...this.messageNodes.keys()]) if (!seqs.has(seq)) this.messageNodes.delete(seq);
    for (const key of [...this.dayNodes.keys()]) if (!days.has(key)) this.dayNodes.delete(key);
    for (const c of [...this.pendingNodes.keys()]) if (!clientIds.has(c)) this.pendingNodes.delete(c);

    reconcileChildren(this.messages, nodes);
    if (seenLi) seenLi.append(this.seenMark);
    else this.seenMark.remove();

    const firstSeq = h.messages.length ? h.messages[0].seq : 0;
    if (this.scrollToEnd || wasAtBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (this.firstSeq && firstSeq < this.firstSeq) {
      // Older messages went in above: keep what the reader was looking at.
      this.scroller.scrollTop += this.scroller.scrollHeight - oldHeight;
    }
    this.scrollToEnd = false;
    this.firstSeq = firstSeq;
  }

  /**
   * @param {Message} m
   * @returns {HTMLElement}
   */
  messageNode(m) {
    const drawn = this.messageNodes.get(m.seq);
    if (drawn && drawn.message === m) return drawn.li;
    const li = drawn ? drawn.li : cloneTemplate("message-row-template");
    fillMessage(li, m, m.sender_id === this.store.me);
    this.messageNodes.set(m.seq, { li, message: m });
    return li;
  }

  /**
   * @param {string} key
   * @param {Date} date
   * @returns {HTMLElement}
   */
  dayNode(key, date) {
    let li = this.dayNodes.get(key);
    if (!li) {
      li = cloneTemplate("day-row-template");
      fillDay(li, date);
      this.dayNodes.set(key, li);
    }
    return li;
  }

  /**
   * @param {PendingSend} p
   * @returns {HTMLElement}
   */
  pendingNode(p) {
    const drawn = this.pendingNodes.get(p.clientId);
    if (drawn && drawn.failure === p.failure) return drawn.li;
    const li = drawn ? drawn.li : cloneTemplate("message-row-template");
    fillPending(li, p);
    this.pendingNodes.set(p.clientId, { li, failure: p.failure });
    return li;
  }

  /** @returns {boolean} whether the newest message is in view */
  atBottom() {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < AT_BOTTOM_WITHIN_PX;
  }

  /**
   * Sends a message from the composer, through the outbox.
   * @param {string} body
   */
  send(body) {
    const id = this.store.openId;
    if (id === null) return;
    this.scrollToEnd = true;
    this.outbox.add(id, body);
  }

  /** @returns {boolean} whether a typing frame went */
  sendTyping() {
    const id = this.store.openId;
    return id !== null && this.conn.send({ type: "typing", conversation_id: id });
  }

  /**
   * Someone is typing: "typing…" shows for a while if it is in the open
   * conversation.
   * @param {TypingFrame} f
   */
  showTyping(f) {
    if (f.conversation_id !== this.store.openId || f.user_id === this.store.me) return;
    this.typingUntil = Date.now() + TYPING_SHOWN_MS;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(this.invalidate, TYPING_SHOWN_MS + 50);
    this.invalidate();
  }

  /** Moves the read cursor to the newest message when the reader can see it. */
  markRead() {
    const id = this.store.openId;
    if (id === null || document.visibilityState !== "visible" || this.section.hidden || !this.atBottom()) return;
    const row = this.store.row(id);
    const h = this.store.history(id);
    if (!row || !h) return;
    const newest = newestSeq(h);
    if (newest <= row.last_read_seq) return;
    this.store.read(id, this.store.me, newest);
    if (!this.conn.send({ type: "read", conversation_id: id, seq: newest })) {
      postRead(id, newest).catch(() => {});
    }
  }

  /** Loads the page before the oldest message shown. */
  async loadOlder() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (id === null || !h || this.loadingOlder || !h.hasMore || h.messages.length === 0) return;
    this.loadingOlder = true;
    try {
      const page = await fetchMessages(id, { before_seq: h.messages[0].seq, limit: PAGE_SIZE });
      if (this.store.history(id) === h) this.store.addOlder(id, page);
    } catch {
      // Scrolling again tries again.
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Loads older pages until the list can scroll, so that scrolling can load more. */
  fillViewport() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (h && h.hasMore && !this.loadingOlder && this.scroller.scrollHeight <= this.scroller.clientHeight + LOAD_OLDER_WITHIN_PX) {
      this.loadOlder();
    }
  }

  /**
   * Fetches every message after the newest one held, page by page; a call
   * while one runs makes it go round once more.
   * @returns {Promise<void>}
   */
  async fillGap() {
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    try {
      do {
        this.fillAgain = false;
        for (;;) {
          const id = this.store.openId;
          const h = id === null ? null : this.store.history(id);
          if (id === null || !h) return;
          const page = await fetchMessages(id, { after_seq: newestSeq(h), limit: GAP_PAGE_SIZE });
          if (this.store.history(id) !== h) break; // another is open now: its own fill sets fillAgain
          this.store.addNewer(page.messages);
          if (!page.has_more || page.messages.length === 0) break;
        }
      } while (this.fillAgain);
    } catch {
      // The next reconnect fills it.
    } finally {
      this.filling = false;
    }
  }

  /**
   * After a reconnect: the open conversation's missed messages and its row
   * (the other person's read cursor, presence).
   * @returns {Promise<void>}
   */
  async catchUp() {
    const id = this.store.openId;
    if (id === null) return;
    await this.fillGap();
    try {
      const data = await fetchConversation(id);
      this.store.putRow(data.conversation);
    } catch {
      // The next reconnect tries again.
    }
  }
}
