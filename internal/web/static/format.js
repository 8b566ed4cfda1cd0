// @ts-check
// Times as the page shows them, in the reader's locale and time zone.

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/**
 * The local calendar day of a time, as a key that compares equal for the
 * same day.
 * @param {Date} date
 * @returns {string}
 */
export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

/**
 * A day separator's text: "Monday, January 2, 2006" in the reader's locale.
 * @param {Date} date
 * @returns {string}
 */
export function dayLabel(date) {
  return dayFormat.format(date);
}

/**
 * A message's time of day.
 * @param {Date} date
 * @returns {string}
 */
export function timeLabel(date) {
  return timeFormat.format(date);
}

/**
 * A list's timestamp: the time of day when today, else the date.
 * @param {Date} date
 * @param {Date} [now]
 * @returns {string}
 */
export function listTime(date, now = new Date()) {
  return dayKey(date) === dayKey(now) ? timeFormat.format(date) : dateFormat.format(date);
}

// The words of a group, as systemParts, previewText, memberStatus and
// seenBy in internal/web/group_view.go say them: a change here is a change
// there.

/** @typedef {import("./wire.js").Message} Message */
/** @typedef {import("./wire.js").ConversationRow} ConversationRow */

/**
 * A run of a system message's sentence: a person's name or a title (shown
 * in <bdi>) when name is set, plain words otherwise.
 * @typedef {{text: string, name: boolean}} NamePart
 */

/** Who the page cannot name (group_view.go's unknownName). */
export const UNKNOWN_NAME = "Someone";

/** What stands for a deleted message, in its row and as a preview (group_view.go's deletedText). */
export const DELETED_TEXT = "This message was deleted";

/** How many readers "Seen by" names before it counts them. */
const SEEN_BY_NAMES = 3;

/**
 * A system message's sentence: "Ada added Grace", "Ada removed Grace",
 * "Grace left", "Ada renamed the group to “Title”" ("Ada created the
 * group “Title”" for the title message at seq 1, the creation's); the
 * reader is "You" (or "you"). group_view.go says the same.
 * @param {number} me
 * @param {Message} m
 * @param {(id: number) => string} nameOf
 * @returns {NamePart[]}
 */
export function systemParts(me, m, nameOf) {
  /**
   * @param {number} id
   * @param {boolean} capital
   * @returns {NamePart}
   */
  const who = (id, capital) => (id === me ? { text: capital ? "You" : "you", name: false } : { text: nameOf(id), name: true });
  /** @param {string} text */
  const words = (text) => ({ text, name: false });
  const s = m.system;
  switch (s && s.action) {
    case "added":
      return [who(s?.actor_id ?? 0, true), words(" added "), who(s?.user_id ?? 0, false)];
    case "removed":
      return [who(s?.actor_id ?? 0, true), words(" removed "), who(s?.user_id ?? 0, false)];
    case "left":
      return [who(s?.user_id ?? 0, true), words(" left")];
    case "title":
      // The history's first message names the group as it is made.
      return [
        who(s?.actor_id ?? 0, true),
        words(m.seq === 1 ? " created the group “" : " renamed the group to “"),
        { text: s?.title ?? "", name: true },
        words("”"),
      ];
  }
  return [words("The group changed")];
}

/**
 * A list row's preview: the last message's text; in a group with its
 * sender's name ("Ada: text", "You: text"), a system message as its
 * sentence, a deleted one as "This message was deleted".
 * @param {number} me
 * @param {ConversationRow} row
 * @param {(id: number) => string} nameOf
 * @returns {string}
 */
export function previewText(me, row, nameOf) {
  const m = row.last_message;
  if (!m) return "";
  if (m.kind === "system") return systemParts(me, m, nameOf).map((p) => p.text).join("");
  if (m.deleted) return DELETED_TEXT;
  const text = messageText(m);
  if (row.kind !== "group") return text;
  return `${m.sender_id === me ? "You" : nameOf(m.sender_id)}: ${text}`;
}

// The words of files, as attachmentSummary, fileSize, fileKind and
// thumbSize in internal/web/pages.go say them: a change here is a change
// there.

/**
 * A message's text for a preview or a notification: its body, or for a
 * message of files alone what it carries ("📎 photo.png", "📎 2 files").
 * @param {Message} m
 * @returns {string}
 */
