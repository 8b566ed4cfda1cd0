package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// accessTests are the conformance tests of site admins, deactivation and
// invitations.
func accessTests() []struct {
	name string
	fn   func(t *testing.T, s chat.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"FirstUserIsAdmin", testFirstUserAdmin},
		{"FirstUserConcurrent", testFirstUserConcurrent},
		{"SetAdminAndAccounts", testSetAdminAccounts},
		{"Deactivate", testDeactivate},
		{"Invitations", testInvitations},
		{"InvitedUser", testInvitedUser},
		{"InvitationUsesConcurrent", testInvitationConcurrent},
		{"LastAdminKept", testLastAdminKept},
		{"LastAdminConcurrent", testLastAdminConcurrent},
		{"LastAdminCloses", testLastAdminCloses},
	}
}

// activeAdmins returns the usernames of the open, active site admins.
func activeAdmins(t *testing.T, s chat.Store) []string {
	t.Helper()
	all, err := s.Accounts(t.Context(), chat.AccountQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	var names []string
	for _, u := range all {
		if u.Admin && !u.Closed && !u.Deactivated {
			names = append(names, u.Username)
		}
	}
	return names
}

func testLastAdminKept(t *testing.T, s chat.Store) {
	ctx := t.Context()
	root := NewUser(t, s, "root")
	bob := NewUser(t, s, "bob")
	carol := NewUser(t, s, "carol")
	if err := s.BindSession(ctx, root.ID, "root-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("BindSession: %v", err)
	}
	_, err := s.SetAdmin(ctx, root.ID, false)
	wantCode(t, err, chat.ECONFLICT, "SetAdmin(false) of the only admin")
	_, _, err = s.DeactivateUser(ctx, root.ID, chat.Now())
	wantCode(t, err, chat.ECONFLICT, "DeactivateUser of the only admin")
	if got := activeAdmins(t, s); !slices.Equal(got, []string{"root"}) {
		t.Errorf("active admins after refused changes: %v, want [root]", got)
	}
	if ok, err := s.StartSession(ctx, root.ID, "root-2", time.Now().Add(time.Hour), "hash"); err != nil || !ok {
		t.Errorf("the only admin cannot sign in after a refused deactivation: %v, %v", ok, err)
	}
	// Revoking or deactivating someone who is no admin is no concern of
	// this rule.
	if u, err := s.SetAdmin(ctx, bob.ID, false); err != nil || u.Admin {
		t.Errorf("SetAdmin(false) of a non-admin = %+v, %v", u, err)
	}
	if _, err := s.SetAdmin(ctx, bob.ID, true); err != nil {
		t.Fatalf("SetAdmin(bob): %v", err)
	}
	// With another admin, either change passes.
	if u, err := s.SetAdmin(ctx, root.ID, false); err != nil || u.Admin {
		t.Errorf("SetAdmin(false) with another admin = %+v, %v", u, err)
	}
	_, _, err = s.DeactivateUser(ctx, bob.ID, chat.Now())
	wantCode(t, err, chat.ECONFLICT, "DeactivateUser of the last admin")
	// A deactivated admin is no active admin: it does not count.
	if _, err := s.SetAdmin(ctx, carol.ID, true); err != nil {
		t.Fatalf("SetAdmin(carol): %v", err)
	}
	if _, _, err := s.DeactivateUser(ctx, carol.ID, chat.Now()); err != nil {
		t.Errorf("DeactivateUser of one of two admins: %v", err)
	}
	_, err = s.SetAdmin(ctx, bob.ID, false)
	wantCode(t, err, chat.ECONFLICT, "SetAdmin(false) of the last active admin, a deactivated one left")
	if _, err := s.ReactivateUser(ctx, carol.ID); err != nil {
		t.Fatalf("ReactivateUser: %v", err)
	}
	if _, err := s.SetAdmin(ctx, bob.ID, false); err != nil {
		t.Errorf("SetAdmin(false) with a reactivated admin left: %v", err)
	}
	if got := activeAdmins(t, s); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("active admins: %v, want [carol]", got)
	}
}

