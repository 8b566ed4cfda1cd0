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

// CreateUser stores a new user; a username taken in any letter case is
// ECONFLICT. The first user is an admin: the single writer makes the
// check and the insert one step.
func (s *Store) CreateUser(ctx context.Context, u chat.User, passwordHash string) (chat.User, error) {
	return insertUser(ctx, s.write, u, passwordHash)
}

// insertUser inserts u, an admin when there is no user yet.
func insertUser(ctx context.Context, db interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, u chat.User, passwordHash string) (chat.User, error) {
	err := db.QueryRowContext(ctx, `
		INSERT INTO users (username, display_name, search_name, password_hash, created_at, is_admin)
		VALUES (?, ?, ?, ?, ?, NOT EXISTS (SELECT 1 FROM users)) RETURNING id, is_admin`,
		u.Username, u.DisplayName, strings.ToLower(u.DisplayName), passwordHash, micros(u.CreatedAt),
	).Scan(&u.ID, &u.Admin)
	if isUnique(err) {
		return chat.User{}, chat.Errorf(chat.ECONFLICT, "username %q is taken", u.Username)
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id chat.UserID, passwordHash string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND closed_at IS NULL`, passwordHash, int64(id))
	if err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return chat.NotFound("user")
	}
	return nil
}

// UserByID returns a user, or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id chat.UserID) (chat.User, error) {
	u, _, err := scanUser(s.userStmt.QueryRowContext(ctx, int64(id)))
	return u, err
}

// UserCredentials returns an open account and its password hash, or
// ENOTFOUND.
func (s *Store) UserCredentials(ctx context.Context, username string) (chat.User, string, error) {
	return s.user(ctx, `WHERE username = ? AND closed_at IS NULL`, username)
}

// userQuery reads a user and their password hash (see scanUser), up to
// its WHERE clause.
const userQuery = `SELECT id, username, display_name, password_hash, created_at, closed_at IS NOT NULL, is_admin, deactivated_at IS NOT NULL FROM users `

func (s *Store) user(ctx context.Context, where string, arg any) (chat.User, string, error) {
	return scanUser(s.read.QueryRowContext(ctx, userQuery+where, arg))
}

// scanUser scans a row of userQuery: the user, their password hash, or
// ENOTFOUND.
func scanUser(row *sql.Row) (chat.User, string, error) {
	var (
		u       chat.User
		hash    string
		created int64
	)
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &hash, &created, &u.Closed, &u.Admin, &u.Deactivated)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.User{}, "", chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, "", fmt.Errorf("select user: %w", err)
	}
	u.CreatedAt = fromMicros(created)
	return u, hash, nil
}

// SearchUsers returns a page of users ordered by username. Matching uses
// instr on lower-cased text rather than LIKE: case-insensitive beyond ASCII,
// and no wildcards to escape.
func (s *Store) SearchUsers(ctx context.Context, q chat.UserQuery) ([]chat.User, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, username, display_name, created_at FROM users
		WHERE username > ? AND id != ? AND closed_at IS NULL
		  AND (?3 = '' OR instr(username, ?3) > 0 OR instr(search_name, ?3) > 0)
		ORDER BY username
		LIMIT ?`,
		strings.ToLower(q.After), int64(q.Exclude), strings.ToLower(q.Search), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	users := make([]chat.User, 0, q.Limit)
	for rows.Next() {
		var (
			u       chat.User
			created int64
		)
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &created); err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		u.CreatedAt = fromMicros(created)
		users = append(users, u)
	}
	return users, rows.Err()
}

// micros is how times are stored: microseconds since the epoch, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }
