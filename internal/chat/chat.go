// Package chat is Parley's domain: users, conversations, members and
// messages, the rules that govern them, and the interfaces through which the
// rest of the program stores and moves them. It uses the standard library
// only; storage and transport live in packages that import this one.
package chat

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UserID identifies a user.
type UserID int64

// ConversationID identifies a conversation.
type ConversationID int64

// User is a person with an account.
type User struct {
	ID          UserID
	Username    string // lower case, unique
	DisplayName string
	CreatedAt   time.Time
	// Closed: the account is closed. Its display name is
	// ClosedDisplayName, it is out of the people directory and cannot sign
	// in; its username stays taken and its messages stay in history.
	Closed bool
	// Admin: a site admin, who invites people and deactivates accounts.
	// The first account created is one.
	Admin bool
	// Deactivated: an admin switched the account off. It cannot sign in
	// until an admin reactivates it; everything else about it stays.
	Deactivated bool
}

// ClosedDisplayName is the display name of every closed account.
const ClosedDisplayName = "Deleted user"

// Kind tells a direct conversation (exactly two people) from a group.
type Kind string

// Conversation kinds.
const (
	KindDirect Kind = "direct"
	KindGroup  Kind = "group"
)

// Conversation is a thread of messages between its members.
type Conversation struct {
	ID    ConversationID
	Kind  Kind
	Title string
	// LastSeq is the seq of the newest message, 0 when there is none.
	LastSeq int64
	// LastVersion is the version of the latest change to the
	// conversation's messages (a create, an edit or a deletion), 0 when
	// there is none.
	LastVersion int64
	// LastMessageAt is the time of the newest message, zero when there is none.
	LastMessageAt time.Time
	CreatedAt     time.Time
	// MemberCount is how many members the conversation has now: 2 for a
	// direct conversation, 0 to the group's cap for a group (a group whose
	// last member left has none).
	MemberCount int
}

// ActivityAt is when the conversation last changed: its newest message, or
// its creation. The conversation list is ordered by it, newest first.
func (c Conversation) ActivityAt() time.Time {
	if c.LastMessageAt.IsZero() {
		return c.CreatedAt
	}
	return c.LastMessageAt
}

// Role is a member's standing in a conversation. In a group, admins add
// and remove members, rename the group and change roles; members of a
// direct conversation are all RoleMember.
type Role string

// Member roles.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Member is a user's place in a conversation.
type Member struct {
	ConversationID ConversationID
	UserID         UserID
	Role           Role
	// LastReadSeq is the member's read cursor: every message up to and
	// including it has been read. It never moves backwards.
	LastReadSeq int64
	// JoinedAt is when the user became a member. In a group it is the time
	// of the system message that added them (or of the group's creation),
	// so it follows seq order.
	JoinedAt time.Time
}

// MemberInfo is a member with their account, as a conversation's member
// list shows them.
type MemberInfo struct {
	Member
	User User
}

// MessageKind tells what people wrote from what happened to a
// conversation.
type MessageKind string

// Message kinds.
const (
	// MessageText is a message a member wrote.
	MessageText MessageKind = "text"
	// MessageSystem records a change to a group (a member added, removed
	// or gone, the title changed) in its history, in seq order with the
	// talk. It has no body and no client ID; its sender is the member who
	// made the change.
	MessageSystem MessageKind = "system"
)

// SystemAction is the change a system message records.
type SystemAction string

// System message actions.
const (
	// SystemAdded: ActorID added UserID.
	SystemAdded SystemAction = "added"
	// SystemRemoved: ActorID removed UserID.
	SystemRemoved SystemAction = "removed"
	// SystemLeft: ActorID left (UserID is ActorID).
	SystemLeft SystemAction = "left"
	// SystemTitle: ActorID gave the group the title Title. The first
	// message of every group is one: its creation.
	SystemTitle SystemAction = "title"
)

// SystemEvent is what a system message records: enough to render "Ada
// added Grace", "Grace left" or "Ada renamed the group to …".
type SystemEvent struct {
	Action SystemAction
	// ActorID is who made the change (also the message's SenderID).
	ActorID UserID
	// UserID is the member added, removed or gone; 0 for SystemTitle.
	UserID UserID
	// Title is the new title, for SystemTitle only.
	Title string
}

// Message is one message in a conversation.
type Message struct {
	ConversationID ConversationID
	// Seq numbers the conversation's messages densely from 1 in the order
	// they were committed.
	Seq int64
	// Kind is MessageText or MessageSystem. Stores always set it; "" in a
	// message handed to a store means MessageText.
	Kind     MessageKind
	SenderID UserID
	// Body is the text as the sender typed it (validated, never escaped);
	// empty for a system message.
	Body string
	// ClientID, when not empty, makes a send idempotent per sender.
	ClientID  string
	CreatedAt time.Time
	// System is what a system message records; nil for a text message.
	System *SystemEvent
	// Version numbers the conversation's changes densely from 1: the
	// message's creation, then each edit or deletion, takes the next one.
	Version int64
	// EditedAt is when the sender last edited the body; zero when never.
	EditedAt time.Time
	// DeletedAt is when the message was deleted; zero when it was not. A
	// deleted message is a tombstone: its body is erased.
	DeletedAt time.Time
	// Attachments are the files the message carries, in the order the
	// sender gave them; none for a tombstone. Handed to a store, only
	// their IDs count: CreateMessages checks each is the sender's,
	// uploaded to this conversation and not sent yet, and returns them
	// whole.
	Attachments []Attachment
}

// Deleted reports whether the message is a tombstone.
func (m Message) Deleted() bool { return !m.DeletedAt.IsZero() }

