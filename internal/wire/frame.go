package wire

import (
	"encoding/json"
	"time"
)

// Frame types of the WebSocket protocol.
const (
	// Client → server.
	TypeSend   = "send"
	TypeTyping = "typing"
	TypeRead   = "read"
	// Server → client (and TypeTyping, TypeRead).
	TypeHello    = "hello"
	TypeAck      = "ack"
	TypeMessage  = "message"
	TypePresence = "presence"
	TypeUser     = "user"
	// TypeMember: a group's membership changed.
	TypeMember = "member"
	// TypeConversation: a group was created or renamed.
	TypeConversation = "conversation"
	// TypeMessageUpdated: a message was edited or deleted; a
	// MessageFrame with the message as it is now.
	TypeMessageUpdated = "message_updated"
	// TypeResync: events for the recipient may have been lost; a
	// ResyncFrame. The client catches up as after a reconnect.
	TypeResync = "resync"
	TypeError  = "error"
)

// Member changes, a member frame's change.
const (
	MemberAdded   = "added"
	MemberRemoved = "removed" // removed by an admin, or left
	MemberRole    = "role"    // made admin or member
)

// ClientFrame is any frame a client sends. Pointer fields tell a missing
// field from a zero one.
type ClientFrame struct {
	Type           string  `json:"type"`
	ConversationID *int64  `json:"conversation_id,omitempty"`
	ClientID       *string `json:"client_id,omitempty"`
	Body           *string `json:"body,omitempty"`
	Seq            *int64  `json:"seq,omitempty"`
	// AttachmentIDs go with a send (see SendRequest).
	AttachmentIDs []int64 `json:"attachment_ids,omitempty"`
}

// HelloFrame is the first frame after the upgrade.
type HelloFrame struct {
	Type       string    `json:"type"`
	User       User      `json:"user"`
	ServerTime time.Time `json:"server_time"`
	// SessionIdleMS is the session's idle timeout in milliseconds (0 or
	// absent: none). Each HTTP answer moves the session cookie's expiry to
	// that long ahead; frames keep the session alive on the server but
	// cannot move the cookie, so a client that chats over the socket asks
	// GET /api/v1/me in time to keep its cookie.
	SessionIdleMS int64 `json:"session_idle_ms,omitempty"`
}

// AckFrame tells the sending connection its message is stored.
type AckFrame struct {
	Type     string  `json:"type"`
	ClientID string  `json:"client_id"`
	Message  Message `json:"message"`
}

// MessageFrame carries a new message to members' other connections.
// Its Type is TypeMessage, or TypeMessageUpdated for an edit or a
// deletion.
type MessageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

// TypingFrame says a member is typing.
type TypingFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	UserID         int64  `json:"user_id"`
}

// ReadFrame is a read receipt: a member's read cursor moved to Seq.
type ReadFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	UserID         int64  `json:"user_id"`
	Seq            int64  `json:"seq"`
}

// PresenceFrame says a user came online or went offline.
type PresenceFrame struct {
	Type   string `json:"type"`
	UserID int64  `json:"user_id"`
	Online bool   `json:"online"`
}

// UserFrame says someone sharing a conversation with the recipient (or
// the recipient, in another tab) changed their display name.
type UserFrame struct {
	Type string `json:"type"`
	User User   `json:"user"`
}

// MemberFrame says a group's membership changed: UserID was added, was
// removed (or left), or has a new role. Role is their role now (for
// removed, the role they had). Every member gets it, the added or removed
// one included.
type MemberFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	UserID         int64  `json:"user_id"`
	Role           string `json:"role"`
	Change         string `json:"change"`
}

// ConversationFrame says a group was created or renamed: Conversation is
// the group as it is now, with the fields every member shares (merge them
// into the row held; the recipient's own read cursor is not in it).
type ConversationFrame struct {
	Type         string       `json:"type"`
	Conversation Conversation `json:"conversation"`
}

// ResyncFrame tells a client that events for it may have been lost (the
// server could not deliver them): it fetches, for every conversation it
// shows, the messages after the last seq it has and the changes after the
// last version it has, and the conversation list, as after a reconnect.
type ResyncFrame struct {
	Type string `json:"type"`
}

// ErrorFrame answers a frame that could not be carried out. The connection
// stays open.
type ErrorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// ClientID is the client_id of the send that failed, if it had one.
	ClientID string `json:"client_id,omitempty"`
	// RetryAfterMS says when a rate-limited frame may be sent again.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// ServerFrame is any frame the server sends, for clients that decode
// before they know the type. "message" is an object in ack and message
// frames but text in error frames, so it stays raw: read it with
// ChatMessage or ErrorText.
type ServerFrame struct {
	Type           string          `json:"type"`
	User           *User           `json:"user,omitempty"`
	ServerTime     time.Time       `json:"server_time,omitzero"`
	SessionIdleMS  int64           `json:"session_idle_ms,omitempty"`
	ClientID       string          `json:"client_id,omitempty"`
	Message        json.RawMessage `json:"message,omitempty"`
	ConversationID int64           `json:"conversation_id,omitempty"`
	UserID         int64           `json:"user_id,omitempty"`
	Seq            int64           `json:"seq,omitempty"`
	Online         bool            `json:"online,omitempty"`
	Role           string          `json:"role,omitempty"`
	Change         string          `json:"change,omitempty"`
	Conversation   *Conversation   `json:"conversation,omitempty"`
	Code           string          `json:"code,omitempty"`
	RetryAfterMS   int64           `json:"retry_after_ms,omitempty"`
}

// ChatMessage decodes the message of an ack or message frame.
func (f ServerFrame) ChatMessage() (Message, error) {
	var m Message
	err := json.Unmarshal(f.Message, &m)
	return m, err
}

// ErrorText returns the text of an error frame, or "" when its message is
// missing or not a JSON string.
func (f ServerFrame) ErrorText() string {
	var s string
	if err := json.Unmarshal(f.Message, &s); err != nil {
		return ""
	}
	return s
}
