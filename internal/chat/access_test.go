package chat

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// accessStore keeps accounts and invitations in memory for the service's
// access rules; every other Store method is unused here.
type accessStore struct {
	Store
	users    map[UserID]User
	hashes   map[UserID]string
	invites  map[string]int // token hash → uses left
	sessions map[UserID][]string
	created  []string // usernames, in order
}

func newAccessStore() *accessStore {
	return &accessStore{users: map[UserID]User{}, hashes: map[UserID]string{}, invites: map[string]int{}, sessions: map[UserID][]string{}}
}

func (s *accessStore) CreateUser(_ context.Context, u User, hash string) (User, error) {
	u.ID = UserID(len(s.users) + 1)
	u.Admin = len(s.users) == 0
	s.users[u.ID], s.hashes[u.ID] = u, hash
	s.created = append(s.created, u.Username)
	return u, nil
}

func (s *accessStore) CreateInvitedUser(ctx context.Context, u User, hash, tokenHash string, _ time.Time) (User, error) {
	if s.invites[tokenHash] <= 0 {
		return User{}, Errorf(EFORBIDDEN, "invalid invitation")
	}
	s.invites[tokenHash]--
	return s.CreateUser(ctx, u, hash)
}

func (s *accessStore) UserByID(_ context.Context, id UserID) (User, error) {
	u, ok := s.users[id]
	if !ok {
		return User{}, NotFound("user")
	}
	return u, nil
}

func (s *accessStore) UserCredentials(_ context.Context, name string) (User, string, error) {
	for id, u := range s.users {
		if u.Username == name {
			return u, s.hashes[id], nil
		}
	}
	return User{}, "", NotFound("user")
}

func (s *accessStore) SetAdmin(_ context.Context, id UserID, admin bool) (User, error) {
	u, ok := s.users[id]
	if !ok {
		return User{}, NotFound("user")
	}
	u.Admin = admin
	s.users[id] = u
	return u, nil
}

func (s *accessStore) DeactivateUser(_ context.Context, id UserID, _ time.Time) (User, []string, error) {
	u, ok := s.users[id]
	if !ok {
		return User{}, nil, NotFound("user")
	}
	u.Deactivated = true
	s.users[id] = u
	keys := s.sessions[id]
	delete(s.sessions, id)
	return u, keys, nil
}

func (s *accessStore) ReactivateUser(_ context.Context, id UserID) (User, error) {
	u, ok := s.users[id]
	if !ok {
		return User{}, NotFound("user")
	}
	u.Deactivated = false
	s.users[id] = u
	return u, nil
}

func (s *accessStore) CreateInvitation(_ context.Context, inv Invitation) (Invitation, error) {
	s.invites[inv.TokenHash] = inv.MaxUses
	inv.ID = InvitationID(len(s.invites))
	return inv, nil
}

func (s *accessStore) Invitations(context.Context, InvitationQuery) ([]Invitation, error) {
	return nil, nil
}

func (s *accessStore) RevokeInvitation(_ context.Context, id InvitationID, now time.Time) (Invitation, error) {
	return Invitation{ID: id, RevokedAt: now}, nil
}

func (s *accessStore) Accounts(context.Context, AccountQuery) ([]User, error) {
	users := make([]User, 0, len(s.users))
	for id := range UserID(len(s.users)) {
		users = append(users, s.users[id+1])
	}
	return users, nil
}

func newAccessService(t *testing.T, mode RegistrationMode) (*Service, *accessStore, *recordingBroker) {
	t.Helper()
	store, broker := newAccessStore(), &recordingBroker{}
	svc, err := NewService(ServiceConfig{Store: store, Hasher: plainHasher{}, Broker: broker, Logger: slog.New(slog.DiscardHandler), Registration: mode})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, broker
}

func wantErrorCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Errorf("%s: %v (code %q), want %q", what, err, got, code)
	}
}

