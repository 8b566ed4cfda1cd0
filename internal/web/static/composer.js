// @ts-check
// The message box: Enter sends, Shift+Enter makes a new line, Up arrow in
// the empty box edits the reader's last message, the box grows with its text, a counter shows near the length limit, and typing
// is announced at most every few seconds. Past the limit a message says
// how many characters too many, and Send (button or Enter) is off until
// the text is back within it. Files are attached with the attach button,
// dropped onto the conversation or pasted into the box: each shows as a
// chip above the box while it uploads (its progress, Cancel) and until it
// is sent (Remove); a message may be files alone.

import { dragsFiles, fillChip, transferredFiles } from "./attachments.js";
import { byId, cloneTemplate, coalesce, part, reconcileChildren } from "./markup.js";

/** @typedef {import("./attachments.js").Uploads} Uploads */
/** @typedef {import("./wire.js").Attachment} Attachment */

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
   * @param {(body: string, attachments: Attachment[]) => void} handlers.onSend a message to send, trimmed, within the limit, with its uploaded files
   * @param {() => boolean} handlers.onTyping announces typing; says whether it went
   * @param {() => boolean} handlers.onEditLast edits the reader's last message; says whether there was one
   * @param {Uploads} uploads the files attached, per conversation
   */
  constructor(handlers, uploads) {
    this.handlers = handlers;
    this.uploads = uploads;
    /** @type {number | null} the conversation the form is for */
    this.conversationId = null;
    this.section = byId("conversation", HTMLElement);
    this.files = byId("composer-files", HTMLElement);
    this.fileInput = byId("composer-file", HTMLInputElement);
    this.attachButton = byId("attach-button", HTMLButtonElement);
    /** @type {Map<number, HTMLElement>} the chips drawn, by draft key */
    this.chips = new Map();
    /** why Send did nothing: files still on their way ("" for none) */
    this.waitNote = "";
    this.renderFiles = coalesce(() => this.drawFiles());
    this.form = byId("composer", HTMLFormElement);
    this.input = byId("composer-input", HTMLTextAreaElement);
    this.counter = byId("composer-counter", HTMLElement);
    this.limitNote = byId("composer-limit", HTMLElement);
    this.button = part(this.form, "button[type=submit]", HTMLButtonElement);
    this.lastTypingSent = 0;
  }

  /** Listens to the form. */
  start() {
    // Attaching files needs the script: without it the button stays hidden.
    this.attachButton.hidden = false;
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      const files = [...(this.fileInput.files ?? [])];
      this.fileInput.value = "";
      this.attach(files);
    });
    this.input.addEventListener("paste", (e) => {
      const files = transferredFiles(e.clipboardData);
      if (files.length === 0) return; // text: pasted as usual
      e.preventDefault();
      this.attach(files);
    });
    // Files dropped anywhere on the open conversation are attached; dropped
    // elsewhere in the page they are not opened in its place.
    this.section.addEventListener("dragover", (e) => {
      if (!dragsFiles(e) || this.form.hidden) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
      this.section.classList.add("dropping");
    });
    this.section.addEventListener("dragleave", (e) => {
      if (!(e.relatedTarget instanceof Node) || !this.section.contains(e.relatedTarget)) this.section.classList.remove("dropping");
    });
    this.section.addEventListener("drop", (e) => {
      this.section.classList.remove("dropping");
      if (!dragsFiles(e) || this.form.hidden) return;
      e.preventDefault();
      this.attach(transferredFiles(e.dataTransfer));
      this.input.focus();
    });
    for (const type of ["dragover", "drop"]) {
      document.addEventListener(type, (e) => {
        if (e instanceof DragEvent && dragsFiles(e)) e.preventDefault();
      });
    }
    this.files.addEventListener("click", (e) => {
      const button = e.target instanceof Element ? e.target.closest("button.chip-remove") : null;
      const li = button ? button.closest("li.chip") : null;
      if (!(li instanceof HTMLElement) || this.conversationId === null) return;
      const next = li.nextElementSibling ?? li.previousElementSibling;
      this.uploads.remove(this.conversationId, Number(li.dataset.key));
      // The focus goes to the next chip's button, else back to the box.
      const to = next ? next.querySelector("button.chip-remove") : null;
      if (to instanceof HTMLButtonElement) to.focus();
      else this.input.focus();
    });
    this.uploads.subscribe((id) => {
      if (id === this.conversationId) this.renderFiles();
    });
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
    if (this.conversationId !== id) {
      this.conversationId = id;
      this.waitNote = "";
      this.renderFiles();
    }
  }

  /**
   * Attaches files to the open conversation's next message.
   * @param {File[]} files
   */
  attach(files) {
    if (files.length === 0 || this.conversationId === null) return;
    this.waitNote = "";
    this.uploads.add(this.conversationId, files);
  }

  /**
   * Writes the chips of the open conversation's files, and what depends on
   * them: the box may be left empty when files go, Send waits for them.
   */
  drawFiles() {
    const drafts = this.conversationId === null ? [] : this.uploads.drafts(this.conversationId);
    const keys = new Set();
    /** @type {HTMLElement[]} */
    const nodes = [];
    for (const d of drafts) {
      let li = this.chips.get(d.key);
      if (!li) {
        li = cloneTemplate("attachment-chip-template");
        this.chips.set(d.key, li);
      }
      fillChip(li, d);
      nodes.push(li);
      keys.add(d.key);
    }
    for (const key of [...this.chips.keys()]) if (!keys.has(key)) this.chips.delete(key);
    reconcileChildren(this.files, nodes);
    this.files.hidden = nodes.length === 0;
    this.input.required = nodes.length === 0;
    if (this.waitNote && this.conversationId !== null && this.uploads.ready(this.conversationId)) this.waitNote = "";
    this.updateCounter();
  }

  /** Puts the keyboard focus in the box. */
  focus() {
    this.input.focus();
  }

  submit() {
    const body = this.input.value.trim();
    const id = this.conversationId;
    const files = id === null ? 0 : this.uploads.drafts(id).length;
    if (!body && files === 0) return;
    if (charCount(body) > MAX_BODY) {
      this.updateCounter();
      return;
    }
    if (id !== null && !this.uploads.ready(id)) {
      this.waitNote = "Not sent yet: wait until the files are uploaded, or remove the ones that failed.";
      this.updateCounter();
      return;
    }
    this.handlers.onSend(body, id === null ? [] : this.uploads.take(id));
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
      : this.waitNote;
    if (this.limitNote.textContent !== note) this.limitNote.textContent = note;
    this.limitNote.hidden = !note;
    this.button.disabled = over;
    if (over) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }
}
