package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/parleychat/parley/internal/chat"
)

// DefaultTimeout is how long one call of a Guarded store may take when
// Options.Timeout does not say.
const DefaultTimeout = 5 * time.Second

// Guarded is the Store as the server uses it: every chat.Store call runs
// within a deadline (Options.Timeout), and ends EUNAVAILABLE
// (chat.Unavailable, "the database") when the database cannot answer —
// locked, full, read-only, failing its I/O or past the deadline — rather
// than as an internal error; an outage is logged once per 10 s, and its end
// once (see chat.OutageLog). After two calls in a row ran out the deadline
// (a stalled database), calls end EUNAVAILABLE at once for a second, then
// one is tried, and so on until one answers: a stall costs each caller at
// most one deadline, not one per call it makes. The Store's other methods (Run, Close) are its
// own.
type Guarded struct {
	*Store
	guard *guard
}

var _ chat.Store = (*Guarded)(nil)

// guard runs store calls within the deadline and classifies their errors.
type guard struct {
	timeout time.Duration
	outages *chat.OutageLog
	// stalled stops calling a database whose calls run out their
	// deadline: after two in a row, calls fail at once for a second, then
	// one is tried. Without it, while the database stalls every call waits
	// the whole deadline, and a WebSocket's frames, carried out one after
	// another, wait it once each.
	stalled *gobreaker.CircuitBreaker[struct{}]
}

// errNotTried is the cause of a call refused at once because the
// database's last calls ran out their deadline.
var errNotTried = errors.New("not tried: the database's last calls ran out their deadline")

// outageLogEvery is how often, at most, a database outage is logged.
const outageLogEvery = 10 * time.Second

func newGuard(opts Options) *guard {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &guard{
		timeout: timeout,
		outages: chat.NewOutageLog(opts.Logger, "database", outageLogEvery),
		stalled: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "database",
			Timeout:     time.Second,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 },
		}),
	}
}

// run calls f with ctx bounded by the deadline and returns its error
// classified, noting in the outage log whether the database answered.
func (g *guard) run(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, g.timeout, errTimeout)
	defer cancel()
	var err error
	_, refused := g.stalled.Execute(func() (struct{}, error) {
		err = classify(ctx, f(ctx))
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeout) {
			return struct{}{}, err // a stall: only these open the breaker
		}
		return struct{}{}, nil
	})
	if errors.Is(refused, gobreaker.ErrOpenState) || errors.Is(refused, gobreaker.ErrTooManyRequests) {
		err = chat.Unavailable("the database", errNotTried)
	}
	switch {
	case chat.ErrorCode(err) == chat.EUNAVAILABLE:
		g.outages.Failed(ctx, err)
	case err == nil || ctx.Err() == nil:
		// An answer, if a refusal: the database is there. A call the
		// caller gave up on says nothing either way.
		g.outages.Answered(ctx)
	}
	return err
}

func guard0(g *guard, ctx context.Context, f func(context.Context) error) error {
	return g.run(ctx, f)
}

func guard1[A any](g *guard, ctx context.Context, f func(context.Context) (A, error)) (A, error) {
	var a A
	err := g.run(ctx, func(ctx context.Context) (err error) {
		a, err = f(ctx)
		return err
	})
	return a, err
}

func guard2[A, B any](g *guard, ctx context.Context, f func(context.Context) (A, B, error)) (A, B, error) {
	var (
		a A
		b B
	)
	err := g.run(ctx, func(ctx context.Context) (err error) {
		a, b, err = f(ctx)
		return err
	})
	return a, b, err
}

func guard3[A, B, C any](g *guard, ctx context.Context, f func(context.Context) (A, B, C, error)) (A, B, C, error) {
	var (
		a A
		b B
		c C
	)
	err := g.run(ctx, func(ctx context.Context) (err error) {
		a, b, c, err = f(ctx)
		return err
	})
	return a, b, c, err
}

// GuardedSessions is the SessionStore with the Guarded store's deadline
// and classification on every call that takes a context (Run aside, which
// runs until its context ends). Keep it in step with SessionStore:
// TestGuardedCoversStore fails for a method left to it.
type GuardedSessions struct {
	*SessionStore
	guard *guard
}

// Sessions returns the session store, guarded as the store is.
func (g *Guarded) Sessions() *GuardedSessions {
	return &GuardedSessions{SessionStore: g.Store.Sessions(), guard: g.guard}
}

// FindCtx is SessionStore.FindCtx within the deadline.
func (s *GuardedSessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) ([]byte, bool, error) { return s.SessionStore.FindCtx(ctx, token) })
}

