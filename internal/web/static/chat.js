// Parley's browser client. One ES module, no globals: every piece of state
// lives in an instance below. User text only ever reaches the page through
// textContent, and DOM changes are gathered in a DocumentFragment and
// inserted once per batch.

const PAGE_SIZE = 50;
const MAX_BODY = 4000;
const COUNTER_FROM = 3500;
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 3500;
const SEARCH_DELAY_MS = 250;

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** Makes an element with an optional class and text (as text, never HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The local calendar day of a time, as a comparable key. */
function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** A list timestamp: the time of day when today, else the date. */
function shortTime(date) {
  return dayKey(date) === dayKey(new Date()) ? timeFormat.format(date) : dateFormat.format(date);
}

/** Counts characters as the server does (code points, not UTF-16 units). */
function charCount(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Calls the JSON API; throws an Error with .status and .code on failure. */
async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) {
    window.location.assign("/login");
    throw Object.assign(new Error("signed out"), { status: 401, code: "unauthorized" });
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = data.error || {};
    throw Object.assign(new Error(e.message || resp.statusText), { status: resp.status, code: e.code });
  }
  return data;
}

/** A WebSocket that reconnects with growing, jittered delays. */
class Connection {
  constructor(onFrame, onState) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.open = false;
  }

  start() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}/ws`);
    this.ws = ws;
    ws.addEventListener("message", (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        this.attempt = 0;
        this.open = true;
        this.onState(true);
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (e) => {
      const wasOpen = this.open;
      this.open = false;
      this.onState(false);
      // 4001: the session ended (expired, or signed out elsewhere). A
      // handshake refused before it opened does not say why (the browser
      // hides the 401). Either way, ask: signed out goes to the login page
      // (api does that on 401); still signed in (the session's token was
      // rotated, the server was away) reconnects.
      if (e.code === 4001 || !wasOpen) {
        api("GET", "/api/v1/me").then(
          () => this.retry(),
          (err) => {
            if (err.status !== 401) this.retry();
          },
        );
        return;
      }
      this.retry();
    });
  }

  /** Reconnects after a growing, jittered delay. */
  retry() {
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    setTimeout(() => this.start(), delay);
  }

  /** Sends a frame if connected; reports whether it went. */
  send(frame) {
    if (!this.open || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

/** The main view: conversation list and the open conversation. */
class ChatApp {
  constructor() {
    this.me = Number(document.body.dataset.userId);
    this.app = document.querySelector(".app");
    this.list = document.getElementById("conversation-list");
    this.noConversations = document.getElementById("no-conversations");
    this.status = document.getElementById("connection-status");
    this.section = document.getElementById("conversation");
    this.placeholder = document.querySelector(".placeholder");
    this.titleEl = document.getElementById("conversation-title");
    this.statusEl = document.getElementById("conversation-status");
    this.scroller = document.getElementById("message-scroller");
    this.messages = document.getElementById("messages");
    this.composer = document.getElementById("composer");
    this.closedNotice = document.getElementById("closed-notice");
    this.input = document.getElementById("composer-input");
    this.counter = document.getElementById("composer-counter");

    this.rows = new Map(); // conversation id → {li, userId, unread, lastSeq}
    this.open = null; // the open conversation's state
    this.outbox = new Map(); // client_id → {conversationId, body, li}
    this.lastTypingSent = 0;
    this.typingTimer = 0;
    this.refreshTimer = 0;
    this.refreshAgain = false;
    this.conn = new Connection((f) => this.onFrame(f), (up) => this.onConnection(up));
  }

  start() {
    for (const li of this.list.querySelectorAll("li.conversation")) {
      const unreadEl = li.querySelector(".unread");
      this.rows.set(Number(li.dataset.id), {
        li,
        userId: Number(li.dataset.userId),
        unread: unreadEl.hidden ? 0 : Number(unreadEl.textContent),
        lastSeq: Number(li.dataset.lastSeq),
      });
      this.localizeRowTime(li);
    }
    if (this.section.dataset.id) this.adoptServerConversation();
    this.bind();
    this.updateTitle();
    this.conn.start();
  }

  bind() {
    this.list.addEventListener("click", (e) => {
      const a = e.target.closest("li.conversation a");
      if (!a || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      this.openConversation(Number(a.closest("li").dataset.id), true);
    });
    document.getElementById("back-link").addEventListener("click", (e) => {
      e.preventDefault();
      this.closeConversation(true);
    });
    window.addEventListener("popstate", () => {
      const m = window.location.pathname.match(/^\/c\/(\d+)$/);
      if (m) this.openConversation(Number(m[1]), false);
      else this.closeConversation(false);
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 300) this.loadOlder();
      this.markRead();
    });
    document.addEventListener("visibilitychange", () => this.markRead());
    window.addEventListener("focus", () => this.markRead());
    this.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.updateCounter();
      this.autosize();
      const now = Date.now();
      if (this.open && this.input.value.trim() && now - this.lastTypingSent > TYPING_EVERY_MS) {
        if (this.conn.send({ type: "typing", conversation_id: this.open.id })) this.lastTypingSent = now;
      }
    });
  }

  // ---- The conversation list ----

  localizeRowTime(li) {
    const t = li.querySelector(".time");
    if (t.dateTime) t.textContent = shortTime(new Date(t.dateTime));
  }

  /** Builds an empty list row, for fillRow to fill. */
  rowItem(id) {
    const li = el("li", "conversation");
    li.dataset.id = id;
    const a = el("a");
    a.href = `/c/${id}`;
    const dot = el("span", "online-dot");
    dot.setAttribute("role", "img");
    a.append(dot, el("span", "name"), el("time", "time"), el("span", "preview"), el("span", "unread"));
    li.append(a);
    return li;
  }

  /**
   * Writes an API conversation row into a list row, in place: the row's
   * elements stay the same, so a refresh does not pull them out from under
   * a pointer or a keyboard focus.
   */
  fillRow(li, c) {
    const online = !!(c.other_user && c.other_user.online);
    li.dataset.userId = c.other_user ? c.other_user.id : "";
    li.classList.toggle("online", online);
    li.classList.toggle("active", !!this.open && this.open.id === c.id);
    li.querySelector(".online-dot").setAttribute("aria-label", online ? "online" : "offline");
    li.querySelector(".name").textContent = c.title || (c.other_user ? c.other_user.display_name : "Conversation");
    const time = li.querySelector(".time");
    time.dateTime = c.last_message ? c.last_message.created_at : "";
    time.textContent = c.last_message ? shortTime(new Date(c.last_message.created_at)) : "";
    li.querySelector(".preview").textContent = c.last_message ? c.last_message.body : "";
    const unread = li.querySelector(".unread");
    unread.textContent = String(c.unread_count);
    unread.setAttribute("aria-label", `${c.unread_count} unread`);
    unread.hidden = c.unread_count === 0;
  }

  setRow(c) {
    const old = this.rows.get(c.id);
    const li = old ? old.li : this.rowItem(c.id);
    this.fillRow(li, c);
    this.rows.set(c.id, this.rowState(c, li));
    return li;
  }

  /**
   * Brings the list to the server's first page. Rows it had are updated in
   * place and moved only where the order changed; new rows arrive together
   * in a fragment.
   */
  async refreshList() {
    const data = await api("GET", "/api/v1/conversations");
    const kept = new Map();
    let ref = this.list.firstElementChild;
    let fresh = document.createDocumentFragment();
    const flush = () => {
      if (fresh.childNodes.length) this.list.insertBefore(fresh, ref);
      fresh = document.createDocumentFragment();
    };
    for (const c of data.conversations) {
      const old = this.rows.get(c.id);
      const li = old ? old.li : this.rowItem(c.id);
      this.fillRow(li, c);
      kept.set(c.id, this.rowState(c, li));
      if (!old) {
        fresh.append(li);
        continue;
      }
      flush();
      if (li === ref) ref = ref.nextElementSibling;
      else this.list.insertBefore(li, ref);
    }
    flush();
    for (const [id, row] of this.rows) {
      if (!kept.has(id)) row.li.remove();
    }
    this.rows = kept;
    this.noConversations.hidden = this.rows.size > 0;
    this.updateTitle();
  }

  rowState(c, li) {
    return { li, userId: c.other_user ? c.other_user.id : 0, unread: c.unread_count, lastSeq: c.last_seq };
  }

  setUnread(id, n) {
    const row = this.rows.get(id);
    if (!row) return;
    row.unread = Math.max(0, n);
    const badge = row.li.querySelector(".unread");
    badge.textContent = String(row.unread);
    badge.setAttribute("aria-label", `${row.unread} unread`);
    badge.hidden = row.unread === 0;
    this.updateTitle();
  }

  updateTitle() {
    let total = 0;
    for (const row of this.rows.values()) total += row.unread;
    document.title = total > 0 ? `(${total}) Parley` : "Parley";
  }

  /** Moves a conversation to the top with its newest message. */
  bumpRow(m, countUnread) {
    const row = this.rows.get(m.conversation_id);
    if (!row) {
      // A conversation new to this page: the list, fetched again, puts it
      // in its place.
      this.scheduleListRefresh();
      return;
    }
    row.lastSeq = Math.max(row.lastSeq, m.seq);
    row.li.querySelector(".preview").textContent = m.body;
    const time = row.li.querySelector(".time");
    time.dateTime = m.created_at;
    time.textContent = shortTime(new Date(m.created_at));
    if (this.list.firstElementChild !== row.li) this.list.prepend(row.li);
    if (countUnread) this.setUnread(m.conversation_id, row.unread + 1);
  }

  /**
   * Refreshes the list soon, once for any number of calls meanwhile; a call
   * that comes while a refresh is under way gets another one after it, so
   * nothing that arrived during the fetch is left out.
   */
  scheduleListRefresh() {
    if (this.refreshTimer) {
      this.refreshAgain = true;
      return;
    }
    this.refreshTimer = setTimeout(async () => {
      this.refreshAgain = false;
      try {
        await this.refreshList();
        this.markActive();
      } catch {
        // The next reconnect refreshes it.
      } finally {
        this.refreshTimer = 0;
        if (this.refreshAgain) this.scheduleListRefresh();
      }
    }, 100);
  }

  setPresence(userId, online) {
    for (const row of this.rows.values()) {
      if (row.userId !== userId) continue;
      row.li.classList.toggle("online", online);
      row.li.querySelector(".online-dot").setAttribute("aria-label", online ? "online" : "offline");
    }
    if (this.open && this.open.otherId === userId) {
      this.open.online = online;
      this.showStatus();
    }
  }

  // ---- The open conversation ----

  /** Takes over the conversation the server rendered. */
  adoptServerConversation() {
    const ds = this.section.dataset;
    const messages = [];
    for (const li of this.messages.querySelectorAll("li.message")) {
      messages.push({
        conversation_id: Number(ds.id),
        seq: Number(li.dataset.seq),
        sender_id: Number(li.dataset.sender),
        body: li.querySelector(".body").textContent,
        created_at: li.dataset.createdAt,
      });
    }
    this.open = this.newOpenState({
      id: Number(ds.id),
      otherId: Number(ds.otherId),
      readSeq: Number(ds.readSeq),
      otherReadSeq: Number(ds.otherReadSeq),
      hasMore: ds.hasMore === "true",
      online: this.statusEl.textContent.trim() === "online",
    });
    this.markActive();
    this.renderPage(messages);
  }

  newOpenState(s) {
    return { ...s, seqs: new Set(), firstSeq: 0, lastSeq: 0, loading: false, typingUntil: 0 };
  }

  async openConversation(id, push) {
    if (this.open && this.open.id === id) return;
    let row, page;
    try {
      [row, page] = await Promise.all([
        api("GET", `/api/v1/conversations/${id}`),
        api("GET", `/api/v1/conversations/${id}/messages?limit=${PAGE_SIZE}`),
      ]);
    } catch {
      window.location.assign(`/c/${id}`); // let the server say what is wrong
      return;
    }
    const c = row.conversation;
    this.open = this.newOpenState({
      id,
      otherId: c.other_user ? c.other_user.id : 0,
      readSeq: c.last_read_seq,
      otherReadSeq: c.other_read_seq,
      hasMore: page.has_more,
      online: !!(c.other_user && c.other_user.online),
    });
    this.section.dataset.id = id;
    this.section.dataset.otherId = this.open.otherId;
    this.titleEl.textContent = c.title || (c.other_user ? c.other_user.display_name : "Conversation");
    this.composer.action = `/c/${id}/messages`;
    this.showClosed(!!(c.other_user && c.other_user.closed));
    this.section.hidden = false;
    this.placeholder.hidden = true;
    this.app.classList.add("has-conversation");
    if (push) history.pushState({ id }, "", `/c/${id}`);
    this.markActive();
    this.renderPage(page.messages);
    this.input.focus();
  }

  closeConversation(push) {
    this.open = null;
    this.section.hidden = true;
    delete this.section.dataset.id;
    this.placeholder.hidden = false;
    this.app.classList.remove("has-conversation");
    this.messages.replaceChildren();
    this.markActive();
    if (push) history.pushState({}, "", "/");
  }

  markActive() {
    for (const [id, row] of this.rows) row.li.classList.toggle("active", !!this.open && this.open.id === id);
  }

  showStatus() {
    if (!this.open) return;
    this.statusEl.textContent = Date.now() < this.open.typingUntil ? "typing…" : this.open.online ? "online" : "offline";
  }

  /** Renders a first page: replaces the list, scrolls to the newest. */
  renderPage(messages) {
    const o = this.open;
    o.seqs.clear();
    o.firstSeq = 0;
    o.lastSeq = 0;
    const pending = [...this.messages.querySelectorAll("li.pending")].filter((li) => Number(li.dataset.conversationId) === o.id);
    this.messages.replaceChildren(this.buildItems(messages, null), ...pending);
    this.showStatus();
    this.updateSeen();
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.markRead();
    this.fillViewport();
  }

  /** Makes the list item of one message. */
  messageItem(m) {
    const li = el("li", m.sender_id === this.me ? "message own" : "message");
    const at = new Date(m.created_at);
    li.dataset.seq = m.seq;
    li.dataset.sender = m.sender_id;
    li.dataset.createdAt = m.created_at;
    li.dataset.day = dayKey(at);
    const time = el("time", "time", timeFormat.format(at));
    time.dateTime = m.created_at;
    li.append(el("p", "body", m.body), time);
    return li;
  }

  dayItem(date) {
    const li = el("li", "day");
    li.dataset.day = dayKey(date);
    li.append(el("span", "", dayFormat.format(date)));
    return li;
  }

  /**
   * Builds the items of ascending messages not yet shown, with a day
   * separator wherever the day changes; prevDay is the day of the message
   * just before them (null when none).
   */
  buildItems(messages, prevDay) {
    const o = this.open;
    const fragment = document.createDocumentFragment();
    let day = prevDay;
    for (const m of messages) {
      if (o.seqs.has(m.seq)) continue;
      o.seqs.add(m.seq);
      o.firstSeq = o.firstSeq ? Math.min(o.firstSeq, m.seq) : m.seq;
      o.lastSeq = Math.max(o.lastSeq, m.seq);
      const at = new Date(m.created_at);
      if (dayKey(at) !== day) {
        day = dayKey(at);
        fragment.append(this.dayItem(at));
      }
      fragment.append(this.messageItem(m));
    }
    return fragment;
  }

  /** Adds newer messages at the bottom (before any unsent ones). */
  appendMessages(messages) {
    const o = this.open;
    const fresh = messages.filter((m) => !o.seqs.has(m.seq) && m.seq > o.lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    const nearBottom = this.atBottom();
    const last = [...this.messages.querySelectorAll("li.message:not(.pending)")].pop();
    const fragment = this.buildItems(fresh, last ? last.dataset.day : null);
    const firstPending = this.messages.querySelector("li.pending");
    this.messages.insertBefore(fragment, firstPending);
    this.updateSeen();
    if (nearBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Loads the page before the oldest shown, keeping the reader's place. */
  async loadOlder() {
    const o = this.open;
    if (!o || o.loading || !o.hasMore || !o.firstSeq) return;
    o.loading = true;
    try {
      const page = await api("GET", `/api/v1/conversations/${o.id}/messages?before_seq=${o.firstSeq}&limit=${PAGE_SIZE}`);
      if (this.open !== o) return;
      o.hasMore = page.has_more;
      const firstDay = this.messages.firstElementChild;
      const before = this.scroller.scrollHeight;
      const fragment = this.buildItems(page.messages, null);
      const lastNew = page.messages.length ? dayKey(new Date(page.messages[page.messages.length - 1].created_at)) : null;
      // The old top separator is redundant when the new page ends that day.
      if (firstDay && firstDay.classList.contains("day") && firstDay.dataset.day === lastNew) firstDay.remove();
      this.messages.prepend(fragment);
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
    } catch {
      // Scrolling again retries.
    } finally {
      o.loading = false;
    }
    this.fillViewport();
  }

  /** Loads older pages until the list can scroll, so scrolling can load more. */
  fillViewport() {
    const o = this.open;
    if (o && o.hasMore && !o.loading && this.scroller.scrollHeight <= this.scroller.clientHeight + 300) this.loadOlder();
  }

  atBottom() {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80;
  }

  /** Shows "Seen" under the newest own message the other person has read. */
  updateSeen() {
    const o = this.open;
    for (const s of this.messages.querySelectorAll(".seen")) s.remove();
    if (!o) return;
    let target = null;
    for (const li of this.messages.querySelectorAll("li.message.own:not(.pending)")) {
      if (Number(li.dataset.seq) <= o.otherReadSeq) target = li;
    }
    if (target) target.append(el("span", "seen", "Seen"));
  }

  /** Moves the read cursor to the newest message when the reader can see it. */
  markRead() {
    const o = this.open;
    if (!o || document.visibilityState !== "visible" || !this.atBottom() || o.lastSeq <= o.readSeq) return;
    o.readSeq = o.lastSeq;
    this.setUnread(o.id, 0);
    if (!this.conn.send({ type: "read", conversation_id: o.id, seq: o.lastSeq })) {
      api("POST", `/api/v1/conversations/${o.id}/read`, { seq: o.lastSeq }).catch(() => {});
    }
  }

  // ---- Sending ----

  updateCounter() {
    const n = charCount(this.input.value.trim());
    this.counter.hidden = n < COUNTER_FROM;
    this.counter.textContent = `${n} / ${MAX_BODY}`;
    this.counter.classList.toggle("over", n > MAX_BODY);
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  submit() {
    const o = this.open;
    const body = this.input.value.trim();
    if (!o || !body) return;
    if (charCount(body) > MAX_BODY) {
      this.updateCounter();
      return;
    }
    const clientId = crypto.randomUUID();
    const li = this.messageItem({ seq: 0, sender_id: this.me, body, created_at: new Date().toISOString() });
    li.classList.add("pending");
    li.dataset.clientId = clientId;
    li.dataset.conversationId = o.id;
    this.messages.append(li);
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.outbox.set(clientId, { conversationId: o.id, body, li });
    this.conn.send({ type: "send", conversation_id: o.id, client_id: clientId, body });
    this.input.value = "";
    this.updateCounter();
    this.autosize();
    this.lastTypingSent = 0;
  }

  /** Sends everything not yet acked, with its original client_id. */
  flushOutbox() {
    for (const [clientId, p] of this.outbox) {
      this.conn.send({ type: "send", conversation_id: p.conversationId, client_id: clientId, body: p.body });
    }
  }

  // ---- Events ----

  onConnection(up) {
    this.status.hidden = up;
    document.body.dataset.connected = String(up);
  }

  async onFrame(f) {
    switch (f.type) {
      case "hello":
        // Whatever happened between the page being made (or the last
        // connection dropping) and now is fetched, then unsent messages go.
        await this.catchUp();
        this.flushOutbox();
        break;
      case "ack":
        this.onAck(f.client_id, f.message);
        break;
      case "message":
        this.onMessage(f.message);
        break;
      case "typing":
        if (this.open && f.conversation_id === this.open.id && f.user_id !== this.me) {
          this.open.typingUntil = Date.now() + TYPING_SHOWN_MS;
          this.showStatus();
          clearTimeout(this.typingTimer);
          this.typingTimer = setTimeout(() => this.showStatus(), TYPING_SHOWN_MS + 50);
        }
        break;
      case "read":
        this.onRead(f);
        break;
      case "presence":
        this.setPresence(f.user_id, f.online);
        break;
      case "user":
        this.onUser(f.user);
        break;
      case "error":
        this.onError(f);
        break;
    }
  }

  /**
   * Someone sharing a conversation with us (or we, in another tab) changed
   * their display name: it shows wherever a direct conversation with them
   * is named.
   * @param {{id: number, username: string, display_name: string, closed?: boolean}} u
   */
  onUser(u) {
    for (const row of this.rows.values()) {
      if (row.userId === u.id) row.li.querySelector(".name").textContent = u.display_name;
    }
    if (this.open && this.open.otherId === u.id) {
      this.titleEl.textContent = u.display_name;
      this.showClosed(!!u.closed);
    }
  }

  /**
   * A direct conversation with a closed account takes no more messages:
   * the composer gives way to a notice saying so.
   * @param {boolean} closed
   */
  showClosed(closed) {
    this.composer.hidden = closed;
    this.closedNotice.hidden = !closed;
  }

  onAck(clientId, m) {
    const p = this.outbox.get(clientId);
    if (!p) return;
    this.outbox.delete(clientId);
    const o = this.open;
    if (o && o.id === m.conversation_id) {
      p.li.remove();
      this.appendMessages([m]);
    }
    this.bumpRow(m, false);
    if (o && o.id === m.conversation_id && m.seq > o.readSeq) o.readSeq = m.seq;
  }

  onMessage(m) {
    const o = this.open;
    const mine = m.sender_id === this.me;
    if (o && o.id === m.conversation_id) {
      if (o.seqs.has(m.seq)) return; // a duplicate delivery
      if (m.seq > o.lastSeq + 1 && o.lastSeq > 0) {
        this.fillGap(); // something was missed: fetch it in order
      } else {
        this.appendMessages([m]);
      }
      if (mine && m.seq > o.readSeq) o.readSeq = m.seq;
      this.bumpRow(m, false);
      this.markRead();
      return;
    }
    const row = this.rows.get(m.conversation_id);
    if (row && m.seq <= row.lastSeq) return; // a duplicate delivery
    this.bumpRow(m, !mine);
  }

  onRead(f) {
    if (f.user_id === this.me) {
      const o = this.open;
      if (o && o.id === f.conversation_id) {
        o.readSeq = Math.max(o.readSeq, f.seq);
        this.setUnread(f.conversation_id, o.lastSeq - o.readSeq);
      } else {
        this.refreshRow(f.conversation_id);
      }
      return;
    }
    if (this.open && this.open.id === f.conversation_id) {
      this.open.otherReadSeq = Math.max(this.open.otherReadSeq, f.seq);
      this.updateSeen();
    }
  }

  onError(f) {
    const p = f.client_id && this.outbox.get(f.client_id);
    if (!p) return;
    if (f.code === "rate_limited") {
      setTimeout(() => this.conn.send({ type: "send", conversation_id: p.conversationId, client_id: f.client_id, body: p.body }), f.retry_after_ms || 1000);
      return;
    }
    this.outbox.delete(f.client_id);
    p.li.classList.remove("pending");
    p.li.classList.add("failed");
    p.li.querySelector(".time").textContent = `Not sent: ${f.message}`;
  }

  async refreshRow(id) {
    try {
      const data = await api("GET", `/api/v1/conversations/${id}`);
      this.setRow(data.conversation);
      this.updateTitle();
    } catch {
      // Left as it was.
    }
  }

  /** Fetches every message after the newest shown, page by page. */
  async fillGap() {
    const o = this.open;
    if (!o || o.filling) return;
    o.filling = true;
    try {
      for (;;) {
        const page = await api("GET", `/api/v1/conversations/${o.id}/messages?after_seq=${o.lastSeq}&limit=100`);
        if (this.open !== o) return;
        this.appendMessages(page.messages);
        if (!page.has_more || page.messages.length === 0) break;
      }
      this.markRead();
    } finally {
      o.filling = false;
    }
  }

  /** After a reconnect: refresh the list and fill the open conversation's gap. */
  async catchUp() {
    try {
      await this.refreshList();
      if (this.open) {
        this.markActive();
        await this.fillGap();
        const data = await api("GET", `/api/v1/conversations/${this.open.id}`);
        this.open.otherReadSeq = data.conversation.other_read_seq;
        this.open.online = !!(data.conversation.other_user && data.conversation.other_user.online);
        this.updateSeen();
        this.showStatus();
      }
    } catch {
      // The next reconnect tries again.
    }
  }
}

/** The people directory: search as you type, page by page. */
class PeoplePage {
  constructor() {
    this.input = document.getElementById("people-search");
    this.form = document.getElementById("people-form");
    this.results = document.getElementById("people-results");
    this.empty = document.getElementById("people-empty");
    this.prev = document.getElementById("people-prev");
    this.next = document.getElementById("people-next");
    this.cursors = [""]; // the cursor of each page shown so far
    this.nextCursor = null;
    this.timer = 0;
    this.request = 0;
  }

  start() {
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(true), SEARCH_DELAY_MS);
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.search(true);
    });
    this.next.addEventListener("click", (e) => {
      e.preventDefault();
      if (this.nextCursor) {
        this.cursors.push(this.nextCursor);
        this.search(false);
      }
    });
    this.prev.addEventListener("click", (e) => {
      e.preventDefault();
      if (this.cursors.length > 1) {
        this.cursors.pop();
        this.search(false);
      }
    });
    this.search(true);
  }

  async search(fromStart) {
    if (fromStart) this.cursors = [""];
    const q = this.input.value.trim();
    const after = this.cursors[this.cursors.length - 1];
    const id = ++this.request;
    let data;
    try {
      data = await api("GET", `/api/v1/users?q=${encodeURIComponent(q)}&after=${encodeURIComponent(after)}`);
    } catch {
      return;
    }
    if (id !== this.request) return; // a newer search is on its way
    const fragment = document.createDocumentFragment();
    for (const u of data.users) fragment.append(this.personItem(u));
    this.results.replaceChildren(fragment);
    this.empty.hidden = data.users.length > 0;
    this.nextCursor = data.next;
    this.next.hidden = !data.next;
    this.prev.hidden = this.cursors.length <= 1;
    // The address shows the search, so that reload and back keep it; it is
    // rewritten only when the search changed.
    const shown = new URLSearchParams(window.location.search);
    if ((shown.get("q") || "") !== q || shown.has("after")) {
      history.replaceState({}, "", q ? `/people?${new URLSearchParams({ q })}` : "/people");
    }
  }

  personItem(u) {
    const li = el("li", u.online ? "person online" : "person");
    li.dataset.id = u.id;
    const dot = el("span", "online-dot");
    dot.setAttribute("role", "img");
    dot.setAttribute("aria-label", u.online ? "online" : "offline");
    const form = el("form");
    form.method = "post";
    form.action = `/people/${u.id}/message`;
    const button = el("button", "message-button", "Message");
    button.type = "submit";
    form.append(button);
    li.append(dot, el("span", "name", u.display_name), el("span", "username", `@${u.username}`), form);
    return li;
  }
}

function main() {
  switch (document.body.dataset.page) {
    case "app":
      new ChatApp().start();
      break;
    case "people":
      new PeoplePage().start();
      break;
  }
}

main();
