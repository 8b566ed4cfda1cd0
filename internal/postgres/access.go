package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// CreateInvitedUser stores a new user and counts a use of the invitation
// in one transaction. The UPDATE locks the invitation's row: a concurrent
// registration with it waits, then finds the row as this one left it and
// judges uses < max_uses again, so MaxUses is never passed.
func (s *Store) CreateInvitedUser(ctx context.Context, u chat.User, passwordHash, tokenHash string, now time.Time) (created chat.User, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE invitations SET uses = uses + 1
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uses`,
			tokenHash, now)
		if err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		if tag.RowsAffected() == 0 {
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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !admin {
			if err := keepAnAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		u, err = scanAccount(tx.QueryRow(ctx, `
			UPDATE users SET is_admin = $1 WHERE id = $2 AND closed_at IS NULL RETURNING `+accountColumns, admin, int64(id)))
		return err
	})
	if err != nil {
		return chat.User{}, err
	}
	return u, nil
}

// keepAnAdmin refuses (chat.ErrLastAdmin) to take account id away from
// the site's open, active admins when it is the last of them. It locks
// their rows, in ID order so that concurrent changes queue rather than
// deadlock: a second change waits for the first, then finds the rows
// the first changed no longer match and counts only the admins left.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, id chat.UserID) error {
	rows, err := tx.Query(ctx, `
		SELECT id FROM users WHERE is_admin AND closed_at IS NULL AND deactivated_at IS NULL
		ORDER BY id FOR UPDATE`)
	if err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	if len(admins) == 1 && admins[0] == int64(id) {
		return chat.ErrLastAdmin()
	}
	return nil
}

// ReactivateUser clears an open account's deactivation.
func (s *Store) ReactivateUser(ctx context.Context, id chat.UserID) (chat.User, error) {
	return scanAccount(s.pool.QueryRow(ctx, `
		UPDATE users SET deactivated_at = NULL WHERE id = $1 AND closed_at IS NULL RETURNING `+accountColumns, int64(id)))
}

// DeactivateUser deactivates an open account and ends its sessions, in one
// transaction; not the last active admin (chat.ErrLastAdmin). The users
// row is locked first (by keepAnAdmin when it is an admin's): a
// StartSession under way (FOR SHARE on it) either committed its binding,
// which endSessions then ends, or waits and finds the account
// deactivated.
func (s *Store) DeactivateUser(ctx context.Context, id chat.UserID, now time.Time) (u chat.User, keys []string, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := keepAnAdmin(ctx, tx, id); err != nil {
			return err
		}
		u, err = scanAccount(tx.QueryRow(ctx, `
			UPDATE users SET deactivated_at = coalesce(deactivated_at, $1)
			WHERE id = $2 AND closed_at IS NULL RETURNING `+accountColumns, now, int64(id)))
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

// scanAccount reads accountColumns; no row is ENOTFOUND.
func scanAccount(row pgx.Row) (chat.User, error) {
	var u chat.User
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.CreatedAt, &u.Closed, &u.Admin, &u.Deactivated)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.User{}, chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("account: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// Accounts returns a page of every account in ID order.
func (s *Store) Accounts(ctx context.Context, q chat.AccountQuery) ([]chat.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer rows.Close()
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
const invitationColumns = `id, token_hash, coalesce(created_by, 0), created_at, expires_at, max_uses, uses, revoked_at`

// scanInvitation reads invitationColumns; no row is ENOTFOUND.
func scanInvitation(row pgx.Row) (chat.Invitation, error) {
	var (
		inv     chat.Invitation
		revoked *time.Time
	)
	err := row.Scan(&inv.ID, &inv.TokenHash, &inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.MaxUses, &inv.Uses, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Invitation{}, chat.NotFound("invitation")
	}
	if err != nil {
		return chat.Invitation{}, fmt.Errorf("invitation: %w", err)
	}
	inv.CreatedAt, inv.ExpiresAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC()
	if revoked != nil {
		inv.RevokedAt = revoked.UTC()
	}
	return inv, nil
}

// CreateInvitation stores an invitation.
func (s *Store) CreateInvitation(ctx context.Context, inv chat.Invitation) (chat.Invitation, error) {
	var by *int64
	if inv.CreatedBy != 0 {
		id := int64(inv.CreatedBy)
		by = &id
	}
	return scanInvitation(s.pool.QueryRow(ctx, `
		INSERT INTO invitations (token_hash, created_by, created_at, expires_at, max_uses)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+invitationColumns,
		inv.TokenHash, by, inv.CreatedAt, inv.ExpiresAt, inv.MaxUses))
}

// Invitations returns a page of invitations in ID order.
func (s *Store) Invitations(ctx context.Context, q chat.InvitationQuery) ([]chat.Invitation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id > $1 ORDER BY id LIMIT $2`, int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("invitations: %w", err)
	}
	defer rows.Close()
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
	return scanInvitation(s.pool.QueryRow(ctx, `
		UPDATE invitations SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2
		RETURNING `+invitationColumns, now, int64(id)))
}
