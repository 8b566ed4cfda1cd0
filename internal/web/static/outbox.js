// @ts-check
// Messages typed but not yet stored, one queue per conversation in the
// order they were typed. A queue has at most one send in flight: the next
// message goes when the one before it is acked (or refused for good), so
// the server stores them in typed order. A send refused for a reason that
// waiting can fix — rate_limited, unavailable (the server's database or
// broker is away), or anything the page does not know to be final — holds
// back its whole queue: it is tried again after retry_after_ms, waiting
// longer after each refusal in a row while the server is unavailable, and
// the ones behind it follow once it is stored. After a reconnect every
// queue resumes from its first message, with the same client_ids, so the
// server stores each one once (a stored client_id is answered with the
// stored message). A refusal that waiting cannot fix (FINAL) marks that
// message as not sent and the queue goes on.

/** @typedef {import("./wire.js").SendFrame} SendFrame */
/** @typedef {import("./wire.js").ErrorFrame} ErrorFrame */

/**
 * A message waiting for its ack.
 * @typedef {object} PendingSend
 * @property {string} clientId
 * @property {number} conversationId
 * @property {string} body
 * @property {import("./wire.js").Attachment[]} attachments the uploaded files it carries
 * @property {string} createdAt when it was typed, RFC 3339
 * @property {string} failure why the server refused it; "" while it may still go
 */

/**
 * One conversation's unacked sends.
 * @typedef {object} Queue
 * @property {PendingSend[]} entries in typed order
 * @property {string | null} inFlight the client_id sent and not answered yet
 * @property {ReturnType<typeof setTimeout> | undefined} hold the timer of a wait before a resend
 * @property {number} refusals the refusals in a row of its first message that may still go, for the backoff
 */

/** How long to wait before resending a refused send that gave no retry_after_ms. */
const DEFAULT_RETRY_MS = 1000;

/** The longest wait between two resends of a message the server could not take. */
const MAX_RETRY_MS = 30000;

/**
 * The refusals that waiting cannot fix: the message is shown as not sent.
 * Any other code (unavailable, rate_limited, internal, one this page does
 * not know) is waited out and the message sent again.
 */
const FINAL = new Set(["invalid", "too_large", "not_found", "forbidden", "conflict", "unauthorized"]);

/**
 * How long to wait before resending a send refused with f, the refusals-th
 * refusal in a row: rate_limited says exactly when the budget has room;
 * otherwise the wait doubles with each refusal from retry_after_ms (or a
 * second), up to MAX_RETRY_MS, give or take a fifth so that the pages
 * that met one outage do not all come back at once.
 * @param {ErrorFrame} f
 * @param {number} refusals at least 1
 * @returns {number} milliseconds
 */
export function retryDelay(f, refusals) {
  const base = f.retry_after_ms || DEFAULT_RETRY_MS;
  if (f.code === "rate_limited") return base;
  const backoff = Math.min(MAX_RETRY_MS, Math.max(base, DEFAULT_RETRY_MS * 2 ** Math.min(refusals - 1, 16)));
  return Math.round(backoff * (0.9 + 0.2 * Math.random()));
}

/** The unacked sends, a queue per conversation, each in the order typed. */
export class Outbox {
  /**
   * @param {(frame: SendFrame) => boolean} send sends a frame if connected, saying whether it went
   */
  constructor(send) {
    this.sendFrame = send;
    /** @type {Map<number, Queue>} by conversation id */
    this.queues = new Map();
    /** @type {Set<(conversationId: number) => void>} */
    this.listeners = new Set();
  }

  /**
   * Calls listener with the conversation whose unsent messages changed.
   * @param {(conversationId: number) => void} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
  }

  /** @param {number} conversationId */
  changed(conversationId) {
    for (const listener of this.listeners) listener(conversationId);
  }

  /**
   * @param {number} conversationId
   * @returns {Queue}
   */
  queue(conversationId) {
    let q = this.queues.get(conversationId);
    if (!q) {
      q = { entries: [], inFlight: null, hold: undefined, refusals: 0 };
      this.queues.set(conversationId, q);
    }
    return q;
  }

