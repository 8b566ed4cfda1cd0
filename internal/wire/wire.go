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

// Message kinds.
const (
	MessageText   = "text"   // a message a member wrote
	MessageSystem = "system" // a change to a group, in its history
)

// System message actions.
const (
	SystemAdded   = "added"   // actor_id added user_id
	SystemRemoved = "removed" // actor_id removed user_id
	SystemLeft    = "left"    // user_id (also actor_id) left
	SystemTitle   = "title"   // actor_id gave the group the title title (also its creation)
)

// Message is one message.
type Message struct {
	ConversationID int64 `json:"conversation_id"`
	Seq            int64 `json:"seq"`
	// Kind is MessageText or MessageSystem.
	Kind     string `json:"kind"`
	SenderID int64  `json:"sender_id"`
	// Body is empty for a system message.
	Body      string    `json:"body"`
	ClientID  string    `json:"client_id"`
	CreatedAt time.Time `json:"created_at"`
	// System is what a system message records; left out of a text
	// message.
	System SystemEvent `json:"system,omitzero"`
	// Version is the conversation's version of the message's latest
	// change: its creation, an edit or its deletion.
	Version int64 `json:"version"`
	// EditedAt is when the sender last edited it; null when never.
	EditedAt *time.Time `json:"edited_at"`
	// Deleted: the message was deleted; its body is empty (a tombstone).
	Deleted bool `json:"deleted"`
	// Attachments are the files the message carries, in the order sent;
	// left out when there are none (a tombstone has none).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file a message carries, or an upload waiting to be sent.
type Attachment struct {
	ID int64 `json:"id"`
	// Name is the file's name, made safe to show.
	Name string `json:"name"`
	// ContentType is the media type sniffed from the bytes.
	ContentType string `json:"content_type"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// Width and Height are an image's size in pixels; left out for other
	// files.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// URL downloads the file (members only): shown inline when it is a
	// raster image, else as a download.
	URL string `json:"url"`
	// ThumbnailURL is an image's thumbnail; left out for other files.
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

// AttachmentResponse answers an upload.
type AttachmentResponse struct {
	Attachment Attachment `json:"attachment"`
}

// SystemEvent is what a system message records: "Ada added Grace"
// (added), "Ada removed Grace" (removed), "Grace left" (left), "Ada
// renamed the group to …" (title).
type SystemEvent struct {
	// Action is SystemAdded, SystemRemoved, SystemLeft or SystemTitle.
	Action string `json:"action"`
	// ActorID is who made the change (also the message's sender_id).
	ActorID int64 `json:"actor_id"`
	// UserID is the member added, removed or gone; left out for title.
	UserID int64 `json:"user_id,omitempty"`
	// Title is the new title, for title only.
	Title string `json:"title,omitempty"`
}

// Conversation kinds.
const (
	KindDirect = "direct"
	KindGroup  = "group"
)

// Conversation is a conversation as POST /api/v1/conversations and PATCH
// /api/v1/conversations/{id} return it, and as a conversation frame
// carries it: the fields every member shares.
type Conversation struct {
	ID int64 `json:"id"`
	// Kind is KindDirect or KindGroup.
	Kind string `json:"kind"`
	// Title is a group's title; "" for a direct conversation.
	Title string `json:"title"`
	// MemberCount is how many members the conversation has: 2 for a
	// direct conversation.
	MemberCount   int        `json:"member_count"`
	LastSeq       int64      `json:"last_seq"`
	LastMessageAt *time.Time `json:"last_message_at"`
	CreatedAt     time.Time  `json:"created_at"`
	// LastVersion is the version of the latest change to the
	// conversation's messages: a client holding every change up to it has
	// caught up.
	LastVersion int64 `json:"last_version"`
}

// ConversationRow is a row of the conversation list.
type ConversationRow struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// OtherUser is the other participant of a direct conversation; null
	// for a group.
	OtherUser   *Contact `json:"other_user"`
	MemberCount int      `json:"member_count"`
	LastMessage *Message `json:"last_message"`
	LastSeq     int64    `json:"last_seq"`
	LastVersion int64    `json:"last_version"`
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
	// Invitation is the token of an invitation link, needed when the
	// server's registration mode is "invite".
	Invitation string `json:"invitation,omitempty"`
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

// StartConversationRequest is the body of POST /api/v1/conversations
// that starts (or finds) the direct conversation with a user.
type StartConversationRequest struct {
	UserID int64 `json:"user_id"`
}

// CreateGroupRequest is the body of POST /api/v1/conversations that
// creates a group: its title and the other people in it (the caller is
// its first admin).
type CreateGroupRequest struct {
	Title   string  `json:"title"`
	UserIDs []int64 `json:"user_ids"`
}

// ConversationResponse answers POST /api/v1/conversations and PATCH
// /api/v1/conversations/{id}.
type ConversationResponse struct {
	Conversation Conversation `json:"conversation"`
}

// RenameRequest is the body of PATCH /api/v1/conversations/{id}.
type RenameRequest struct {
	Title string `json:"title"`
}

// Member roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Member is a member of a conversation as its member list shows them.
type Member struct {
	User User `json:"user"`
	// Role is RoleAdmin or RoleMember.
	Role string `json:"role"`
	// LastReadSeq is the member's read cursor: they have seen every
	// message up to it.
	LastReadSeq int64 `json:"last_read_seq"`
	// Online is true while the member has a WebSocket open.
	Online bool `json:"online"`
}

// MembersResponse is a page of a conversation's members, in user ID
// order.
type MembersResponse struct {
	Members []Member `json:"members"`
	// Next is the cursor of the following page (pass it as after), null
	// on the last page.
	Next *string `json:"next"`
}

// MemberResponse answers POST /api/v1/conversations/{id}/members and
// PATCH /api/v1/conversations/{id}/members/{user_id}.
type MemberResponse struct {
	Member Member `json:"member"`
}

// AddMemberRequest is the body of POST
// /api/v1/conversations/{id}/members.
type AddMemberRequest struct {
	UserID int64 `json:"user_id"`
}

// RoleRequest is the body of PATCH
// /api/v1/conversations/{id}/members/{user_id}.
type RoleRequest struct {
	Role string `json:"role"`
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

// MessagesResponse is a page of history, ascending by seq (by version for
// an after_version query).
type MessagesResponse struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"has_more"`
}

// SearchResponse answers GET /api/v1/search: a page of the messages found,
// newest first.
type SearchResponse struct {
	Results []SearchResult `json:"results"`
	// Next is the cursor of the following (older) page (pass it as
	// before), null on the last page.
	Next *string `json:"next"`
}

// SearchResult is a message found, with its sender (as their account is
// now: "Deleted user" for a closed one) and its conversation as the
// searcher's conversation list shows it.
type SearchResult struct {
	Message      Message         `json:"message"`
	Sender       User            `json:"sender"`
	Conversation ConversationRow `json:"conversation"`
}

// SendRequest is the body of POST /api/v1/conversations/{id}/messages.
type SendRequest struct {
	Body     string `json:"body"`
	ClientID string `json:"client_id,omitempty"`
	// AttachmentIDs are the sender's uploads to the conversation to send
	// with the message; with them the body may be empty.
	AttachmentIDs []int64 `json:"attachment_ids,omitempty"`
}

// EditRequest is the body of PATCH
// /api/v1/conversations/{id}/messages/{seq}.
type EditRequest struct {
	Body string `json:"body"`
}

// MessageResponse answers a send or an edit.
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
