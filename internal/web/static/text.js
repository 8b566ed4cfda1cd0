// @ts-check
// Message text as people write it: http(s) URLs become links, nothing else
// does. The rules are linkify's in linkify.go, so that the server's rows and
// the script's are the same; links are built with DOM calls, never from
// markup.

/**
 * A run of a text: a link when href is set, plain text otherwise.
 * @typedef {object} TextPart
 * @property {string} text
 * @property {string} [href]
 */

const SCHEME = /^https?:\/\//i;
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;
/** What ends a link: separators, control and format characters (bidi controls among them), < > " ` and U+FFFD. */
const NOT_IN_LINK = /^[\p{Z}\p{Cc}\p{Cf}<>"`\uFFFD]$/u;
const TRAILING = ".,:;!?'*_~";
/** @type {Record<string, string>} */
const OPENING = { ")": "(", "]": "[", "}": "{" };
/** Bytes of an href left as they are: what html/template leaves alone. */
const HREF_SAFE = /^[A-Za-z0-9\-._~!#$&*+,/:;=?@[\]]$/;

/**
 * Splits a text into plain runs and http(s) links (linkify in linkify.go
 * says the rules).
 * @param {string} text
 * @returns {TextPart[]}
 */
export function splitLinks(text) {
  /** @type {TextPart[]} */
  const parts = [];
  let plain = 0;
  let i = 0;
  while (i < text.length) {
    const end = linkAt(text, i);
    if (end < 0) {
      i += codePointLength(text, i);
      continue;
    }
    if (plain < i) parts.push({ text: text.slice(plain, i) });
    const link = text.slice(i, end);
    parts.push({ text: link, href: hrefOf(link) });
    i = plain = end;
  }
  if (plain < text.length) parts.push({ text: text.slice(plain) });
  return parts;
}

/**
 * Where the link starting at index i of text ends, or -1 when none starts
 * there.
 * @param {string} text
 * @param {number} i
 * @returns {number}
 */
function linkAt(text, i) {
  const scheme = SCHEME.exec(text.slice(i, i + 8));
  if (!scheme) return -1;
  if (i > 0 && LETTER_OR_DIGIT.test(lastCodePoint(text.slice(0, i)))) return -1;
  const host = i + scheme[0].length;
  const first = String.fromCodePoint(text.codePointAt(host) ?? 0x20);
  if (!LETTER_OR_DIGIT.test(first) && first !== "[") return -1;
  let end = host;
  while (end < text.length) {
    const c = String.fromCodePoint(/** @type {number} */ (text.codePointAt(end)));
    if (NOT_IN_LINK.test(c)) break;
    end += c.length;
  }
  // Trailing punctuation belongs to the sentence, not the link.
  while (end > host) {
    const c = lastCodePoint(text.slice(0, end));
    if (!TRAILING.includes(c) && !unbalanced(text.slice(i, end), c)) break;
    end -= c.length;
  }
  return end;
}

/**
 * Whether c closes a bracket that link opens fewer times than it closes.
 * @param {string} link
 * @param {string} c
 */
function unbalanced(link, c) {
  const open = OPENING[c];
  return !!open && link.split(c).length > link.split(open).length;
}

/**
 * @param {string} s
 * @returns {string} the last code point of s
 */
function lastCodePoint(s) {
  const c = s.at(-1) ?? "";
  return c >= "\uDC00" && c <= "\uDFFF" && s.length > 1 ? s.slice(-2) : c;
}

/**
 * @param {string} s
 * @param {number} i
 */
function codePointLength(s, i) {
  return (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
}

/**
 * A link's href: its text with every UTF-8 byte outside the URL characters
 * html/template leaves alone percent-encoded (a "%" too, unless two hex
 * digits follow), as the server writes it (linkHref in linkify.go).
 * @param {string} link
 * @returns {string}
 */
export function hrefOf(link) {
  const bytes = new TextEncoder().encode(link);
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]);
    const validEscape = c === "%" && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2]);
    out += validEscape || HREF_SAFE.test(c) ? c : "%" + bytes[i].toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** @param {number} b */
function isHex(b) {
  return /^[0-9A-Fa-f]$/.test(String.fromCharCode(b));
}

/**
 * Writes a text into an element: plain runs as text nodes, links as
 * <a href=… rel="noopener noreferrer" target="_blank">, what the
 * "message-row" template writes on the server.
 * @param {Element} el
 * @param {string} text
 */
export function fillText(el, text) {
  const nodes = splitLinks(text).map((p) => {
    if (!p.href) return document.createTextNode(p.text);
    const a = document.createElement("a");
    a.href = p.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = p.text;
    return a;
  });
  el.replaceChildren(...nodes);
}
