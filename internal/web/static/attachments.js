// @ts-check
// Files attached to messages. The uploads: each file the reader attaches
// (button, drop, paste) uploads at once to its conversation with an
// XMLHttpRequest, for its progress, and waits as a draft until the message
// that carries it is sent or it is removed. A draft keeps its File until
// then: an upload cut off by the network goes again when the connection is
// back (resume, on hello), one refused for being too fast after the wait
// the server asked for. And the rows: the files a message carries, images
// as their thumbnail linking to the full size, other files as a card with
// a download link, drawn from the same markup as the server's
// ("attachments" in templates/rows.html).

import { fileKind, fileSize, thumbSize } from "./format.js";
import { cloneTemplate, part } from "./markup.js";

/** @typedef {import("./wire.js").Attachment} Attachment */
/** @typedef {import("./wire.js").AttachmentResponse} AttachmentResponse */

/** The most files one message carries (the server's limit). */
export const MAX_FILES = 10;

/** The first wait before an upload cut off by the network goes again. */
const RETRY_MS = 2000;
/** The longest wait between two tries of an upload the network cut off. */
const MAX_RETRY_MS = 30000;

/**
 * A file attached to the composer.
 * - uploading: on its way (loaded of total bytes sent);
 * - waiting: the network or the server was away: it goes again when the
 *   connection is back, or after a wait;
 * - done: uploaded (attachment), ready to be sent;
 * - failed: refused for good (error says why): it can only be removed.
 * @typedef {object} Draft
 * @property {number} key
 * @property {number} conversationId
 * @property {File} file
 * @property {"uploading" | "waiting" | "done" | "failed"} state
 * @property {number} loaded bytes sent
 * @property {number} total bytes to send
 * @property {string} note what the chip says besides the name: why it waits, why it failed
 * @property {Attachment | null} attachment the server's answer, once done
 * @property {XMLHttpRequest | null} xhr the upload under way
 * @property {ReturnType<typeof setTimeout> | undefined} timer the wait before the next try
 * @property {number} tries tries in a row that have to be made again, for the backoff
 * @property {boolean} cutOff the last try was cut off by the network (not refused by the server)
 */

/**
 * Why an upload was refused, in words for its chip, and whether waiting
 * can fix it.
 * @param {number} status
 * @param {string} code the API's error code
 * @param {string} message the API's error message
 * @param {number} waitMs Retry-After, 0 when not said
 * @returns {{text: string, final: boolean}}
 */
export function uploadFailure(status, code, message, waitMs) {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const later = `${seconds.toLocaleString()} ${seconds === 1 ? "second" : "seconds"}`;
  switch (status) {
    case 0:
      return { text: "No connection: it uploads when the connection is back.", final: false };
    case 400:
      return { text: `Not uploaded: ${message.replace(/\.$/, "") || "the server cannot read this file"}.`, final: true };
    case 404:
      return { text: "Not uploaded: you are no longer in this conversation.", final: true };
    case 413:
      return { text: code === "too_large" && /pixel/i.test(message) ? "Not uploaded: the image is too large." : "Not uploaded: the file is too large.", final: true };
    case 429:
      return { text: `Too many uploads at once: trying again in ${later}.`, final: false };
    case 502:
    case 503:
    case 504:
      return { text: `The server is not available: trying again in ${later}.`, final: false };
  }
  return { text: `Not uploaded: the server could not take it (${status}).`, final: true };
}

/** The files attached to the composer, per conversation, and their uploads. */
export class Uploads {
  constructor() {
    /** @type {Map<number, Draft[]>} by conversation id, in the order attached */
    this.byConversation = new Map();
    /** @type {Set<(conversationId: number) => void>} */
    this.listeners = new Set();
    this.nextKey = 1;
  }

  /**
   * Calls listener with the conversation whose drafts changed.
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
   * A conversation's drafts, in the order attached.
   * @param {number} conversationId
   * @returns {Draft[]}
   */
  drafts(conversationId) {
    return this.byConversation.get(conversationId) ?? [];
  }

