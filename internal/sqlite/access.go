package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// CreateInvitedUser stores a new user and counts a use of the invitation
// in one transaction; the single writer orders concurrent ones.
func (s *Store) CreateInvitedUser(ctx context.Context, u chat.User, passwordHash, tokenHash string, now time.Time) (created chat.User, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE invitations SET uses = uses + 1
			WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ? AND uses < max_uses`,
			tokenHash, micros(now))
		if err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("use invitation: %w", err)
			}
			return chat.Errorf(chat.EFORBIDDEN, "this invitation is not valid: it may have expired, been revoked or been used up")
		}
		created, err = insertUser(ctx, tx, u, passwordHash)
		return err
	})
	if err != nil {
		return chat.User{}, err
	}
	return created, nil
}

// SetAdmin makes an open account a site admin or not; not the last
// active one (chat.ErrLastAdmin).
func (s *Store) SetAdmin(ctx context.Context, id chat.UserID, admin bool) (u chat.User, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if !admin {
			if err := keepAnAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		u, err = scanAccount(tx.QueryRowContext(ctx, `
			UPDATE users SET is_admin = ? WHERE id = ? AND closed_at IS NULL RETURNING `+accountColumns, admin, int64(id)))
		return err
	})
	if err != nil {
		return chat.User{}, err
	}
	return u, nil
}

// keepAnAdmin refuses (chat.ErrLastAdmin) to take account id away from
// the site's open, active admins when it is the last of them. It runs in
// the change's write transaction: the single writer orders concurrent
// changes, so the second sees the first's result.
func keepAnAdmin(ctx context.Context, tx *sql.Tx, id chat.UserID) error {
	var target, admins int
	err := tx.QueryRowContext(ctx, `
		SELECT coalesce(sum(id = ?), 0), count(*) FROM users
		WHERE is_admin AND closed_at IS NULL AND deactivated_at IS NULL`, int64(id)).Scan(&target, &admins)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if target == 1 && admins == 1 {
		return chat.ErrLastAdmin()
	}
	return nil
}

// ReactivateUser clears an open account's deactivation.
func (s *Store) ReactivateUser(ctx context.Context, id chat.UserID) (chat.User, error) {
	return s.updateAccount(ctx, `SET deactivated_at = NULL WHERE id = ?1 AND closed_at IS NULL`, int64(id))
}

// DeactivateUser deactivates an open account and ends its sessions, in one
// transaction; not the last active admin (chat.ErrLastAdmin).
func (s *Store) DeactivateUser(ctx context.Context, id chat.UserID, now time.Time) (u chat.User, keys []string, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := keepAnAdmin(ctx, tx, id); err != nil {
			return err
		}
		u, err = scanAccount(tx.QueryRowContext(ctx, `
			UPDATE users SET deactivated_at = coalesce(deactivated_at, ?)
			WHERE id = ? AND closed_at IS NULL RETURNING `+accountColumns, micros(now), int64(id)))
		if err != nil {
			return err
		}
		keys, err = endSessions(ctx, tx, id, "")
		return err
	})
	if err != nil {
		return chat.User{}, nil, err
	}
	return u, keys, nil
}

// accountColumns are what scanAccount reads.
const accountColumns = `id, username, display_name, created_at, closed_at IS NOT NULL, is_admin, deactivated_at IS NOT NULL`

type rowScanner interface{ Scan(dest ...any) error }

// scanAccount reads accountColumns; no row is ENOTFOUND.
func scanAccount(row rowScanner) (chat.User, error) {
	var (
		u       chat.User
		created int64
	)
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &created, &u.Closed, &u.Admin, &u.Deactivated)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.User{}, chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("account: %w", err)
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// updateAccount runs UPDATE users with set (a SET … WHERE … clause) and
// returns the row it changed.
func (s *Store) updateAccount(ctx context.Context, set string, args ...any) (chat.User, error) {
	return scanAccount(s.write.QueryRowContext(ctx, `UPDATE users `+set+` RETURNING `+accountColumns, args...))
}

// Accounts returns a page of every account in ID order.
func (s *Store) Accounts(ctx context.Context, q chat.AccountQuery) ([]chat.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var users []chat.User
	for rows.Next() {
		u, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// invitationColumns are what scanInvitation reads.
const invitationColumns = `id, token_hash, coalesce(created_by, 0), created_at, expires_at, max_uses, uses, coalesce(revoked_at, 0)`

// scanInvitation reads invitationColumns; no row is ENOTFOUND.
func scanInvitation(row rowScanner) (chat.Invitation, error) {
	var (
		inv                       chat.Invitation
		created, expires, revoked int64
	)
	err := row.Scan(&inv.ID, &inv.TokenHash, &inv.CreatedBy, &created, &expires, &inv.MaxUses, &inv.Uses, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Invitation{}, chat.NotFound("invitation")
	}
	if err != nil {
		return chat.Invitation{}, fmt.Errorf("invitation: %w", err)
	}
	inv.CreatedAt, inv.ExpiresAt = fromMicros(created), fromMicros(expires)
	if revoked != 0 {
		inv.RevokedAt = fromMicros(revoked)
	}
	return inv, nil
}

// CreateInvitation stores an invitation.
func (s *Store) CreateInvitation(ctx context.Context, inv chat.Invitation) (chat.Invitation, error) {
	var by any
	if inv.CreatedBy != 0 {
		by = int64(inv.CreatedBy)
	}
	return scanInvitation(s.write.QueryRowContext(ctx, `
		INSERT INTO invitations (token_hash, created_by, created_at, expires_at, max_uses)
		VALUES (?, ?, ?, ?, ?) RETURNING `+invitationColumns,
		inv.TokenHash, by, micros(inv.CreatedAt), micros(inv.ExpiresAt), inv.MaxUses))
}

// Invitations returns a page of invitations in ID order.
func (s *Store) Invitations(ctx context.Context, q chat.InvitationQuery) ([]chat.Invitation, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id > ? ORDER BY id LIMIT ?`, int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("invitations: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var invs []chat.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		invs = append(invs, inv)
	}
	return invs, rows.Err()
}

// RevokeInvitation marks an invitation revoked.
func (s *Store) RevokeInvitation(ctx context.Context, id chat.InvitationID, now time.Time) (chat.Invitation, error) {
	return scanInvitation(s.write.QueryRowContext(ctx, `
		UPDATE invitations SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?
		RETURNING `+invitationColumns, micros(now), int64(id)))
}
