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
