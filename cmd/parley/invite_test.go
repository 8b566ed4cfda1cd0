package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// adminCLI runs `parley admin ARGS…` on the database db and returns what
// it printed.
func adminCLI(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	var out, errs syncBuffer
	env := map[string]string{"PARLEY_DB": db}
	err := run(context.Background(), append([]string{"parley", "admin"}, args...), func(k string) string { return env[k] }, &out, &errs)
	return out.String() + errs.String(), err
}

// passwordFile writes pw to a new file and returns its path.
func passwordFile(t *testing.T, pw string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tryRegister registers username with the invitation token and returns
// the status and the error code ("" on success).
func tryRegister(t *testing.T, s *server, username, invitation string) (int, string) {
	t.Helper()
	c := newClient(t, s)
	status, raw := c.do("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: username, Password: "password-" + username, Invitation: invitation})
	var e wire.Error
	jsonUnmarshal(raw, &e)
	return status, e.Error.Code
}

// createInvitation creates an invitation as c, an admin.
func (c *client) createInvitation(maxUses int) wire.Invitation {
	c.t.Helper()
	var resp wire.InvitationResponse
	c.call("POST", "/api/v1/admin/invitations", wire.CreateInvitationRequest{MaxUses: maxUses, ExpiresIn: 3600}, http.StatusCreated, &resp)
	return resp.Invitation
}

// accountExists reports whether username can sign in with the password
// register and tryRegister give it.
func accountExists(t *testing.T, s *server, username string) bool {
	t.Helper()
	status, _ := newClient(t, s).do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: username, Password: "password-" + username})
	return status == http.StatusOK
}

// TestFirstAccountIsAdmin: in the default open mode anyone registers, and
// the first account is the site admin: its admin API answers, another
// account's is 403 forbidden.
func TestFirstAccountIsAdmin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	var page wire.AccountsResponse
	alice.call("GET", "/api/v1/admin/users", nil, http.StatusOK, &page)
	if len(page.Users) != 2 || !page.Users[0].Admin || page.Users[0].ID != alice.user.ID || page.Users[1].Admin || page.Next != nil {
		t.Errorf("accounts: %+v, want alice an admin, bob not", page)
	}
	bob.wantError("GET", "/api/v1/admin/users", nil, http.StatusForbidden, "forbidden")
	// A page cursor is an ID, as the members list's is.
	for _, path := range []string{"/api/v1/admin/users", "/api/v1/admin/invitations"} {
		for _, after := range []string{"x", "0", "-1"} {
			alice.wantError("GET", path+"?after="+after, nil, http.StatusBadRequest, "invalid")
		}
	}
}

