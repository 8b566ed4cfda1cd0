// @ts-check
// The main view's data: the conversations the page knows, by id, in the
// list's order, and the messages of the open conversation, by seq. The
// views write the DOM from it and never read anything back from the page.
//
// Updates are idempotent and do not depend on their order where the
// server's data allows: sequence numbers and read cursors only move
// forward, so a frame delivered twice, or a list fetched while frames
// arrive, leaves the same state. Every change object is new (a row that
// changed is a new object), so a view can tell what to redraw by identity.

/** @typedef {import("./wire.js").ConversationRow} ConversationRow */
/** @typedef {import("./wire.js").Message} Message */
/** @typedef {import("./wire.js").MessagesResponse} MessagesResponse */
/** @typedef {import("./wire.js").User} User */
/** @typedef {import("./wire.js").Member} Member */
/** @typedef {import("./wire.js").Conversation} Conversation */

/**
 * The open conversation's messages that the page holds: a window of its
 * history, which the view keeps to a few hundred messages.
 * @typedef {object} History
 * @property {Message[]} messages ascending by seq, without gaps
 * @property {boolean} hasMore older messages are on the server
 * @property {boolean} hasNewer newer messages are on the server: the
 *   window stops short of the newest (the reader scrolled far back), so
 *   new messages are not added to it but fetched when scrolled to
 * @property {number} version every change of the conversation up to this
 *   version is in the window: a catch-up asks for the changes after it
 * @property {Set<number>} ahead versions above that one seen since (frames
 *   from two nodes can come out of order, so one may still be missing)
 */

/**
 * A conversation's name in the list and the header: its title, else the
 * other person's name (rowTitle in pages.go says the same).
 * @param {ConversationRow} row
 * @returns {string}
 */
export function titleOf(row) {
  return row.title || (row.other_user ? row.other_user.display_name : "Conversation");
}

/**
 * How many messages of a conversation are unread, from its cursors.
 * @param {ConversationRow} row
 * @returns {number}
 */
export function unreadOf(row) {
  return Math.max(0, row.last_seq - row.last_read_seq);
}

/**
 * The newest seq a history holds, 0 when it is empty.
 * @param {History} history
 * @returns {number}
 */
export function newestSeq(history) {
  const last = history.messages.at(-1);
  return last ? last.seq : 0;
}

/**
 * Which of two states of a conversation's last message is further on: the
 * higher seq, and for the same message the higher version (an edit, a
 * deletion).
 * @param {Message | null} a
 * @param {Message | null} b
 * @returns {boolean} whether b is further on than a
 */
function furtherOn(a, b) {
  if (!b) return false;
  if (!a) return true;
  return b.seq > a.seq || (b.seq === a.seq && b.version > a.version);
}

/**
 * The highest version of a list of messages, 0 for none.
 * @param {Message[]} messages
 */
function maxVersion(messages) {
  let v = 0;
  for (const m of messages) v = Math.max(v, m.version);
  return v;
}

/**
 * A new window of history from a page of messages, ascending by seq. Every
 * change up to the page's highest version is in it: the page was read at
 * once, after them.
 * @param {Message[]} messages
 * @param {boolean} hasMore
 * @returns {History}
 */
function newHistory(messages, hasMore) {
  const sorted = [...messages].sort((a, b) => a.seq - b.seq);
  return { messages: sorted, hasMore, hasNewer: false, version: maxVersion(sorted), ahead: new Set() };
}

/**
 * Notes that a history holds a version: the catch-up point moves over
 * every version seen without a gap below it.
 * @param {History} h
 * @param {number} version
 */
function noteVersion(h, version) {
  if (!(version > h.version)) return;
  h.ahead.add(version);
  while (h.ahead.delete(h.version + 1)) h.version++;
}

/**
 * When a conversation last had a message (else when it was made), in
 * microseconds since the epoch: the key the server orders the list by,
 * newest first, then the higher id (ORDER BY coalesce(last_message_at,
 * created_at) DESC, id DESC). Date.parse stops at milliseconds; the
 * digits after them count too.
 * @param {ConversationRow} row
 * @returns {number}
 */
function activityOf(row) {
  const at = row.last_message_at ?? row.created_at;
  const fraction = /\.(\d+)/.exec(at);
  const micros = fraction ? Number((fraction[1] + "000000").slice(3, 6)) : 0;
  return Date.parse(at) * 1000 + micros;
}