// FindExpiryCtx is SessionStore.FindExpiryCtx within the deadline.
func (s *GuardedSessions) FindExpiryCtx(ctx context.Context, token string) ([]byte, time.Time, bool, error) {
	return guard3(s.guard, ctx, func(ctx context.Context) ([]byte, time.Time, bool, error) {
		return s.SessionStore.FindExpiryCtx(ctx, token)
	})
}

// CommitCtx is SessionStore.CommitCtx within the deadline.
func (s *GuardedSessions) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	return guard0(s.guard, ctx, func(ctx context.Context) error { return s.SessionStore.CommitCtx(ctx, token, data, expiry) })
}

// DeleteCtx is SessionStore.DeleteCtx within the deadline.
func (s *GuardedSessions) DeleteCtx(ctx context.Context, token string) error {
	return guard0(s.guard, ctx, func(ctx context.Context) error { return s.SessionStore.DeleteCtx(ctx, token) })
}

// Find is FindCtx without a context, for scs.Store.
func (s *GuardedSessions) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (s *GuardedSessions) Commit(token string, data []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, data, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (s *GuardedSessions) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// The chat.Store methods, each within the deadline. Keep them in step with
// chat.Store: TestGuardedCoversStore fails for one left to the Store.

// CreateUser is Store.CreateUser within the deadline.
func (s *Guarded) CreateUser(ctx context.Context, u chat.User, passwordHash string) (chat.User, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.Store.CreateUser(ctx, u, passwordHash) })
}

// UserByID is Store.UserByID within the deadline.
func (s *Guarded) UserByID(ctx context.Context, id chat.UserID) (chat.User, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.Store.UserByID(ctx, id) })
}

// UserCredentials is Store.UserCredentials within the deadline.
func (s *Guarded) UserCredentials(ctx context.Context, username string) (chat.User, string, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) (chat.User, string, error) { return s.Store.UserCredentials(ctx, username) })
}

// CloseUser is Store.CloseUser within the deadline.
func (s *Guarded) CloseUser(ctx context.Context, id chat.UserID, now time.Time) (chat.ClosedAccount, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.ClosedAccount, error) { return s.Store.CloseUser(ctx, id, now) })
}

// SetPasswordHash is Store.SetPasswordHash within the deadline.
func (s *Guarded) SetPasswordHash(ctx context.Context, id chat.UserID, passwordHash string) error {
	return guard0(s.guard, ctx, func(ctx context.Context) error { return s.Store.SetPasswordHash(ctx, id, passwordHash) })
}

// SetDisplayName is Store.SetDisplayName within the deadline.
func (s *Guarded) SetDisplayName(ctx context.Context, id chat.UserID, displayName string) (chat.User, []chat.UserID, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) (chat.User, []chat.UserID, error) {
		return s.Store.SetDisplayName(ctx, id, displayName)
	})
}

// SearchUsers is Store.SearchUsers within the deadline.
func (s *Guarded) SearchUsers(ctx context.Context, q chat.UserQuery) ([]chat.User, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.User, error) { return s.Store.SearchUsers(ctx, q) })
}

// DirectConversation is Store.DirectConversation within the deadline.
func (s *Guarded) DirectConversation(ctx context.Context, a, b chat.UserID, now time.Time) (chat.Conversation, bool, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) (chat.Conversation, bool, error) {
		return s.Store.DirectConversation(ctx, a, b, now)
	})
}

// Conversations is Store.Conversations within the deadline.
func (s *Guarded) Conversations(ctx context.Context, q chat.ConversationQuery) ([]chat.ConversationSummary, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.ConversationSummary, error) { return s.Store.Conversations(ctx, q) })
}

// Conversation is Store.Conversation within the deadline.
func (s *Guarded) Conversation(ctx context.Context, user chat.UserID, id chat.ConversationID) (chat.ConversationSummary, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.ConversationSummary, error) {
		return s.Store.Conversation(ctx, user, id)
	})
}

// Member is Store.Member within the deadline.
func (s *Guarded) Member(ctx context.Context, id chat.ConversationID, user chat.UserID) (chat.Member, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.Member, error) { return s.Store.Member(ctx, id, user) })
}

// Members is Store.Members within the deadline.
func (s *Guarded) Members(ctx context.Context, id chat.ConversationID) ([]chat.UserID, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.UserID, error) { return s.Store.Members(ctx, id) })
}

// Contacts is Store.Contacts within the deadline.
func (s *Guarded) Contacts(ctx context.Context, user chat.UserID) ([]chat.UserID, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.UserID, error) { return s.Store.Contacts(ctx, user) })
}

