package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// SetDisplayName replaces a user's display name and reads their contacts,
// in one transaction, or ENOTFOUND.
func (s *Store) SetDisplayName(ctx context.Context, id chat.UserID, displayName string) (u chat.User, contacts []chat.UserID, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `
			UPDATE users SET display_name = ?, search_name = ? WHERE id = ? AND closed_at IS NULL
			RETURNING id, username, display_name, created_at`,
			displayName, strings.ToLower(displayName), int64(id),
		).Scan(&u.ID, &u.Username, &u.DisplayName, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.NotFound("user")
		}
		if err != nil {
			return fmt.Errorf("update display name: %w", err)
		}
		u.CreatedAt = fromMicros(created)
		contacts, err = contactsOf(ctx, tx, id)
		return err
	})
	if err != nil {
		return chat.User{}, nil, err
	}
	return u, contacts, nil
}

// contactsOf returns everyone sharing a conversation with user, in
// ascending order, as tx reads them.
func contactsOf(ctx context.Context, tx *sql.Tx, user chat.UserID) ([]chat.UserID, error) {
	ids, err := userIDs(tx.QueryContext(ctx, `
		SELECT DISTINCT o.user_id FROM members m
		JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id != m.user_id
		WHERE m.user_id = ? ORDER BY o.user_id`, int64(user)))
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return ids, nil
}

// BindSession records that the session stored under key belongs to user.
func (s *Store) BindSession(ctx context.Context, user chat.UserID, key string, deadline time.Time) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO user_sessions (token, user_id, deadline) VALUES (?, ?, ?)
		ON CONFLICT (token) DO NOTHING`, key, int64(user), micros(deadline))
	if err != nil {
		return fmt.Errorf("bind session: %w", err)
	}
	return nil
}

// StartSession binds a new session to user if the account is open, not
// deactivated, and its password hash is still passwordHash, in one statement (the single writer
// orders it against password changes and closures).
func (s *Store) StartSession(ctx context.Context, user chat.UserID, key string, deadline time.Time, passwordHash string) (bool, error) {
	res, err := s.write.ExecContext(ctx, `
		INSERT INTO user_sessions (token, user_id, deadline)
		SELECT ?1, id, ?3 FROM users WHERE id = ?2 AND password_hash = ?4 AND closed_at IS NULL AND deactivated_at IS NULL
		ON CONFLICT (token) DO NOTHING`, key, int64(user), micros(deadline), passwordHash)
	if err != nil {
		return false, fmt.Errorf("start session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("start session: %w", err)
	}
	return n == 1, nil
}

// EndSessions ends every session of user but except, in one transaction.
func (s *Store) EndSessions(ctx context.Context, user chat.UserID, except string) (keys []string, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		keys, err = endSessions(ctx, tx, user, except)
		return err
	})
	return keys, err
}

// CloseUser closes an account, ends its sessions and makes it leave every
// group, in one transaction.
func (s *Store) CloseUser(ctx context.Context, id chat.UserID, now time.Time) (closed chat.ClosedAccount, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		u := &closed.User
		var created int64
		err := tx.QueryRowContext(ctx, `
			UPDATE users SET closed_at = ?, display_name = ?, search_name = '', password_hash = '', is_admin = 0
			WHERE id = ? AND closed_at IS NULL
			RETURNING id, username, display_name, created_at`,
			micros(now), chat.ClosedDisplayName, int64(id),
		).Scan(&u.ID, &u.Username, &u.DisplayName, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.NotFound("user")
		}
		if err != nil {
			return fmt.Errorf("close user: %w", err)
		}
		u.CreatedAt, u.Closed = fromMicros(created), true
		// Read before the groups are left, so that their members are
		// among those who hear of the closure.
		if closed.Contacts, err = contactsOf(ctx, tx, id); err != nil {
			return err
		}
		if closed.Groups, err = leaveGroups(ctx, tx, id, now); err != nil {
			return err
		}
		if err := keepSiteAdmin(ctx, tx); err != nil {
			return err
		}
		closed.Sessions, err = endSessions(ctx, tx, id, "")
		return err
	})
	if err != nil {
		return chat.ClosedAccount{}, err
	}
	return closed, nil
}

// inTx runs fn in a write transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one to report
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// endSessions marks every session of user but except ended, deletes them
// from the session store and returns their keys.
func endSessions(ctx context.Context, tx *sql.Tx, user chat.UserID, except string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `
		UPDATE user_sessions SET ended = 1
		WHERE user_id = ? AND token != ? AND NOT ended RETURNING token`, int64(user), except)
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("end sessions: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		DELETE FROM sessions WHERE token IN
		(SELECT token FROM user_sessions WHERE user_id = ? AND token != ?)`, int64(user), except); err != nil {
		return nil, fmt.Errorf("delete sessions: %w", err)
	}
	return keys, nil
}

// TouchSession moves an unexpired session's expiry forward to expiry.
func (s *Store) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	var got int64
	row := s.write.QueryRowContext
	query := `UPDATE sessions SET expiry = max(expiry, ?) WHERE token = ? AND expiry > ? RETURNING expiry`
	if expiry.IsZero() {
		// A check that moves nothing is a read, on the read pool: it must
		// not wait for (or take) the write lock.
		row = s.read.QueryRowContext
		query = `SELECT max(expiry, ?) FROM sessions WHERE token = ? AND expiry > ?`
	}
	err := row(ctx, query, micros(expiry), key, micros(time.Now())).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("touch session: %w", err)
	}
	return fromMicros(got), true, nil
}

// keepSiteAdminQuery makes the earliest open, active account a site admin
// when no open, active admin is left: the site never goes without one
// because its last admin closed their account, as a group never goes
// without an admin because its last one left.
const keepSiteAdminQuery = `
	UPDATE users SET is_admin = 1
	WHERE id = (SELECT min(id) FROM users WHERE closed_at IS NULL AND deactivated_at IS NULL)
	  AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin AND closed_at IS NULL AND deactivated_at IS NULL)`

// keepSiteAdmin runs keepSiteAdminQuery inside tx.
func keepSiteAdmin(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, keepSiteAdminQuery); err != nil {
		return fmt.Errorf("keep a site admin: %w", err)
	}
	return nil
}