/**
 * A row as the server sent it (fresh), over what the page had (old): the
 * cursors, the last message, and a group's title and member count take
 * whichever is further on, the rest comes from fresh. The old object is
 * returned when nothing changed.
 * @param {ConversationRow} old
 * @param {ConversationRow} fresh
 * @returns {ConversationRow}
 */
function mergeRow(old, fresh) {
  const newer = furtherOn(old.last_message, fresh.last_message) ? fresh : old;
  // A group's title and member count change with a system message, so a
  // row that stops short of the seq held (a fetch answered after a
  // rename's frame) has older ones.
  const stale = fresh.last_seq < old.last_seq;
  /** @type {ConversationRow} */
  const row = {
    ...fresh,
    title: stale ? old.title : fresh.title,
    member_count: stale ? old.member_count : fresh.member_count,
    last_seq: Math.max(old.last_seq, fresh.last_seq),
    last_version: Math.max(old.last_version, fresh.last_version),
    last_read_seq: Math.max(old.last_read_seq, fresh.last_read_seq),
    other_read_seq: Math.max(old.other_read_seq, fresh.other_read_seq),
    last_message: newer.last_message,
    last_message_at: newer.last_message_at,
  };
  row.unread_count = unreadOf(row);
  return sameRow(old, row) ? old : row;
}

/**
 * Whether two rows show the same.
 * @param {ConversationRow} a
 * @param {ConversationRow} b
 */
function sameRow(a, b) {
  const x = a.other_user;
  const y = b.other_user;
  const sameUser =
    x === y ||
    (!!x && !!y && x.id === y.id && x.username === y.username && x.display_name === y.display_name && x.online === y.online && !!x.closed === !!y.closed);
  const p = a.last_message;
  const q = b.last_message;
  const sameMessage = p === q || (!!p && !!q && p.seq === q.seq && p.version === q.version && p.body === q.body && p.deleted === q.deleted && p.edited_at === q.edited_at);
  return (
    sameUser &&
    sameMessage &&
    a.id === b.id &&
    a.kind === b.kind &&
    a.title === b.title &&
    a.member_count === b.member_count &&
    a.last_seq === b.last_seq &&
    a.last_version === b.last_version &&
    a.last_read_seq === b.last_read_seq &&
    a.other_read_seq === b.other_read_seq &&
    a.last_message_at === b.last_message_at
  );
}

/** The main view's state; listeners hear of every change. */
export class Store {
  /** @param {number} me the signed-in user's id */
  constructor(me) {
    this.me = me;
    /** @type {Map<number, ConversationRow>} */
    this.rows = new Map();
    /** @type {number[]} the list's conversation ids, top first */
    this.order = [];
    /** @type {number | null} */
    this.openId = null;
    /** @type {History | null} */
    this.openHistory = null;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    /** @type {Map<number, User>} the people the page can name, by id */
    this.users = new Map();
    /**
     * The member lists the page holds (the open group's), by conversation
     * id, each by user id.
     * @type {Map<number, Map<number, Member>>}
     */
    this.members = new Map();
    /**
     * Groups the reader was removed from (or left), with their last_seq
     * then: a list fetched before the removal and answered after it must
     * not bring them back; a row further on (added again) does.
     * @type {Map<number, number>}
     */
    this.gone = new Map();
    /**
     * The open conversation's edited and deleted messages as the page last
     * heard of them, by seq: a page of history fetched while a change came
     * may carry the message as it was before, and the newer one wins.
     * @type {Map<number, Message>}
     */
    this.changes = new Map();
  }

  /**
   * A person's name, if the page knows them.
   * @param {number} id
   * @returns {string | undefined}
   */
  nameOf(id) {
    const u = this.users.get(id);
    return u ? u.display_name : undefined;
  }

  /**
   * People the page can name from now on.
   * @param {User[]} users
   */
  putUsers(users) {
    if (this.addUsers(users)) this.changed();
  }

  /**
   * @param {User[]} users
   * @returns {boolean} whether any was new or changed
   */
  addUsers(users) {
    let changed = false;
    for (const u of users) {
      const old = this.users.get(u.id);
      if (old && old.display_name === u.display_name && old.username === u.username && !!old.closed === !!u.closed) continue;
      this.users.set(u.id, { id: u.id, username: u.username, display_name: u.display_name, closed: !!u.closed });
      changed = true;
    }
    return changed;
  }

