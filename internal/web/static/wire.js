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
 * @property {"text" | "system"} kind
 * @property {number} sender_id
 * @property {string} body empty for a system message
 * @property {string} client_id
 * @property {string} created_at RFC 3339
 * @property {SystemEvent} [system] what a system message records; absent from a text message
 * @property {number} version the conversation's change counter when this message last changed (created, edited or deleted)
 * @property {string | null} edited_at RFC 3339, null when never edited
 * @property {boolean} deleted a tombstone: the body is erased
 * @property {Attachment[]} [attachments] the files it carries, in the order sent; absent when none (a tombstone has none)
 */

/**
 * A file a message carries, or an upload waiting to be sent (only its
 * uploader sees it then).
 * @typedef {object} Attachment
 * @property {number} id
 * @property {string} name the file's name, made safe to show
 * @property {string} content_type sniffed from the bytes
 * @property {number} size in bytes
 * @property {number} [width] an image's width in pixels; absent for other files
 * @property {number} [height] an image's height in pixels; absent for other files
 * @property {string} url the bytes: shown inline for a raster image, else a download
 * @property {string} [thumbnail_url] an image's thumbnail (at most 400 pixels on its longest side); absent for other files
 */

/**
 * What a system message records: "Ada added Grace" (added), "Ada removed
 * Grace" (removed), "Grace left" (left, user_id is also actor_id), "Ada
 * renamed the group to …" (title, also the group's creation).
 * @typedef {object} SystemEvent
 * @property {"added" | "removed" | "left" | "title"} action
 * @property {number} actor_id who made the change (also the message's sender_id)
 * @property {number} [user_id] the member added, removed or gone; absent for title
 * @property {string} [title] the new title, for title only
 */

/**
 * A conversation as POST /api/v1/conversations and PATCH
 * /api/v1/conversations/{id} return it and a conversation frame carries
 * it: the fields every member shares (no cursors, no other_user).
 * @typedef {object} Conversation
 * @property {number} id
 * @property {"direct" | "group"} kind
 * @property {string} title a group's title, "" for a direct conversation
 * @property {number} member_count 2 for a direct conversation
 * @property {number} last_seq
 * @property {number} last_version the version of the latest change
 * @property {string | null} last_message_at
 * @property {string} created_at
 */

/**
 * A member of a conversation as its member list shows them.
 * @typedef {object} Member
 * @property {User} user
 * @property {"admin" | "member"} role
 * @property {number} last_read_seq their read cursor
 * @property {boolean} online whether they have a WebSocket open
 */

/**
 * A row of the conversation list.
 * @typedef {object} ConversationRow
 * @property {number} id
 * @property {"direct" | "group"} kind
 * @property {string} title a group's title, "" for a direct conversation
 * @property {Contact | null} other_user null for a group
 * @property {number} member_count 2 for a direct conversation
 * @property {Message | null} last_message
 * @property {number} last_seq
 * @property {number} last_version the version of the latest change
 * @property {number} last_read_seq
 * @property {number} other_read_seq
 * @property {number} unread_count
 * @property {string | null} last_message_at
 * @property {string} created_at
 */

/** @typedef {{conversations: ConversationRow[], next: string | null}} ConversationsResponse */
/** @typedef {{conversation: Conversation}} ConversationResponse */
/** @typedef {{members: Member[], next: string | null}} MembersResponse a page of members in user ID order; next is the last user ID, to pass as after */
/** @typedef {{member: Member}} MemberResponse */
/** @typedef {{conversation: ConversationRow}} ConversationRowResponse */
/** @typedef {{messages: Message[], has_more: boolean}} MessagesResponse ascending by seq; for after_version, ascending by version */
/** @typedef {{message: Message}} MessageResponse */
/** @typedef {{users: Contact[], next: string | null}} UsersResponse */
/** @typedef {{user: User}} UserResponse */
/** @typedef {{attachment: Attachment}} AttachmentResponse */

/**
 * The first frame of a connection. session_idle_ms is the session's idle
 * timeout (absent: none): each HTTP answer moves the cookie's expiry that
 * far ahead, frames do not.
 * @typedef {{type: "hello", user: User, server_time: string, session_idle_ms?: number}} HelloFrame
 */
/** @typedef {{type: "ack", client_id: string, message: Message}} AckFrame */
/** @typedef {{type: "message", message: Message}} MessageFrame */
/** @typedef {{type: "message_updated", message: Message}} MessageUpdatedFrame an edit, or a deletion (deleted, empty body): the message as it is now, with its new version */
/** @typedef {{type: "typing", conversation_id: number, user_id: number}} TypingFrame */
/** @typedef {{type: "read", conversation_id: number, user_id: number, seq: number}} ReadFrame */
/** @typedef {{type: "presence", user_id: number, online: boolean}} PresenceFrame */
/** @typedef {{type: "user", user: User}} UserFrame */
/**
 * A group's membership changed: user_id was added, removed (or left), or
 * has a new role; role is their role now (for removed, the one they had).
 * @typedef {{type: "member", conversation_id: number, user_id: number, role: "admin" | "member", change: "added" | "removed" | "role"}} MemberFrame
 */
/**
 * A group was created or renamed: the fields every member shares (merge
 * them into the row held, keeping its own cursors).
 * @typedef {{type: "conversation", conversation: Conversation}} ConversationFrame
 */
/** @typedef {{type: "error", code: string, message: string, client_id?: string, retry_after_ms?: number}} ErrorFrame */
/**
 * Events for this page may have been lost (the server could not deliver
 * them): catch up as after a reconnect, without resending the outbox.
 * @typedef {{type: "resync"}} ResyncFrame
 */

/**
 * A frame from the server.
 * @typedef {HelloFrame | AckFrame | MessageFrame | MessageUpdatedFrame | TypingFrame | ReadFrame | PresenceFrame | UserFrame | MemberFrame | ConversationFrame | ResyncFrame | ErrorFrame} ServerFrame
 */

/** @typedef {{type: "send", conversation_id: number, client_id: string, body: string, attachment_ids?: number[]}} SendFrame attachment_ids: uploads to send with it (with them the body may be empty) */

/**
 * A frame to the server.
 * @typedef {SendFrame | {type: "typing", conversation_id: number} | {type: "read", conversation_id: number, seq: number}} ClientFrame
 */

/**
 * The open conversation as the main view's page carries it.
 * @typedef {object} OpenConversation
 * @property {ConversationRow} conversation
 * @property {Message[]} messages the newest page, ascending; opened at a message (at), the messages around it
 * @property {boolean} has_more
 * @property {boolean} [has_newer] opened at a message, the window stops short of the newest one
 * @property {number} [at] the message the page was opened at (?at=), 0 for the end
 * @property {Member[] | null} members a group's whole member list; null for a direct conversation
 */

/**
 * What the server puts into the main view's page for its script
 * (appState in internal/web/pages.go).
 * @typedef {object} AppState
 * @property {User} me
 * @property {ConversationRow[]} conversations the list's first page
 * @property {OpenConversation | null} open
 * @property {User[]} users the people the page names (members, senders and system messages of groups)
 */

export {};
