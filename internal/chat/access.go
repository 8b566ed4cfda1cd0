package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// RegistrationMode says who may create an account through the web app
// and the API. Whatever the mode, `parley admin create-user` creates
// accounts from the server's own machine.
type RegistrationMode string

// Registration modes.
const (
	// RegistrationOpen: anyone may register (the default).
	RegistrationOpen RegistrationMode = "open"
	// RegistrationInvite: registering needs a valid invitation.
	RegistrationInvite RegistrationMode = "invite"
	// RegistrationClosed: nobody registers; admins create accounts with
	// `parley admin create-user`.
	RegistrationClosed RegistrationMode = "closed"
)

// ParseRegistrationMode returns the mode named s: "open", "invite" or
// "closed".
func ParseRegistrationMode(s string) (RegistrationMode, error) {
	switch m := RegistrationMode(s); m {
	case RegistrationOpen, RegistrationInvite, RegistrationClosed:
		return m, nil
	}
	return "", fmt.Errorf("registration mode %q: want open, invite or closed", s)
}

// InvitationID identifies an invitation.
type InvitationID int64

// Invitation lets up to MaxUses people register until ExpiresAt, in
// RegistrationInvite mode. Its link carries a random token; only the
// token's SHA-256 (TokenHash) is stored, so a leaked database holds no
// usable invitation.
type Invitation struct {
	ID        InvitationID
	TokenHash string // hex SHA-256 of the token (InvitationTokenHash)
	CreatedBy UserID
	CreatedAt time.Time
	ExpiresAt time.Time
	MaxUses   int
	// Uses is how many accounts were created with it.
	Uses int
	// RevokedAt is when an admin revoked it; zero when it was not.
	RevokedAt time.Time
}

// Usable reports whether the invitation admits one more account at now.
func (i Invitation) Usable(now time.Time) bool {
	return i.RevokedAt.IsZero() && now.Before(i.ExpiresAt) && i.Uses < i.MaxUses
}

// Limits of invitations.
const (
	// MaxInvitationUses is the most accounts one invitation may admit.
	MaxInvitationUses = 10000
	// MinInvitationLifetime is the shortest an invitation may stay valid.
	MinInvitationLifetime = time.Minute
	// MaxInvitationLifetime is the longest an invitation may stay valid.
	MaxInvitationLifetime = 365 * 24 * time.Hour
	// DefaultInvitationLifetime is how long an invitation stays valid when
	// its creator does not say.
	DefaultInvitationLifetime = 7 * 24 * time.Hour
	// DefaultAccountPage is the size of a page of the admins' account list.
	DefaultAccountPage = 50
	// DefaultInvitationPage is the size of a page of the invitation list.
	DefaultInvitationPage = 50
)

// InvitationTokenHash returns the hex SHA-256 of an invitation token, as
// stores keep it.
func InvitationTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AccountQuery selects a page of every account, for admins.
type AccountQuery struct {
	// After is the ID of the last row of the previous page.
	After UserID
	Limit int
}

// InvitationQuery selects a page of invitations.
type InvitationQuery struct {
	// After is the ID of the last row of the previous page.
	After InvitationID
	Limit int
}

// Registration returns the service's registration mode.
func (s *Service) Registration() RegistrationMode {
	if s.registration == "" {
		return RegistrationOpen
	}
	return s.registration
}

// errInvitationNeeded refuses a registration without a usable invitation.
func errInvitationNeeded() error {
	return Errorf(EFORBIDDEN, "registration needs a valid invitation: ask an administrator for one")
}

// Registration is what someone gives to create an account.
type Registration struct {
	Username, Password string
	// DisplayName defaults to the username when empty.
	DisplayName string
	// Invitation is the token of an invitation link, for
	// RegistrationInvite.
	Invitation string
	// Addr is the client's address, for the per-address sign-up limit;
	// the zero Addr is not limited (an operator at the server).
	Addr netip.Addr
}

// Register creates an account under the service's registration mode: in
// RegistrationOpen anyone may; in RegistrationInvite only with
// r.Invitation, the token of an invitation that is not expired, revoked or
// used up (its use is counted in the transaction that creates the
// account, so concurrent registrations never pass MaxUses); in
// RegistrationClosed nobody may. A refusal is EFORBIDDEN and creates
// nothing. In open mode an invitation given is ignored. Only accounts
// created use up r.Addr's sign-up allowance.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	username, password, displayName, invitation, addr := r.Username, r.Password, r.DisplayName, r.Invitation, r.Addr
	switch s.registration {
	case RegistrationClosed:
		return User{}, Errorf(EFORBIDDEN, "registration is closed: ask an administrator for an account")
	case RegistrationInvite:
		if invitation == "" || len(invitation) > 100 {
			return User{}, errInvitationNeeded()
		}
	default:
		invitation = ""
	}
	// The password length is checked first: an overlong one must cost
	// nothing before it is refused.
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	if addr.IsValid() {
		if err := s.allow(ctx, s.limits.Registrations, nil, AddressKey(addr), ActionRegistration); err != nil {
			return User{}, err
		}
	}
	u, err := s.register(ctx, username, password, displayName, invitation)
	if err != nil && addr.IsValid() {
		// The allowance counts accounts created: a refused sign-up (a
		// taken name, a bad invitation, a busy server) gives its token
		// back.
		s.refund(ctx, s.limits.Registrations, nil, AddressKey(addr), ActionRegistration)
	}
	return u, err
}