// TestInviteMode: with -registration invite, registering needs a usable
// invitation; the first admin comes from `parley admin create-user`; an
// invitation admits max_uses accounts, and a revoked one none; a refused
// registration creates nothing.
func TestInviteMode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "invite"})

	status, code := tryRegister(t, s, "first", "")
	if status != http.StatusForbidden || code != "forbidden" {
		t.Fatalf("registering without an invitation: %d %q, want 403 forbidden", status, code)
	}
	e := newClient(t, s).wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "first", Password: "password-first"}, http.StatusForbidden, "forbidden")
	if !strings.Contains(e.Error.Message, "invitation") {
		t.Errorf("the refusal says %q; want it to say an invitation is needed", e.Error.Message)
	}
	if accountExists(t, s, "first") {
		t.Fatal("a refused registration created its account")
	}

	out, err := adminCLI(t, db, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root"))
	if err != nil || !strings.Contains(out, "created site admin root") {
		t.Fatalf("admin create-user: %v\n%s", err, out)
	}
	root := login(t, s, "root", "password-root")
	inv := root.createInvitation(2)
	if inv.Token == "" || inv.MaxUses != 2 || inv.Uses != 0 || !inv.Usable || !strings.HasSuffix(inv.URL, "/register?invite="+inv.Token) {
		t.Fatalf("new invitation: %+v", inv)
	}
	for _, bad := range []string{"not-a-token", inv.Token + "x"} {
		if status, code := tryRegister(t, s, "mallory", bad); status != http.StatusForbidden || code != "forbidden" {
			t.Errorf("registering with a bad invitation: %d %q, want 403 forbidden", status, code)
		}
	}
	for _, name := range []string{"ada", "grace"} {
		if status, code := tryRegister(t, s, name, inv.Token); status != http.StatusCreated {
			t.Fatalf("registering %s with the invitation: %d %q, want 201", name, status, code)
		}
	}
	if status, code := tryRegister(t, s, "third", inv.Token); status != http.StatusForbidden || code != "forbidden" {
		t.Errorf("a third registration with a two-use invitation: %d %q, want 403", status, code)
	}
	if !accountExists(t, s, "ada") || !accountExists(t, s, "grace") || accountExists(t, s, "third") || accountExists(t, s, "mallory") {
		t.Error("the accounts are not those the invitation admitted")
	}

	// A revoked invitation admits no one.
	other := root.createInvitation(5)
	root.call("DELETE", fmt.Sprintf("/api/v1/admin/invitations/%d", other.ID), nil, http.StatusNoContent, nil)
	if status, code := tryRegister(t, s, "late", other.Token); status != http.StatusForbidden || code != "forbidden" {
		t.Errorf("registering with a revoked invitation: %d %q, want 403", status, code)
	}
	root.wantError("DELETE", "/api/v1/admin/invitations/987654", nil, http.StatusNotFound, "not_found")

	var list wire.InvitationsResponse
	root.call("GET", "/api/v1/admin/invitations?limit=1", nil, http.StatusOK, &list)
	if len(list.Invitations) != 1 || list.Next == nil || list.Invitations[0].ID != inv.ID || list.Invitations[0].Uses != 2 ||
		list.Invitations[0].Usable || list.Invitations[0].Token != "" {
		t.Fatalf("first invitation page: %+v", list)
	}
	root.call("GET", "/api/v1/admin/invitations?after="+*list.Next, nil, http.StatusOK, &list)
	if len(list.Invitations) != 1 || list.Next != nil || list.Invitations[0].ID != other.ID || list.Invitations[0].RevokedAt == nil || list.Invitations[0].Usable {
		t.Fatalf("second invitation page: %+v", list)
	}
	for _, bad := range []wire.CreateInvitationRequest{{MaxUses: -1}, {MaxUses: 100000}, {ExpiresIn: 10}, {ExpiresIn: -5}, {ExpiresIn: 1 << 40}} {
		root.wantError("POST", "/api/v1/admin/invitations", bad, http.StatusBadRequest, "invalid")
	}
	// An admin of the invited kind: the invitation made no admin.
	ada := login(t, s, "ada", "password-ada")
	ada.wantError("POST", "/api/v1/admin/invitations", wire.CreateInvitationRequest{}, http.StatusForbidden, "forbidden")
}

// TestInvitationUsesRace: registrations racing for a three-use invitation
// make three accounts, no more.
func TestInvitationUsesRace(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "invite"})
	if _, err := adminCLI(t, db, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root")); err != nil {
		t.Fatal(err)
	}
	inv := login(t, s, "root", "password-root").createInvitation(3)
	const racers = 8
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { statuses[i], _ = tryRegister(t, s, fmt.Sprintf("racer%d", i), inv.Token) })
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		switch st {
		case http.StatusCreated:
			created++
		case http.StatusForbidden:
		default:
			t.Errorf("a racing registration: %d", st)
		}
	}
	if created != 3 {
		t.Errorf("%d racing registrations with a three-use invitation made %d accounts, want 3", racers, created)
	}
}

// TestClosedMode: with -registration closed nobody registers, not even
// with an invitation; the operator makes accounts.
func TestClosedMode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "closed"})
	if _, err := adminCLI(t, db, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root")); err != nil {
		t.Fatal(err)
	}
	inv := login(t, s, "root", "password-root").createInvitation(1)
	for _, token := range []string{"", inv.Token} {
		if status, code := tryRegister(t, s, "someone", token); status != http.StatusForbidden || code != "forbidden" {
			t.Errorf("registering in closed mode (invitation %q): %d %q, want 403 forbidden", token, status, code)
		}
	}
	if _, body := newClient(t, s).pageOK(t, "/register"); !strings.Contains(body, "Sign-ups are closed") {
		t.Errorf("the sign-up page in closed mode does not say sign-ups are closed:\n%s", body)
	}
	if status, _, body := newClient(t, s).form("/register", url.Values{"username": {"someone"}, "password": {"password-someone"}}); status == http.StatusSeeOther {
		t.Errorf("the registration form in closed mode: %d, want a refusal\n%s", status, body)
	}
	if accountExists(t, s, "someone") {
		t.Error("closed mode created an account")
	}
}

