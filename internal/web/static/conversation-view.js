// @ts-check
// The open conversation: its header (name, online or typing, closed
// account), its history drawn from the store (day separators, "New
// messages" above the first unread one, "Seen", the messages still in the
// outbox at the end), a window of a few hundred messages moved as the
// reader scrolls (pages fetched at one end, messages dropped at the other),
// gaps filled from the server, the "↓ N new messages" button, the read
// cursor moved when the newest message is in view, and editing and
// deleting messages in their rows, caught up by version after a reconnect.

import { ApiError, deleteMessage, editMessage, fetchConversation, fetchMessages, messageChanges, postRead, request } from "./api.js";
import { fillAttachments } from "./attachments.js";
import { Composer, MAX_BODY, charCount } from "./composer.js";
import { DELETED_TEXT, UNKNOWN_NAME, dayKey, dayLabel, memberStatus, seenByText, systemParts, timeLabel, typingText } from "./format.js";
import { byId, cloneTemplate, coalesce, part, reconcileChildren } from "./markup.js";
import { newestSeq, titleOf } from "./store.js";
import { fillText } from "./text.js";

/** @typedef {import("./wire.js").ConversationRow} ConversationRow */
/** @typedef {import("./wire.js").Message} Message */
/** @typedef {import("./wire.js").TypingFrame} TypingFrame */
/** @typedef {import("./wire.js").Member} Member */
/** @typedef {import("./wire.js").MembersResponse} MembersResponse */
/** @typedef {import("./format.js").NamePart} NamePart */
/** @typedef {import("./store.js").Store} Store */
/** @typedef {import("./store.js").History} History */
/** @typedef {import("./outbox.js").Outbox} Outbox */
/** @typedef {import("./outbox.js").PendingSend} PendingSend */
/** @typedef {import("./connection.js").Connection} Connection */
/** @typedef {import("./attachments.js").Uploads} Uploads */
/** @typedef {import("./wire.js").Attachment} Attachment */

/** Messages of the first page of a conversation (as the server's page). */
const PAGE_SIZE = 50;
/** Messages per page fetched as the reader scrolls. */
const SCROLL_PAGE_SIZE = 100;
/**
 * The most messages held and drawn: the window the reader scrolls through.
 * A page past it drops as many from the end farther from the reader, so
 * that the page's work per message (a send, an arrival) stays the same
 * however far the reader has scrolled.
 */
const WINDOW = 600;
/** Messages per request when filling a gap. */
const GAP_PAGE_SIZE = 100;
/** How long "typing…" shows after a typing frame. */
const TYPING_SHOWN_MS = 3500;
/** Messages load when the reader is this close to either end (px). */
const LOAD_WITHIN_PX = 600;
/** The reader counts as at the bottom this close to it (px). */
const AT_BOTTOM_WITHIN_PX = 80;

/** Members per page when the page reads a group's member list. */
const MEMBER_PAGE_SIZE = 100;
/** Changes per request when catching up by version. */
const CHANGES_PAGE_SIZE = 100;

/**
 * What the reader may do to a message: edit their own, delete their own or,
 * as a group's admin, anyone's; never a system message or a deleted one
 * (canEdit and canDelete in pages.go).
 * @typedef {{edit: boolean, del: boolean}} Actions
 */

/**
 * @param {number} me
 * @param {Message} m
 * @param {boolean} admin the reader is an admin of the group
 * @returns {Actions}
 */
function messageActions(me, m, admin) {
  const open = m.kind !== "system" && !m.deleted;
  return { edit: open && m.sender_id === me, del: open && (m.sender_id === me || admin) };
}

/**
 * The title of a message's "(edited)": when, in UTC to the minute, the
 * same words as the server's page (editedTitle in pages.go), whatever the
 * reader's zone.
 * @param {string} at RFC 3339
 * @returns {string}
 */
