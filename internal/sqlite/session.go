package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// SessionStore keeps HTTP sessions in the same database, in the shape
// github.com/alexedwards/scs/v2 asks of a store (its Store and CtxStore
// interfaces).
type SessionStore struct {
	store *Store
}

// Sessions returns the store's session store.
func (s *Store) Sessions() *SessionStore { return &SessionStore{store: s} }

// FindCtx returns the data of an unexpired session.
func (ss *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := ss.store.read.QueryRowContext(ctx,
		`SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, micros(time.Now())).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
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
	var at int64
	err = ss.store.read.QueryRowContext(ctx,
		`SELECT data, expiry FROM sessions WHERE token = ? AND expiry > ?`, token, micros(time.Now())).Scan(&data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("find session: %w", err)
	}
	return data, fromMicros(at), true, nil
}

// CommitCtx stores a session, replacing any with the same token, unless the
// session was ended (see Store.EndSessions): a request that loaded it before
// it ended must not bring it back when it commits.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	_, err := ss.store.write.ExecContext(ctx, `
		INSERT INTO sessions (token, data, expiry)
		SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM user_sessions WHERE token = ?1 AND ended)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		token, data, micros(expiry))
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session, for good: it is marked ended, so that a
// request still under way with it cannot store it again.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	// Marked first: a commit between the two statements stores nothing.
	if _, err := ss.store.write.ExecContext(ctx, `UPDATE user_sessions SET ended = 1 WHERE token = ?`, token); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if _, err := ss.store.write.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
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

// Run deletes expired sessions every interval until ctx ends.
func (ss *SessionStore) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := ss.store.write.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, micros(time.Now()))
			if err != nil {
				if ctx.Err() == nil {
					logger.Error("delete expired sessions", "err", err)
				}
				continue
			}
			if n, _ := res.RowsAffected(); n > 0 {
				logger.Debug("deleted expired sessions", "count", n)
			}
			// Past its deadline no session can be stored or found again.
			if _, err := ss.store.write.ExecContext(ctx, `DELETE FROM user_sessions WHERE deadline <= ?`, micros(time.Now())); err != nil && ctx.Err() == nil {
				logger.Error("delete expired user sessions", "err", err)
			}
		}
	}
}
