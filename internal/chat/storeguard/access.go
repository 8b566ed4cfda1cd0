package storeguard

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// CreateInvitedUser is the store's CreateInvitedUser within the deadline.
func (s *Store) CreateInvitedUser(ctx context.Context, u chat.User, passwordHash, tokenHash string, now time.Time) (chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.User, error) {
		return s.store.CreateInvitedUser(ctx, u, passwordHash, tokenHash, now)
	})
}

// SetAdmin is the store's SetAdmin within the deadline.
func (s *Store) SetAdmin(ctx context.Context, id chat.UserID, admin bool) (chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.store.SetAdmin(ctx, id, admin) })
}

// DeactivateUser is the store's DeactivateUser within the deadline.
func (s *Store) DeactivateUser(ctx context.Context, id chat.UserID, now time.Time) (chat.User, []string, error) {
	return Do2(s.guard, ctx, func(ctx context.Context) (chat.User, []string, error) { return s.store.DeactivateUser(ctx, id, now) })
}

// ReactivateUser is the store's ReactivateUser within the deadline.
func (s *Store) ReactivateUser(ctx context.Context, id chat.UserID) (chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.User, error) { return s.store.ReactivateUser(ctx, id) })
}

// Accounts is the store's Accounts within the deadline.
func (s *Store) Accounts(ctx context.Context, q chat.AccountQuery) ([]chat.User, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.User, error) { return s.store.Accounts(ctx, q) })
}

// CreateInvitation is the store's CreateInvitation within the deadline.
func (s *Store) CreateInvitation(ctx context.Context, inv chat.Invitation) (chat.Invitation, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Invitation, error) { return s.store.CreateInvitation(ctx, inv) })
}

// Invitations is the store's Invitations within the deadline.
func (s *Store) Invitations(ctx context.Context, q chat.InvitationQuery) ([]chat.Invitation, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) ([]chat.Invitation, error) { return s.store.Invitations(ctx, q) })
}

// RevokeInvitation is the store's RevokeInvitation within the deadline.
func (s *Store) RevokeInvitation(ctx context.Context, id chat.InvitationID, now time.Time) (chat.Invitation, error) {
	return Do1(s.guard, ctx, func(ctx context.Context) (chat.Invitation, error) { return s.store.RevokeInvitation(ctx, id, now) })
}
