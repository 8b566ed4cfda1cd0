package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// SessionStore keeps HTTP sessions in the same database (see
// chat.SessionStore).
type SessionStore struct {
	store *Store
}

var _ chat.SessionStore = (*SessionStore)(nil)

// Sessions returns the store's session store, in the shape scs asks.
func (s *Store) Sessions() chat.Sessions { return chat.Sessions{SessionStore: &SessionStore{store: s}} }

const findSessionQuery = `SELECT data, expiry FROM sessions WHERE token = ? AND expiry > ?`

// FindExpiryCtx returns the data of an unexpired session and its expiry as
// stored, so that a caller can tell whether committing it again would move
// anything (see the web server's session store). found is false, with a
// nil error, when no unexpired session is stored under token. Expiry is
// judged by this process's clock, the one scs computed it with.
func (ss *SessionStore) FindExpiryCtx(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error) {
	var at int64
	err = ss.store.sessionStmt.QueryRowContext(ctx, token, micros(time.Now())).Scan(&data, &at)
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

// DeleteExpired deletes the sessions expired at now and the user
// bindings past their deadline.
func (ss *SessionStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	res, err := ss.store.write.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected() // SQLite always knows it
	// Past its deadline no session can be stored or found again.
	if _, err := ss.store.write.ExecContext(ctx, `DELETE FROM user_sessions WHERE deadline <= ?`, micros(now)); err != nil {
		return n, fmt.Errorf("delete expired user sessions: %w", err)
	}
	return n, nil
}