// CreateGroup is Store.CreateGroup within the deadline.
func (s *Guarded) CreateGroup(ctx context.Context, g chat.NewGroup) (chat.Conversation, []chat.Message, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) (chat.Conversation, []chat.Message, error) {
		return s.Store.CreateGroup(ctx, g)
	})
}

// RenameGroup is Store.RenameGroup within the deadline.
func (s *Guarded) RenameGroup(ctx context.Context, id chat.ConversationID, actor chat.UserID, title string, at time.Time) (chat.GroupChange, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.Store.RenameGroup(ctx, id, actor, title, at)
	})
}

// AddMember is Store.AddMember within the deadline.
func (s *Guarded) AddMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, maxMembers int, at time.Time) (chat.GroupChange, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.Store.AddMember(ctx, id, actor, user, maxMembers, at)
	})
}

// RemoveMember is Store.RemoveMember within the deadline.
func (s *Guarded) RemoveMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, at time.Time) (chat.GroupChange, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.Store.RemoveMember(ctx, id, actor, user, at)
	})
}

// SetRole is Store.SetRole within the deadline.
func (s *Guarded) SetRole(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, role chat.Role) (chat.GroupChange, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.GroupChange, error) {
		return s.Store.SetRole(ctx, id, actor, user, role)
	})
}

// ListMembers is Store.ListMembers within the deadline.
func (s *Guarded) ListMembers(ctx context.Context, id chat.ConversationID, q chat.MemberQuery) ([]chat.MemberInfo, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.MemberInfo, error) { return s.Store.ListMembers(ctx, id, q) })
}

// CreateMessage is Store.CreateMessage within the deadline.
func (s *Guarded) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.Store.CreateMessage(ctx, m) })
}

// MessageByClientID is Store.MessageByClientID within the deadline.
func (s *Guarded) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.Message, error) {
		return s.Store.MessageByClientID(ctx, sender, clientID)
	})
}

// Messages is Store.Messages within the deadline.
func (s *Guarded) Messages(ctx context.Context, id chat.ConversationID, q chat.MessageQuery) ([]chat.Message, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.Message, error) { return s.Store.Messages(ctx, id, q) })
}

// EditMessage is Store.EditMessage within the deadline.
func (s *Guarded) EditMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.Store.EditMessage(ctx, c) })
}

// DeleteMessage is Store.DeleteMessage within the deadline.
func (s *Guarded) DeleteMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.Stored, error) { return s.Store.DeleteMessage(ctx, c) })
}

// MessageChanges is Store.MessageChanges within the deadline.
func (s *Guarded) MessageChanges(ctx context.Context, id chat.ConversationID, afterVersion int64, limit int) ([]chat.Message, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.Message, error) {
		return s.Store.MessageChanges(ctx, id, afterVersion, limit)
	})
}

// SearchMessages is Store.SearchMessages within the deadline.
func (s *Guarded) SearchMessages(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]chat.SearchHit, error) { return s.Store.SearchMessages(ctx, q) })
}

// MarkRead is Store.MarkRead within the deadline.
func (s *Guarded) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (chat.ReadMark, error) { return s.Store.MarkRead(ctx, id, user, seq) })
}

// BindSession is Store.BindSession within the deadline.
func (s *Guarded) BindSession(ctx context.Context, user chat.UserID, key string, deadline time.Time) error {
	return guard0(s.guard, ctx, func(ctx context.Context) error { return s.Store.BindSession(ctx, user, key, deadline) })
}

// StartSession is Store.StartSession within the deadline.
func (s *Guarded) StartSession(ctx context.Context, user chat.UserID, key string, deadline time.Time, passwordHash string) (bool, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) (bool, error) {
		return s.Store.StartSession(ctx, user, key, deadline, passwordHash)
	})
}

// EndSessions is Store.EndSessions within the deadline.
func (s *Guarded) EndSessions(ctx context.Context, user chat.UserID, except string) ([]string, error) {
	return guard1(s.guard, ctx, func(ctx context.Context) ([]string, error) { return s.Store.EndSessions(ctx, user, except) })
}

// TouchSession is Store.TouchSession within the deadline.
func (s *Guarded) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	return guard2(s.guard, ctx, func(ctx context.Context) (time.Time, bool, error) { return s.Store.TouchSession(ctx, key, expiry) })
}

// Ping is Store.Ping within the deadline.
func (s *Guarded) Ping(ctx context.Context) error {
	return guard0(s.guard, ctx, func(ctx context.Context) error { return s.Store.Ping(ctx) })
}
