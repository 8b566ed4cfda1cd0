package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// SetDisplayName replaces a user's display name and reads their contacts,
// in one transaction, or ENOTFOUND.
func (s *Store) SetDisplayName(ctx context.Context, id chat.UserID, displayName string) (u chat.User, contacts []chat.UserID, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE users SET display_name = $1, search_name = $2 WHERE id = $3 AND closed_at IS NULL
			RETURNING id, username, display_name, created_at`,
			displayName, strings.ToLower(displayName), int64(id),
		).Scan(&u.ID, &u.Username, &u.DisplayName, &u.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return chat.NotFound("user")
		}
		if err != nil {
			return fmt.Errorf("update display name: %w", err)
		}
		u.CreatedAt = u.CreatedAt.UTC()
		contacts, err = contactsOf(ctx, tx, id)
		return err
	})
	if err != nil {
		return chat.User{}, nil, err
	}
	return u, contacts, nil
}

// contactsOf returns everyone sharing a conversation with user, in
// ascending order, as q reads them.
func contactsOf(ctx context.Context, q querier, user chat.UserID) ([]chat.UserID, error) {
	rows, err := q.Query(ctx, `
		SELECT DISTINCT o.user_id FROM members m
		JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id <> m.user_id
		WHERE m.user_id = $1 ORDER BY o.user_id`, int64(user))
	if err != nil {
		return nil, fmt.Errorf("select contacts: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[chat.UserID])
	if err != nil {
		return nil, fmt.Errorf("select contacts: %w", err)
	}
	return ids, nil
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

// StartSession binds a new session to user if the account is open, not
// deactivated, and its password hash is still passwordHash, in one statement. FOR SHARE waits
// for a password change or closure under way to commit and then judges the
// row as it left it.
func (s *Store) StartSession(ctx context.Context, user chat.UserID, key string, deadline time.Time, passwordHash string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		WITH account AS (
			SELECT id FROM users WHERE id = $2 AND password_hash = $4 AND closed_at IS NULL AND deactivated_at IS NULL FOR SHARE
		)
		INSERT INTO user_sessions (token, user_id, deadline)
		SELECT $1, id, $3 FROM account
		ON CONFLICT (token) DO NOTHING`, key, int64(user), deadline, passwordHash)
	if err != nil {
		return false, fmt.Errorf("start session: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// EndSessions ends every session of user but except, in one transaction.
func (s *Store) EndSessions(ctx context.Context, user chat.UserID, except string) ([]string, error) {
	var keys []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		keys, err = endSessions(ctx, tx, user, except)
		return err
	})
	return keys, err
}

// endSessions marks every session of user but except ended, then deletes
// them from the session store, and returns their keys. It runs in a
// transaction of its caller's, in two statements, because of the way
// SessionStore.CommitCtx races it: a commit holds its binding row (FOR
// SHARE) until its session row is written, so the marking waits for it;
// the deletion, a later statement with a later snapshot (READ COMMITTED),
// then sees that row and deletes it. In one statement the deletion would
// see only what was committed when the statement began, and a session
// committed meanwhile would outlive the end of its user's sessions.
func endSessions(ctx context.Context, tx pgx.Tx, user chat.UserID, except string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		UPDATE user_sessions SET ended = true
		WHERE user_id = $1 AND token <> $2 AND NOT ended RETURNING token`, int64(user), except)
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		DELETE FROM sessions WHERE token IN
		(SELECT token FROM user_sessions WHERE user_id = $1 AND token <> $2)`, int64(user), except); err != nil {
		return nil, fmt.Errorf("delete ended sessions: %w", err)
	}
	return keys, nil
}