// TestDeactivation: an admin deactivates an account: its WebSocket closes
// with 4001 and its session ends at once; it cannot sign in (the right
// password gets 403 forbidden, a wrong one 401 as ever) until reactivated.
// An admin cannot deactivate themselves.
func TestDeactivation(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin, bob := register(t, s, "admin"), register(t, s, "bob")
	tb := bob.openTab("bob's tab")

	var resp wire.AccountResponse
	admin.call("POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", bob.user.ID), nil, http.StatusOK, &resp)
	if !resp.User.Deactivated || resp.User.ID != bob.user.ID {
		t.Errorf("deactivate: %+v", resp.User)
	}
	wantSessionEnded(t, tb)
	if signedIn(t, bob) {
		t.Error("bob's session works after deactivation")
	}
	e := newClient(t, s).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: "password-bob"}, http.StatusForbidden, "forbidden")
	if !strings.Contains(e.Error.Message, "deactivated") {
		t.Errorf("the login refusal says %q; want it to say the account is deactivated", e.Error.Message)
	}
	newClient(t, s).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: "wrong password"}, http.StatusUnauthorized, "unauthorized")
	if status, loc, _ := newClient(t, s).form("/login", url.Values{"username": {"bob"}, "password": {"password-bob"}}); status == http.StatusSeeOther && loc == "/" {
		t.Error("the login form signed a deactivated account in")
	}

	admin.wantError("POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", admin.user.ID), nil, http.StatusBadRequest, "invalid")
	admin.wantError("POST", "/api/v1/admin/users/987654/deactivate", nil, http.StatusNotFound, "not_found")
	var page wire.AccountsResponse
	admin.call("GET", "/api/v1/admin/users", nil, http.StatusOK, &page)
	if len(page.Users) != 2 || !page.Users[1].Deactivated || page.Users[0].Deactivated {
		t.Errorf("accounts: %+v, want bob deactivated", page.Users)
	}

	admin.call("POST", fmt.Sprintf("/api/v1/admin/users/%d/reactivate", bob.user.ID), nil, http.StatusOK, &resp)
	if resp.User.Deactivated {
		t.Errorf("reactivate: %+v", resp.User)
	}
	login(t, s, "bob", "password-bob")
}