func TestParseRegistrationMode(t *testing.T) {
	for _, s := range []string{"open", "invite", "closed"} {
		if m, err := ParseRegistrationMode(s); err != nil || string(m) != s {
			t.Errorf("ParseRegistrationMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "Open", "invites", "none"} {
		if _, err := ParseRegistrationMode(s); err == nil {
			t.Errorf("ParseRegistrationMode(%q) succeeded", s)
		}
	}
}

func TestRegisterFollowsTheRegistrationMode(t *testing.T) {
	ctx := t.Context()
	// Open, also the zero mode: anyone, and an invitation given is
	// ignored rather than spent.
	for _, mode := range []RegistrationMode{"", RegistrationOpen} {
		svc, store, _ := newAccessService(t, mode)
		if _, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada"}); err != nil {
			t.Errorf("mode %q: Register: %v", mode, err)
		}
		if _, err := svc.Register(ctx, Registration{Username: "bob", Password: "password-bob", Invitation: "whatever"}); err != nil {
			t.Errorf("mode %q: Register with an invitation: %v", mode, err)
		}
		if _, err := svc.Register(ctx, Registration{Username: "cyd", Password: "password-cyd"}); err != nil {
			t.Errorf("mode %q: Register: %v", mode, err)
		}
		if len(store.created) != 3 {
			t.Errorf("mode %q: created %v", mode, store.created)
		}
	}

	svc, store, _ := newAccessService(t, RegistrationInvite)
	for _, token := range []string{"", strings.Repeat("x", 101)} {
		_, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada", Invitation: token})
		wantErrorCode(t, err, EFORBIDDEN, "invite mode without a usable invitation")
		if err != nil && !strings.Contains(ErrorMessage(err), "invitation") {
			t.Errorf("the refusal says %q; want it to name the invitation", ErrorMessage(err))
		}
	}
	_, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada"})
	wantErrorCode(t, err, EFORBIDDEN, "Register in invite mode")
	store.invites[InvitationTokenHash("good")] = 1
	if _, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada", Invitation: "good"}); err != nil {
		t.Errorf("Register with a good invitation: %v", err)
	}
	_, err = svc.Register(ctx, Registration{Username: "bob", Password: "password-bob", Invitation: "good"})
	wantErrorCode(t, err, EFORBIDDEN, "Register with a used-up invitation")
	if len(store.created) != 1 {
		t.Errorf("invite mode created %v, want [ada]", store.created)
	}

	svc, store, _ = newAccessService(t, RegistrationClosed)
	store.invites[InvitationTokenHash("good")] = 5
	for _, token := range []string{"", "good"} {
		_, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada", Invitation: token})
		wantErrorCode(t, err, EFORBIDDEN, "closed mode")
	}
	// The operator creates accounts in any mode.
	u, err := svc.CreateAccount(ctx, Registration{Username: "root", Password: "password-root"}, false)
	if err != nil || !u.Admin {
		t.Errorf("CreateAccount (first) = %+v, %v; want an admin", u, err)
	}
	u, err = svc.CreateAccount(ctx, Registration{Username: "second", Password: "password-second"}, true)
	if err != nil || !u.Admin {
		t.Errorf("CreateAccount(admin) = %+v, %v; want an admin", u, err)
	}
	u, err = svc.CreateAccount(ctx, Registration{Username: "third", Password: "password-third"}, false)
	if err != nil || u.Admin {
		t.Errorf("CreateAccount = %+v, %v; want no admin", u, err)
	}
	_, err = svc.CreateAccount(ctx, Registration{Username: "x", Password: "password-x"}, false)
	wantErrorCode(t, err, EINVALID, "CreateAccount of an invalid username")
}