// testLastAdminConcurrent: admins revoked and deactivated all at once
// leave exactly one: each change is judged in its own transaction, after
// the ones before it.
func testLastAdminConcurrent(t *testing.T, s chat.Store) {
	const n = 6
	admins := newUsers(t, s, "admin", n)
	for _, u := range admins[1:] {
		if _, err := s.SetAdmin(t.Context(), u.ID, true); err != nil {
			t.Fatalf("SetAdmin: %v", err)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range admins {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = s.SetAdmin(t.Context(), u.ID, false)
			} else {
				_, _, errs[i] = s.DeactivateUser(t.Context(), u.ID, chat.Now())
			}
		})
	}
	wg.Wait()
	refused := 0
	for i, err := range errs {
		switch chat.ErrorCode(err) {
		case "":
		case chat.ECONFLICT:
			refused++
		default:
			t.Errorf("change %d: %v", i, err)
		}
	}
	if refused != 1 {
		t.Errorf("%d concurrent changes to %d admins: %d refused, want 1", n, n, refused)
	}
	if got := activeAdmins(t, s); len(got) != 1 {
		t.Errorf("active admins after the race: %v, want exactly one", got)
	}
}

func testFirstUserAdmin(t *testing.T, s chat.Store) {
	ctx := t.Context()
	first := NewUser(t, s, "first")
	second := NewUser(t, s, "second")
	if !first.Admin || second.Admin {
		t.Errorf("CreateUser: first admin %v, second admin %v; want true, false", first.Admin, second.Admin)
	}
	got, err := s.UserByID(ctx, first.ID)
	if err != nil || !got.Admin || got.Deactivated {
		t.Errorf("UserByID(first) = %+v, %v; want an active admin", got, err)
	}
	got, _, err = s.UserCredentials(ctx, "second")
	if err != nil || got.Admin {
		t.Errorf("UserCredentials(second) = %+v, %v; want no admin", got, err)
	}
	// Closing the first account takes its admin rights and does not make
	// the next account an admin: the table is not empty.
	if _, err := s.CloseUser(ctx, first.ID, chat.Now()); err != nil {
		t.Fatalf("CloseUser: %v", err)
	}
	if got, err := s.UserByID(ctx, first.ID); err != nil || got.Admin {
		t.Errorf("UserByID(closed first) = %+v, %v; want no admin", got, err)
	}
	if third := NewUser(t, s, "third"); third.Admin {
		t.Errorf("a user created after the first was closed is an admin")
	}
}

func testFirstUserConcurrent(t *testing.T, s chat.Store) {
	const n = 8
	users := make([]chat.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			users[i], errs[i] = s.CreateUser(t.Context(), chat.User{Username: fmt.Sprintf("racer%d", i), DisplayName: "R", CreatedAt: chat.Now()}, "hash")
		})
	}
	wg.Wait()
	admins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("CreateUser %d: %v", i, errs[i])
		}
		if users[i].Admin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d concurrent first registrations made %d admins, want 1", n, admins)
	}
	all, err := s.Accounts(t.Context(), chat.AccountQuery{Limit: 100})
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	admins = 0
	for _, u := range all {
		if u.Admin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("stored admins: %d, want 1", admins)
	}
}