function editedTitle(at) {
  const iso = new Date(at).toISOString();
  return `Edited ${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * Why a change to a message failed, as a sentence for its row.
 * @param {string} what "Not saved", "Not deleted"
 * @param {unknown} err
 * @returns {string}
 */
function failure(what, err) {
  if (!(err instanceof ApiError)) return `${what}: something went wrong. Try again.`;
  switch (err.status) {
    case 0:
      return `${what}: no connection to the server. Try again.`;
    case 400:
    case 422:
      return `${what}: ${err.message}.`;
    case 403:
      return `${what}: you may not change this message.`;
    case 404:
      return `${what}: the message is gone (deleted, or you are no longer in this conversation).`;
    case 429:
      return `${what}: too many changes at once. Try again in a moment.`;
  }
  return `${what}: the server could not do it (${err.status}). Try again.`;
}

/**
 * GET /api/v1/conversations/{id}/members: a page of members, in user ID order.
 * @param {number} id
 * @param {{after?: string, limit: number}} query
 * @returns {Promise<MembersResponse>}
 */
async function fetchMembers(id, query) {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.after) params.set("after", query.after);
  return /** @type {MembersResponse} */ (await request("GET", `/api/v1/conversations/${id}/members?${params}`));
}

/**
 * A conversation's whole member list, page by page.
 * @param {number} id
 * @returns {Promise<Member[]>}
 */
async function fetchAllMembers(id) {
  /** @type {Member[]} */
  const all = [];
  let after = "";
  for (;;) {
    const page = await fetchMembers(id, { after, limit: MEMBER_PAGE_SIZE });
    all.push(...page.members);
    if (!page.next) return all;
    after = page.next;
  }
}

/**
 * Names people for the views: from what the store knows, else asks the
 * group for that member (one member page starting at their id) and says
 * "Someone" until the answer comes, or for good when they are no longer a
 * member the page can ask about.
 */
export class Names {
  /** @param {Store} store */
  constructor(store) {
    this.store = store;
    /** @type {Set<string>} "conversation:user" asked already */
    this.asked = new Set();
  }

  /**
   * @param {number} conversation where the person was seen
   * @param {number} id
   * @returns {string}
   */
  name(conversation, id) {
    const known = this.store.nameOf(id);
    if (known !== undefined) return known;
    this.ask(conversation, id);
    return UNKNOWN_NAME;
  }

  /**
   * Fetches one member of a conversation into the store.
   * @param {number} conversation
   * @param {number} id
   */
  async ask(conversation, id) {
    const key = `${conversation}:${id}`;
    if (id <= 0 || this.asked.has(key)) return;
    this.asked.add(key);
    try {
      const page = await fetchMembers(conversation, { after: id > 1 ? String(id - 1) : "", limit: 1 });
      const m = page.members[0];
      if (m && m.user.id === id) this.store.putMember(conversation, m);
    } catch {
      // Named "Someone"; a later message or member frame may name them.
    }
  }

  /**
   * Asks again for the people once named "Someone" in a conversation (a
   * member frame says someone joined).
   * @param {number} conversation
   */
  forget(conversation) {
    for (const key of [...this.asked]) if (key.startsWith(`${conversation}:`)) this.asked.delete(key);
  }
}

/**
 * Gives a row its message's anchor (m-{seq}, where a search result's link
 * goes) and marks it when it is the message the page was opened at, as
 * the server's row does.
 * @param {HTMLElement} li
 * @param {number} seq 0 for a message not stored yet
 * @param {boolean} found
 */
function fillAnchor(li, seq, found) {
  if (seq) li.id = `m-${seq}`;
  else li.removeAttribute("id");
  li.classList.toggle("found", found);
  if (found) li.setAttribute("aria-current", "true");
  else li.removeAttribute("aria-current");
}

/**
 * Fills a row cloned from #message-row-template with a message: everything
 * the "message-row" template fills on the server.
 * @param {HTMLElement} li
 * @param {Message} m
 * @param {boolean} own
 * @param {string} sender the sender's name shown above it, "" for none
 * @param {Actions} actions
 * @param {boolean} found the page was opened at this message
 */
function fillMessage(li, m, own, sender, actions, found) {
  li.classList.toggle("own", own);
  li.classList.toggle("deleted", m.deleted);
  li.dataset.seq = String(m.seq);
  fillAnchor(li, m.seq, found);
  fillSender(li, sender);
  const body = part(li, ".body", HTMLElement);
  if (m.deleted) body.textContent = DELETED_TEXT;
  else fillText(body, m.body);
  fillAttachments(li, m.deleted ? [] : m.attachments);
  const time = part(li, ".time", HTMLTimeElement);
  time.dateTime = m.created_at;
  time.textContent = timeLabel(new Date(m.created_at));
  const edited = part(li, ".edited", HTMLElement);
  edited.title = m.edited_at && !m.deleted ? editedTitle(m.edited_at) : "";
  edited.hidden = !edited.title;
  part(li, ".edit-button", HTMLButtonElement).hidden = !actions.edit;
  part(li, ".delete-button", HTMLButtonElement).hidden = !actions.del;
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
  li.classList.remove("deleted");
  fillSender(li, "");
  li.classList.toggle("pending", !p.failure);
  li.classList.toggle("failed", !!p.failure);
  delete li.dataset.seq;
  fillAnchor(li, 0, false);
  fillText(part(li, ".body", HTMLElement), p.body);
  fillAttachments(li, p.attachments);
  const time = part(li, ".time", HTMLTimeElement);
  time.dateTime = p.createdAt;
  time.textContent = p.failure ? `Not sent: ${p.failure}` : timeLabel(new Date(p.createdAt));
  const edited = part(li, ".edited", HTMLElement);
  edited.title = "";
  edited.hidden = true;
  part(li, ".edit-button", HTMLButtonElement).hidden = true;
  part(li, ".delete-button", HTMLButtonElement).hidden = true;
}

/**
 * Puts the sender's name first in a message row (a clone of
 * #sender-name-template, as "sender-name" on the server), or takes it out.
 * @param {HTMLElement} li
 * @param {string} sender "" for none
 */
function fillSender(li, sender) {
  const first = li.firstElementChild;
  const drawn = first instanceof HTMLElement && first.classList.contains("sender") ? first : null;
  if (!sender) {
    if (drawn) drawn.remove();
    return;
  }
  const span = drawn ?? cloneTemplate("sender-name-template");
  span.textContent = sender;
  if (!drawn) li.prepend(span);
}

/**
 * Fills a row cloned from #system-row-template with a system message's
 * sentence: what the "system-row" template fills on the server, names and
 * titles in <bdi>.
 * @param {HTMLElement} li
 * @param {Message} m
 * @param {NamePart[]} parts
 * @param {boolean} found the page was opened at this message
 */
function fillSystem(li, m, parts, found) {
  li.dataset.seq = String(m.seq);
  fillAnchor(li, m.seq, found);
  const nodes = parts.map((p) => {
    if (!p.name) return document.createTextNode(p.text);
    const bdi = document.createElement("bdi");
    bdi.textContent = p.text;
    return bdi;
  });
  part(li, ".system-text", HTMLElement).replaceChildren(...nodes);
}

/**
 * Whether a group message shows its sender's name: others' messages,
 * unless the message before it, the same day, is by the same sender
 * (showSender in group_view.go).
 * @param {number} me
 * @param {Message | null} prev
 * @param {Message} m
 * @param {boolean} sameDay
 */
function showSender(me, prev, m, sameDay) {
  if (m.kind === "system" || m.sender_id === me) return false;
  return !prev || !sameDay || prev.kind === "system" || prev.sender_id !== m.sender_id;
}

/**
 * Where "Seen by …" goes in a group and what it says: under the newest own
 * message another member has read, naming them in user ID order (seenBy in
 * group_view.go).
 * @param {number} me
 * @param {Message[]} messages
 * @param {Member[]} members
 * @returns {{seq: number, text: string}}
 */
function seenBy(me, messages, members) {
  let furthest = 0;
  for (const m of members) if (m.user.id !== me) furthest = Math.max(furthest, m.last_read_seq);
  let seq = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.sender_id === me && m.kind !== "system" && m.seq <= furthest) {
      seq = m.seq;
      break;
    }
  }
  if (seq === 0) return { seq: 0, text: "" };
  const readers = members.filter((m) => m.user.id !== me && m.last_read_seq >= seq).map((m) => m.user.display_name);
  return { seq, text: seenByText(readers) };
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

/**
 * Where "New messages" goes, from the row as the conversation was opened:
 * above the message after the read cursor, when there is one (the server's
 * openConversation says the same).
 * @param {ConversationRow} row
 * @returns {number} the seq of the first unread message, 0 for none
 */
function unreadDivider(row) {
  return row.last_seq > row.last_read_seq ? row.last_read_seq + 1 : 0;
}

/**
 * What the editor says past the limit.
 * @param {number} n the text's length
 * @returns {string}
 */
function tooLong(n) {
  const excess = n - MAX_BODY;
  return `Too long to save: ${excess.toLocaleString()} ${excess === 1 ? "character" : "characters"} too many (the limit is ${MAX_BODY.toLocaleString()}).`;
}

/** The conversation pane. */
export class ConversationView {
  /**
   * @param {Store} store
   * @param {Outbox} outbox
   * @param {Connection} conn
   * @param {Names} names
   * @param {Uploads} uploads the files attached to the composer
   */
  constructor(store, outbox, conn, names, uploads) {
    this.store = store;
    this.names = names;
    this.outbox = outbox;
    this.conn = conn;
    this.app = part(document, ".app", HTMLElement);
    this.section = byId("conversation", HTMLElement);
    this.placeholder = part(document, ".placeholder", HTMLElement);
    this.titleEl = byId("conversation-title", HTMLElement);
    this.statusEl = byId("conversation-status", HTMLElement);
    this.scroller = byId("message-scroller", HTMLElement);
    this.loadingEl = byId("conversation-loading", HTMLElement);
    this.messages = byId("messages", HTMLElement);
    this.pill = byId("new-messages", HTMLButtonElement);
    this.closedNotice = byId("closed-notice", HTMLElement);
    this.membersLink = byId("members-link", HTMLAnchorElement);
    this.composer = new Composer(
      { onSend: (body, attachments) => this.send(body, attachments), onTyping: () => this.sendTyping(), onEditLast: () => this.editLast() },
      uploads,
    );
    this.seenMark = cloneTemplate("seen-mark-template");
    this.divider = cloneTemplate("unread-row-template");
    // One editor, one delete question and one error line, each moved into
    // the row it is about (a row at a time).
    this.editor = /** @type {HTMLFormElement} */ (cloneTemplate("message-editor-template"));
    this.editInput = part(this.editor, "textarea", HTMLTextAreaElement);
    this.editError = part(this.editor, ".edit-error", HTMLElement);
    this.saveButton = part(this.editor, ".save-edit", HTMLButtonElement);
    this.confirm = cloneTemplate("delete-confirm-template");
    this.confirmButton = part(this.confirm, ".confirm-delete", HTMLButtonElement);
    this.rowErrorEl = cloneTemplate("row-error-template");

    /**
     * The message being edited: its seq, why the last save failed, whether
     * a save is under way, and where the focus goes back to (the composer
     * when Up arrow started it).
     * @type {{id: number, seq: number, error: string, saving: boolean, fromComposer: boolean} | null}
     */
    this.editing = null;
    /** @type {{id: number, seq: number, busy: boolean} | null} the message whose deletion is being asked about */
    this.confirming = null;
    /** @type {{id: number, seq: number, text: string} | null} why the last change to a message failed */
    this.rowError = null;
    /** @type {{editing: HTMLElement | null, confirming: HTMLElement | null}} the rows drawn in those states */
    this.marked = { editing: null, confirming: null };
    this.catchingUp = false;
    this.catchUpAgain = false;

    // What the message list shows, so that a render only touches what changed.
    /** @type {number | null} the conversation drawn */
    this.drawnId = null;
    /** @type {Map<number, {li: HTMLElement, message: Message, text: string}>} what each row shows: its message, and the sender's name or the system sentence and what the reader may do to it */
    this.messageNodes = new Map();
    /** @type {HTMLElement[]} the message rows drawn, in order */
    this.messageRows = [];
    /** @type {Map<string, HTMLElement>} by dayKey */
    this.dayNodes = new Map();
    /** @type {Map<string, {li: HTMLElement, failure: string}>} by client_id */
    this.pendingNodes = new Map();
    /** the seq "New messages" goes above (0: none), fixed when the messages first come */
    this.dividerSeq = 0;
    /** whether the history of drawnId has been drawn yet */
    this.drawnHistory = false;
    /** whether the last drawn window reached the newest message */
    this.reachedEnd = true;
    this.scrollToEnd = false;
    /**
     * The message the page was opened at (?at=): marked while its
     * conversation stays open, scrolled to when first drawn.
     * @type {{id: number, seq: number, scrolled: boolean} | null}
     */
    this.target = null;
    /** the newest seq the reader has had in view at the bottom: later ones count in the button */
    this.seenUpTo = 0;

    /** @type {Map<number, {until: number, afterSeq: number}>} who is typing, until when, since which seq */
    this.typers = new Map();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.typingTimer = undefined;
    this.openTicket = 0;
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.filling = false;
    this.fillAgain = false;
    /** the row's last_seq the last gap fill was started for */
    this.fillTarget = 0;
    this.invalidate = coalesce(() => this.render());
  }

  /**
   * The page was opened at a message of the open conversation (the
   * server's window is around it): the first drawing shows it in the
   * middle, marked. Call before start.
   * @param {number} id
   * @param {number} seq
   */
  openedAt(id, seq) {
    this.target = { id, seq, scrolled: false };
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
      this.loadMore();
      this.markRead();
      this.showPill();
    });
    this.pill.addEventListener("click", () => this.jumpToEnd());
    this.messages.addEventListener("click", (e) => this.onRowClick(e));
    this.editor.addEventListener("submit", (e) => {
      e.preventDefault();
      this.saveEdit();
    });
    this.editInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.saveEdit();
      } else if (e.key === "Escape" && !e.isComposing) {
        e.preventDefault(); // not also back to the list (main.js)
        this.endEdit();
      }
    });
    this.editInput.addEventListener("input", () => this.checkEdit());
    this.confirm.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      this.endConfirm();
    });
    document.addEventListener("visibilitychange", () => this.markRead());
    window.addEventListener("focus", () => this.markRead());
    this.store.subscribe(this.invalidate);
    this.outbox.subscribe((id) => {
      if (id === this.store.openId) this.invalidate();
    });
    this.render();
    // The server's rows were drawn again above, with the reader's times and
    // at the end of the history: the list shows from now on (the style
    // sheet keeps it invisible until then, see "ready" in style.css).
    this.scroller.classList.add("ready");
  }

  /**
   * Opens a conversation: shows it as loading at once, fetches its row and
   * newest page, then shows them.
   * @param {number} id
   * @param {boolean} push whether to add a history entry (not when going back)
   */
  async open(id, push) {
    if (this.store.openId === id) return;
    const ticket = ++this.openTicket;
    if (push) history.pushState({ id }, "", `/c/${id}`);
    this.store.opening(id);
    this.composer.focus();
    let row, page;
    try {
      [row, page] = await Promise.all([fetchConversation(id), fetchMessages(id, { limit: PAGE_SIZE })]);
    } catch {
      if (ticket === this.openTicket) window.location.assign(`/c/${id}`); // the server's page says what is wrong
      return;
    }
    if (ticket !== this.openTicket) return; // another was opened meanwhile
    this.store.open(row.conversation, page);
    if (row.conversation.kind === "group") this.loadMembers(id);
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
    // While its messages load, a conversation shows as loading (with its
    // name when the page knows it); the one before is gone at once.
    const shown = id !== null && (!h || !!row);
    this.section.hidden = !shown;
    this.placeholder.hidden = shown;
    this.app.classList.toggle("has-conversation", shown);
    if (id === null || !shown) {
      this.forget(null);
      delete this.section.dataset.id;
      return;
    }
    if (this.drawnId !== id) this.forget(id);
    this.section.dataset.id = String(id);
    this.titleEl.textContent = row ? titleOf(row) : "";
    this.loadingEl.hidden = !!h;
    const closed = !!(row && row.other_user && row.other_user.closed);
    const group = !!row && row.kind === "group";
    this.membersLink.hidden = !group;
    if (group) this.membersLink.href = `/c/${id}/members`;
    this.composer.show(id, !closed);
    this.closedNotice.hidden = !closed;
    if (!row || !h) {
      this.statusEl.textContent = "";
      this.pill.hidden = true;
      return;
    }
    if (!this.drawnHistory) {
      this.drawnHistory = true;
      this.dividerSeq = unreadDivider(row);
    }
    this.renderStatus(row, h);
    this.renderMessages(id, row, h);
    // The history must reach the row's newest message: frames missed while
    // away, or one that came before its predecessors, leave a gap.
    if (!h.hasNewer && row.last_seq > newestSeq(h) && row.last_seq > this.fillTarget) {
      this.fillTarget = row.last_seq;
      this.fillGap();
    }
    this.markRead();
    this.showPill();
    this.trim(id, h);
    this.loadMore();
  }

  /**
   * The header's status: "typing…" while someone types (until their message
   * comes), else online or offline; in a group who is typing ("Ada and
   * Grace are typing…"), else "3 members, 2 online".
   * @param {ConversationRow} row
   * @param {History} h
   */
  renderStatus(row, h) {
    const now = Date.now();
    for (const [user, t] of this.typers) {
      if (t.until <= now || this.sentSince(row, h, user, t.afterSeq)) this.typers.delete(user);
    }
    let status;
    if (row.kind === "group") {
      const typers = [...this.typers.keys()].sort((a, b) => a - b).map((user) => this.names.name(row.id, user));
      const members = this.store.memberList(row.id);
      status = typers.length > 0 ? typingText(typers) : memberStatus(this.store.me, row.member_count, members ?? []);
    } else {
      const online = !!(row.other_user && row.other_user.online);
      status = this.typers.size > 0 ? "typing…" : online ? "online" : "offline";
    }
    if (this.statusEl.textContent !== status) this.statusEl.textContent = status;
  }

  /**
   * Reads an open group's whole member list into the store: the status
   * line, sender names and "Seen by …" come from it.
   * @param {number} id
   * @returns {Promise<void>}
   */
  async loadMembers(id) {
    try {
      const list = await fetchAllMembers(id);
      if (this.store.openId === id) this.store.setMembers(id, list);
    } catch {
      // The next reconnect (catchUp) asks again.
    }
  }

  /**
   * Whether a message from user came after seq.
   * @param {ConversationRow} row
   * @param {History} h
   * @param {number} user
   * @param {number} seq
   */
  sentSince(row, h, user, seq) {
    if (row.last_message && row.last_message.seq > seq && row.last_message.sender_id === user) return true;
    for (let i = h.messages.length - 1; i >= 0 && h.messages[i].seq > seq; i--) {
      if (h.messages[i].sender_id === user) return true;
    }
    return false;
  }

  /**
   * Drops what was drawn for another conversation.
   * @param {number | null} id the conversation about to be drawn
   */
  forget(id) {
    if (this.drawnId === id) return;
    this.drawnId = id;
    if (this.target && this.target.id !== id) this.target = null;
    this.messageNodes.clear();
    this.messageRows = [];
    this.dayNodes.clear();
    this.pendingNodes.clear();
    this.messages.replaceChildren();
    this.seenMark.remove();
    this.drawnHistory = false;
    this.dividerSeq = 0;
    this.fillTarget = 0;
    this.seenUpTo = 0;
    this.typers.clear();
    this.reachedEnd = true;
    this.scrollToEnd = true;
    this.editing = null;
    this.confirming = null;
    this.rowError = null;
    this.marked = { editing: null, confirming: null };
    this.editor.remove();
    this.confirm.remove();
    this.rowErrorEl.remove();
  }

  /**
   * Writes the message list: day separators, "New messages", messages,
   * "Seen", then the messages still in the outbox; and keeps the reader's
   * place: at the end when they were there, else on the message they were
   * looking at.
   * @param {number} id
   * @param {ConversationRow} row
   * @param {History} h
   */
  renderMessages(id, row, h) {
    const target = this.target && this.target.id === id ? this.target : null;
    const center = target && !target.scrolled ? target.seq : 0;
    const stick = !center && (this.scrollToEnd || (this.reachedEnd && this.atBottom()));
    const anchor = stick ? null : this.anchor();
    /** @type {HTMLElement[]} */
    const nodes = [];
    /** @type {HTMLElement[]} */
    const rows = [];
    const seqs = new Set();
    const days = new Set();
    /** @type {HTMLElement | null} */
    let seenLi = null;
    const group = row.kind === "group";
    const me = this.store.me;
    // "Seen" goes under the newest own message the other person has read;
    // in a group "Seen by …" under the newest one anyone else has read.
    const seen = group ? seenBy(me, h.messages, this.store.memberList(id) ?? []) : { seq: 0, text: "Seen" };
    /** @param {number} user */
    const nameOf = (user) => this.names.name(id, user);
    const admin = group && this.store.memberList(id)?.find((m) => m.user.id === me)?.role === "admin";
    let day = "";
    /** @type {Message | null} */
    let prev = null;
    for (const m of h.messages) {
      const at = new Date(m.created_at);
      const key = dayKey(at);
      const sameDay = key === day;
      if (!sameDay) {
        day = key;
        days.add(key);
        nodes.push(this.dayNode(key, at));
      }
      if (m.seq === this.dividerSeq) nodes.push(this.divider);
      const sender = group && showSender(me, prev, m, sameDay) ? nameOf(m.sender_id) : "";
      const li = this.messageNode(m, sender, nameOf, messageActions(me, m, !!admin), !!target && m.seq === target.seq);
      nodes.push(li);
      rows.push(li);
      seqs.add(m.seq);
      if (group ? m.seq === seen.seq : m.sender_id === me && m.kind !== "system" && m.seq <= row.other_read_seq) seenLi = li;
      prev = m;
    }
    // Unsent messages follow the newest message, so not a window short of it.
    const clientIds = new Set();
    for (const p of h.hasNewer ? [] : this.outbox.pending(id)) {
      nodes.push(this.pendingNode(p));
      clientIds.add(p.clientId);
    }
    if (seqs.size < this.messageNodes.size) {
      for (const seq of [...this.messageNodes.keys()]) if (!seqs.has(seq)) this.messageNodes.delete(seq);
    }
    for (const key of [...this.dayNodes.keys()]) if (!days.has(key)) this.dayNodes.delete(key);
    for (const c of [...this.pendingNodes.keys()]) if (!clientIds.has(c)) this.pendingNodes.delete(c);

    reconcileChildren(this.messages, nodes);
    this.messageRows = rows;
    this.renderRowStates(id);
    if (seenLi) {
      if (this.seenMark.textContent !== seen.text) this.seenMark.textContent = seen.text;
      if (this.seenMark.parentNode !== seenLi || seenLi.lastChild !== this.seenMark) seenLi.append(this.seenMark);
    } else this.seenMark.remove();

    const centered = center ? this.messageNodes.get(center) : undefined;
    if (target && centered) {
      // Opened at a message: it shows in the middle of the pane.
      const li = centered.li;
      const box = this.scroller.getBoundingClientRect();
      this.scroller.scrollTop += li.getBoundingClientRect().top - box.top - (this.scroller.clientHeight - li.offsetHeight) / 2;
      target.scrolled = true;
    } else if (stick) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (anchor && anchor.li.isConnected) {
      // Rows went in or out above: the one the reader was looking at stays put.
      this.scroller.scrollTop += anchor.li.getBoundingClientRect().top - anchor.top;
    }
    this.scrollToEnd = false;
    this.reachedEnd = !h.hasNewer;
  }

  /**
   * The first message row in view and where it is, to keep it there.
   * @returns {{li: HTMLElement, top: number} | null}
   */
  anchor() {
    const rows = this.messageRows;
    if (rows.length === 0) return null;
    const top = this.scroller.getBoundingClientRect().top;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid].getBoundingClientRect().bottom > top) hi = mid;
      else lo = mid + 1;
    }
    return { li: rows[lo], top: rows[lo].getBoundingClientRect().top };
  }

  /**
   * A message's row: a system message's sentence, else the message with
   * its sender's name when it shows one.
   * @param {Message} m
   * @param {string} sender
   * @param {(id: number) => string} nameOf
   * @param {Actions} actions
   * @param {boolean} found the page was opened at this message
   * @returns {HTMLElement}
   */
  messageNode(m, sender, nameOf, actions, found) {
    const system = m.kind === "system";
    const parts = system ? systemParts(this.store.me, m, nameOf) : [];
    const text = (system ? parts.map((p) => (p.name ? `<${p.text}>` : p.text)).join("") : `${sender}\n${actions.edit} ${actions.del}`) + (found ? "\nfound" : "");
    const drawn = this.messageNodes.get(m.seq);
    if (drawn && drawn.message === m && drawn.text === text) return drawn.li;
    const li = drawn && drawn.message.kind === m.kind ? drawn.li : cloneTemplate(system ? "system-row-template" : "message-row-template");
    if (system) fillSystem(li, m, parts, found);
    else fillMessage(li, m, m.sender_id === this.store.me, sender, actions, found);
    this.messageNodes.set(m.seq, { li, message: m, text });
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

  /**
   * The message with seq in the open conversation's window, if it holds it.
   * @param {number} id
   * @param {number} seq
   * @returns {Message | null}
   */
  heldMessage(id, seq) {
    const h = this.store.history(id);
    if (!h || h.messages.length === 0) return null;
    const m = h.messages[seq - h.messages[0].seq];
    return m && m.seq === seq ? m : null;
  }

  /**
   * Puts the editor, the delete question and the error line into the rows
   * they are about (after the body, after the time), and marks those rows.
   * An edit or a question whose message is no longer drawn (deleted
   * meanwhile, dropped from the window) ends.
   * @param {number} id
   */
  renderRowStates(id) {
    /**
     * @param {{id: number, seq: number} | null} state
     * @returns {{li: HTMLElement, message: Message} | null}
     */
    const rowOf = (state) => {
      const d = state && state.id === id ? this.messageNodes.get(state.seq) : undefined;
      return d && d.message.kind !== "system" ? d : null;
    };
    const edited = rowOf(this.editing);
    if (this.editing && (!edited || edited.message.deleted)) {
      if (edited) this.rowError = { id, seq: this.editing.seq, text: "Not saved: the message was deleted." };
      this.editing = null;
    }
    const asked = rowOf(this.confirming);
    if (this.confirming && (!asked || asked.message.deleted)) this.confirming = null;
    const editLi = this.editing && edited ? edited.li : null;
    const confirmLi = this.confirming && asked ? asked.li : null;
    this.mark("editing", editLi);
    this.mark("confirming", confirmLi);

    if (this.editing && editLi) {
      const body = part(editLi, ".body", HTMLElement);
      if (this.editor.previousElementSibling !== body) body.after(this.editor);
      this.fillEditor(this.editing);
    } else this.editor.remove();

    if (this.confirming && confirmLi) {
      const meta = part(confirmLi, ".meta", HTMLElement);
      if (meta.nextElementSibling !== this.confirm) meta.after(this.confirm);
      for (const b of this.confirm.querySelectorAll("button")) b.disabled = this.confirming.busy;
    } else this.confirm.remove();

    const failed = rowOf(this.rowError);
    if (this.rowError && failed) {
      const text = this.rowError.text;
      if (this.rowErrorEl.textContent !== text) this.rowErrorEl.textContent = text;
      const after = failed.li === confirmLi ? this.confirm : part(failed.li, ".meta", HTMLElement);
      if (after.nextElementSibling !== this.rowErrorEl) after.after(this.rowErrorEl);
    } else this.rowErrorEl.remove();
  }

  /**
   * Writes the editor's state: why the last save failed or what is wrong
   * with the text, and whether Save is on.
   * @param {{error: string, saving: boolean}} e
   */
  fillEditor(e) {
    if (this.editError.textContent !== e.error) this.editError.textContent = e.error;
    this.editError.hidden = !e.error;
    if (e.error) this.editInput.setAttribute("aria-invalid", "true");
    else this.editInput.removeAttribute("aria-invalid");
    this.editInput.readOnly = e.saving;
    this.saveButton.disabled = e.saving || charCount(this.editInput.value.trim()) > MAX_BODY;
  }

  /**
   * Marks the row in a state (a class of the same name), and only it.
   * @param {"editing" | "confirming"} state
   * @param {HTMLElement | null} li
   */
  mark(state, li) {
    const old = this.marked[state];
    if (old === li) return;
    if (old) old.classList.remove(state);
    if (li) li.classList.add(state);
    this.marked[state] = li;
  }

  /**
   * A click on a row's Edit or Delete, or on the delete question's buttons.
   * @param {MouseEvent} e
   */
  onRowClick(e) {
    const id = this.store.openId;
    const button = e.target instanceof Element ? e.target.closest("button") : null;
    const li = button ? button.closest("li.message") : null;
    if (id === null || !button || !(li instanceof HTMLElement) || !li.dataset.seq) return;
    const seq = Number(li.dataset.seq);
    if (button.classList.contains("edit-button")) this.startEdit(id, seq, false);
    else if (button.classList.contains("delete-button")) this.askDelete(id, seq);
    else if (button.classList.contains("confirm-delete")) this.deleteConfirmed();
    else if (button.classList.contains("cancel-delete")) this.endConfirm();
    else if (button.classList.contains("cancel-edit")) this.endEdit();
  }

  /**
   * Up arrow in the empty composer: edits the reader's newest message that
   * can be edited, if the window holds the newest messages.
   * @returns {boolean} whether an edit started
   */
  editLast() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (id === null || !h || h.hasNewer) return false;
    for (let i = h.messages.length - 1; i >= 0; i--) {
      const m = h.messages[i];
      if (messageActions(this.store.me, m, false).edit) return this.startEdit(id, m.seq, true);
    }
    return false;
  }

  /**
   * Turns a message's body into the editor, with its text, the focus at
   * its end.
   * @param {number} id
   * @param {number} seq
   * @param {boolean} fromComposer the focus goes back to the composer (else to the row's Edit)
   * @returns {boolean} whether the message can be edited
   */
  startEdit(id, seq, fromComposer) {
    const m = this.heldMessage(id, seq);
    if (!m || !messageActions(this.store.me, m, false).edit) return false;
    if (!this.editing || this.editing.seq !== seq) {
      this.editing = { id, seq, error: "", saving: false, fromComposer };
      this.editInput.value = m.body;
      if (this.confirming && this.confirming.seq === seq) this.confirming = null;
      if (this.rowError && this.rowError.seq === seq) this.rowError = null;
      this.render();
    }
    this.editInput.focus();
    const end = this.editInput.value.length;
    this.editInput.setSelectionRange(end, end);
    this.autosizeEditor();
    this.editor.scrollIntoView({ block: "nearest" });
    return true;
  }

  /**
   * Follows the editor's text: past the limit it says by how much and
   * Save is off; a past error goes. Only the editor changes: the history
   * is not drawn again for each key.
   */
  checkEdit() {
    const e = this.editing;
    if (!e) return;
    const n = charCount(this.editInput.value.trim());
    e.error = n > MAX_BODY ? tooLong(n) : "";
    this.autosizeEditor();
    this.fillEditor(e);
  }

  autosizeEditor() {
    this.editInput.style.height = "auto";
    this.editInput.style.height = `${this.editInput.scrollHeight}px`;
  }

  /**
   * Saves the edit (PATCH): the answer replaces the message; a refusal is
   * said in the editor and nothing changes. Text as before saves nothing.
   * @returns {Promise<void>}
   */
  async saveEdit() {
    const e = this.editing;
    if (!e || e.saving) return;
    const body = this.editInput.value.trim();
    const n = charCount(body);
    if (n === 0 || n > MAX_BODY) {
      e.error = n === 0 ? "Not saved: a message cannot be empty (Delete takes it away)." : tooLong(n);
      this.invalidate();
      return;
    }
    const m = this.heldMessage(e.id, e.seq);
    if (m && m.body === body) {
      this.endEdit();
      return;
    }
    e.saving = true;
    e.error = "";
    this.invalidate();
    try {
      const resp = await editMessage(e.id, e.seq, body);
      this.store.update(resp.message);
      if (this.editing === e) this.endEdit();
    } catch (err) {
      if (this.editing !== e) return;
      e.saving = false;
      e.error = failure("Not saved", err);
      this.invalidate();
      this.editInput.focus();
    }
  }

  /** Ends the edit without saving: the row shows the message as it is. */
  endEdit() {
    const e = this.editing;
    if (!e) return;
    this.editing = null;
    this.render();
    if (e.fromComposer) this.composer.focus();
    else this.focusAction(e.seq, ".edit-button");
  }

  /**
   * Asks, in the row, whether to delete a message.
   * @param {number} id
   * @param {number} seq
   */
  askDelete(id, seq) {
    if (this.rowError && this.rowError.seq === seq) this.rowError = null;
    this.confirming = { id, seq, busy: false };
    this.render();
    this.confirmButton.focus();
  }

  /** The question is answered Cancel (or Esc): nothing changes. */
  endConfirm() {
    const c = this.confirming;
    if (!c) return;
    this.confirming = null;
    this.render();
    this.focusAction(c.seq, ".delete-button");
  }

  /**
   * Deletes the message asked about (DELETE). The tombstone comes as a
   * message_updated frame (asked for when the page is not connected); a
   * refusal is said under the row and nothing changes.
   * @returns {Promise<void>}
   */
  async deleteConfirmed() {
    const c = this.confirming;
    if (!c || c.busy) return;
    c.busy = true;
    this.invalidate();
    try {
      await deleteMessage(c.id, c.seq);
      if (!this.conn.open) this.fetchChanges();
      if (this.confirming === c) this.confirming = null;
      this.render();
      this.composer.focus();
    } catch (err) {
      if (this.confirming === c) this.confirming = null;
      this.rowError = { id: c.id, seq: c.seq, text: failure("Not deleted", err) };
      this.render();
      this.focusAction(c.seq, ".delete-button");
    }
  }

  /**
   * Puts the focus back on a row's button when it shows, else in the composer.
   * @param {number} seq
   * @param {string} selector
   */
  focusAction(seq, selector) {
    const d = this.messageNodes.get(seq);
    const button = d ? d.li.querySelector(selector) : null;
    if (button instanceof HTMLButtonElement && !button.hidden) button.focus();
    else this.composer.focus();
  }

  /** @returns {boolean} whether the end of the list is in view */
  atBottom() {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < AT_BOTTOM_WITHIN_PX;
  }

  /**
   * Drops the messages past the window from the end farther from the
   * reader: the oldest when they read near the end, else the newest.
   * @param {number} id
   * @param {History} h
   */
  trim(id, h) {
    const excess = h.messages.length - WINDOW;
    if (excess <= 0) return;
    const above = this.scroller.scrollTop;
    const below = this.scroller.scrollHeight - above - this.scroller.clientHeight;
    if (above >= below) this.store.keep(id, h.messages[excess].seq, newestSeq(h));
    else this.store.keep(id, h.messages[0].seq, h.messages[WINDOW - 1].seq);
  }

  /** Fetches the next page at an end of the window the reader is near. */
  loadMore() {
    const above = this.scroller.scrollTop;
    const below = this.scroller.scrollHeight - above - this.scroller.clientHeight;
    if (above < LOAD_WITHIN_PX) this.loadOlder();
    if (below < LOAD_WITHIN_PX) this.loadNewer();
  }

  /**
   * Shows "↓ N new messages" while messages the reader has not had in view
   * wait below: they came while the reader was scrolled up.
   */
  showPill() {
    const id = this.store.openId;
    const row = id === null ? undefined : this.store.row(id);
    const h = id === null ? null : this.store.history(id);
    if (!row || !h) return;
    const atEnd = !h.hasNewer && this.atBottom();
    if (atEnd) this.seenUpTo = Math.max(this.seenUpTo, newestSeq(h));
    if (!this.seenUpTo) this.seenUpTo = row.last_seq;
    const n = atEnd ? 0 : row.last_seq - Math.max(this.seenUpTo, row.last_read_seq);
    const label = n > 0 ? `↓ ${n.toLocaleString()} new ${n === 1 ? "message" : "messages"}` : "";
    if (this.pill.textContent !== label) this.pill.textContent = label;
    this.pill.hidden = n <= 0;
  }

  /** Scrolls to the newest message, fetching it first when the window stops short of it. */
  async jumpToEnd() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (id === null || !h) return;
    this.scrollToEnd = true;
    if (!h.hasNewer) {
      this.render();
      return;
    }
    try {
      const page = await fetchMessages(id, { limit: PAGE_SIZE });
      if (this.store.history(id) !== h) return;
      this.scrollToEnd = true;
      this.store.showNewest(id, page);
    } catch {
      // The button stays: clicking again tries again.
    }
  }

  /**
   * Sends a message from the composer, through the outbox.
   * @param {string} body
   * @param {Attachment[]} attachments uploaded files it carries
   */
  send(body, attachments) {
    const id = this.store.openId;
    if (id === null) return;
    this.scrollToEnd = true;
    const h = this.store.history(id);
    if (h && h.hasNewer) this.jumpToEnd(); // the new message shows at the end
    this.outbox.add(id, body, attachments);
  }

  /** @returns {boolean} whether a typing frame went */
  sendTyping() {
    const id = this.store.openId;
    return id !== null && this.conn.send({ type: "typing", conversation_id: id });
  }

  /**
   * Someone is typing: "typing…" shows for a while if it is in the open
   * conversation, until their message comes.
   * @param {TypingFrame} f
   */
  showTyping(f) {
    if (f.conversation_id !== this.store.openId || f.user_id === this.store.me) return;
    const row = this.store.row(f.conversation_id);
    this.typers.set(f.user_id, { until: Date.now() + TYPING_SHOWN_MS, afterSeq: row ? row.last_seq : 0 });
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(this.invalidate, TYPING_SHOWN_MS + 50);
    this.invalidate();
  }

  /**
   * Moves the read cursor to the newest message when the reader can see it:
   * never while the page is hidden, nor at the end of a window that stops
   * short of the newest message (opened at an older one, or scrolled far
   * back).
   */
  markRead() {
    const id = this.store.openId;
    if (id === null || document.visibilityState !== "visible" || this.section.hidden || !this.atBottom()) return;
    const row = this.store.row(id);
    const h = this.store.history(id);
    if (!row || !h || h.hasNewer) return;
    const newest = newestSeq(h);
    if (newest <= row.last_read_seq) return;
    this.store.read(id, this.store.me, newest);
    if (!this.conn.send({ type: "read", conversation_id: id, seq: newest })) {
      postRead(id, newest).catch(() => {});
    }
  }

  /** Loads the page before the oldest message held. */
  async loadOlder() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (id === null || !h || this.loadingOlder || !h.hasMore || h.messages.length === 0) return;
    this.loadingOlder = true;
    try {
      const page = await fetchMessages(id, { before_seq: h.messages[0].seq, limit: SCROLL_PAGE_SIZE });
      if (this.store.history(id) === h) this.store.addOlder(id, page);
    } catch {
      // Scrolling again tries again.
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Loads the page after the newest message held, when the window stops short of the end. */
  async loadNewer() {
    const id = this.store.openId;
    const h = id === null ? null : this.store.history(id);
    if (id === null || !h || this.loadingNewer || !h.hasNewer) return;
    this.loadingNewer = true;
    try {
      const page = await fetchMessages(id, { after_seq: newestSeq(h), limit: SCROLL_PAGE_SIZE });
      if (this.store.history(id) === h) this.store.addNewerPage(id, page);
    } catch {
      // Scrolling again tries again.
    } finally {
      this.loadingNewer = false;
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
          if (id === null || !h || h.hasNewer) return; // a window short of the end fills as it is scrolled
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
   * Fetches every change of the open conversation after the version its
   * history holds (new, edited and deleted messages, ascending by
   * version), page by page; a call while one runs makes it go round once
   * more.
   * @returns {Promise<void>}
   */
  async fetchChanges() {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = true;
    try {
      do {
        this.catchUpAgain = false;
        for (;;) {
          const id = this.store.openId;
          const h = id === null ? null : this.store.history(id);
          if (id === null || !h) return;
          const page = await messageChanges(id, h.version, CHANGES_PAGE_SIZE);
          if (this.store.history(id) !== h) break; // another is open now: its own catch-up sets catchUpAgain
          this.store.applyChanges(id, h, page.messages);
          if (!page.has_more || page.messages.length === 0) break;
        }
      } while (this.catchUpAgain);
    } catch {
      // The next reconnect catches up.
    } finally {
      this.catchingUp = false;
    }
  }

  /**
   * After a reconnect: what changed in the open conversation while away
   * (new, edited and deleted messages, by version) and its row (the other
   * person's read cursor, presence).
   * @returns {Promise<void>}
   */
  async catchUp() {
    const id = this.store.openId;
    if (id === null) return;
    await this.fetchChanges();
    try {
      const data = await fetchConversation(id);
      this.store.putRow(data.conversation);
      if (data.conversation.kind === "group" && this.store.openId === id) await this.loadMembers(id);
    } catch {
      // The next reconnect tries again.
    }
  }
}
