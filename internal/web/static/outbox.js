// @ts-check
// Messages typed but not yet stored: each is kept, with its client_id,
// until the server acks it, and sent again with the same client_id after a
// reconnect, so the server stores it once. A send refused with
// rate_limited is tried again after retry_after_ms; any other refusal
// leaves it marked as not sent.

/** @typedef {import("./wire.js").SendFrame} SendFrame */
/** @typedef {import("./wire.js").ErrorFrame} ErrorFrame */

/**
 * A message waiting for its ack.
 * @typedef {object} PendingSend
 * @property {string} clientId
 * @property {number} conversationId
 * @property {string} body
 * @property {string} createdAt when it was typed, RFC 3339
 * @property {string} failure why the server refused it; "" while it may still go
 */

/** How long to wait before resending a refused send that gave no retry_after_ms. */
const DEFAULT_RETRY_MS = 1000;

/** The unacked sends, by client_id, in the order they were typed. */
export class Outbox {
  /**
   * @param {(frame: SendFrame) => boolean} send sends a frame if connected, saying whether it went
   */
  constructor(send) {
    this.sendFrame = send;
    /** @type {Map<string, PendingSend>} */
    this.entries = new Map();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.timers = new Map();
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
   * Adds a message and sends it now if connected (else after the next
   * hello, through resendAll).
   * @param {number} conversationId
   * @param {string} body
   * @returns {PendingSend}
   */
  add(conversationId, body) {
    /** @type {PendingSend} */
    const entry = { clientId: crypto.randomUUID(), conversationId, body, createdAt: new Date().toISOString(), failure: "" };
    this.entries.set(entry.clientId, entry);
    this.send(entry);
    this.changed(conversationId);
    return entry;
  }

  /** @param {PendingSend} entry */
  send(entry) {
    this.sendFrame({ type: "send", conversation_id: entry.conversationId, client_id: entry.clientId, body: entry.body });
  }

  /**
   * The server stored a message of ours: it leaves the outbox.
   * @param {string} clientId
   */
  acked(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    this.entries.delete(clientId);
    clearTimeout(this.timers.get(clientId));
    this.timers.delete(clientId);
    this.changed(entry.conversationId);
  }

  /**
   * The server refused a send.
   * @param {ErrorFrame} f
   */
  refused(f) {
    const entry = f.client_id ? this.entries.get(f.client_id) : undefined;
    if (!entry || entry.failure) return;
    if (f.code === "rate_limited") {
      clearTimeout(this.timers.get(entry.clientId));
      this.timers.set(
        entry.clientId,
        setTimeout(() => {
          this.timers.delete(entry.clientId);
          if (this.entries.has(entry.clientId)) this.send(entry);
        }, f.retry_after_ms || DEFAULT_RETRY_MS),
      );
      return;
    }
    entry.failure = f.message || f.code;
    this.changed(entry.conversationId);
  }

  /** Sends every message still waiting, in the order typed: after a reconnect. */
  resendAll() {
    for (const entry of this.entries.values()) {
      if (!entry.failure) this.send(entry);
    }
  }

  /**
   * A conversation's unacked messages, sent or refused, in the order typed.
   * @param {number} conversationId
   * @returns {PendingSend[]}
   */
  pending(conversationId) {
    return [...this.entries.values()].filter((e) => e.conversationId === conversationId);
  }
}