func testSetAdminAccounts(t *testing.T, s chat.Store) {
	ctx := t.Context()
	users := newUsers(t, s, "acct", 5)
	u, err := s.SetAdmin(ctx, users[2].ID, true)
	if err != nil || !u.Admin || u.ID != users[2].ID || u.Username != users[2].Username {
		t.Errorf("SetAdmin(true) = %+v, %v; want %s an admin", u, err, users[2].Username)
	}
	if u, err := s.SetAdmin(ctx, users[0].ID, false); err != nil || u.Admin {
		t.Errorf("SetAdmin(false) = %+v, %v; want no admin", u, err)
	}
	if _, err := s.CloseUser(ctx, users[4].ID, chat.Now()); err != nil {
		t.Fatalf("CloseUser: %v", err)
	}
	_, err = s.SetAdmin(ctx, users[4].ID, true)
	wantCode(t, err, chat.ENOTFOUND, "SetAdmin(closed)")
	_, err = s.SetAdmin(ctx, users[4].ID+1000, true)
	wantCode(t, err, chat.ENOTFOUND, "SetAdmin(unknown)")

	var got []chat.User
	var after chat.UserID
	for {
		page, err := s.Accounts(ctx, chat.AccountQuery{After: after, Limit: 2})
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("Accounts returned %d rows, limit 2", len(page))
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(got) != 5 {
		t.Fatalf("Accounts over every page: %d accounts, want 5 (closed ones too)", len(got))
	}
	for i, u := range got {
		if u.ID != users[i].ID || u.Username != users[i].Username {
			t.Errorf("Accounts[%d] = %+v, want %s in ID order", i, u, users[i].Username)
		}
		if u.Admin != (i == 2) || u.Closed != (i == 4) || u.Deactivated {
			t.Errorf("Accounts[%d] = admin %v closed %v deactivated %v", i, u.Admin, u.Closed, u.Deactivated)
		}
	}
}

func testDeactivate(t *testing.T, s chat.Store) {
	ctx := t.Context()
	NewUser(t, s, "admin")
	bob := NewUser(t, s, "bob")
	carol := NewUser(t, s, "carol")
	deadline := time.Now().Add(time.Hour)
	for _, k := range []string{"bob-1", "bob-2"} {
		if err := s.BindSession(ctx, bob.ID, k, deadline); err != nil {
			t.Fatalf("BindSession: %v", err)
		}
	}
	if err := s.BindSession(ctx, carol.ID, "carol-1", deadline); err != nil {
		t.Fatalf("BindSession: %v", err)
	}
	u, keys, err := s.DeactivateUser(ctx, bob.ID, chat.Now())
	if err != nil {
		t.Fatalf("DeactivateUser: %v", err)
	}
	slices.Sort(keys)
	if !u.Deactivated || u.ID != bob.ID || !slices.Equal(keys, []string{"bob-1", "bob-2"}) {
		t.Errorf("DeactivateUser = %+v, keys %v; want bob deactivated, keys [bob-1 bob-2]", u, keys)
	}
	if got, err := s.UserByID(ctx, bob.ID); err != nil || !got.Deactivated {
		t.Errorf("UserByID after deactivation = %+v, %v; want deactivated", got, err)
	}
	// The login looks the account up and finds it deactivated (the
	// Service refuses it); a session cannot be started.
	got, hash, err := s.UserCredentials(ctx, "bob")
	if err != nil || !got.Deactivated || hash != "hash" {
		t.Errorf("UserCredentials after deactivation = %+v, %q, %v; want deactivated", got, hash, err)
	}
	if ok, err := s.StartSession(ctx, bob.ID, "bob-3", deadline, "hash"); err != nil || ok {
		t.Errorf("StartSession of a deactivated account = %v, %v; want false", ok, err)
	}
	// Carol's session is untouched.
	if keys, err := s.EndSessions(ctx, carol.ID, ""); err != nil || !slices.Equal(keys, []string{"carol-1"}) {
		t.Errorf("carol's sessions after bob's deactivation: %v, %v; want [carol-1]", keys, err)
	}
	// Again: no sessions left to end, still deactivated.
	if u, keys, err := s.DeactivateUser(ctx, bob.ID, chat.Now()); err != nil || !u.Deactivated || len(keys) != 0 {
		t.Errorf("DeactivateUser again = %+v, %v, %v; want deactivated, no keys", u, keys, err)
	}
	if u, err := s.ReactivateUser(ctx, bob.ID); err != nil || u.Deactivated {
		t.Errorf("ReactivateUser = %+v, %v; want active", u, err)
	}
	if ok, err := s.StartSession(ctx, bob.ID, "bob-4", deadline, "hash"); err != nil || !ok {
		t.Errorf("StartSession after reactivation = %v, %v; want true", ok, err)
	}
	_, _, err = s.DeactivateUser(ctx, bob.ID+1000, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "DeactivateUser(unknown)")
	_, err = s.ReactivateUser(ctx, bob.ID+1000)
	wantCode(t, err, chat.ENOTFOUND, "ReactivateUser(unknown)")
	if _, err := s.CloseUser(ctx, carol.ID, chat.Now()); err != nil {
		t.Fatalf("CloseUser: %v", err)
	}
	_, _, err = s.DeactivateUser(ctx, carol.ID, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "DeactivateUser(closed)")
}

// newInvitation stores an invitation of by with the token's hash.
func newInvitation(t *testing.T, s chat.Store, by chat.UserID, token string, maxUses int, expires time.Time) chat.Invitation {
	t.Helper()
	now := chat.Now()
	inv, err := s.CreateInvitation(t.Context(), chat.Invitation{
		TokenHash: chat.InvitationTokenHash(token), CreatedBy: by, CreatedAt: now, ExpiresAt: expires, MaxUses: maxUses,
	})
	if err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}
	return inv
}

