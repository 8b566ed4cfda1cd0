package sqlite

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/storeguard"
)

// DefaultTimeout is how long one call of a Guarded store may take when
// Options.Timeout does not say.
const DefaultTimeout = 5 * time.Second

// Guarded is the Store as the server uses it: every chat.Store call runs
// within a deadline (Options.Timeout), and ends EUNAVAILABLE
// (chat.Unavailable, "the database") when the database cannot answer —
// see classify — rather than as an internal error; an outage is logged
// once per 10 s, and its end once (see chat.OutageLog). After two calls in
// a row ran out the deadline (a stalled database), calls end EUNAVAILABLE
// at once for a second, then one is tried, and so on until one answers: a
// stall costs each caller at most one deadline, not one per call it makes
// (see storeguard.Guard). The Store's other methods (Run, Close, Writable) are its
// own, without the deadline.
type Guarded struct {
	// Store gives the chat.Store methods, each run by the guard; the
	// store itself is not embedded, so that none of its own is promoted
	// in their place.
	*storeguard.Store
	store *Store
}

var _ chat.Store = (*Guarded)(nil)

// newGuard returns the guard of a store opened with opts.
func newGuard(opts Options) *storeguard.Guard {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return storeguard.NewGuard(storeguard.Config{
		Timeout:      timeout,
		Logger:       opts.Logger,
		Classify:     classify,
		TimeoutCause: errTimeout,
	})
}

// newGuarded returns s with its calls run by g.
func newGuarded(s *Store, g *storeguard.Guard) *Guarded {
	return &Guarded{Store: storeguard.New(s, g), store: s}
}

// Close is Store.Close.
func (g *Guarded) Close() error { return g.store.Close() }

// Writable is Store.Writable, without the deadline: its caller gives one.
func (g *Guarded) Writable(ctx context.Context) error { return g.store.Writable(ctx) }

// GuardedSessions is the SessionStore with the Guarded store's deadline
// and classification on every call that takes a context (Run aside, which
// runs until its context ends). Keep it in step with SessionStore:
// TestGuardedCoversStore fails for a method left to it.
type GuardedSessions struct {
	*SessionStore
	guard *storeguard.Guard
}

// Sessions returns the session store, guarded as the store is (the same
// deadline, breaker and outage log).
func (g *Guarded) Sessions() *GuardedSessions {
	return &GuardedSessions{SessionStore: g.store.Sessions(), guard: g.Guard()}
}

// FindCtx is SessionStore.FindCtx within the deadline.
func (s *GuardedSessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return storeguard.Do2(s.guard, ctx, func(ctx context.Context) ([]byte, bool, error) { return s.SessionStore.FindCtx(ctx, token) })
}

// FindExpiryCtx is SessionStore.FindExpiryCtx within the deadline.
func (s *GuardedSessions) FindExpiryCtx(ctx context.Context, token string) ([]byte, time.Time, bool, error) {
	return storeguard.Do3(s.guard, ctx, func(ctx context.Context) ([]byte, time.Time, bool, error) {
		return s.SessionStore.FindExpiryCtx(ctx, token)
	})
}

// CommitCtx is SessionStore.CommitCtx within the deadline.
func (s *GuardedSessions) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.SessionStore.CommitCtx(ctx, token, data, expiry) })
}

// DeleteCtx is SessionStore.DeleteCtx within the deadline.
func (s *GuardedSessions) DeleteCtx(ctx context.Context, token string) error {
	return s.guard.Run(ctx, func(ctx context.Context) error { return s.SessionStore.DeleteCtx(ctx, token) })
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