// register creates the account of a registration that passed its mode
// and its rate limit.
func (s *Service) register(ctx context.Context, username, password, displayName, invitation string) (User, error) {
	u, hash, err := s.newAccount(ctx, username, password, displayName)
	if err != nil {
		return User{}, err
	}
	if invitation == "" {
		return s.store.CreateUser(ctx, u, hash)
	}
	return s.store.CreateInvitedUser(ctx, u, hash, InvitationTokenHash(invitation), u.CreatedAt)
}

// newAccount validates a new account's names and hashes its password.
func (s *Service) newAccount(ctx context.Context, username, password, displayName string) (User, string, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return User{}, "", err
	}
	if displayName == "" {
		displayName = name
	}
	display, err := NormalizeDisplayName(displayName)
	if err != nil {
		return User{}, "", err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, "", fmt.Errorf("hash password: %w", err)
	}
	return User{Username: name, DisplayName: display, CreatedAt: Now()}, hash, nil
}

// CreateAccount creates an account whatever the registration mode, for
// an operator at the server (`parley admin create-user`); r's Invitation
// and Addr are not used. admin makes it a site admin; the first account
// is one anyway.
func (s *Service) CreateAccount(ctx context.Context, r Registration, admin bool) (User, error) {
	username, password, displayName := r.Username, r.Password, r.DisplayName
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	u, hash, err := s.newAccount(ctx, username, password, displayName)
	if err != nil {
		return User{}, err
	}
	u, err = s.store.CreateUser(ctx, u, hash)
	if err != nil || !admin || u.Admin {
		return u, err
	}
	return s.store.SetAdmin(ctx, u.ID, true)
}

// MakeAdmin makes the open account named username a site admin, or takes
// that away (admin false), for an operator at the server. Taking it from
// the last open, active site admin is ECONFLICT (ErrLastAdmin).
func (s *Service) MakeAdmin(ctx context.Context, username string, admin bool) (User, error) {
	u, err := s.UserByUsername(ctx, username)
	if err != nil {
		return User{}, err
	}
	return s.store.SetAdmin(ctx, u.ID, admin)
}

// ErrLastAdmin refuses a change (a revoked admin right, a deactivation)
// that would leave the site with no open, active site admin: nobody could
// then make invitations or deactivate anyone from the web. Stores return
// it from SetAdmin and DeactivateUser, deciding in the change's own
// transaction so that two concurrent changes cannot both pass.
func ErrLastAdmin() error {
	return Errorf(ECONFLICT, "this is the last active site admin: make another account a site admin first")
}

// requireAdmin returns the caller's account when it is an open, active
// site admin's; anyone else is EFORBIDDEN.
func (s *Service) requireAdmin(ctx context.Context, caller UserID) (User, error) {
	u, err := s.store.UserByID(ctx, caller)
	if ErrorCode(err) == ENOTFOUND || err == nil && (!u.Admin || u.Closed || u.Deactivated) {
		return User{}, Errorf(EFORBIDDEN, "only site admins may do this")
	}
	return u, err
}

// IsAdmin reports whether user is an open, active site admin.
func (s *Service) IsAdmin(ctx context.Context, user UserID) (bool, error) {
	_, err := s.requireAdmin(ctx, user)
	if ErrorCode(err) == EFORBIDDEN {
		return false, nil
	}
	return err == nil, err
}

// NewInvitation is what an invitation is made of: it admits MaxUses
// accounts (1 when 0) for Lifetime (DefaultInvitationLifetime when 0).
type NewInvitation struct {
	MaxUses  int
	Lifetime time.Duration
}

// CreateInvitation creates an invitation (admins only) and returns it with
// its token, which is shown this once: the store keeps only its hash.
// MaxUses must be 0 (the default) or 1 to MaxInvitationUses, Lifetime 0
// (the default) or one minute to MaxInvitationLifetime (EINVALID
// otherwise).
func (s *Service) CreateInvitation(ctx context.Context, caller UserID, n NewInvitation) (Invitation, string, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return Invitation{}, "", err
	}
	return s.createInvitation(ctx, caller, n)
}

// CreateInvitationAsOperator creates an invitation for an operator at the
// server (`parley admin create-invitation`), recorded as made by no
// account.
func (s *Service) CreateInvitationAsOperator(ctx context.Context, n NewInvitation) (Invitation, string, error) {
	return s.createInvitation(ctx, 0, n)
}