// ConversationRow is one row of a user's conversation list: the
// conversation with the other participant, the newest message and the
// user's read cursor, as one query returns them.
type ConversationRow struct {
	Conversation
	// OtherUser is the other participant of a direct conversation.
	OtherUser *User
	// LastMessage is the newest message, nil when there is none.
	LastMessage *Message
	// LastReadSeq is the listing user's read cursor.
	LastReadSeq int64
	// OtherReadSeq is the other participant's read cursor in a direct
	// conversation: the listing user's messages up to it have been seen.
	OtherReadSeq int64
}

// UnreadCount is how many messages the listing user has not read.
func (s ConversationRow) UnreadCount() int64 {
	if n := s.LastSeq - s.LastReadSeq; n > 0 {
		return n
	}
	return 0
}

// DirectKey is the key that makes two people's direct conversation unique,
// whichever of them starts it: "smallerID:largerID".
func DirectKey(a, b UserID) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("%d:%d", a, b)
}

// Now returns the current time in UTC at the microsecond precision every
// store keeps, so that a time read back equals the time written.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// ConversationCursor is the position after which a conversation list page
// continues: the activity time and ID of the last row of the previous page.
type ConversationCursor struct {
	ActivityAt time.Time
	ID         ConversationID
}

// IsZero reports whether the cursor is unset: the list starts at the newest.
func (c ConversationCursor) IsZero() bool { return c.ID == 0 }

// String encodes the cursor as the opaque string clients pass back.
func (c ConversationCursor) String() string {
	return strconv.FormatInt(c.ActivityAt.UnixMicro(), 10) + "." + strconv.FormatInt(int64(c.ID), 10)
}

// ParseConversationCursor decodes a cursor made by ConversationCursor.String.
// The empty string is the zero cursor.
func ParseConversationCursor(s string) (ConversationCursor, error) {
	if s == "" {
		return ConversationCursor{}, nil
	}
	at, id, ok := strings.Cut(s, ".")
	micros, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 {
		return ConversationCursor{}, Errorf(EINVALID, "invalid cursor %q", s)
	}
	return ConversationCursor{ActivityAt: time.UnixMicro(micros).UTC(), ID: ConversationID(n)}, nil
}

// MemberQuery selects a page of a conversation's members, in user ID
// order.
type MemberQuery struct {
	// After is the user ID of the last row of the previous page; 0 starts
	// at the first.
	After UserID
	// Limit is the most rows to return.
	Limit int
}

// UserQuery selects a page of the people directory.
type UserQuery struct {
	// Search matches the username or display name, case-insensitively,
	// anywhere in the text. Empty matches everyone.
	Search string
	// After is the username of the last row of the previous page.
	After string
	// Exclude leaves one user out: the one who is looking.
	Exclude UserID
	// Limit is the most rows to return.
	Limit int
}

// ConversationQuery selects a page of a user's conversation list.
type ConversationQuery struct {
	UserID UserID
	Before ConversationCursor
	Limit  int
}

// MessageQuery selects a page of a conversation's history. With neither
// cursor set it selects the newest page.
type MessageQuery struct {
	BeforeSeq int64 // when not 0: messages with seq < BeforeSeq, newest of them
	AfterSeq  int64 // when After: messages with seq > AfterSeq, oldest of them
	After     bool  // AfterSeq is set (0 means from the first message)
	// AfterVersion, when ByVersion, selects the messages created, edited
	// or deleted after that version, in ascending version order (the
	// catch-up of a client that holds everything up to it). It goes with
	// neither seq cursor.
	AfterVersion int64
	ByVersion    bool
	Limit        int
}

// MessagePage is a page of history in ascending seq order (ascending
// version order for a ByVersion query).
type MessagePage struct {
	Messages []Message
	// HasMore tells whether more messages lie beyond the page in the
	// direction of the query: older for the newest page and BeforeSeq,
	// newer for After, later versions for ByVersion.
	HasMore bool
}

// NewGroup is a group to create: Store.CreateGroup's input, checked by the
// Service first.
type NewGroup struct {
	// Title is the group's title, normalized (NormalizeGroupTitle).
	Title string
	// Creator becomes the group's first admin.
	Creator UserID
	// Members are the other people to add, as members: distinct, without
	// the creator, at least one.
	Members []UserID
	// MaxMembers caps the group's size, creator included; 0 or less means
	// no cap.
	MaxMembers int
	// At is the time of the creation.
	At time.Time
}

// GroupChange is what a change to a group did, as the store committed it.
type GroupChange struct {
	// Conversation is the group as it is after the change.
	Conversation Conversation
	// Message is the system message that records the change in the
	// group's history; nil when the change writes none (a role change) or
	// nothing changed.
	Message *Message
	// Member is the member added, removed or gone (as they were just
	// before) or whose role changed (as they are now).
	Member MemberInfo
	// Promoted is the member who became admin because the last admin
	// left; nil when nobody was promoted.
	Promoted *MemberInfo
	// Changed is false when nothing changed: a rename to the title the
	// group has, a role the member has already.
	Changed bool
	// Members are the IDs of the group's members once the change is
	// made, in ascending order, as the change's own transaction read
	// them; nil when nothing changed. They (and a removed member) hear of
	// the change.
	Members []UserID
}

// ClosedAccount is what closing an account did, as the store committed
// it.
type ClosedAccount struct {
	// User is the account as it is now: closed, ClosedDisplayName.
	User User
	// Sessions are the keys of the sessions that ended.
	Sessions []string
	// Groups are the groups the user left, in conversation ID order: each
	// as RemoveMember returns a member leaving (the SystemLeft message, the
	// member as they were, whoever was promoted).
	Groups []GroupChange
	// Contacts are the IDs of everyone who shared a conversation with the
	// user, direct or group, as the closure's own transaction read them
	// before leaving the groups, in ascending order. They hear of the
	// closure.
	Contacts []UserID
}
