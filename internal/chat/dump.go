package chat

import (
	"context"
	"iter"
	"time"
)

// A Dump is a whole database read table by table, as of one moment, for
// copying it into another store (parley migrate-to-postgres). Each
// sequence yields an error at most once, last.
type Dump interface {
	Users(ctx context.Context) iter.Seq2[StoredUser, error]
	Conversations(ctx context.Context) iter.Seq2[StoredConversation, error]
	Members(ctx context.Context) iter.Seq2[Member, error]
	Messages(ctx context.Context) iter.Seq2[StoredMessage, error]
	Sessions(ctx context.Context) iter.Seq2[StoredSession, error]
	UserSessions(ctx context.Context) iter.Seq2[StoredUserSession, error]
	Invitations(ctx context.Context) iter.Seq2[Invitation, error]
	Attachments(ctx context.Context) iter.Seq2[StoredAttachment, error]
}

// StoredUser is an account with what a store keeps beside it.
type StoredUser struct {
	User
	// PasswordHash is the hash as the PasswordHasher made it, kept as it
	// is so that people sign in with the same passwords; empty for a
	// closed account.
	PasswordHash string
	// SearchName is the lower-cased display name the people directory
	// searches.
	SearchName string
	// ClosedAt is when the account was closed; zero while it is open.
	ClosedAt time.Time
	// DeactivatedAt is when an admin deactivated the account; zero while
	// it is active. (User.Admin says whether it is a site admin.)
	DeactivatedAt time.Time
}

// StoredConversation is a conversation, its counters included.
type StoredConversation struct {
	Conversation
	// DirectKey is DirectKey of a direct conversation's two members;
	// empty for a group.
	DirectKey string
}

// StoredAttachment is an attachment's row: pending, sent or marked
// deleted.
type StoredAttachment struct {
	Attachment
	// DeletedAt is when it was marked deleted (its bytes are to be
	// removed); zero while it is not.
	DeletedAt time.Time
}

// StoredMessage is a message, text or system, live or deleted.
type StoredMessage struct {
	Message
	// Position orders search results, newest first, and is unique over
	// the database; 0 for a message that has none (a system message).
	Position int64
}

// StoredSession is an HTTP session as github.com/alexedwards/scs/v2
// stores it: its data is opaque here.
type StoredSession struct {
	Token  string
	Data   []byte
	Expiry time.Time
}

// StoredUserSession says which user a session belongs to.
type StoredUserSession struct {
	Token  string
	UserID UserID
	// Deadline is the session's absolute expiry.
	Deadline time.Time
	// Ended: the session was ended; the row stays until Deadline so that
	// a request still under way cannot store the session again.
	Ended bool
}
