package chat

import (
	"context"
	"log/slog"
	"time"
)

// SessionStore keeps HTTP sessions in the database, beside the users they
// belong to (see Store.EndSessions). A session's data is opaque here: it is
// what github.com/alexedwards/scs/v2 encodes.
type SessionStore interface {
	// FindExpiryCtx returns the data of the unexpired session token and
	// its expiry as stored; found is false, with a nil error, when there
	// is none.
	FindExpiryCtx(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error)
	// CommitCtx stores a session, replacing any with the same token,
	// unless the session was ended: a request that loaded it before it
	// ended must not bring it back when it commits.
	CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error
	// DeleteCtx removes a session for good: it is marked ended, so that a
	// request still under way with it cannot store it again. An unknown
	// token is not an error.
	DeleteCtx(ctx context.Context, token string) error
	// DeleteExpired deletes the sessions expired at now, and forgets whose
	// were the sessions past their absolute deadline; it returns how many
	// sessions it deleted. It is idempotent: several nodes may sweep at
	// once.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// Sessions gives a SessionStore the shape scs asks of a store (its Store
// and CtxStore interfaces) and sweeps it (Run).
type Sessions struct {
	SessionStore
}

// FindCtx returns the data of an unexpired session.
func (s Sessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	data, _, found, err := s.FindExpiryCtx(ctx, token)
	return data, found, err
}

// Find is FindCtx without a context, for scs.Store.
func (s Sessions) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (s Sessions) Commit(token string, data []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, data, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (s Sessions) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// Run deletes expired sessions every interval until ctx ends.
func (s Sessions) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.DeleteExpired(ctx, time.Now())
			if err != nil {
				if ctx.Err() == nil {
					logger.Error("delete expired sessions", "err", err)
				}
				continue
			}
			if n > 0 {
				logger.Debug("deleted expired sessions", "count", n)
			}
		}
	}
}
