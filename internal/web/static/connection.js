// @ts-check
// The page's WebSocket (GET /ws): one at a time, reconnected after a drop
// with growing, jittered delays, and each frame from the server handed to
// the handler of its type.

import { ApiError, fetchMe } from "./api.js";

/** @typedef {import("./wire.js").ServerFrame} ServerFrame */
/** @typedef {import("./wire.js").ClientFrame} ClientFrame */

/**
 * A handler for each type of frame the server sends.
 * @typedef {{[K in ServerFrame["type"]]: (frame: Extract<ServerFrame, {type: K}>) => void}} FrameHandlers
 */

/** The longest wait between two attempts to connect. */
const MAX_DELAY_MS = 10000;

/** A WebSocket that reconnects by itself. */
export class Connection {
  /**
   * @param {FrameHandlers} handlers
   * @param {(up: boolean) => void} onState told true on each hello, false on each close
   */
  constructor(handlers, onState) {
    this.handlers = handlers;
    this.onState = onState;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    this.open = false;
  }

  /** Connects; after a drop it connects again by itself. */
  start() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}/ws`);
    this.ws = ws;
    ws.addEventListener("message", (e) => this.dispatch(e.data));
    ws.addEventListener("close", (e) => {
      const wasOpen = this.open;
      this.open = false;
      this.onState(false);
      // 4001: the session ended (expired, or signed out elsewhere). A
      // handshake refused before it opened does not say why (the browser
      // hides the 401). Either way, ask: signed out goes to the log-in page
      // (the API client does that on 401); still signed in (the session's
      // token was rotated, the server was away) reconnects.
      if (e.code === 4001 || !wasOpen) {
        fetchMe().then(
          () => this.retry(),
          (err) => {
            if (!(err instanceof ApiError && err.status === 401)) this.retry();
          },
        );
        return;
      }
      this.retry();
    });
  }

  /**
   * Decodes a frame and hands it to its handler; a frame that does not
   * parse, or of a type this page does not know, is dropped.
   * @param {unknown} data
   */
  dispatch(data) {
    if (typeof data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string" || !Object.hasOwn(this.handlers, frame.type)) return;
    if (frame.type === "hello") {
      this.attempt = 0;
      this.open = true;
      this.onState(true);
    }
    // The type picked the handler; the handler's frame type is that one.
    const handler = /** @type {(f: ServerFrame) => void} */ (this.handlers[/** @type {ServerFrame["type"]} */ (frame.type)]);
    handler(frame);
  }

  /** Connects again after a growing, jittered delay. */
  retry() {
    const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    setTimeout(() => this.start(), delay);
  }

  /**
   * Sends a frame if connected.
   * @param {ClientFrame} frame
   * @returns {boolean} whether it went
   */
  send(frame) {
    if (!this.open || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