  /**
   * A conversation's members, in user ID order, if the page holds its list.
   * @param {number} id
   * @returns {Member[] | null}
   */
  memberList(id) {
    const m = this.members.get(id);
    return m ? [...m.values()].sort((a, b) => a.user.id - b.user.id) : null;
  }

  /**
   * Takes a conversation's whole member list from the server: members not
   * in it are gone; read cursors only move forward.
   * @param {number} id
   * @param {Member[]} list
   */
  setMembers(id, list) {
    if (!this.rows.has(id)) return;
    const old = this.members.get(id) ?? new Map();
    /** @type {Map<number, Member>} */
    const fresh = new Map();
    for (const m of list) {
      const had = old.get(m.user.id);
      fresh.set(m.user.id, had ? { ...m, last_read_seq: Math.max(had.last_read_seq, m.last_read_seq) } : m);
    }
    this.members.set(id, fresh);
    this.addUsers(list.map((m) => m.user));
    this.changed();
  }

  /**
   * One member from the server (added, or a new role), when the page holds
   * the conversation's member list.
   * @param {number} id
   * @param {Member} m
   */
  putMember(id, m) {
    const list = this.members.get(id);
    if (list) {
      const had = list.get(m.user.id);
      list.set(m.user.id, had ? { ...m, last_read_seq: Math.max(had.last_read_seq, m.last_read_seq) } : m);
    }
    this.addUsers([m.user]);
    this.changed();
  }

  /**
   * Someone left a conversation or was removed from it (the page still
   * names them: history does).
   * @param {number} id
   * @param {number} userId
   */
  removeMember(id, userId) {
    const list = this.members.get(id);
    if (list && list.delete(userId)) this.changed();
  }

  /**
   * A group's shared fields from a conversation frame (renamed, member
   * count), merged into the row held with its own cursors kept.
   * @param {Conversation} c
   * @returns {boolean} whether the page knew the conversation (if not, its row needs fetching)
   */
  applyConversation(c) {
    const old = this.rows.get(c.id);
    if (!old) return false;
    this.rows.set(c.id, mergeRow(old, { ...old, kind: c.kind, title: c.title, member_count: c.member_count, last_seq: c.last_seq }));
    this.changed();
    return true;
  }

  /**
   * A conversation's row that joins the list (a group the reader was
   * added to), in its place by activity.
   * @param {ConversationRow} row
   */
  addRow(row) {
    const gone = this.gone.get(row.id);
    if (gone !== undefined && row.last_seq <= gone) return;
    this.gone.delete(row.id);
    this.put(row);
    if (!this.order.includes(row.id)) this.order = [...this.order, row.id];
    this.sortOrder();
    this.changed();
  }

  /**
   * The reader is no longer in a conversation (removed, or left): it
   * leaves the list, and closes if it was open.
   * @param {number} id
   */
  drop(id) {
    const row = this.rows.get(id);
    this.gone.set(id, Math.max(this.gone.get(id) ?? 0, row ? row.last_seq : 0));
    this.rows.delete(id);
    this.members.delete(id);
    this.order = this.order.filter((x) => x !== id);
    if (this.openId === id) {
      this.openId = null;
      this.openHistory = null;
      this.changes.clear();
    }
    this.changed();
  }

  /**
   * Whether a row from the server is of a group the reader left since it
   * was read.
   * @param {ConversationRow} row
   */
  isGone(row) {
    const gone = this.gone.get(row.id);
    return gone !== undefined && row.last_seq <= gone;
  }

  /**
   * Calls listener after every change.
   * @param {() => void} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }

  /**
   * A conversation's row, if the page knows it.
   * @param {number} id
   * @returns {ConversationRow | undefined}
   */
  row(id) {
    return this.rows.get(id);
  }

  /**
   * The list's rows, top first.
   * @returns {ConversationRow[]}
   */
  listRows() {
    return this.order.flatMap((id) => this.rows.get(id) ?? []);
  }

  /**
   * Unread messages over every conversation the page knows.
   * @returns {number}
   */
  unreadTotal() {
    let n = 0;
    for (const row of this.rows.values()) n += unreadOf(row);
    return n;
  }

  /**
   * The open conversation's messages, if id is open.
   * @param {number} id
   * @returns {History | null}
   */
  history(id) {
    return id === this.openId ? this.openHistory : null;
  }