export function messageText(m) {
  return m.body || attachmentSummary(m.attachments ?? []);
}

/**
 * What a message's files are, in a few words: "📎 photo.png" for one,
 * "📎 2 files" for more, "" for none.
 * @param {import("./wire.js").Attachment[]} list
 * @returns {string}
 */
export function attachmentSummary(list) {
  if (list.length === 0) return "";
  return list.length === 1 ? `📎 ${list[0].name}` : `📎 ${list.length} files`;
}

/**
 * A file's size for people: "512 bytes", "2.4 MB", "24 MB" (units of
 * 1,024; one decimal below 10).
 * @param {number} bytes
 * @returns {string}
 */
export function fileSize(bytes) {
  if (bytes < 1024) return bytes === 1 ? "1 byte" : `${bytes} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return v < 9.95 ? `${v.toFixed(1)} ${units[i]}` : `${Math.round(v)} ${units[i]}`;
}

/** Names of the kinds of files people know by name, by media type. */
const FILE_KINDS = new Map([
  ["application/pdf", "PDF"],
  ["application/zip", "ZIP archive"],
  ["application/x-gzip", "gzip archive"],
  ["application/x-rar-compressed", "RAR archive"],
  ["application/octet-stream", "file"],
  ["application/json", "JSON"],
  ["application/ogg", "Ogg"],
  ["application/wasm", "WebAssembly"],
  ["application/postscript", "PostScript"],
  ["application/vnd.ms-fontobject", "font"],
  ["text/plain", "text"],
  ["text/html", "HTML"],
  ["text/xml", "XML"],
  ["text/csv", "CSV"],
  ["image/svg+xml", "SVG image"],
]);

/**
 * A file's kind for people, from its sniffed media type: "PDF", "text",
 * "PNG image", else the media type itself.
 * @param {string} contentType
 * @returns {string}
 */
export function fileKind(contentType) {
  const type = contentType.split(";")[0].trim().toLowerCase();
  const known = FILE_KINDS.get(type);
  if (known) return known;
  const [major, minor = ""] = type.split("/");
  if (["image", "audio", "video", "font"].includes(major) && minor) return `${minor.toUpperCase()} ${major}`;
  return type || "file";
}

/** The longest side of a thumbnail, in pixels (as the server makes them). */
export const THUMB_MAX = 400;

/**
 * The size of an image's thumbnail: the image scaled to fit in
 * THUMB_MAX×THUMB_MAX, its aspect ratio kept (each side at least 1
 * pixel), never larger than the image. Set on the <img> so that the
 * layout does not move as it loads.
 * @param {number} width
 * @param {number} height
 * @returns {{width: number, height: number}}
 */
export function thumbSize(width, height) {
  if (width <= THUMB_MAX && height <= THUMB_MAX) return { width, height };
  /**
   * @param {number} side
   * @param {number} den
   */
  const scale = (side, den) => Math.max(1, Math.floor((2 * side * THUMB_MAX + den) / (2 * den)));
  return width >= height ? { width: THUMB_MAX, height: scale(height, width) } : { width: scale(width, height), height: THUMB_MAX };
}

/**
 * An open group's status line: "3 members, 2 online". The reader counts as
 * online: they are looking at it.
 * @param {number} me
 * @param {number} count
 * @param {Iterable<import("./wire.js").Member>} members
 * @returns {string}
 */
export function memberStatus(me, count, members) {
  let online = 1;
  for (const m of members) if (m.online && m.user.id !== me) online++;
  return `${count} ${count === 1 ? "member" : "members"}, ${online} online`;
}

/**
 * "Seen by Ada, Grace" (up to three names, in the order given), else
 * "Seen by 12".
 * @param {string[]} readers
 * @returns {string}
 */
export function seenByText(readers) {
  return readers.length > SEEN_BY_NAMES ? `Seen by ${readers.length}` : `Seen by ${readers.join(", ")}`;
}

/**
 * Who is typing in a group: "Ada is typing…", "Ada and Grace are
 * typing…", "Several people are typing…".
 * @param {string[]} names
 * @returns {string}
 */
export function typingText(names) {
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}
