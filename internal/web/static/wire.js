// @ts-check
// The JSON shapes of Parley's HTTP API and WebSocket protocol, as JSDoc
// types for the other modules (internal/wire is their Go twin;
// docs/api.md and docs/protocol.md describe them). Types only: nothing
// here runs, and no module imports this one at run time.

/**
 * A person.
 * @typedef {object} User
 * @property {number} id
 * @property {string} username
 * @property {string} display_name
 * @property {boolean} [closed] set for a closed account
 */

/**
 * Another person as a list shows them, with whether they are online.
 * @typedef {User & {online: boolean}} Contact
 */

/**
 * One message.
 * @typedef {object} Message
 * @property {number} conversation_id
 * @property {number} seq dense per conversation, from 1
 * @property {number} sender_id
 * @property {string} body
 * @property {string} client_id
 * @property {string} created_at RFC 3339
 */

/**
 * A row of the conversation list.
 * @typedef {object} ConversationRow
 * @property {number} id
 * @property {string} kind
 * @property {string} title
 * @property {Contact | null} other_user
 * @property {Message | null} last_message
 * @property {number} last_seq
 * @property {number} last_read_seq
 * @property {number} other_read_seq
 * @property {number} unread_count
 * @property {string | null} last_message_at
 * @property {string} created_at
 */

/** @typedef {{conversations: ConversationRow[], next: string | null}} ConversationsResponse */
/** @typedef {{conversation: ConversationRow}} ConversationRowResponse */
/** @typedef {{messages: Message[], has_more: boolean}} MessagesResponse */
/** @typedef {{users: Contact[], next: string | null}} UsersResponse */
/** @typedef {{user: User}} UserResponse */

/**
 * The first frame of a connection. session_idle_ms is the session's idle
 * timeout (absent: none): each HTTP answer moves the cookie's expiry that
 * far ahead, frames do not.
 * @typedef {{type: "hello", user: User, server_time: string, session_idle_ms?: number}} HelloFrame
 */
/** @typedef {{type: "ack", client_id: string, message: Message}} AckFrame */
/** @typedef {{type: "message", message: Message}} MessageFrame */
/** @typedef {{type: "typing", conversation_id: number, user_id: number}} TypingFrame */
/** @typedef {{type: "read", conversation_id: number, user_id: number, seq: number}} ReadFrame */
/** @typedef {{type: "presence", user_id: number, online: boolean}} PresenceFrame */
/** @typedef {{type: "user", user: User}} UserFrame */
/** @typedef {{type: "error", code: string, message: string, client_id?: string, retry_after_ms?: number}} ErrorFrame */

/**
 * A frame from the server.
 * @typedef {HelloFrame | AckFrame | MessageFrame | TypingFrame | ReadFrame | PresenceFrame | UserFrame | ErrorFrame} ServerFrame
 */

/** @typedef {{type: "send", conversation_id: number, client_id: string, body: string}} SendFrame */

/**
 * A frame to the server.
 * @typedef {SendFrame | {type: "typing", conversation_id: number} | {type: "read", conversation_id: number, seq: number}} ClientFrame
 */

/**
 * The open conversation as the main view's page carries it.
 * @typedef {object} OpenConversation
 * @property {ConversationRow} conversation
 * @property {Message[]} messages the newest page, ascending
 * @property {boolean} has_more
 */

/**
 * What the server puts into the main view's page for its script
 * (appState in internal/web/pages.go).
 * @typedef {object} AppState
 * @property {User} me
 * @property {ConversationRow[]} conversations the list's first page
 * @property {OpenConversation | null} open
 */

export {};
