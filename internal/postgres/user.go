package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// CreateUser stores a new user; a username taken in any letter case is
// ECONFLICT (the unique index on lower(username) decides, so two
// concurrent registrations of one name cannot both succeed). The first
// user is an admin (see insertUser).
func (s *Store) CreateUser(ctx context.Context, u chat.User, passwordHash string) (created chat.User, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		created, err = insertUser(ctx, tx, u, passwordHash)
		return err
	})
	return created, err
}

// firstUserLock is the transaction-scoped advisory lock key that orders
// inserts into an empty users table.
const firstUserLock = 0x70617273_6c657931 // "parsley1"

// insertUser inserts u in tx, an admin when there is no user yet. While
// the table looks empty, inserters take firstUserLock first: each waits
// for the one before to commit, and its INSERT, a later statement with a
// later snapshot (READ COMMITTED), then sees that user. Once the table
// has a user it never empties (closed accounts keep their rows), so the
// lock is not taken again.
func insertUser(ctx context.Context, tx pgx.Tx, u chat.User, passwordHash string) (chat.User, error) {
	var some bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&some); err != nil {
		return chat.User{}, fmt.Errorf("count users: %w", err)
	}
	if !some {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(firstUserLock)); err != nil {
			return chat.User{}, fmt.Errorf("first user lock: %w", err)
		}
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO users (username, display_name, search_name, password_hash, created_at, is_admin)
		VALUES ($1, $2, $3, $4, $5, NOT EXISTS (SELECT 1 FROM users)) RETURNING id, created_at, is_admin`,
		u.Username, u.DisplayName, strings.ToLower(u.DisplayName), passwordHash, u.CreatedAt,
	).Scan(&u.ID, &u.CreatedAt, &u.Admin)
	if isUnique(err, "") {
		return chat.User{}, chat.Errorf(chat.ECONFLICT, "username %q is taken", u.Username)
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id chat.UserID, passwordHash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND closed_at IS NULL`, passwordHash, int64(id))
	if err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chat.NotFound("user")
	}
	return nil
}

// UserByID returns a user, or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id chat.UserID) (chat.User, error) {
	u, _, err := s.user(ctx, `WHERE id = $1`, int64(id))
	return u, err
}

// UserCredentials returns an open account and its password hash, or
// ENOTFOUND.
// The name matches in any letter case, as SQLite's NOCASE column does, and
// the lookup uses the unique index on lower(username).
func (s *Store) UserCredentials(ctx context.Context, username string) (chat.User, string, error) {
	return s.user(ctx, `WHERE lower(username) = lower($1) AND closed_at IS NULL`, username)
}

func (s *Store) user(ctx context.Context, where string, arg any) (chat.User, string, error) {
	var (
		u    chat.User
		hash string
	)
	err := s.pool.QueryRow(ctx,
		`SELECT id, username, display_name, password_hash, created_at, closed_at IS NOT NULL, is_admin, deactivated_at IS NOT NULL FROM users `+where, arg,
	).Scan(&u.ID, &u.Username, &u.DisplayName, &hash, &u.CreatedAt, &u.Closed, &u.Admin, &u.Deactivated)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.User{}, "", chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, "", fmt.Errorf("select user: %w", err)
	}
	return u, hash, nil
}

// SearchUsers returns a page of users ordered by username. Matching uses
// strpos on lower-cased text rather than LIKE: no wildcards to escape, and
// the display name was lower-cased in Go, so the server's locale does not
// matter.
func (s *Store) SearchUsers(ctx context.Context, q chat.UserQuery) ([]chat.User, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, username, display_name, created_at FROM users
		WHERE username > $1 AND id <> $2 AND closed_at IS NULL
		  AND ($3 = '' OR strpos(lower(username), $3) > 0 OR strpos(search_name, $3) > 0)
		ORDER BY username
		LIMIT $4`,
		strings.ToLower(q.After), int64(q.Exclude), strings.ToLower(q.Search), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.User, error) {
		var u chat.User
		err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.CreatedAt)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return users, nil
}
