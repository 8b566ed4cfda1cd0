// @ts-check
// The JSON API client: one fetch wrapper that turns every failure into an
// ApiError carrying the API's error code, and a typed call for each route
// the page uses.

/** @typedef {import("./wire.js").ConversationRowResponse} ConversationRowResponse */
/** @typedef {import("./wire.js").ConversationsResponse} ConversationsResponse */
/** @typedef {import("./wire.js").MessageResponse} MessageResponse */
/** @typedef {import("./wire.js").MessagesResponse} MessagesResponse */
/** @typedef {import("./wire.js").UserResponse} UserResponse */
/** @typedef {import("./wire.js").UsersResponse} UsersResponse */

/** A failed call: the HTTP status and the API's error code. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, 0 when there was no answer
   * @param {string} code the API's error code ("unauthorized", "not_found"…), "" when the answer had none
   * @param {string} message
   * @param {number} [retryAfterMs] for rate_limited and unavailable, how long to wait before trying again (Retry-After); 0 when the answer did not say
   */
  constructor(status, code, message, retryAfterMs = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/** How many times a GET answered 503 unavailable is tried again. */
const UNAVAILABLE_RETRIES = 3;

/** The longest Retry-After a GET waits out before trying again. */
const MAX_RETRY_AFTER_MS = 10000;

/**
 * The wait a Retry-After header asks for (whole seconds), 0 when none.
 * @param {Response} resp
 * @returns {number} milliseconds
 */
function retryAfterMs(resp) {
  const s = Number(resp.headers.get("Retry-After"));
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0;
}

/**
 * Calls the JSON API. A 401 means the session is over: the page goes to
 * the log-in page, and the call fails all the same. A GET answered 503
 * unavailable (the server's database or broker is away for a moment) is
 * tried again after its Retry-After, up to UNAVAILABLE_RETRIES times; a
 * GET changes nothing, so trying it again is safe. Other calls fail with
 * the wait in ApiError.retryAfterMs.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON when given
 * @returns {Promise<unknown>} the decoded answer; null for 204
 */
export async function request(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt++) {
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "", err instanceof Error ? err.message : "network error");
    }
    if (resp.status === 401) {
      window.location.assign("/login");
      throw new ApiError(401, "unauthorized", "signed out");
    }
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => null);
    if (resp.ok) return data;
    const e = errorOf(data);
    const wait = retryAfterMs(resp);
    if (method === "GET" && resp.status === 503 && attempt < UNAVAILABLE_RETRIES) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait || 1000, MAX_RETRY_AFTER_MS)));
      continue;
    }
    throw new ApiError(resp.status, e.code, e.message || resp.statusText, wait);
  }
}

/**
 * The {code, message} of an error answer, whatever its body holds.
 * @param {unknown} data
 * @returns {{code: string, message: string}}
 */
function errorOf(data) {
  const e = data && typeof data === "object" && "error" in data ? data.error : null;
  if (!e || typeof e !== "object") return { code: "", message: "" };
  const code = "code" in e && typeof e.code === "string" ? e.code : "";
  const message = "message" in e && typeof e.message === "string" ? e.message : "";
  return { code, message };
}

/**
 * GET /api/v1/me: the signed-in user; fails with 401 when signed out.
 * @returns {Promise<UserResponse>}
 */
export async function fetchMe() {
  return /** @type {UserResponse} */ (await request("GET", "/api/v1/me"));
}

/**
 * GET /api/v1/conversations: the list's first page.
 * @returns {Promise<ConversationsResponse>}
 */
export async function fetchConversations() {
  return /** @type {ConversationsResponse} */ (await request("GET", "/api/v1/conversations"));
}

/**
 * GET /api/v1/conversations/{id}: one conversation's row.
 * @param {number} id
 * @returns {Promise<ConversationRowResponse>}
 */
export async function fetchConversation(id) {
  return /** @type {ConversationRowResponse} */ (await request("GET", `/api/v1/conversations/${id}`));
}

/**
 * GET /api/v1/conversations/{id}/messages: a page of messages, ascending.
 * @param {number} id
 * @param {{before_seq?: number, after_seq?: number, limit: number}} query
 * @returns {Promise<MessagesResponse>}
 */
export async function fetchMessages(id, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) params.set(name, String(value));
  return /** @type {MessagesResponse} */ (await request("GET", `/api/v1/conversations/${id}/messages?${params}`));
}

/**
 * GET /api/v1/conversations/{id}/messages?after_version=V: the messages
 * created, edited or deleted after version V, ascending by version, each
 * once as it is now.
 * @param {number} id
 * @param {number} afterVersion
 * @param {number} limit
 * @returns {Promise<MessagesResponse>}
 */
export async function messageChanges(id, afterVersion, limit) {
  const params = new URLSearchParams({ after_version: String(afterVersion), limit: String(limit) });
  return /** @type {MessagesResponse} */ (await request("GET", `/api/v1/conversations/${id}/messages?${params}`));
}

/**
 * PATCH /api/v1/conversations/{id}/messages/{seq}: the sender edits a
 * message's body; the answer is the message as it is now.
 * @param {number} id
 * @param {number} seq
 * @param {string} body
 * @returns {Promise<MessageResponse>}
 */
export async function editMessage(id, seq, body) {
  return /** @type {MessageResponse} */ (await request("PATCH", `/api/v1/conversations/${id}/messages/${seq}`, { body }));
}

/**
 * DELETE /api/v1/conversations/{id}/messages/{seq}: the sender, or a
 * group's admin, deletes a message (a tombstone stays); deleting it again
 * succeeds too.
 * @param {number} id
 * @param {number} seq
 * @returns {Promise<void>}
 */
export async function deleteMessage(id, seq) {
  await request("DELETE", `/api/v1/conversations/${id}/messages/${seq}`);
}

/**
 * POST /api/v1/conversations/{id}/read: moves the read cursor (never back).
 * @param {number} id
 * @param {number} seq
 * @returns {Promise<void>}
 */
export async function postRead(id, seq) {
  await request("POST", `/api/v1/conversations/${id}/read`, { seq });
}

/**
 * GET /api/v1/users: a page of the people directory.
 * @param {string} q the search, "" for everyone
 * @param {string} after the cursor of the page, "" for the first
 * @returns {Promise<UsersResponse>}
 */
export async function fetchUsers(q, after) {
  return /** @type {UsersResponse} */ (await request("GET", `/api/v1/users?${new URLSearchParams({ q, after })}`));
}