  /**
   * Attaches files to a conversation's next message: each starts
   * uploading at once. Past MAX_FILES a file is refused on its chip.
   * @param {number} conversationId
   * @param {Iterable<File>} files
   */
  add(conversationId, files) {
    const list = [...this.drafts(conversationId)];
    for (const file of files) {
      /** @type {Draft} */
      const d = {
        key: this.nextKey++, conversationId, file, state: "uploading", loaded: 0, total: file.size,
        note: "", attachment: null, xhr: null, timer: undefined, tries: 0, cutOff: false,
      };
      list.push(d);
      if (list.filter((x) => x.state !== "failed").length > MAX_FILES) {
        d.state = "failed";
        d.note = `Not attached: a message carries at most ${MAX_FILES} files.`;
      } else this.upload(d);
    }
    this.byConversation.set(conversationId, list);
    this.changed(conversationId);
  }

  /**
   * Sends a draft's file: POST …/attachments with the file as the body.
   * @param {Draft} d
   */
  upload(d) {
    clearTimeout(d.timer);
    d.timer = undefined;
    d.state = "uploading";
    d.loaded = 0;
    d.total = d.file.size;
    const xhr = new XMLHttpRequest();
    d.xhr = xhr;
    xhr.open("POST", `/api/v1/conversations/${d.conversationId}/attachments?${new URLSearchParams({ name: d.file.name || "file" })}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (d.xhr !== xhr) return;
      d.loaded = e.loaded;
      if (e.lengthComputable) d.total = e.total;
      this.changed(d.conversationId);
    });
    xhr.addEventListener("load", () => {
      if (d.xhr !== xhr) return;
      d.xhr = null;
      this.answered(d, xhr);
    });
    xhr.addEventListener("error", () => {
      if (d.xhr !== xhr) return;
      d.xhr = null;
      this.wait(d, uploadFailure(0, "", "", 0).text, 0);
      d.cutOff = true;
    });
    xhr.send(d.file);
    d.note = "";
    this.changed(d.conversationId);
  }

  /**
   * The server answered an upload.
   * @param {Draft} d
   * @param {XMLHttpRequest} xhr
   */
  answered(d, xhr) {
    /** @type {unknown} */
    const data = xhr.response;
    if (xhr.status === 201) {
      d.state = "done";
      d.attachment = /** @type {AttachmentResponse} */ (data).attachment;
      d.loaded = d.total;
      d.note = "";
      d.tries = 0;
      this.changed(d.conversationId);
      return;
    }
    if (xhr.status === 401) {
      window.location.assign("/login");
      return;
    }
    const e = data && typeof data === "object" && "error" in data && data.error && typeof data.error === "object" ? data.error : {};
    const code = "code" in e && typeof e.code === "string" ? e.code : "";
    const message = "message" in e && typeof e.message === "string" ? e.message : "";
    const s = Number(xhr.getResponseHeader("Retry-After"));
    const waitMs = Number.isFinite(s) && s > 0 ? s * 1000 : 0;
    const f = uploadFailure(xhr.status, code, message, waitMs);
    if (f.final) {
      d.state = "failed";
      d.note = f.text;
      this.changed(d.conversationId);
      return;
    }
    this.wait(d, f.text, waitMs);
  }

  /**
   * Holds an upload back: it goes again after waitMs (or a growing wait
   * when the answer said none), or at once when the connection comes back.
   * @param {Draft} d
   * @param {string} note
   * @param {number} waitMs
   */
  wait(d, note, waitMs) {
    d.state = "waiting";
    d.cutOff = false;
    d.note = note;
    d.tries++;
    const delay = waitMs || Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** Math.min(d.tries - 1, 8));
    clearTimeout(d.timer);
    d.timer = setTimeout(() => this.upload(d), delay);
    this.changed(d.conversationId);
  }

  /**
   * The connection is back: the uploads the network cut off go again now.
   */
  resume() {
    for (const list of this.byConversation.values()) {
      for (const d of list) if (d.state === "waiting" && d.cutOff) this.upload(d);
    }
  }

  /**
   * Takes a draft away: an upload under way is cancelled, a finished one
   * is not sent (the server drops it after a day).
   * @param {number} conversationId
   * @param {number} key
   */
  remove(conversationId, key) {
    const list = this.drafts(conversationId);
    const d = list.find((x) => x.key === key);
    if (!d) return;
    this.stop(d);
    this.byConversation.set(conversationId, list.filter((x) => x !== d));
    this.changed(conversationId);
  }

  /** @param {Draft} d */
  stop(d) {
    clearTimeout(d.timer);
    d.timer = undefined;
    const xhr = d.xhr;
    d.xhr = null;
    if (xhr) xhr.abort();
  }

  /**
   * Whether a conversation's drafts are all uploaded (none under way,
   * waiting or refused).
   * @param {number} conversationId
   * @returns {boolean}
   */
  ready(conversationId) {
    return this.drafts(conversationId).every((d) => d.state === "done");
  }

  /**
   * Takes a conversation's uploaded files for the message being sent:
   * the composer has none left.
   * @param {number} conversationId
   * @returns {Attachment[]}
   */
  take(conversationId) {
    const list = this.drafts(conversationId);
    /** @type {Attachment[]} */
    const out = [];
    for (const d of list) if (d.attachment) out.push(d.attachment);
    this.byConversation.delete(conversationId);
    if (list.length > 0) this.changed(conversationId);
    return out;
  }
}

/**
 * The files a paste or a drop carries.
 * @param {DataTransfer | null} data
 * @returns {File[]}
 */
export function transferredFiles(data) {
  if (!data) return [];
  if (data.files && data.files.length > 0) return [...data.files];
  /** @type {File[]} */
  const files = [];
  for (const item of data.items ?? []) {
    if (item.kind !== "file") continue;
    const f = item.getAsFile();
    if (f) files.push(f);
  }
  return files;
}

/**
 * Whether a drag carries files.
 * @param {DragEvent} e
 * @returns {boolean}
 */
export function dragsFiles(e) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");
}

/**
 * Fills a chip cloned from #attachment-chip-template with a draft: its
 * name and size, the upload's progress, what it waits for or why it
 * failed, and its button (Cancel while it uploads, else Remove).
 * @param {HTMLElement} li
 * @param {Draft} d
 */
export function fillChip(li, d) {
  const name = d.file.name || "file";
  li.dataset.key = String(d.key);
  li.classList.toggle("failed", d.state === "failed");
  li.classList.toggle("done", d.state === "done");
  li.classList.toggle("waiting", d.state === "waiting");
  setText(part(li, ".chip-name", HTMLElement), name);
  setText(part(li, ".chip-size", HTMLElement), fileSize(d.file.size));
  const progress = part(li, ".chip-progress", HTMLProgressElement);
  progress.hidden = d.state !== "uploading";
  progress.max = Math.max(1, d.total);
  progress.value = Math.min(d.loaded, progress.max);
  progress.setAttribute("aria-label", `Uploading ${name}`);
  const status = part(li, ".chip-status", HTMLElement);
  setText(status, d.note);
  status.hidden = !d.note;
  const button = part(li, ".chip-remove", HTMLButtonElement);
  const label = d.state === "uploading" ? `Cancel upload of ${name}` : `Remove ${name}`;
  if (button.getAttribute("aria-label") !== label) {
    button.setAttribute("aria-label", label);
    button.title = label;
  }
}

/**
 * Sets an element's text when it differs.
 * @param {HTMLElement} el
 * @param {string} text
 */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Puts a message's files into its row, after the body (a clone of
 * #attachment-list-template holding one item per file), or takes them out
 * when it has none (a tombstone never has).
 * @param {HTMLElement} li
 * @param {Attachment[] | undefined} list
 */
export function fillAttachments(li, list) {
  const drawn = li.querySelector(":scope > .attachments");
  if (!list || list.length === 0) {
    if (drawn) drawn.remove();
    return;
  }
  const ul = drawn instanceof HTMLElement ? drawn : cloneTemplate("attachment-list-template");
  if (!drawn) part(li, ":scope > .body", HTMLElement).after(ul);
  ul.replaceChildren(...list.map(attachmentItem));
}

/**
 * One file of a message: an image as its thumbnail (its size set from
 * the image's, so that nothing moves as it loads; the file's name as its
 * text alternative) in a link to the full size, in a new tab; any other
 * file as a card with its name (a download link), size and kind.
 * @param {Attachment} a
 * @returns {HTMLElement}
 */
export function attachmentItem(a) {
  if (a.thumbnail_url && a.width && a.height) {
    const li = cloneTemplate("attachment-image-template");
    part(li, "a", HTMLAnchorElement).href = a.url;
    const img = part(li, "img", HTMLImageElement);
    const size = thumbSize(a.width, a.height);
    img.width = size.width;
    img.height = size.height;
    img.alt = a.name;
    img.src = a.thumbnail_url;
    return li;
  }
  const li = cloneTemplate("attachment-file-template");
  const link = part(li, ".file-name", HTMLAnchorElement);
  link.href = a.url;
  link.download = a.name;
  link.textContent = a.name;
  part(li, ".file-meta", HTMLElement).textContent = `${fileSize(a.size)} · ${fileKind(a.content_type)}`;
  return li;
}