func (s *Service) createInvitation(ctx context.Context, by UserID, n NewInvitation) (Invitation, string, error) {
	if n.MaxUses == 0 {
		n.MaxUses = 1
	}
	if n.Lifetime == 0 {
		n.Lifetime = DefaultInvitationLifetime
	}
	if n.MaxUses < 1 || n.MaxUses > MaxInvitationUses {
		return Invitation{}, "", Errorf(EINVALID, "an invitation admits from 1 to %d accounts", MaxInvitationUses)
	}
	if n.Lifetime < MinInvitationLifetime || n.Lifetime > MaxInvitationLifetime {
		return Invitation{}, "", Errorf(EINVALID, "an invitation lasts from one minute to %d days", int(MaxInvitationLifetime/(24*time.Hour)))
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := Now()
	inv, err := s.store.CreateInvitation(ctx, Invitation{
		TokenHash: InvitationTokenHash(token),
		CreatedBy: by,
		CreatedAt: now,
		ExpiresAt: now.Add(n.Lifetime),
		MaxUses:   n.MaxUses,
	})
	if err != nil {
		return Invitation{}, "", err
	}
	s.logger.InfoContext(ctx, "invitation created", "invitation_id", inv.ID, "by", by, "max_uses", inv.MaxUses, "expires_at", inv.ExpiresAt)
	return inv, token, nil
}

// InvitationPage is a page of invitations.
type InvitationPage struct {
	Invitations []Invitation
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// Invitations returns a page of every invitation, oldest first (admins
// only), after the cursor.
func (s *Service) Invitations(ctx context.Context, caller UserID, after string, limit int) (InvitationPage, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return InvitationPage{}, err
	}
	limit, err := pageLimit(limit, DefaultInvitationPage)
	if err != nil {
		return InvitationPage{}, err
	}
	cursor, err := idCursor(after)
	if err != nil {
		return InvitationPage{}, err
	}
	invs, err := s.store.Invitations(ctx, InvitationQuery{After: InvitationID(cursor), Limit: limit + 1})
	if err != nil {
		return InvitationPage{}, err
	}
	var page InvitationPage
	page.Invitations, page.Next = trimPage(invs, limit, func(i Invitation) string { return strconv.FormatInt(int64(i.ID), 10) })
	return page, nil
}

// RevokeInvitation revokes an invitation (admins only): nobody registers
// with it from then on. Revoking it again changes nothing. ENOTFOUND when
// there is no such invitation.
func (s *Service) RevokeInvitation(ctx context.Context, caller UserID, id InvitationID) (Invitation, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return Invitation{}, err
	}
	inv, err := s.store.RevokeInvitation(ctx, id, Now())
	if err != nil {
		return Invitation{}, err
	}
	s.logger.InfoContext(ctx, "invitation revoked", "invitation_id", id, "by", caller)
	return inv, nil
}

// AccountPage is a page of the admins' account list.
type AccountPage struct {
	Users []User
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// Accounts returns a page of every account, closed ones too, in ID order
// after the cursor, with their Admin and Deactivated states (admins only).
func (s *Service) Accounts(ctx context.Context, caller UserID, after string, limit int) (AccountPage, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return AccountPage{}, err
	}
	limit, err := pageLimit(limit, DefaultAccountPage)
	if err != nil {
		return AccountPage{}, err
	}
	cursor, err := idCursor(after)
	if err != nil {
		return AccountPage{}, err
	}
	users, err := s.store.Accounts(ctx, AccountQuery{After: UserID(cursor), Limit: limit + 1})
	if err != nil {
		return AccountPage{}, err
	}
	var page AccountPage
	page.Users, page.Next = trimPage(users, limit, func(u User) string { return strconv.FormatInt(int64(u.ID), 10) })
	return page, nil
}

// idCursor parses a page cursor that is an ID ("" for the first page).
func idCursor(after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(after, 10, 64)
	if err != nil || n <= 0 {
		return 0, Errorf(EINVALID, "invalid cursor %q", after)
	}
	return n, nil
}

// Deactivate switches an account off (admins only; not their own,
// EINVALID): it cannot sign in, every session of its ends and their
// connections close on every node at once. Deactivating it again changes
// nothing. ENOTFOUND when there is no such open account; ECONFLICT
// (ErrLastAdmin) when it is the last open, active site admin.
func (s *Service) Deactivate(ctx context.Context, caller, user UserID) (User, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return User{}, err
	}
	if caller == user {
		return User{}, Errorf(EINVALID, "you cannot deactivate your own account")
	}
	u, keys, err := s.store.DeactivateUser(ctx, user, Now())
	if err != nil {
		return User{}, err
	}
	s.logger.InfoContext(ctx, "account deactivated", "user_id", user, "by", caller, "sessions_ended", len(keys))
	s.endSessions(ctx, user, keys)
	return u, nil
}

// Reactivate lets a deactivated account sign in again (admins only).
// ENOTFOUND when there is no such open account.
func (s *Service) Reactivate(ctx context.Context, caller, user UserID) (User, error) {
	if _, err := s.requireAdmin(ctx, caller); err != nil {
		return User{}, err
	}
	u, err := s.store.ReactivateUser(ctx, user)
	if err != nil {
		return User{}, err
	}
	s.logger.InfoContext(ctx, "account reactivated", "user_id", user, "by", caller)
	return u, nil
}
