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

// FindExpiryCtx is FindCtx that also returns the session's expiry as
// stored, so that a caller can tell whether committing it again would move
// anything (see the web server's session store). found is false, with a
// nil error, when no unexpired session is stored under token.
func (ss *SessionStore) FindExpiryCtx(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error) {
	err = ss.store.pool.QueryRow(ctx,
		`SELECT data, expiry FROM sessions WHERE token = $1 AND expiry > $2`, token, time.Now()).Scan(&data, &expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("find session: %w", err)
	}
	return data, expiry, true, nil
}

// CommitCtx stores a session, replacing any with the same token, unless the
// session was ended (see Store.EndSessions): a request that loaded it before
// it ended must not bring it back when it commits. The session's binding
// row is held (FOR SHARE) until the session row is written: ending the
// sessions waits for this statement and then deletes what it wrote, or
// this statement waits for the ending and then sees the session ended.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	_, err := ss.store.pool.Exec(ctx, `
		WITH binding AS (
			SELECT ended FROM user_sessions WHERE token = $1::text FOR SHARE
		)
		INSERT INTO sessions (token, data, expiry)
		SELECT $1::text, $2::bytea, $3::timestamptz
		WHERE NOT EXISTS (SELECT 1 FROM binding WHERE ended)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		token, data, expiry)
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session, for good: it is marked ended, so that a
// request still under way with it cannot store it again. An unknown token
// is not an error.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE user_sessions SET ended = true WHERE token = $1`, token)
	b.Queue(`DELETE FROM sessions WHERE token = $1`, token)
	if err := ss.store.pool.SendBatch(ctx, b).Close(); err != nil {
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
			// Past its deadline no session can be stored or found again.
			if _, err := ss.store.pool.Exec(ctx, `DELETE FROM user_sessions WHERE deadline <= $1`, time.Now()); err != nil && ctx.Err() == nil {
				logger.Error("delete expired user sessions", "err", err)
			}
		}
	}
}
