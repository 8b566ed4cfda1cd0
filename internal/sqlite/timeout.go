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

// Sessions returns the session store, guarded as the store is (the same
// deadline, breaker and outage log), in the shape scs asks.
func (g *Guarded) Sessions() chat.Sessions {
	return chat.Sessions{SessionStore: g.Guard().Sessions(&SessionStore{store: g.store})}
}
