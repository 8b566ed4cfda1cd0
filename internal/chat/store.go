package chat

import (
	"context"
	"time"
)

// Store keeps users, conversations, members and messages. Every
// implementation passes the conformance suite in internal/storetest.
//
// Stores return *Error values with ENOTFOUND and ECONFLICT codes where the
// methods say so; any other error is internal.
type Store interface {
	// CreateUser stores a new user with the hash of their password and
	// returns it with its ID. A username taken in any letter case is ECONFLICT.
	CreateUser(ctx context.Context, u User, passwordHash string) (User, error)
	// UserByID returns a user, closed or not, or ENOTFOUND.
	UserByID(ctx context.Context, id UserID) (User, error)
	// UserCredentials returns the user with the given (lower-case) username
	// and their password hash, or ENOTFOUND; a closed account is ENOTFOUND.
	UserCredentials(ctx context.Context, username string) (User, string, error)
	// CloseUser closes an account in one transaction: the user is marked
	// closed, their display name becomes ClosedDisplayName, their password
	// hash is erased and every session of theirs ends (as EndSessions). It
	// returns the user as they are now and the keys of the ended sessions.
	// ENOTFOUND when there is no such open account.
	CloseUser(ctx context.Context, id UserID, now time.Time) (User, []string, error)
	// SetPasswordHash replaces a user's password hash, or ENOTFOUND (a
	// closed account too).
	SetPasswordHash(ctx context.Context, id UserID, passwordHash string) error
	// SetDisplayName replaces a user's display name and returns the user, or
	// ENOTFOUND (a closed account too).
	SetDisplayName(ctx context.Context, id UserID, displayName string) (User, error)
	// SearchUsers returns at most q.Limit open accounts ordered by
	// username, after q.After, matching q.Search, without q.Exclude.
	SearchUsers(ctx context.Context, q UserQuery) ([]User, error)

	// DirectConversation returns the one direct conversation between a and
	// b, creating it (with both as members) if there is none, and reports
	// whether it was created. Concurrent calls for one pair create one.
	DirectConversation(ctx context.Context, a, b UserID, now time.Time) (Conversation, bool, error)
	// Conversations returns at most q.Limit of the user's conversations with
	// activity before q.Before, newest activity first, in one statement.
	Conversations(ctx context.Context, q ConversationQuery) ([]ConversationSummary, error)
	// Conversation returns one conversation as the user's list shows it, or
	// ENOTFOUND when the user is not a member or there is no such
	// conversation.
	Conversation(ctx context.Context, user UserID, id ConversationID) (ConversationSummary, error)
	// Member returns the user's membership of the conversation, or
	// ENOTFOUND when the user is not a member or there is no such
	// conversation.
	Member(ctx context.Context, id ConversationID, user UserID) (Member, error)
	// Members returns the IDs of a conversation's members.
	Members(ctx context.Context, id ConversationID) ([]UserID, error)
	// Contacts returns the IDs of everyone who shares a conversation with
	// the user, each once, without the user.
	Contacts(ctx context.Context, user UserID) ([]UserID, error)

	// CreateMessage stores m in one transaction: it checks that the sender
	// is a member (ENOTFOUND otherwise), assigns the next seq, inserts the
	// message, moves the conversation's last_seq and last_message_at and the
	// sender's read cursor. The stored CreatedAt is never earlier than the
	// previous message's, so times follow seq. When the sender already sent a message with
	// m.ClientID, it stores nothing and returns that message with created
	// false; if that message is in another conversation it is ECONFLICT.
	CreateMessage(ctx context.Context, m Message) (Message, bool, error)
	// MessageByClientID returns the message sender sent with clientID, in
	// whichever conversation, or ENOTFOUND.
	MessageByClientID(ctx context.Context, sender UserID, clientID string) (Message, error)
	// Messages returns at most q.Limit messages of the conversation in
	// ascending seq order: those nearest before q.BeforeSeq, nearest after
	// q.AfterSeq, or the newest when neither is set.
	Messages(ctx context.Context, id ConversationID, q MessageQuery) ([]Message, error)
	// MarkRead moves the user's read cursor forward to seq, clamped to the
	// conversation's last_seq, and returns the cursor and whether it moved.
	// An older seq changes nothing. ENOTFOUND for a non-member.
	MarkRead(ctx context.Context, id ConversationID, user UserID, seq int64) (int64, bool, error)

	// BindSession records that the HTTP session stored under key (the
	// session store's key: a hash of the cookie's token) belongs to user
	// until deadline, its absolute expiry, so that EndSessions finds it.
	BindSession(ctx context.Context, user UserID, key string, deadline time.Time) error
	// EndSessions deletes every session bound to user but the one stored
	// under except ("" for none) and returns their keys. An ended session
	// is never stored again: a request that was under way when it ended
	// cannot bring it back.
	EndSessions(ctx context.Context, user UserID, except string) ([]string, error)
	// TouchSession moves the expiry of the unexpired session stored under
	// key to expiry, when that is later, and returns the session's expiry;
	// false when there is no unexpired session under key.
	TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// PasswordHasher turns passwords into self-describing hashes and checks
// passwords against them in constant time.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(hash, password string) (bool, error)
}

// ContextHasher is a PasswordHasher that may wait for room to work (a
// bounded one): the Context methods give up waiting when ctx ends, so a
// client gone does not keep its place in the queue. The Service uses them
// when its hasher has them.
type ContextHasher interface {
	PasswordHasher
	HashContext(ctx context.Context, password string) (string, error)
	VerifyContext(ctx context.Context, hash, password string) (bool, error)
}
