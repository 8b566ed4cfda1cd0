// @ts-check
// The message box: Enter sends, Shift+Enter makes a new line, Up arrow in
// the empty box edits the reader's last message, the box grows with its text, a counter shows near the length limit, and typing
// is announced at most every few seconds. Past the limit a message says
// how many characters too many, and Send (button or Enter) is off until
// the text is back within it.

import { byId, part } from "./markup.js";

/** The longest message, in characters (code points), as the server counts. */
export const MAX_BODY = 4000;
/** From this length on the counter shows. */
const COUNTER_FROM = 3500;
/** The least time between two typing frames. */
const TYPING_EVERY_MS = 2000;

/**
 * Counts characters as the server does: code points, not UTF-16 units.
 * @param {string} text
 * @returns {number}
 */
export function charCount(text) {
  return Array.from(text).length;
}

/** The composer form of the open conversation. */
export class Composer {
  /**
   * @param {object} handlers
   * @param {(body: string) => void} handlers.onSend a message to send, trimmed, within the limit
   * @param {() => boolean} handlers.onTyping announces typing; says whether it went
   * @param {() => boolean} handlers.onEditLast edits the reader's last message; says whether there was one
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.form = byId("composer", HTMLFormElement);
    this.input = byId("composer-input", HTMLTextAreaElement);
    this.counter = byId("composer-counter", HTMLElement);
    this.limitNote = byId("composer-limit", HTMLElement);
    this.button = part(this.form, "button[type=submit]", HTMLButtonElement);
    this.lastTypingSent = 0;
  }

  /** Listens to the form. */
  start() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === "ArrowUp" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing && this.input.value === "") {
        if (this.handlers.onEditLast()) e.preventDefault();
      }
    });
    this.input.addEventListener("input", () => {
      this.updateCounter();
      this.autosize();
      const now = Date.now();
      if (this.input.value.trim() && now - this.lastTypingSent > TYPING_EVERY_MS && this.handlers.onTyping()) {
        this.lastTypingSent = now;
      }
    });
  }

  /**
   * Points the form at a conversation (where it posts without JavaScript)
   * and shows or hides it.
   * @param {number} id
   * @param {boolean} shown
   */
  show(id, shown) {
    this.form.action = `/c/${id}/messages`;
    this.form.hidden = !shown;
  }

  /** Puts the keyboard focus in the box. */
  focus() {
    this.input.focus();
  }

  submit() {
    const body = this.input.value.trim();
    if (!body) return;
    if (charCount(body) > MAX_BODY) {
      this.updateCounter();
      return;
    }
    this.handlers.onSend(body);
    this.input.value = "";
    this.updateCounter();
    this.autosize();
    this.lastTypingSent = 0;
    // Sent with the button, the focus would stay on it: the next line is typed here.
    this.input.focus();
  }

  /** Shows the counter near the limit and, past it, what is wrong; Send is off past it. */
  updateCounter() {
    const n = charCount(this.input.value.trim());
    const over = n > MAX_BODY;
    this.counter.hidden = n < COUNTER_FROM;
    this.counter.textContent = `${n} / ${MAX_BODY}`;
    this.counter.classList.toggle("over", over);
    const excess = n - MAX_BODY;
    const note = over
      ? `Too long to send: ${excess.toLocaleString()} ${excess === 1 ? "character" : "characters"} too many (the limit is ${MAX_BODY.toLocaleString()}).`
      : "";
    if (this.limitNote.textContent !== note) this.limitNote.textContent = note;
    this.limitNote.hidden = !over;
    this.button.disabled = over;
    if (over) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }
}
