package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// SetDisplayName replaces a user's display name, or ENOTFOUND.
func (s *Store) SetDisplayName(ctx context.Context, id chat.UserID, displayName string) (chat.User, error) {
	var u chat.User
	err := s.pool.QueryRow(ctx, `
		UPDATE users SET display_name = $1, search_name = $2 WHERE id = $3 AND closed_at IS NULL
		RETURNING id, username, display_name, created_at`,
		displayName, strings.ToLower(displayName), int64(id),
	).Scan(&u.ID, &u.Username, &u.DisplayName, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.User{}, chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("update display name: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// BindSession records that the session stored under key belongs to user.
func (s *Store) BindSession(ctx context.Context, user chat.UserID, key string, deadline time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO user_sessions (token, user_id, deadline) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO NOTHING`, key, int64(user), deadline)
	if err != nil {
		return fmt.Errorf("bind session: %w", err)
	}
	return nil
}

// StartSession binds a new session to user if the account is open and its
// password hash is still passwordHash, in one statement. FOR SHARE waits
// for a password change or closure under way to commit and then judges the
// row as it left it.
func (s *Store) StartSession(ctx context.Context, user chat.UserID, key string, deadline time.Time, passwordHash string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		WITH account AS (
			SELECT id FROM users WHERE id = $2 AND password_hash = $4 AND closed_at IS NULL FOR SHARE
		)
		INSERT INTO user_sessions (token, user_id, deadline)
		SELECT $1, id, $3 FROM account
		ON CONFLICT (token) DO NOTHING`, key, int64(user), deadline, passwordHash)
	if err != nil {
		return false, fmt.Errorf("start session: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// EndSessions ends every session of user but except, in one statement.
func (s *Store) EndSessions(ctx context.Context, user chat.UserID, except string) ([]string, error) {
	return endSessions(ctx, s.pool, user, except)
}

// endSessionsQuery marks every session of user ($1) but except ($2) ended,
// deletes them from the session store and returns their keys.
const endSessionsQuery = `
	WITH ended AS (
		UPDATE user_sessions SET ended = true
		WHERE user_id = $1 AND token <> $2 AND NOT ended RETURNING token
	), gone AS (
		DELETE FROM sessions WHERE token IN
		(SELECT token FROM user_sessions WHERE user_id = $1 AND token <> $2)
	)
	SELECT token FROM ended`

func endSessions(ctx context.Context, q querier, user chat.UserID, except string) ([]string, error) {
	rows, err := q.Query(ctx, endSessionsQuery, int64(user), except)
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	return keys, nil
}

// CloseUser closes an account and ends its sessions, in one transaction.
func (s *Store) CloseUser(ctx context.Context, id chat.UserID, now time.Time) (u chat.User, keys []string, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE users SET closed_at = $1, display_name = $2, search_name = '', password_hash = ''
			WHERE id = $3 AND closed_at IS NULL
			RETURNING id, username, display_name, created_at`,
			now, chat.ClosedDisplayName, int64(id),
		).Scan(&u.ID, &u.Username, &u.DisplayName, &u.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return chat.NotFound("user")
		}
		if err != nil {
			return fmt.Errorf("close user: %w", err)
		}
		u.CreatedAt, u.Closed = u.CreatedAt.UTC(), true
		keys, err = endSessions(ctx, tx, id, "")
		return err
	})
	if err != nil {
		return chat.User{}, nil, err
	}
	return u, keys, nil
}

// TouchSession moves an unexpired session's expiry forward to expiry.
// Expiry is judged by this process's clock, as FindCtx judges it.
func (s *Store) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	var got time.Time
	err := s.pool.QueryRow(ctx, `
		UPDATE sessions SET expiry = GREATEST(expiry, $1) WHERE token = $2 AND expiry > $3
		RETURNING expiry`, expiry, key, time.Now()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("touch session: %w", err)
	}
	return got, true, nil
}
