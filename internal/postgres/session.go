package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionStore keeps HTTP sessions in the same database, in the shape
// github.com/alexedwards/scs/v2 asks of a store (its Store and CtxStore
// interfaces), so every node sees every session.
type SessionStore struct {
	store *Store
}

// Sessions returns the store's session store.
func (s *Store) Sessions() *SessionStore { return &SessionStore{store: s} }

// FindCtx returns the data of an unexpired session. Expiry is judged by
// this process's clock, the one scs computed it with, as the SQLite store
// does.
func (ss *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := ss.store.pool.QueryRow(ctx,
		`SELECT data FROM sessions WHERE token = $1 AND expiry > $2`, token, time.Now()).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return data, true, nil
}

// CommitCtx stores a session, replacing any with the same token.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	_, err := ss.store.pool.Exec(ctx, `
		INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		token, data, expiry)
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session; an unknown token is not an error.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if _, err := ss.store.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Find is FindCtx without a context, for scs.Store.
func (ss *SessionStore) Find(token string) ([]byte, bool, error) {
	return ss.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (ss *SessionStore) Commit(token string, data []byte, expiry time.Time) error {
	return ss.CommitCtx(context.Background(), token, data, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (ss *SessionStore) Delete(token string) error {
	return ss.DeleteCtx(context.Background(), token)
}

// Run deletes expired sessions every interval until ctx ends. With several
// nodes each runs its own sweep; the deletes are idempotent, so they need
// no coordination.
func (ss *SessionStore) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tag, err := ss.store.pool.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, time.Now())
			if err != nil {
				if ctx.Err() == nil {
					logger.Error("delete expired sessions", "err", err)
				}
				continue
			}
			if n := tag.RowsAffected(); n > 0 {
				logger.Debug("deleted expired sessions", "count", n)
			}
		}
	}
}
