package storeguard

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Store is a chat.Store with every call run by a Guard: within its
// deadline, its errors classified, refused at once while the database is
// held stalled. Make one with New.
type Store struct {
	// store is not embedded: a chat.Store method left out here is a
	// compile error, not a call without the deadline.
	store chat.Store
	guard *Guard
}

var _ chat.Store = (*Store)(nil)

// New returns store with every chat.Store call run by g.
func New(store chat.Store, g *Guard) *Store {
	return &Store{store: store, guard: g}
}

// Guard is the Guard that runs the store's calls, for the database's other
// calls (its session store's) to share its deadline, breaker and outage log.
func (s *Store) Guard() *Guard { return s.guard }

// CreateUser is the store's CreateUser within the deadline.
func (s *Store) CreateUser(ctx context.Context, u chat.User, passwordHash string) (chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.store.CreateUser(ctx, u, passwordHash) })
}

// UserByID is the store's UserByID within the deadline.
func (s *Store) UserByID(ctx context.Context, id chat.UserID) (chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.store.UserByID(ctx, id) })
}

// UserCredentials is the store's UserCredentials within the deadline.
func (s *Store) UserCredentials(ctx context.Context, username string) (chat.User, string, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (chat.User, string, error) { return s.store.UserCredentials(ctx, username) })
}

// CloseUser is the store's CloseUser within the deadline.
func (s *Store) CloseUser(ctx context.Context, id chat.UserID, now time.Time) (chat.ClosedAccount, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.ClosedAccount, error) { return s.store.CloseUser(ctx, id, now) })
}

// SetPasswordHash is the store's SetPasswordHash within the deadline.
func (s *Store) SetPasswordHash(ctx context.Context, id chat.UserID, passwordHash string) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.store.SetPasswordHash(ctx, id, passwordHash) })
}

// SetDisplayName is the store's SetDisplayName within the deadline.
func (s *Store) SetDisplayName(ctx context.Context, id chat.UserID, displayName string) (chat.User, []chat.UserID, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (chat.User, []chat.UserID, error) {
		return s.store.SetDisplayName(ctx, id, displayName)
	})
}

// SearchUsers is the store's SearchUsers within the deadline.
func (s *Store) SearchUsers(ctx context.Context, q chat.UserQuery) ([]chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.User, error) { return s.store.SearchUsers(ctx, q) })
}

// DirectConversation is the store's DirectConversation within the deadline.
func (s *Store) DirectConversation(ctx context.Context, a, b chat.UserID, now time.Time) (chat.Conversation, bool, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (chat.Conversation, bool, error) {
		return s.store.DirectConversation(ctx, a, b, now)
	})
}

// Conversations is the store's Conversations within the deadline.
func (s *Store) Conversations(ctx context.Context, q chat.ConversationQuery) ([]chat.ConversationRow, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.ConversationRow, error) { return s.store.Conversations(ctx, q) })
}

// Conversation is the store's Conversation within the deadline.
func (s *Store) Conversation(ctx context.Context, user chat.UserID, id chat.ConversationID) (chat.ConversationRow, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.ConversationRow, error) {
		return s.store.Conversation(ctx, user, id)
	})
}

// Member is the store's Member within the deadline.
func (s *Store) Member(ctx context.Context, id chat.ConversationID, user chat.UserID) (chat.Member, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Member, error) { return s.store.Member(ctx, id, user) })
}

// Members is the store's Members within the deadline.
func (s *Store) Members(ctx context.Context, id chat.ConversationID) ([]chat.UserID, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.UserID, error) { return s.store.Members(ctx, id) })
}

// Contacts is the store's Contacts within the deadline.
func (s *Store) Contacts(ctx context.Context, user chat.UserID) ([]chat.UserID, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.UserID, error) { return s.store.Contacts(ctx, user) })
}

// CreateGroup is the store's CreateGroup within the deadline.
func (s *Store) CreateGroup(ctx context.Context, g chat.NewGroup) (chat.Conversation, []chat.Message, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (chat.Conversation, []chat.Message, error) {
		return s.store.CreateGroup(ctx, g)
	})
}

// RenameGroup is the store's RenameGroup within the deadline.
func (s *Store) RenameGroup(ctx context.Context, id chat.ConversationID, actor chat.UserID, title string, at time.Time) (chat.GroupChange, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.store.RenameGroup(ctx, id, actor, title, at)
	})
}

// AddMember is the store's AddMember within the deadline.
func (s *Store) AddMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, maxMembers int, at time.Time) (chat.GroupChange, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.store.AddMember(ctx, id, actor, user, maxMembers, at)
	})
}

// RemoveMember is the store's RemoveMember within the deadline.
func (s *Store) RemoveMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, at time.Time) (chat.GroupChange, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.store.RemoveMember(ctx, id, actor, user, at)
	})
}