  /**
   * Takes the server's first page of the list: its order, and its rows
   * merged over the ones the page had.
   * @param {ConversationRow[]} rows
   */
  setList(rows) {
    rows = rows.filter((row) => !this.isGone(row));
    for (const row of rows) this.put(row);
    this.order = rows.map((row) => row.id);
    // Frames that came while the list was fetched are in the rows already.
    this.sortOrder();
    const listed = new Set(this.order);
    for (const id of [...this.rows.keys()]) {
      if (!listed.has(id) && id !== this.openId) this.rows.delete(id);
    }
    for (const id of [...this.members.keys()]) {
      if (!this.rows.has(id)) this.members.delete(id);
    }
    this.changed();
  }

  /** Orders the list as the server does: newest activity first, then the higher id. */
  sortOrder() {
    /** @param {number} id */
    const at = (id) => {
      const row = this.rows.get(id);
      return row ? activityOf(row) : 0;
    };
    this.order = [...this.order].sort((a, b) => at(b) - at(a) || b - a);
  }

  /**
   * Takes one row from the server.
   * @param {ConversationRow} row
   */
  putRow(row) {
    this.put(row);
    this.changed();
  }

  /** @param {ConversationRow} fresh */
  put(fresh) {
    if (this.isGone(fresh)) return;
    const old = this.rows.get(fresh.id);
    if (fresh.other_user) this.addUsers([fresh.other_user]);
    this.rows.set(fresh.id, old ? mergeRow(old, fresh) : fresh);
  }

  /**
   * Starts opening a conversation: it is the open one, its messages not
   * fetched yet (history is null until open is called).
   * @param {number} id
   */
  opening(id) {
    if (this.openId === id) return;
    this.changes.clear();
    if (this.openId !== null && !this.order.includes(this.openId)) this.rows.delete(this.openId);
    if (this.openId !== null) this.members.delete(this.openId);
    this.openId = id;
    this.openHistory = null;
    this.changed();
  }

  /**
   * Opens a conversation with its newest page of messages, or with the
   * messages around one (the server's page opened at a message: at).
   * @param {ConversationRow} row
   * @param {MessagesResponse & {has_newer?: boolean, at?: number}} page
   * @param {boolean} [rowFirst] the row was read before the page: the
   *   page then has every change up to the row's last_version, and a
   *   catch-up need not ask for those again (an edit of an older message,
   *   not in the page, may be the latest change)
   */
  open(row, page, rowFirst = false) {
    this.put(row);
    if (this.openId !== row.id) this.changes.clear();
    this.openId = row.id;
    const h = newHistory(this.latest(page.messages), page.has_more);
    h.hasNewer = !!page.has_newer;
    // The messages around one are two reads, not one: a change between
    // them may be missing from the first, so only the row's version,
    // read before both, is sure to be held.
    if (rowFirst && page.at) h.version = row.last_version;
    else if (rowFirst) h.version = Math.max(h.version, row.last_version);
    this.openHistory = h;
    this.changed();
  }

  /**
   * Replaces the open conversation's window with its newest page: the
   * reader jumps from far back to the end.
   * @param {number} id
   * @param {MessagesResponse} page
   */
  showNewest(id, page) {
    const row = this.rows.get(id);
    if (!row || !this.history(id)) return;
    this.open(row, page);
  }

  /** Closes the open conversation. */
  close() {
    this.changes.clear();
    if (this.openId !== null && !this.order.includes(this.openId)) this.rows.delete(this.openId);
    if (this.openId !== null) this.members.delete(this.openId);
    this.openId = null;
    this.openHistory = null;
    this.changed();
  }

  /**
   * A message the server stored: it moves its conversation's row and, when
   * it is the next one of the open conversation, joins its history. One
   * further on (some were missed) only moves the row's last_seq: the view
   * then fetches what is missing, in order.
   * @param {Message} m
   * @returns {boolean} whether the page knew the conversation (if not, the list needs fetching)
   */
  receive(m) {
    const known = this.apply(m);
    this.changed();
    return known;
  }

  /**
   * Messages fetched after the newest one of the open conversation.
   * @param {Message[]} messages ascending
   */
  addNewer(messages) {
    for (const m of this.latest(messages)) this.apply(m);
    this.changed();
  }

