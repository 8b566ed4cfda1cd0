package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// SessionStore keeps HTTP sessions in the same database, so every node
// sees every session (see chat.SessionStore).
type SessionStore struct {
	store *Store
}

var _ chat.SessionStore = (*SessionStore)(nil)

// Sessions returns the store's session store, in the shape scs asks.
func (s *Store) Sessions() chat.Sessions { return chat.Sessions{SessionStore: &SessionStore{store: s}} }

// FindExpiryCtx returns the data of an unexpired session and its expiry as
// stored, so that a caller can tell whether committing it again would move
// anything (see the web server's session store). found is false, with a
// nil error, when no unexpired session is stored under token. Expiry is
// judged by this process's clock, the one scs computed it with.
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

// DeleteExpired deletes the sessions expired at now and the user
// bindings past their deadline.
func (ss *SessionStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	tag, err := ss.store.pool.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	// Past its deadline no session can be stored or found again.
	if _, err := ss.store.pool.Exec(ctx, `DELETE FROM user_sessions WHERE deadline <= $1`, now); err != nil {
		return tag.RowsAffected(), fmt.Errorf("delete expired user sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
