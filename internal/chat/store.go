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
	// AttachmentStore keeps the rows of uploaded files.
	AttachmentStore

	// CreateUser stores a new user with the hash of their password and
	// returns it with its ID. A username taken in any letter case is
	// ECONFLICT. The first user stored (none before, closed or not) is a
	// site admin (Admin), decided in the inserting transaction so that
	// concurrent first registrations make one admin.
	CreateUser(ctx context.Context, u User, passwordHash string) (User, error)
	// UserByID returns a user, closed or not, or ENOTFOUND.
	UserByID(ctx context.Context, id UserID) (User, error)
	// UserCredentials returns the user with the given (lower-case) username
	// and their password hash, or ENOTFOUND; a closed account is ENOTFOUND.
	// UserByID and UserCredentials set Admin and Deactivated.
	UserCredentials(ctx context.Context, username string) (User, string, error)
	// CloseUser closes an account in one transaction: the user is marked
	// closed, their display name becomes ClosedDisplayName, their password
	// hash and admin rights are erased, every session of theirs ends (as EndSessions) and
	// they leave every group they are in, as RemoveMember does when a
	// member leaves (a SystemLeft message at now in each, the
	// longest-standing member promoted where the last admin goes; their
	// direct conversations stay). It returns the user as they are now, the
	// keys of the ended sessions, the groups left and the user's contacts
	// (as Contacts, read in the same transaction before the groups are
	// left). When it was the last open, active site admin, the earliest
	// open, active account becomes a site admin in the same transaction,
	// as a group's longest-standing member does. ENOTFOUND when there is
	// no such open account.
	CloseUser(ctx context.Context, id UserID, now time.Time) (ClosedAccount, error)
	// SetPasswordHash replaces a user's password hash, or ENOTFOUND (a
	// closed account too).
	SetPasswordHash(ctx context.Context, id UserID, passwordHash string) error
	// SetDisplayName replaces a user's display name and returns the user
	// and their contacts (as Contacts, read in the same transaction: they
	// hear of the change), or ENOTFOUND (a closed account too).
	SetDisplayName(ctx context.Context, id UserID, displayName string) (u User, contacts []UserID, err error)
	// SearchUsers returns at most q.Limit open accounts ordered by
	// username, after q.After, matching q.Search, without q.Exclude.
	SearchUsers(ctx context.Context, q UserQuery) ([]User, error)

	// DirectConversation returns the one direct conversation between a and
	// b, creating it (with both as members) if there is none, and reports
	// whether it was created. Concurrent calls for one pair create one.
	DirectConversation(ctx context.Context, a, b UserID, now time.Time) (Conversation, bool, error)
	// Conversations returns at most q.Limit of the user's conversations with
	// activity before q.Before, newest activity first, in one statement.
	Conversations(ctx context.Context, q ConversationQuery) ([]ConversationRow, error)
	// Conversation returns one conversation as the user's list shows it, or
	// ENOTFOUND when the user is not a member or there is no such
	// conversation.
	Conversation(ctx context.Context, user UserID, id ConversationID) (ConversationRow, error)
	// Member returns the user's membership of the conversation, role
	// included, or
	// ENOTFOUND when the user is not a member or there is no such
	// conversation.
	Member(ctx context.Context, id ConversationID, user UserID) (Member, error)
	// Members returns the IDs of a conversation's members.
	Members(ctx context.Context, id ConversationID) ([]UserID, error)
	// Contacts returns the IDs of everyone who shares a conversation with
	// the user, each once, without the user.
	Contacts(ctx context.Context, user UserID) ([]UserID, error)

	// CreateGroup creates a group in one transaction: the conversation
	// (kind KindGroup, g.Title), g.Creator as its admin and g.Members as
	// members, all joined at g.At, and its first messages: a SystemTitle
	// message by the creator (seq 1, the creation), then one SystemAdded
	// message by the creator per member, in the order of g.Members. Every
	// member's read cursor is at the last of them, so nobody starts with
	// anything unread. It returns the group and those messages. A member
	// who is not an open account is ENOTFOUND; more than g.MaxMembers
	// people (creator included, when g.MaxMembers > 0) is EINVALID; either
	// way nothing is stored.
	CreateGroup(ctx context.Context, g NewGroup) (Conversation, []Message, error)
	// The group changes below that change something read the group's
	// members in their transaction (GroupChange.Members).

	// RenameGroup gives group id the title (normalized) in one transaction
	// with its SystemTitle message by actor. Renaming to the title the
	// group has changes nothing (Changed false, no message). Errors follow
	// CheckGroupChange: ENOTFOUND when actor is not a member (or there is
	// no such conversation), EINVALID for a direct conversation,
	// EFORBIDDEN when actor is not an admin.
	RenameGroup(ctx context.Context, id ConversationID, actor UserID, title string, at time.Time) (GroupChange, error)
	// AddMember makes user a member (RoleMember) of group id in one
	// transaction with its SystemAdded message by actor; the new member's
	// read cursor is at that message (nothing unread) and they see the
	// whole history. Errors follow CheckGroupChange, then: ECONFLICT when
	// user is a member already, or when the group has maxMembers members
	// (maxMembers > 0; checked atomically with the insert, so concurrent
	// adds never pass it); ENOTFOUND when user is not an open account.
	AddMember(ctx context.Context, id ConversationID, actor, user UserID, maxMembers int, at time.Time) (GroupChange, error)
	// RemoveMember ends user's membership of group id in one transaction
	// with its system message: SystemLeft when actor is user (leaving,
	// which anyone may), SystemRemoved otherwise (admins only). When the
	// last admin goes and members remain, the longest-standing member
	// (earliest JoinedAt, then lowest user ID) becomes admin in the same
	// transaction (GroupChange.Promoted), so a group with members always
	// has an admin. From the commit on, user is not a member: Member,
	// Conversation, CreateMessage and MarkRead are ENOTFOUND for them.
	// Errors follow CheckGroupChange, then ENOTFOUND (a "member not found"
	// error) when user is not a member.
	RemoveMember(ctx context.Context, id ConversationID, actor, user UserID, at time.Time) (GroupChange, error)
	// SetRole gives user the role in group id (admins only); it writes no
	// system message. Giving the role they have changes nothing (Changed
	// false). Errors follow CheckGroupChange, then: ENOTFOUND (member not
	// found) when user is not a member; ECONFLICT when the group's only
	// admin would step down (make another member admin first).
	SetRole(ctx context.Context, id ConversationID, actor, user UserID, role Role) (GroupChange, error)
	// ListMembers returns at most q.Limit members of conversation id with
	// their accounts, in user ID order, after q.After, in one statement.
	// It does not check who is asking: the Service does.
	ListMembers(ctx context.Context, id ConversationID, q MemberQuery) ([]MemberInfo, error)

	// CreateMessage stores the text message m (system messages are
	// written only by the group methods above) in one transaction: it
	// checks that the sender is a member (ENOTFOUND otherwise, also for a
	// member removed by a change that committed while the send waited its
	// turn), assigns the next seq, inserts the
	// message, moves the conversation's last_seq and last_message_at and the
	// sender's read cursor, and reads the conversation's members, the
	// message's Recipients. The stored CreatedAt is never earlier than the
	// previous message's, so times follow seq. When the sender already sent a message with
	// m.ClientID, it stores nothing and returns that message with Changed
	// false and no Recipients; if that message is in another conversation
	// it is ECONFLICT.
	CreateMessage(ctx context.Context, m Message) (Stored, error)
	// CreateMessages stores a batch of text messages, each as
	// CreateMessage would, in one transaction: messages to one
	// conversation take consecutive seqs in the order given, and a later
	// message of the batch with an earlier one's client ID is answered
	// as a resend of it. It returns one SendResult per message, in the
	// same order; a message refused by the rules (ENOTFOUND, ECONFLICT)
	// carries its error there and does not spoil the others. An error
	// returned means that none of the batch was stored. A message's
	// Attachments (by ID) must each be its sender's upload to its
	// conversation, pending and not claimed by an earlier message of the
	// batch: else the message is refused with EINVALID, naming the
	// attachment. A stored message carries them whole (every read of the
	// message does), and they are no longer pending (Seq set).
	CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error)
	// MessageByClientID returns the message sender sent with clientID, in
	// whichever conversation, or ENOTFOUND.
	MessageByClientID(ctx context.Context, sender UserID, clientID string) (Message, error)
	// Messages returns at most q.Limit messages of the conversation in
	// ascending seq order: those nearest before q.BeforeSeq, nearest after
	// q.AfterSeq, or the newest when neither is set.
	Messages(ctx context.Context, id ConversationID, q MessageQuery) ([]Message, error)
	// EditMessage replaces the body of message c.Seq of conversation
	// c.ConversationID with c.Body in one transaction that checks
	// CheckMessageChange (MessageEdit) against what it reads there, gives
	// the message the conversation's next version (moving last_version),
	// sets its EditedAt to c.At and reads the conversation's members. It
	// returns the message as it is now (Changed true) and its Recipients.
	// Errors are CheckMessageChange's.
	EditMessage(ctx context.Context, c MessageChange) (Stored, error)
	// DeleteMessage erases the body of message c.Seq of conversation
	// c.ConversationID in one transaction that checks CheckMessageChange
	// (MessageDelete) against what it reads there, gives the message the
	// conversation's next version (moving last_version), sets its
	// DeletedAt to c.At and reads the conversation's members: only the
	// tombstone remains, without attachments: those are marked deleted
	// in the same transaction (DeletedAttachments finds them). It
	// returns the message as it is now, whether it
	// changed and, when it did, its Recipients: a message deleted already
	// is returned as it is, unchanged, with no Recipients. Errors are
	// CheckMessageChange's.
	DeleteMessage(ctx context.Context, c MessageChange) (Stored, error)
	// ExpiredMessages returns, oldest first, at most limit text messages
	// created before before and not deleted: what retention erases next
	// (see Service.ExpireMessages). System messages are kept.
	ExpiredMessages(ctx context.Context, before time.Time, limit int) ([]MessageRef, error)
	// EraseMessages erases the bodies of messages seqs of conversation
	// conv as DeleteMessage does, in one transaction and without an actor
	// (retention's deletion): each becomes a tombstone with DeletedAt at
	// and the conversation's next version, leaves the search index and
	// has its attachments marked deleted.
	// It returns one Stored per message it changed, in ascending version
	// order, each with the conversation's members as Recipients; a message
	// deleted already, or gone, is skipped.
	EraseMessages(ctx context.Context, conv ConversationID, seqs []int64, at time.Time) ([]Stored, error)
	// MessageChanges returns at most limit messages of the conversation
	// whose version is above afterVersion (created, edited or deleted
	// since), in ascending version order. It does not check who is
	// asking: the Service does.
	MessageChanges(ctx context.Context, id ConversationID, afterVersion int64, limit int) ([]Message, error)
	// SearchMessages returns at most q.Limit messages that match every
	// term of q.Terms (SearchTerm says how a word and a phrase match,
	// against the searchtext.Words of a body), newest first (descending
	// Position), with Position below q.Before when it is not 0: text
	// messages, not deleted, of the conversations q.User is a member of
	// (of q.ConversationID alone when it is not 0), each with its sender
	// and its conversation as Conversation would return it. An edit or a
	// deletion updates the index in the transaction that makes it, so an
	// edited message is found by its new text only and a deleted one
	// never. It does not check q: the Service does.
	SearchMessages(ctx context.Context, q SearchQuery) ([]SearchHit, error)
	// MarkRead moves the user's read cursor forward to seq, clamped to the
	// conversation's last_seq, and returns the cursor and whether it moved;
	// when it moved, the transaction that moved it also reads the
	// conversation's members (ReadMark.Recipients). An older seq changes
	// nothing. ENOTFOUND for a non-member.
	MarkRead(ctx context.Context, id ConversationID, user UserID, seq int64) (ReadMark, error)

	// BindSession records that the HTTP session stored under key (the
	// session store's key: a hash of the cookie's token) belongs to user
	// until deadline, its absolute expiry, so that EndSessions finds it.
	BindSession(ctx context.Context, user UserID, key string, deadline time.Time) error
	// StartSession binds the new session stored under key to user, as
	// BindSession does, only if the account is open and its password hash
	// is still passwordHash, and reports whether it did. The check and the
	// binding are one step that a password change, a closure or a
	// deactivation (the account must not be deactivated) cannot come
	// between: each either sees the binding (and ends it) or makes
	// StartSession find the account changed.
	StartSession(ctx context.Context, user UserID, key string, deadline time.Time, passwordHash string) (bool, error)
	// EndSessions deletes every session bound to user but the one stored
	// under except ("" for none) and returns their keys. An ended session
	// is never stored again: a request that was under way when it ended
	// cannot bring it back.
	EndSessions(ctx context.Context, user UserID, except string) ([]string, error)
	// TouchSession moves the expiry of the unexpired session stored under
	// key to expiry, when that is later, and returns the session's expiry;
	// false when there is no unexpired session under key.
	TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error)

	// CreateInvitedUser stores a new user as CreateUser does, in one
	// transaction that counts a use of the invitation whose TokenHash is
	// tokenHash: only if it is usable at now (Invitation.Usable), checked
	// atomically with the count, so concurrent registrations never pass
	// its MaxUses. An invitation that is unknown, expired, revoked or used
	// up is EFORBIDDEN; a taken username ECONFLICT; either way nothing is
	// stored and no use counted.
	CreateInvitedUser(ctx context.Context, u User, passwordHash, tokenHash string, now time.Time) (User, error)
	// SetAdmin makes an open account a site admin or not and returns it,
	// or ENOTFOUND. Taking the right from the last open, active site
	// admin is ErrLastAdmin (ECONFLICT), decided in the change's own
	// transaction so that concurrent changes cannot all pass.
	SetAdmin(ctx context.Context, id UserID, admin bool) (User, error)
	// DeactivateUser marks an open account deactivated (at now, unless it
	// is already) and, in the same transaction, ends every session of its
	// (as EndSessions), returning the account and the ended sessions'
	// keys, or ENOTFOUND. StartSession no longer binds it a session.
	// Deactivating the last open, active site admin is ErrLastAdmin
	// (ECONFLICT), decided as in SetAdmin.
	DeactivateUser(ctx context.Context, id UserID, now time.Time) (User, []string, error)
	// ReactivateUser clears an open account's deactivation and returns
	// it, or ENOTFOUND.
	ReactivateUser(ctx context.Context, id UserID) (User, error)
	// Accounts returns at most q.Limit accounts, closed ones too, in ID
	// order after q.After, with Admin and Deactivated set.
	Accounts(ctx context.Context, q AccountQuery) ([]User, error)
	// CreateInvitation stores inv (Uses 0, not revoked) and returns it
	// with its ID.
	CreateInvitation(ctx context.Context, inv Invitation) (Invitation, error)
	// Invitations returns at most q.Limit invitations in ID order after
	// q.After.
	Invitations(ctx context.Context, q InvitationQuery) ([]Invitation, error)
	// RevokeInvitation marks an invitation revoked at now (unless it is
	// already) and returns it, or ENOTFOUND.
	RevokeInvitation(ctx context.Context, id InvitationID, now time.Time) (Invitation, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// MessageRef names one message: seq Seq of conversation ConversationID.
type MessageRef struct {
	ConversationID ConversationID
	Seq            int64
}

// Stored is what a store's transaction did to a message (CreateMessage,
// EditMessage, DeleteMessage) and who must hear of it.
type Stored struct {
	// Message is the message as the transaction left it.
	Message Message
	// Changed reports whether the transaction stored anything: false for
	// a send whose client ID was used before (Message is that first
	// message) and for a deletion of a message deleted already.
	Changed bool
	// Recipients are the IDs of the conversation's members, in ascending
	// order, as the transaction that made the change read them; nil when
	// nothing changed. The Service publishes the change to them: no read
	// after the commit, which could fail, decides who hears of it.
	Recipients []UserID
}

// CreateOne stores m through batches.CreateMessages as a batch of one, for
// a store whose CreateMessage is just that.
func CreateOne(ctx context.Context, batches interface {
	CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error)
}, m Message) (Stored, error) {
	rs, err := batches.CreateMessages(ctx, []Message{m})
	if err != nil {
		return Stored{}, err
	}
	return rs[0].Stored, rs[0].Err
}

// SendResult is what Store.CreateMessages did with one message: what
// CreateMessage would have returned for it.
type SendResult struct {
	Stored Stored
	Err    error
}

// ReadMark is what Store.MarkRead did.
type ReadMark struct {
	// Seq is the member's read cursor now.
	Seq int64
	// Moved reports whether the cursor moved.
	Moved bool
	// Recipients are the IDs of the conversation's members, in ascending
	// order, as the transaction that moved the cursor read them; nil when
	// it did not move.
	Recipients []UserID
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