func testInvitations(t *testing.T, s chat.Store) {
	ctx := t.Context()
	admin := NewUser(t, s, "admin")
	expires := chat.Now().Add(time.Hour)
	a := newInvitation(t, s, admin.ID, "token-a", 3, expires)
	if a.ID <= 0 || a.CreatedBy != admin.ID || a.MaxUses != 3 || a.Uses != 0 || !a.RevokedAt.IsZero() ||
		!a.ExpiresAt.Equal(expires) || a.TokenHash != chat.InvitationTokenHash("token-a") {
		t.Errorf("CreateInvitation = %+v", a)
	}
	// An operator's invitation has no creator.
	b := newInvitation(t, s, 0, "token-b", 1, expires)
	c := newInvitation(t, s, admin.ID, "token-c", 1, expires)
	if b.CreatedBy != 0 {
		t.Errorf("an operator's invitation: CreatedBy %d, want 0", b.CreatedBy)
	}
	page, err := s.Invitations(ctx, chat.InvitationQuery{Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != a.ID || page[1].ID != b.ID {
		t.Fatalf("Invitations first page = %+v, %v; want a, b", page, err)
	}
	page, err = s.Invitations(ctx, chat.InvitationQuery{After: b.ID, Limit: 2})
	if err != nil || len(page) != 1 || page[0].ID != c.ID {
		t.Fatalf("Invitations second page = %+v, %v; want c", page, err)
	}
	at := chat.Now()
	r, err := s.RevokeInvitation(ctx, a.ID, at)
	if err != nil || !r.RevokedAt.Equal(at) || r.ID != a.ID {
		t.Errorf("RevokeInvitation = %+v, %v; want revoked at %v", r, err, at)
	}
	// Revoking again keeps the first time.
	r, err = s.RevokeInvitation(ctx, a.ID, at.Add(time.Minute))
	if err != nil || !r.RevokedAt.Equal(at) {
		t.Errorf("RevokeInvitation again = %+v, %v; want revoked at %v still", r, err, at)
	}
	_, err = s.RevokeInvitation(ctx, c.ID+1000, at)
	wantCode(t, err, chat.ENOTFOUND, "RevokeInvitation(unknown)")
}

func testInvitedUser(t *testing.T, s chat.Store) {
	ctx := t.Context()
	admin := NewUser(t, s, "admin")
	now := chat.Now()
	valid := newInvitation(t, s, admin.ID, "valid", 2, now.Add(time.Hour))
	newInvitation(t, s, admin.ID, "expired", 5, now.Add(-time.Second))
	revoked := newInvitation(t, s, admin.ID, "revoked", 5, now.Add(time.Hour))
	if _, err := s.RevokeInvitation(ctx, revoked.ID, now); err != nil {
		t.Fatalf("RevokeInvitation: %v", err)
	}
	join := func(name, token string) (chat.User, error) {
		return s.CreateInvitedUser(ctx, chat.User{Username: name, DisplayName: name, CreatedAt: chat.Now()}, "hash", chat.InvitationTokenHash(token), chat.Now())
	}
	u, err := join("dora", "valid")
	if err != nil || u.ID == 0 || u.Admin {
		t.Fatalf("CreateInvitedUser(valid) = %+v, %v; want a new user, not an admin", u, err)
	}
	if got, _, err := s.UserCredentials(ctx, "dora"); err != nil || got.ID != u.ID {
		t.Errorf("the invited user is not stored: %+v, %v", got, err)
	}
	// A taken name counts no use.
	_, err = join("dora", "valid")
	wantCode(t, err, chat.ECONFLICT, "CreateInvitedUser(taken name)")
	for _, token := range []string{"expired", "revoked", "unknown"} {
		_, err := join("eve-"+token, token)
		wantCode(t, err, chat.EFORBIDDEN, "CreateInvitedUser("+token+")")
		if _, _, err := s.UserCredentials(ctx, "eve-"+token); chat.ErrorCode(err) != chat.ENOTFOUND {
			t.Errorf("a refused registration (%s) stored its user: %v", token, err)
		}
	}
	if _, err := join("fred", "valid"); err != nil {
		t.Fatalf("CreateInvitedUser(second use): %v", err)
	}
	_, err = join("gina", "valid")
	wantCode(t, err, chat.EFORBIDDEN, "CreateInvitedUser(used up)")
	all, err := s.Invitations(ctx, chat.InvitationQuery{Limit: 10})
	if err != nil {
		t.Fatalf("Invitations: %v", err)
	}
	for _, inv := range all {
		want := 0
		if inv.ID == valid.ID {
			want = 2
		}
		if inv.Uses != want {
			t.Errorf("invitation %d: %d uses, want %d", inv.ID, inv.Uses, want)
		}
	}
}

func testInvitationConcurrent(t *testing.T, s chat.Store) {
	admin := NewUser(t, s, "admin")
	const uses, racers = 3, 10
	inv := newInvitation(t, s, admin.ID, "shared", uses, chat.Now().Add(time.Hour))
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			name := fmt.Sprintf("racer%d", i)
			_, errs[i] = s.CreateInvitedUser(t.Context(), chat.User{Username: name, DisplayName: name, CreatedAt: chat.Now()}, "hash", inv.TokenHash, chat.Now())
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch chat.ErrorCode(err) {
		case "":
			ok++
		case chat.EFORBIDDEN:
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if ok != uses {
		t.Errorf("%d racing registrations with a %d-use invitation: %d succeeded, want %d", racers, uses, ok, uses)
	}
	all, err := s.Accounts(t.Context(), chat.AccountQuery{Limit: 100})
	if err != nil || len(all) != uses+1 {
		t.Errorf("accounts after the race: %d, %v; want %d", len(all), err, uses+1)
	}
	got, err := s.Invitations(t.Context(), chat.InvitationQuery{Limit: 10})
	if err != nil || len(got) != 1 || got[0].Uses != uses {
		t.Errorf("the invitation after the race: %+v, %v; want %d uses", got, err, uses)
	}
}

// testLastAdminCloses: when the last active admin closes their account,
// the earliest open, active account becomes one (a deactivated one is
// passed over); while another admin is left, nobody is promoted; two
// admins closing at once leave one.
func testLastAdminCloses(t *testing.T, s chat.Store) {
	ctx := t.Context()
	root := NewUser(t, s, "root")
	dave := NewUser(t, s, "dave")
	bob := NewUser(t, s, "bob")
	carol := NewUser(t, s, "carol")
	if _, _, err := s.DeactivateUser(ctx, dave.ID, chat.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseUser(ctx, root.ID, chat.Now()); err != nil {
		t.Fatalf("CloseUser of the only admin: %v", err)
	}
	if got := activeAdmins(t, s); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("admins after the only one closed their account: %v, want [bob], the earliest open, active account", got)
	}
	if _, err := s.SetAdmin(ctx, carol.ID, true); err != nil {
		t.Fatal(err)
	}
	erin := NewUser(t, s, "erin")
	var wg sync.WaitGroup
	for _, id := range []chat.UserID{bob.ID, carol.ID} {
		wg.Go(func() {
			if _, err := s.CloseUser(ctx, id, chat.Now()); err != nil {
				t.Errorf("CloseUser(%d): %v", id, err)
			}
		})
	}
	wg.Wait()
	if got := activeAdmins(t, s); !slices.Equal(got, []string{erin.Username}) {
		t.Errorf("admins after both admins closed their accounts at once: %v, want [erin]", got)
	}
}