  /**
   * The queue and place of an unacked send.
   * @param {string} clientId
   * @returns {{q: Queue, i: number} | null}
   */
  find(clientId) {
    for (const q of this.queues.values()) {
      const i = q.entries.findIndex((e) => e.clientId === clientId);
      if (i >= 0) return { q, i };
    }
    return null;
  }

  /**
   * Adds a message at the end of its conversation's queue; it goes when
   * every message typed before it there is stored (at once if the queue is
   * idle and the page connected, else after the next hello, through
   * resendAll).
   * @param {number} conversationId
   * @param {string} body
   * @param {import("./wire.js").Attachment[]} [attachments] uploaded files it carries
   * @returns {PendingSend}
   */
  add(conversationId, body, attachments = []) {
    /** @type {PendingSend} */
    const entry = { clientId: crypto.randomUUID(), conversationId, body, attachments, createdAt: new Date().toISOString(), failure: "" };
    this.queue(conversationId).entries.push(entry);
    this.pump(conversationId);
    this.changed(conversationId);
    return entry;
  }

  /**
   * Sends the first message of a queue that may still go, unless one is in
   * flight or the queue is held back by a wait before a resend.
   * @param {number} conversationId
   */
  pump(conversationId) {
    const q = this.queues.get(conversationId);
    if (!q || q.inFlight !== null || q.hold !== undefined) return;
    const next = q.entries.find((e) => !e.failure);
    if (!next) return;
    /** @type {SendFrame} */
    const frame = { type: "send", conversation_id: next.conversationId, client_id: next.clientId, body: next.body };
    if (next.attachments.length > 0) frame.attachment_ids = next.attachments.map((a) => a.id);
    const went = this.sendFrame(frame);
    // Not connected: the next hello resumes the queue (resendAll).
    if (went) q.inFlight = next.clientId;
  }

  /**
   * The server stored a message of ours: it leaves the outbox, and the next
   * one of its conversation goes.
   * @param {string} clientId
   */
  acked(clientId) {
    const at = this.find(clientId);
    if (!at) return; // a second answer to a resend
    const [entry] = at.q.entries.splice(at.i, 1);
    if (at.q.inFlight === clientId) at.q.inFlight = null;
    at.q.refusals = 0;
    this.pump(entry.conversationId);
    this.changed(entry.conversationId);
  }

  /**
   * The server refused a send: a refusal that waiting can fix holds the
   * queue back and tries the same message again after retryDelay; a final
   * one (FINAL) marks it as not sent and the queue goes on.
   * @param {ErrorFrame} f
   */
  refused(f) {
    const at = f.client_id ? this.find(f.client_id) : null;
    if (!at) return;
    const { q } = at;
    const entry = q.entries[at.i];
    if (entry.failure) return;
    if (!FINAL.has(f.code)) {
      if (q.inFlight !== entry.clientId) return; // an answer to a send made before a resend
      q.inFlight = null;
      q.refusals++;
      clearTimeout(q.hold);
      q.hold = setTimeout(() => {
        q.hold = undefined;
        this.pump(entry.conversationId);
      }, retryDelay(f, q.refusals));
      return;
    }
    entry.failure = f.message || f.code;
    q.refusals = 0;
    if (q.inFlight === entry.clientId) q.inFlight = null;
    this.pump(entry.conversationId);
    this.changed(entry.conversationId);
  }

  /**
   * After a reconnect: whatever was in flight on the old connection may be
   * lost, so every queue starts again from its first message that may
   * still go, with the same client_ids (a queue held back by a wait
   * resumes when its wait ends).
   */
  resendAll() {
    for (const [conversationId, q] of this.queues) {
      q.inFlight = null;
      this.pump(conversationId);
    }
  }

  /**
   * A conversation's unacked messages, sent or refused, in the order typed.
   * @param {number} conversationId
   * @returns {PendingSend[]}
   */
  pending(conversationId) {
    const q = this.queues.get(conversationId);
    return q ? [...q.entries] : [];
  }
}