  /**
   * @param {Message} m
   * @returns {boolean}
   */
  apply(m) {
    const old = this.rows.get(m.conversation_id);
    if (!old) return false;
    const mine = m.sender_id === this.me;
    // Sending moves the sender's own read cursor: the other person's too.
    const theirs = !!old.other_user && m.sender_id === old.other_user.id;
    const row = mergeRow(old, {
      ...old,
      last_seq: m.seq,
      last_read_seq: mine ? m.seq : old.last_read_seq,
      other_read_seq: theirs ? m.seq : old.other_read_seq,
      last_version: Math.max(old.last_version, m.version),
      last_message: m,
      last_message_at: m.created_at,
    });
    this.rows.set(m.conversation_id, row);
    // Sending moves the sender's read cursor, in a group too ("Seen by").
    const member = this.members.get(m.conversation_id)?.get(m.sender_id);
    if (member && member.last_read_seq < m.seq) this.members.get(m.conversation_id)?.set(m.sender_id, { ...member, last_read_seq: m.seq });
    // The list's order follows the rows' data, not the order frames came
    // in: from two nodes, a later message can arrive first.
    if (row !== old) this.sortOrder();
    const h = this.history(m.conversation_id);
    if (h && !h.hasNewer && m.seq === newestSeq(h) + 1) h.messages.push(m);
    if (h) noteVersion(h, m.version);
    return true;
  }

  /**
   * Messages of the open conversation from a fetch, each replaced by the
   * state the page heard of since when that one is further on.
   * @param {Message[]} messages
   * @returns {Message[]}
   */
  latest(messages) {
    if (this.changes.size === 0) return [...messages];
    return messages.map((m) => {
      const c = this.changes.get(m.seq);
      return c && c.conversation_id === m.conversation_id && c.version > m.version ? c : m;
    });
  }

  /**
   * A message as it is now (a message_updated frame, the answer to an
   * edit): it replaces the one the page holds with its seq, in the history
   * and as the row's last message, when its version is higher; an older
   * or repeated one changes nothing. One the page has not had yet counts
   * as a new message.
   * @param {Message} m
   * @returns {boolean} whether the page knew the conversation
   */
  update(m) {
    const known = this.change(m);
    this.changed();
    return known;
  }

  /**
   * The changes of the open conversation after its history's version
   * (GET …/messages?after_version), ascending by version: new, edited and
   * deleted messages. Every change up to the last one is then in the
   * window, so the catch-up point moves to it.
   * @param {number} id
   * @param {History} h the history they were asked for
   * @param {Message[]} messages
   */
  applyChanges(id, h, messages) {
    if (this.history(id) !== h) return;
    const newest = newestSeq(h);
    // New messages join in seq order: one created, then edited, comes at
    // its edit's version, after messages created later.
    for (const m of messages) if (m.seq <= newest) this.change(m);
    for (const m of messages.filter((m) => m.seq > newest).sort((a, b) => a.seq - b.seq)) this.change(m);
    const upTo = maxVersion(messages);
    if (upTo > h.version) {
      h.version = upTo;
      for (const v of [...h.ahead]) if (v <= upTo) h.ahead.delete(v);
      while (h.ahead.delete(h.version + 1)) h.version++;
    }
    this.changed();
  }

  /**
   * @param {Message} m
   * @returns {boolean}
   */
  change(m) {
    const old = this.rows.get(m.conversation_id);
    if (!old) return false;
    if (m.seq > old.last_seq) return this.apply(m);
    if (m.conversation_id === this.openId && (m.deleted || m.edited_at)) {
      const c = this.changes.get(m.seq);
      if (!c || c.version < m.version) this.changes.set(m.seq, m);
    }
    if (old.last_message && old.last_message.seq === m.seq) {
      this.rows.set(m.conversation_id, mergeRow(old, { ...old, last_message: m, last_version: Math.max(old.last_version, m.version) }));
    }
    const h = this.history(m.conversation_id);
    if (!h) return true;
    noteVersion(h, m.version);
    if (!h.hasNewer && m.seq === newestSeq(h) + 1) {
      // The row knew of it (a list fetched meanwhile), the window did not.
      h.messages.push(m);
      return true;
    }
    const first = h.messages.length ? h.messages[0].seq : 0;
    const i = m.seq - first;
    const held = i >= 0 && i < h.messages.length ? h.messages[i] : null;
    if (held && held.seq === m.seq && held.version < m.version) h.messages[i] = m;
    return true;
  }

