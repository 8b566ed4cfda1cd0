// Package wire defines the JSON bodies of Parley's HTTP API and the frames
// of its WebSocket protocol: the shapes outside clients rely on. It uses the
// standard library only, so a client (such as parley-load) can import it
// without the server.
package wire

import "time"

// User is a person as the API shows them.
type User struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	// Closed is true for a closed account (display name "Deleted user"),
	// left out otherwise.
	Closed bool `json:"closed,omitempty"`
}

// Contact is another person as a list shows them: with whether they are
// online now.
type Contact struct {
	User
	Online bool `json:"online"`
}

// Message is one message.
type Message struct {
	ConversationID int64     `json:"conversation_id"`
	Seq            int64     `json:"seq"`
	SenderID       int64     `json:"sender_id"`
	Body           string    `json:"body"`
	ClientID       string    `json:"client_id"`
	CreatedAt      time.Time `json:"created_at"`
}

// Conversation is a conversation as POST /api/v1/conversations returns it.
type Conversation struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title"`
	LastSeq       int64      `json:"last_seq"`
	LastMessageAt *time.Time `json:"last_message_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// ConversationRow is a row of the conversation list.
type ConversationRow struct {
	ID          int64    `json:"id"`
	Kind        string   `json:"kind"`
	Title       string   `json:"title"`
	OtherUser   *Contact `json:"other_user"`
	LastMessage *Message `json:"last_message"`
	LastSeq     int64    `json:"last_seq"`
	LastReadSeq int64    `json:"last_read_seq"`
	// OtherReadSeq is the other participant's read cursor: the caller's
	// messages up to it have been seen.
	OtherReadSeq  int64      `json:"other_read_seq"`
	UnreadCount   int64      `json:"unread_count"`
	LastMessageAt *time.Time `json:"last_message_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// RegisterRequest is the body of POST /api/v1/auth/register.
type RegisterRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
}

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ProfileRequest is the body of PATCH /api/v1/me.
type ProfileRequest struct {
	DisplayName string `json:"display_name"`
}

// PasswordRequest is the body of POST /api/v1/me/password.
type PasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// CloseAccountRequest is the body of DELETE /api/v1/me.
type CloseAccountRequest struct {
	Password string `json:"password"`
}

// UserResponse answers register, login and GET /api/v1/me.
type UserResponse struct {
	User User `json:"user"`
}

// UsersResponse is a page of the people directory.
type UsersResponse struct {
	Users []Contact `json:"users"`
	// Next is the cursor of the following page (pass it as after), null on
	// the last page.
	Next *string `json:"next"`
}

// StartConversationRequest is the body of POST /api/v1/conversations.
type StartConversationRequest struct {
	UserID int64 `json:"user_id"`
}

// ConversationResponse answers POST /api/v1/conversations.
type ConversationResponse struct {
	Conversation Conversation `json:"conversation"`
}

// ConversationRowResponse answers GET /api/v1/conversations/{id}.
type ConversationRowResponse struct {
	Conversation ConversationRow `json:"conversation"`
}

// ConversationsResponse is a page of the conversation list.
type ConversationsResponse struct {
	Conversations []ConversationRow `json:"conversations"`
	// Next is the cursor of the following page (pass it as before), null on
	// the last page.
	Next *string `json:"next"`
}

// MessagesResponse is a page of history, ascending by seq.
type MessagesResponse struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"has_more"`
}

// SendRequest is the body of POST /api/v1/conversations/{id}/messages.
type SendRequest struct {
	Body     string `json:"body"`
	ClientID string `json:"client_id,omitempty"`
}

// MessageResponse answers a send.
type MessageResponse struct {
	Message Message `json:"message"`
}

// ReadRequest is the body of POST /api/v1/conversations/{id}/read.
type ReadRequest struct {
	Seq int64 `json:"seq"`
}

// Error is the body of every error answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody carries an error's code and message.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