// SetRole is the store's SetRole within the deadline.
func (s *Store) SetRole(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, role chat.Role) (chat.GroupChange, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.store.SetRole(ctx, id, actor, user, role)
	})
}

// ListMembers is the store's ListMembers within the deadline.
func (s *Store) ListMembers(ctx context.Context, id chat.ConversationID, q chat.MemberQuery) ([]chat.MemberInfo, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.MemberInfo, error) { return s.store.ListMembers(ctx, id, q) })
}

// CreateMessage is the store's CreateMessage within the deadline.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.store.CreateMessage(ctx, m) })
}

// CreateMessages is the store's CreateMessages within the deadline.
func (s *Store) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.SendResult, error) { return s.store.CreateMessages(ctx, ms) })
}

// MessageByClientID is the store's MessageByClientID within the deadline.
func (s *Store) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Message, error) {
		return s.store.MessageByClientID(ctx, sender, clientID)
	})
}

// Messages is the store's Messages within the deadline.
func (s *Store) Messages(ctx context.Context, id chat.ConversationID, q chat.MessageQuery) ([]chat.Message, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.Message, error) { return s.store.Messages(ctx, id, q) })
}

// EditMessage is the store's EditMessage within the deadline.
func (s *Store) EditMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.store.EditMessage(ctx, c) })
}

// DeleteMessage is the store's DeleteMessage within the deadline.
func (s *Store) DeleteMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.store.DeleteMessage(ctx, c) })
}

// ExpiredMessages is the store's ExpiredMessages within the deadline.
func (s *Store) ExpiredMessages(ctx context.Context, before time.Time, limit int) ([]chat.MessageRef, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.MessageRef, error) {
		return s.store.ExpiredMessages(ctx, before, limit)
	})
}

// EraseMessages is the store's EraseMessages within the deadline.
func (s *Store) EraseMessages(ctx context.Context, conv chat.ConversationID, seqs []int64, at time.Time) ([]chat.Stored, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.Stored, error) {
		return s.store.EraseMessages(ctx, conv, seqs, at)
	})
}

// MessageChanges is the store's MessageChanges within the deadline.
func (s *Store) MessageChanges(ctx context.Context, id chat.ConversationID, afterVersion int64, limit int) ([]chat.Message, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.Message, error) {
		return s.store.MessageChanges(ctx, id, afterVersion, limit)
	})
}

// SearchMessages is the store's SearchMessages within the deadline.
func (s *Store) SearchMessages(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.SearchHit, error) { return s.store.SearchMessages(ctx, q) })
}

// MarkRead is the store's MarkRead within the deadline.
func (s *Store) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.ReadMark, error) { return s.store.MarkRead(ctx, id, user, seq) })
}

// BindSession is the store's BindSession within the deadline.
func (s *Store) BindSession(ctx context.Context, user chat.UserID, key string, deadline time.Time) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.store.BindSession(ctx, user, key, deadline) })
}

// StartSession is the store's StartSession within the deadline.
func (s *Store) StartSession(ctx context.Context, user chat.UserID, key string, deadline time.Time, passwordHash string) (bool, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (bool, error) {
		return s.store.StartSession(ctx, user, key, deadline, passwordHash)
	})
}

// EndSessions is the store's EndSessions within the deadline.
func (s *Store) EndSessions(ctx context.Context, user chat.UserID, except string) ([]string, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]string, error) { return s.store.EndSessions(ctx, user, except) })
}

// TouchSession is the store's TouchSession within the deadline.
func (s *Store) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (time.Time, bool, error) { return s.store.TouchSession(ctx, key, expiry) })
}

// Ping is the store's Ping within the deadline.
func (s *Store) Ping(ctx context.Context) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.store.Ping(ctx) })
}

// CreateAttachment is the store's CreateAttachment within the deadline.
func (s *Store) CreateAttachment(ctx context.Context, a chat.Attachment) (chat.Attachment, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Attachment, error) { return s.store.CreateAttachment(ctx, a) })
}

// Attachment is the store's Attachment within the deadline.
func (s *Store) Attachment(ctx context.Context, viewer chat.UserID, id chat.AttachmentID) (chat.Attachment, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Attachment, error) { return s.store.Attachment(ctx, viewer, id) })
}

// DropPendingAttachments is the store's DropPendingAttachments within the
// deadline.
func (s *Store) DropPendingAttachments(ctx context.Context, before time.Time, limit int) (int, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (int, error) { return s.store.DropPendingAttachments(ctx, before, limit) })
}

// DeletedAttachments is the store's DeletedAttachments within the
// deadline.
func (s *Store) DeletedAttachments(ctx context.Context, limit int) ([]chat.Attachment, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.Attachment, error) { return s.store.DeletedAttachments(ctx, limit) })
}

// PurgeAttachments is the store's PurgeAttachments within the deadline.
func (s *Store) PurgeAttachments(ctx context.Context, ids []chat.AttachmentID) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.store.PurgeAttachments(ctx, ids) })
}