// TestAdminCLI: create-user (from a file or standard input's first line,
// -admin), make-admin and create-invitation, whose link registers in
// invite mode.
func TestAdminCLI(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	if out, err := adminCLI(t, db, "create-user", "-username", "Owner", "-display-name", "The Owner", "-password-file", passwordFile(t, "password-owner")); err != nil || !strings.Contains(out, "created site admin owner (id 1) in "+db+", a new database") {
		t.Fatalf("create-user (first): %v\n%s", err, out)
	}
	if out, err := adminCLI(t, db, "create-user", "-username", "second", "-password-file", passwordFile(t, "password-second")); err != nil || !strings.Contains(out, "created user second (id 2) in "+db+"\n") {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if out, err := adminCLI(t, db, "create-user", "-username", "third", "-admin", "-password-file", passwordFile(t, "password-third")); err != nil || !strings.Contains(out, "created site admin third") {
		t.Fatalf("create-user -admin: %v\n%s", err, out)
	}
	if out, err := adminCLI(t, db, "create-user", "-username", "second", "-password-file", passwordFile(t, "password-x")); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("create-user of a taken name: %v\n%s", err, out)
	}
	if _, err := adminCLI(t, db, "create-user", "-password-file", passwordFile(t, "password-x")); err == nil || !strings.Contains(err.Error(), "-username is required") {
		t.Errorf("create-user without -username: %v", err)
	}
	if out, err := adminCLI(t, db, "make-admin", "-username", "second"); err != nil || !strings.Contains(out, "second is now a site admin") {
		t.Errorf("make-admin: %v\n%s", err, out)
	}
	if out, err := adminCLI(t, db, "make-admin", "-username", "third", "-revoke"); err != nil || !strings.Contains(out, "third is no longer a site admin") {
		t.Errorf("make-admin -revoke: %v\n%s", err, out)
	}
	if _, err := adminCLI(t, db, "make-admin", "-username", "nobody"); err == nil {
		t.Error("make-admin of an unknown account succeeded")
	}
	if _, err := adminCLI(t, db, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("an unknown action: %v", err)
	}
	for _, bad := range [][]string{{"-uses", "0"}, {"-uses", "10001"}, {"-expires", "30s"}, {"-expires", "9000h"}} {
		if _, err := adminCLI(t, db, append([]string{"create-invitation"}, bad...)...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("create-invitation %s: %v, want an error naming %s", bad, err, bad[0])
		}
	}
	out, err := adminCLI(t, db, "create-invitation", "-uses", "1", "-expires", "1h", "-base-url", "https://chat.example.com/")
	if err != nil {
		t.Fatalf("create-invitation: %v\n%s", err, out)
	}
	_, link, ok := strings.Cut(out, "https://chat.example.com/register?invite=")
	if !ok {
		t.Fatalf("create-invitation printed no link:\n%s", out)
	}
	token := strings.TrimSpace(link)

	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "invite"})
	var page wire.AccountsResponse
	login(t, s, "second", "password-second").call("GET", "/api/v1/admin/users", nil, http.StatusOK, &page)
	if len(page.Users) != 3 || !page.Users[0].Admin || page.Users[0].DisplayName != "The Owner" || !page.Users[1].Admin || page.Users[2].Admin {
		t.Errorf("accounts: %+v, want owner and second admins, third not", page.Users)
	}
	if status, code := tryRegister(t, s, "invited", token); status != http.StatusCreated {
		t.Errorf("registering with the printed invitation: %d %q", status, code)
	}
	if status, _ := tryRegister(t, s, "again", token); status != http.StatusForbidden {
		t.Errorf("a second registration with a one-use invitation: %d, want 403", status)
	}
}

// TestWhoMayJoinOnTwoNodes: on PostgreSQL and Redis, the operator's first
// admin, an invitation made on one node admitting registrations racing on
// both exactly max_uses times, and a deactivation on one node closing the
// account's WebSocket on the other at once.
func TestWhoMayJoinOnTwoNodes(t *testing.T) {
	t.Parallel()
	dsn, redisURL := freshDatabase(t)
	if out, err := adminCLI(t, dsn, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root")); err != nil || !strings.Contains(out, "created site admin root") {
		t.Fatalf("admin create-user on PostgreSQL: %v\n%s", err, out)
	}
	prefix := "parleytest:" + strings.ToLower(t.Name()) + ":" + fmt.Sprint(os.Getpid()) + ":"
	var nodes []*server
	for range 2 {
		nodes = append(nodes, startServer(t, map[string]string{
			"PARLEY_DB": dsn, "PARLEY_REDIS": redisURL, "PARLEY_REDIS_PREFIX": prefix, "PARLEY_REGISTRATION": "invite",
		}))
	}
	root := login(t, nodes[0], "root", "password-root")
	inv := root.createInvitation(3)
	const racers = 8
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { statuses[i], _ = tryRegister(t, nodes[i%2], fmt.Sprintf("racer%d", i), inv.Token) })
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		if st == http.StatusCreated {
			created++
		} else if st != http.StatusForbidden {
			t.Errorf("a racing registration: %d", st)
		}
	}
	if created != 3 {
		t.Errorf("%d registrations racing on two nodes for a three-use invitation made %d accounts, want 3", racers, created)
	}

	if status, _ := tryRegister(t, nodes[1], "bob", root.createInvitation(1).Token); status != http.StatusCreated {
		t.Fatalf("registering bob: %d", status)
	}
	bob := login(t, nodes[1], "bob", "password-bob")
	tb := bob.openTab("bob's tab on node 2")
	var resp wire.AccountResponse
	root.call("POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", bob.user.ID), nil, http.StatusOK, &resp)
	wantSessionEnded(t, tb)
	if signedIn(t, bob) || signedIn(t, bob.on(nodes[0])) {
		t.Error("bob's session works on a node after his deactivation")
	}
	newClient(t, nodes[0]).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: "password-bob"}, http.StatusForbidden, "forbidden")
}