func TestAdminActionsNeedAnActiveAdmin(t *testing.T) {
	ctx := t.Context()
	svc, store, _ := newAccessService(t, RegistrationOpen)
	admin, _ := svc.Register(ctx, Registration{Username: "admin", Password: "password-admin"})
	user, _ := svc.Register(ctx, Registration{Username: "user", Password: "password-user"})
	other, _ := svc.Register(ctx, Registration{Username: "other", Password: "password-other"})
	demoted, _ := svc.Register(ctx, Registration{Username: "demoted", Password: "password-demoted"})
	if !admin.Admin || user.Admin {
		t.Fatalf("first account %+v, second %+v: want only the first an admin", admin, user)
	}
	// An admin who was deactivated is no admin while it lasts.
	if _, err := store.SetAdmin(ctx, demoted.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.DeactivateUser(ctx, demoted.ID, Now()); err != nil {
		t.Fatal(err)
	}
	for _, caller := range []UserID{user.ID, demoted.ID, 999} {
		_, _, err := svc.CreateInvitation(ctx, caller, NewInvitation{})
		wantErrorCode(t, err, EFORBIDDEN, "CreateInvitation")
		_, err = svc.Invitations(ctx, caller, "", 0)
		wantErrorCode(t, err, EFORBIDDEN, "Invitations")
		_, err = svc.RevokeInvitation(ctx, caller, 1)
		wantErrorCode(t, err, EFORBIDDEN, "RevokeInvitation")
		_, err = svc.Accounts(ctx, caller, "", 0)
		wantErrorCode(t, err, EFORBIDDEN, "Accounts")
		_, err = svc.Deactivate(ctx, caller, other.ID)
		wantErrorCode(t, err, EFORBIDDEN, "Deactivate")
		_, err = svc.Reactivate(ctx, caller, other.ID)
		wantErrorCode(t, err, EFORBIDDEN, "Reactivate")
		if ok, err := svc.IsAdmin(ctx, caller); ok || err != nil {
			t.Errorf("IsAdmin(%d) = %v, %v; want false", caller, ok, err)
		}
	}
	if store.users[other.ID].Deactivated {
		t.Error("a refused deactivation deactivated")
	}
	if ok, err := svc.IsAdmin(ctx, admin.ID); !ok || err != nil {
		t.Errorf("IsAdmin(admin) = %v, %v; want true", ok, err)
	}
	page, err := svc.Accounts(ctx, admin.ID, "", 2)
	if err != nil || len(page.Users) != 2 || page.Next != "2" {
		t.Errorf("Accounts(limit 2) = %+v, %v; want two and next 2", page, err)
	}
	_, err = svc.Accounts(ctx, admin.ID, "x", 0)
	wantErrorCode(t, err, EINVALID, "Accounts after a bad cursor")
}

func TestCreateInvitation(t *testing.T) {
	ctx := t.Context()
	svc, store, _ := newAccessService(t, RegistrationInvite)
	admin, _ := svc.CreateAccount(ctx, Registration{Username: "admin", Password: "password-admin"}, false)
	inv, token, err := svc.CreateInvitation(ctx, admin.ID, NewInvitation{})
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 40 || inv.TokenHash != InvitationTokenHash(token) || strings.Contains(inv.TokenHash, token) {
		t.Errorf("token %q, stored hash %q: want a long random token stored only hashed", token, inv.TokenHash)
	}
	if inv.MaxUses != 1 || inv.CreatedBy != admin.ID || inv.ExpiresAt.Sub(inv.CreatedAt) != DefaultInvitationLifetime {
		t.Errorf("defaults: %+v", inv)
	}
	_, again, _ := svc.CreateInvitation(ctx, admin.ID, NewInvitation{MaxUses: 3, Lifetime: time.Hour})
	if again == token {
		t.Error("two invitations got the same token")
	}
	if store.invites[InvitationTokenHash(again)] != 3 {
		t.Errorf("the second invitation admits %d", store.invites[InvitationTokenHash(again)])
	}
	for _, n := range []NewInvitation{{MaxUses: -1}, {MaxUses: MaxInvitationUses + 1}, {Lifetime: time.Second}, {Lifetime: -time.Hour}, {Lifetime: MaxInvitationLifetime + time.Hour}} {
		_, _, err := svc.CreateInvitation(ctx, admin.ID, n)
		wantErrorCode(t, err, EINVALID, "CreateInvitation out of range")
	}
	op, _, err := svc.CreateInvitationAsOperator(ctx, NewInvitation{})
	if err != nil || op.CreatedBy != 0 {
		t.Errorf("CreateInvitationAsOperator = %+v, %v; want no creator", op, err)
	}
	// The link's token registers someone.
	if _, err := svc.Register(ctx, Registration{Username: "ada", Password: "password-ada", Invitation: token}); err != nil {
		t.Errorf("Register with the new token: %v", err)
	}
}

func TestDeactivateEndsSessionsAndLogins(t *testing.T) {
	ctx := t.Context()
	svc, store, broker := newAccessService(t, RegistrationOpen)
	admin, _ := svc.Register(ctx, Registration{Username: "admin", Password: "password-admin"})
	bob, _ := svc.Register(ctx, Registration{Username: "bob", Password: "password-bob"})
	store.sessions[bob.ID] = []string{"s1", "s2"}

	_, err := svc.Deactivate(ctx, admin.ID, admin.ID)
	wantErrorCode(t, err, EINVALID, "deactivating oneself")
	u, err := svc.Deactivate(ctx, admin.ID, bob.ID)
	if err != nil || !u.Deactivated {
		t.Fatalf("Deactivate = %+v, %v", u, err)
	}
	var ended []string
	for _, ev := range broker.events {
		if ev.Type == EventSessionEnded && len(ev.To) == 1 && ev.To[0] == bob.ID {
			ended = append(ended, ev.Session)
		}
	}
	if strings.Join(ended, ",") != "s1,s2" {
		t.Errorf("sessions ended on every node: %v, want s1 and s2", ended)
	}
	_, err = svc.Login(ctx, Credentials{Username: "bob", Password: "password-bob"})
	wantErrorCode(t, err, EFORBIDDEN, "login of a deactivated account")
	_, err = svc.Login(ctx, Credentials{Username: "bob", Password: "wrong-password"})
	wantErrorCode(t, err, EUNAUTHORIZED, "login of a deactivated account with a wrong password")
	_, err = svc.Deactivate(ctx, admin.ID, 999)
	wantErrorCode(t, err, ENOTFOUND, "deactivating no one")

	if u, err := svc.Reactivate(ctx, admin.ID, bob.ID); err != nil || u.Deactivated {
		t.Fatalf("Reactivate = %+v, %v", u, err)
	}
	if _, err := svc.Login(ctx, Credentials{Username: "bob", Password: "password-bob"}); err != nil {
		t.Errorf("login after reactivation: %v", err)
	}
}

// TestRefusedRegistrationsCostNoAllowance: the per-address sign-up
// allowance counts accounts created. A sign-up refused for a bad
// invitation or an invalid name gives its token back; only the rate limit
// itself refuses once the allowance is spent on accounts.
func TestRefusedRegistrationsCostNoAllowance(t *testing.T) {
	ctx := t.Context()
	limiter := &countingLimiter{n: 2}
	store := newAccessStore()
	svc, err := NewService(ServiceConfig{
		Store: store, Hasher: plainHasher{}, Broker: &recordingBroker{}, Logger: slog.New(slog.DiscardHandler),
		Registration: RegistrationInvite, Limits: Limits{Registrations: limiter},
	})
	if err != nil {
		t.Fatal(err)
	}
	store.invites[InvitationTokenHash("good")] = 10
	addr := netip.MustParseAddr("192.0.2.7")
	for i := range 3 {
		_, err := svc.Register(ctx, Registration{Username: fmt.Sprintf("wrong%d", i), Password: "password-x", Invitation: "wrong", Addr: addr})
		wantErrorCode(t, err, EFORBIDDEN, "a wrong invitation")
	}
	_, err = svc.Register(ctx, Registration{Username: "x", Password: "password-x", Invitation: "good", Addr: addr})
	wantErrorCode(t, err, EINVALID, "an invalid username")
	for _, name := range []string{"ada", "bob"} {
		if _, err := svc.Register(ctx, Registration{Username: name, Password: "password-" + name, Invitation: "good", Addr: addr}); err != nil {
			t.Errorf("Register(%s) after refused sign-ups: %v; want an account", name, err)
		}
	}
	_, err = svc.Register(ctx, Registration{Username: "cyd", Password: "password-cyd", Invitation: "good", Addr: addr})
	wantErrorCode(t, err, ERATELIMITED, "a third account from one address")
	if len(store.created) != 2 {
		t.Errorf("created %v, want [ada bob]", store.created)
	}
}