  /**
   * The version a catch-up of the open conversation starts after, if id is
   * open with its history.
   * @param {number} id
   * @returns {number | null}
   */
  heldVersion(id) {
    const h = this.history(id);
    return h ? h.version : null;
  }

  /**
   * A page of messages fetched after the newest one of a window that stops
   * short of the end: those that follow on join it, and when the page is
   * the last one the window reaches the end again.
   * @param {number} id
   * @param {MessagesResponse} page
   */
  addNewerPage(id, page) {
    const h = this.history(id);
    if (!h) return;
    let complete = true;
    for (const m of this.latest(page.messages).sort((a, b) => a.seq - b.seq)) {
      if (m.seq <= newestSeq(h)) continue;
      if (m.seq !== newestSeq(h) + 1) {
        complete = false;
        break;
      }
      h.messages.push(m);
    }
    if (complete && !page.has_more) h.hasNewer = false;
    this.changed();
  }

  /**
   * Keeps only the open conversation's messages from seq first to seq last:
   * the ones dropped are fetched again when the reader scrolls to them.
   * @param {number} id
   * @param {number} first
   * @param {number} last
   */
  keep(id, first, last) {
    const h = this.history(id);
    if (!h || h.messages.length === 0) return;
    if (h.messages[0].seq < first) h.hasMore = true;
    if (newestSeq(h) > last) h.hasNewer = true;
    h.messages = h.messages.filter((m) => m.seq >= first && m.seq <= last);
    this.changed();
  }

  /**
   * A page of older messages of the open conversation.
   * @param {number} id
   * @param {MessagesResponse} page
   */
  addOlder(id, page) {
    const h = this.history(id);
    if (!h) return;
    const first = h.messages.length ? h.messages[0].seq : Infinity;
    const older = this.latest(page.messages.filter((m) => m.seq < first)).sort((a, b) => a.seq - b.seq);
    h.messages = older.concat(h.messages);
    h.hasMore = page.has_more;
    this.changed();
  }

  /**
   * Someone's read cursor moved.
   * @param {number} id the conversation
   * @param {number} userId
   * @param {number} seq
   * @returns {boolean} false when the page cannot show it from what it has
   *   (an unknown conversation, or a read of messages it has not got): the
   *   row needs fetching
   */
  read(id, userId, seq) {
    const old = this.rows.get(id);
    if (!old) return false;
    const member = this.members.get(id)?.get(userId);
    if (member && member.last_read_seq < seq) this.members.get(id)?.set(userId, { ...member, last_read_seq: seq });
    if (userId === this.me) {
      this.rows.set(id, mergeRow(old, { ...old, last_read_seq: seq, last_seq: Math.max(old.last_seq, seq) }));
    } else if (old.kind === "group") {
      // Others' cursors in a group are the members' (above), not one row field.
    } else {
      this.rows.set(id, mergeRow(old, { ...old, other_read_seq: seq }));
    }
    this.changed();
    return userId !== this.me || seq <= old.last_seq;
  }

  /**
   * Someone came online or went away.
   * @param {number} userId
   * @param {boolean} online
   */
  setPresence(userId, online) {
    for (const list of this.members.values()) {
      const m = list.get(userId);
      if (m && m.online !== online) list.set(userId, { ...m, online });
    }
    this.updateOther(userId, (u) => ({ ...u, online }));
  }

  /**
   * Someone changed their display name or closed their account.
   * @param {User} user
   */
  setUser(user) {
    for (const list of this.members.values()) {
      const m = list.get(user.id);
      if (m) list.set(user.id, { ...m, user: { ...m.user, username: user.username, display_name: user.display_name, closed: !!user.closed } });
    }
    if (this.users.has(user.id)) this.addUsers([user]);
    this.updateOther(user.id, (u) => ({ ...u, username: user.username, display_name: user.display_name, closed: !!user.closed }));
  }

  /**
   * Rewrites the other person of every direct conversation with userId.
   * @param {number} userId
   * @param {(u: import("./wire.js").Contact) => import("./wire.js").Contact} update
   */
  updateOther(userId, update) {
    for (const [id, old] of this.rows) {
      if (old.other_user && old.other_user.id === userId) {
        this.rows.set(id, mergeRow(old, { ...old, other_user: update(old.other_user) }));
      }
    }
    this.changed();
  }
}
