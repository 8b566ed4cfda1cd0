// @ts-check
// The page's WebSocket (GET /ws): one at a time, reconnected after a drop
// with growing, jittered delays, and each frame from the server handed to
// the handler of its type. While the page uses it, the session cookie is
// kept from expiring (see CookieKeeper).

import { ApiError, fetchMe } from "./api.js";

/** @typedef {import("./wire.js").ServerFrame} ServerFrame */
/** @typedef {import("./wire.js").ClientFrame} ClientFrame */

/**
 * A handler for each type of frame the server sends.
 * @typedef {{[K in ServerFrame["type"]]: (frame: Extract<ServerFrame, {type: K}>) => void}} FrameHandlers
 */

/** The longest wait between two attempts to connect. */
const MAX_DELAY_MS = 10000;
/** The longest wait between two looks at the cookie (a timer's limit is about 24.8 days). */
const MAX_REFRESH_MS = 24 * 60 * 60 * 1000;
/** The client frames that count as use of the session (protocol.md). */
const USE_FRAMES = new Set(["send", "typing", "read"]);

/**
 * Keeps the session cookie from expiring while the page uses the session
 * over the WebSocket. The cookie expires the idle timeout after the last
 * HTTP answer; frames keep the session alive on the server but cannot
 * move the cookie, so a page open all day and chatting only over the
 * socket would be signed out at its next load. Every third of the idle
 * timeout (the hello says how long it is), if a frame that counts as use
 * went since the last look, it asks GET /api/v1/me, whose answer moves the
 * cookie's expiry. A page nobody uses asks nothing: its session idles out,
 * as on the server.
 */
export class CookieKeeper {
  constructor() {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.used = false;
    this.everyMs = 0;
  }

  /**
   * Starts looking every third of the idle timeout (none for 0).
   * @param {number} idleMs
   */
  start(idleMs) {
    this.stop();
    if (!(idleMs > 0)) return;
    this.everyMs = Math.min(MAX_REFRESH_MS, Math.max(1, Math.floor(idleMs / 3)));
    this.schedule();
  }

  /** Stops looking (the connection closed). */
  stop() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  schedule() {
    this.timer = setTimeout(() => {
      if (this.used) {
        this.used = false;
        // A 401 goes to /login (the session ended); any other failure
        // leaves the next look to try.
        fetchMe().catch(() => {});
      }
      this.schedule();
    }, this.everyMs);
  }

  /**
   * A frame went out.
   * @param {ClientFrame} frame
   */
  sent(frame) {
    if (USE_FRAMES.has(frame.type)) this.used = true;
  }
}

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
    this.cookie = new CookieKeeper();
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
      this.cookie.stop();
      this.onState(false);
      // 1013: the server cannot deliver events now (its broker is away):
      // try again later, as after any drop.
      if (e.code === 1013) {
        this.retry();
        return;
      }
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
      this.cookie.start(typeof frame.session_idle_ms === "number" ? frame.session_idle_ms : 0);
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
    this.cookie.sent(frame);
    return true;
  }
}