// CloseUser closes an account, ends its sessions and makes it leave every
// group, in one transaction.
//
// Locks are taken in the order every other writer takes them: the groups'
// conversation rows first (in ID order), then the users row. A send locks
// its conversation row before its message refers to the sender's row, and
// a group change locks the group's row before it reads an account (FOR
// SHARE), so the reverse order here could deadlock with either. The groups
// are read before the users row is locked; one the user joined in between
// (an add that committed meanwhile) shows in a second read after it, and
// the transaction starts over, so that it never locks a conversation row
// after the users row.
func (s *Store) CloseUser(ctx context.Context, id chat.UserID, now time.Time) (chat.ClosedAccount, error) {
	for attempt := 0; ; attempt++ {
		var closed chat.ClosedAccount
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			groups, err := groupsOf(ctx, tx, id)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE`, groups); err != nil {
				return fmt.Errorf("lock groups: %w", err)
			}
			// The admins' rows first, in the order keepAnAdmin takes
			// them: two admins closing at once take turns, and the second
			// sees whether the first left anyone admin (keepSiteAdmin).
			if _, err := tx.Exec(ctx, `
				SELECT id FROM users WHERE is_admin AND closed_at IS NULL AND deactivated_at IS NULL
				ORDER BY id FOR UPDATE`); err != nil {
				return fmt.Errorf("lock admins: %w", err)
			}
			u := &closed.User
			err = tx.QueryRow(ctx, `
				UPDATE users SET closed_at = $1, display_name = $2, search_name = '', password_hash = '', is_admin = false
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
			// From here no add can make the user a member: adds check the
			// account (FOR SHARE) and now wait for this transaction.
			again, err := groupsOf(ctx, tx, id)
			if err != nil {
				return err
			}
			if !slices.Equal(again, groups) {
				return errGroupsMoved
			}
			// Read before the groups are left, so that their members are
			// among those who hear of the closure.
			if closed.Contacts, err = contactsOf(ctx, tx, id); err != nil {
				return err
			}
			for _, g := range groups {
				ch, err := removeMember(ctx, tx, chat.ConversationID(g), id, id, chat.SystemLeft, now)
				if err != nil {
					return err
				}
				closed.Groups = append(closed.Groups, ch)
			}
			// The site never goes without an admin because its last one
			// closed their account, as a group never goes without one
			// because its last one left: the earliest open, active
			// account becomes one.
			if _, err := tx.Exec(ctx, `
				UPDATE users SET is_admin = true
				WHERE id = (SELECT min(id) FROM users WHERE closed_at IS NULL AND deactivated_at IS NULL)
				  AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin AND closed_at IS NULL AND deactivated_at IS NULL)`); err != nil {
				return fmt.Errorf("keep a site admin: %w", err)
			}
			closed.Sessions, err = endSessions(ctx, tx, id, "")
			return err
		})
		if errors.Is(err, errGroupsMoved) && attempt < maxCloseAttempts {
			continue
		}
		if err != nil {
			return chat.ClosedAccount{}, err
		}
		return closed, nil
	}
}

// errGroupsMoved: the user joined a group while their account was being
// closed; the closure starts over.
var errGroupsMoved = errors.New("the account's groups changed while it was being closed")

// maxCloseAttempts bounds how often an account closure starts over because
// the user kept joining groups meanwhile.
const maxCloseAttempts = 10

// groupsOf returns the IDs of the groups user is a member of, in order.
func groupsOf(ctx context.Context, q querier, user chat.UserID) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT m.conversation_id FROM members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = $1 AND c.kind = 'group' ORDER BY m.conversation_id`, int64(user))
	if err != nil {
		return nil, fmt.Errorf("select groups: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("select groups: %w", err)
	}
	return ids, nil
}

// TouchSession moves an unexpired session's expiry forward to expiry.
// Expiry is judged by this process's clock, as FindCtx judges it.
func (s *Store) TouchSession(ctx context.Context, key string, expiry time.Time) (time.Time, bool, error) {
	var got time.Time
	query := `UPDATE sessions SET expiry = GREATEST(expiry, $1) WHERE token = $2 AND expiry > $3 RETURNING expiry`
	if expiry.IsZero() {
		// A check that moves nothing is a read: no row version, no lock.
		query = `SELECT GREATEST(expiry, $1) FROM sessions WHERE token = $2 AND expiry > $3`
	}
	err := s.pool.QueryRow(ctx, query, expiry, key, time.Now()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("touch session: %w", err)
	}
	return got, true, nil
}
