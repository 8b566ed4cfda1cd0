package main

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/hub"
	"github.com/parleychat/parley/internal/wire"
)

// crossSiteRefused checks that a cross-site request to a route is refused
// with 403.
func crossSiteRefused(t *testing.T, c *client, method, path string, body any) {
	t.Helper()
	if status, raw := c.do(method, path, body, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site %s %s: %d %s, want 403", method, path, status, raw)
	}
}

// signedIn checks whether a client's session works.
func signedIn(t *testing.T, c *client) bool {
	t.Helper()
	status, raw := c.do("GET", "/api/v1/me", nil)
	if status != http.StatusOK && status != http.StatusUnauthorized {
		t.Fatalf("GET /me: %d %s", status, raw)
	}
	return status == http.StatusOK
}

// wantSessionEnded checks that a tab was closed with 4001.
func wantSessionEnded(t *testing.T, tb *tab) {
	t.Helper()
	if code := tb.expectClose(wsWait); code != hub.CloseSessionEnded {
		t.Fatalf("%s closed with %d, want %d", tb.name, code, hub.CloseSessionEnded)
	}
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	testLogoutAll(t, s, s)
}

// testLogoutAll: sign out everywhere, asked on node a, ends both of
// alice's sessions (one used on node b) and closes their sockets with 4001.
func testLogoutAll(t *testing.T, a, b *server) {
	alice := register(t, a, "alice")
	other := login(t, b, "alice", "password-alice")
	t1, t2 := alice.openTab("alice's first session"), other.openTab("alice's second session on the other node")

	crossSiteRefused(t, alice, "POST", "/api/v1/auth/logout-all", nil)
	if !signedIn(t, alice) || !signedIn(t, other) {
		t.Fatal("a refused cross-site sign-out ended a session")
	}

	alice.call("POST", "/api/v1/auth/logout-all", nil, http.StatusNoContent, nil)
	wantSessionEnded(t, t1)
	wantSessionEnded(t, t2)
	if signedIn(t, alice) || signedIn(t, other) {
		t.Fatal("a session works after signing out everywhere")
	}
	alice.wantError("POST", "/api/v1/auth/logout-all", nil, http.StatusUnauthorized, "unauthorized")
	// A new login works.
	login(t, a, "alice", "password-alice")
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	testChangePassword(t, s, s)
}

// testChangePassword: a password change asked on node a needs the current
// password; it keeps the asking session, ends alice's other one (used on
// node b) and closes its socket with 4001.
func testChangePassword(t *testing.T, a, b *server) {
	alice := register(t, a, "alice")
	other := login(t, b, "alice", "password-alice")
	t2 := other.openTab("alice's other session")
	before := sessionCookie(t, alice, a)

	change := func(current, next string) wire.PasswordRequest {
		return wire.PasswordRequest{CurrentPassword: current, NewPassword: next}
	}
	crossSiteRefused(t, alice, "POST", "/api/v1/me/password", change("password-alice", "a new password"))
	alice.wantError("POST", "/api/v1/me/password", change("wrong password", "a new password"), http.StatusUnauthorized, "unauthorized")
	alice.wantError("POST", "/api/v1/me/password", change("password-alice", "short"), http.StatusBadRequest, "invalid")
	if !signedIn(t, alice) || !signedIn(t, other) {
		t.Fatal("a refused password change ended a session")
	}
	login(t, a, "alice", "password-alice") // the old password still works

	alice.call("POST", "/api/v1/me/password", change("password-alice", "a new password"), http.StatusNoContent, nil)
	wantSessionEnded(t, t2)
	if signedIn(t, other) {
		t.Fatal("the other session works after the password change")
	}
	if !signedIn(t, alice) {
		t.Fatal("the session that changed the password was ended")
	}
	if after := sessionCookie(t, alice, a); after == before || after == "" {
		t.Errorf("the session's token was not renewed: %q then %q", before, after)
	}
	newClient(t, a).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, http.StatusUnauthorized, "unauthorized")
	login(t, b, "alice", "a new password")
	alice.openTab("alice, after the change")
}

func TestUpdateDisplayName(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	testUpdateDisplayName(t, s, s)
}

// testUpdateDisplayName: alice, on node a, renames herself; bob (sharing
// a conversation, on node b) and alice's own tab get a user frame, and
// bob's list shows the new name. carol, who shares nothing with her, gets
// nothing.
func testUpdateDisplayName(t *testing.T, a, b *server) {
	alice, bob := register(t, a, "alice"), register(t, b, "bob")
	carol := register(t, b, "carol")
	alice.startConversation(bob)
	bobTab := bob.openTab("bob")
	aliceTab := alice.openTab("alice")
	carolTab := carol.openTab("carol")

	crossSiteRefused(t, alice, "PATCH", "/api/v1/me", wire.ProfileRequest{DisplayName: "Mallory"})
	alice.wantError("PATCH", "/api/v1/me", map[string]any{"display_name": "\u200b"}, http.StatusBadRequest, "invalid")
	alice.wantError("PATCH", "/api/v1/me", map[string]any{"display_name": "x", "username": "root"}, http.StatusBadRequest, "invalid")

	var resp wire.UserResponse
	alice.call("PATCH", "/api/v1/me", wire.ProfileRequest{DisplayName: "  Alice Cooper "}, http.StatusOK, &resp)
	if resp.User.DisplayName != "Alice Cooper" || resp.User.ID != alice.user.ID || resp.User.Username != "alice" {
		t.Fatalf("PATCH /me answered %+v", resp.User)
	}
	for _, tb := range []*tab{bobTab, aliceTab} {
		f := tb.expectPast("user")
		if f.User == nil || f.User.ID != alice.user.ID || f.User.DisplayName != "Alice Cooper" {
			t.Errorf("%s: user frame %+v", tb.name, f.User)
		}
	}
	carolTab.sync() // no user frame came before the answer
	rows := bob.conversations()
	if len(rows) != 1 || rows[0].OtherUser == nil || rows[0].OtherUser.DisplayName != "Alice Cooper" {
		t.Errorf("bob's list: %+v", rows)
	}
	var me wire.UserResponse
	alice.call("GET", "/api/v1/me", nil, http.StatusOK, &me)
	if me.User.DisplayName != "Alice Cooper" {
		t.Errorf("GET /me: %+v", me.User)
	}
	// Empty means the username, as at registration.
	alice.call("PATCH", "/api/v1/me", wire.ProfileRequest{}, http.StatusOK, &resp)
	if resp.User.DisplayName != "alice" {
		t.Errorf("an empty display name gave %q, want the username", resp.User.DisplayName)
	}
}

func TestCloseAccount(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	testCloseAccount(t, s, s)
}

// testCloseAccount: alice, on node a, closes her account. It needs her
// password; both her sessions end (one used on node b) and their sockets
// close with 4001; bob, on node b, sees her become "Deleted user" at once
// and in his list, keeps their history, finds her no more in the
// directory and cannot start a conversation with her; she cannot sign in,
// and nobody can take her username.
func testCloseAccount(t *testing.T, a, b *server) {
	alice, bob := register(t, a, "alice"), register(t, b, "bob")
	other := login(t, b, "alice", "password-alice")
	conv, _ := alice.startConversation(bob)
	goodbye := alice.send(conv, "goodbye", "a-1")
	aliceTab, otherTab := alice.openTab("alice"), other.openTab("alice's other session")
	bobTab := bob.openTab("bob")

	closeReq := wire.CloseAccountRequest{Password: "password-alice"}
	crossSiteRefused(t, alice, "DELETE", "/api/v1/me", closeReq)
	alice.wantError("DELETE", "/api/v1/me", wire.CloseAccountRequest{Password: "wrong password"}, http.StatusUnauthorized, "unauthorized")
	alice.wantError("DELETE", "/api/v1/me", nil, http.StatusBadRequest, "invalid")
	alice.wantError("DELETE", "/api/v1/me", map[string]any{"password": "password-alice", "now": true}, http.StatusBadRequest, "invalid")
	if !signedIn(t, alice) || !signedIn(t, other) {
		t.Fatal("a refused closure ended a session")
	}
	var found wire.UsersResponse
	bob.call("GET", "/api/v1/users?q=alice", nil, http.StatusOK, &found)
	if len(found.Users) != 1 {
		t.Fatalf("before the closure bob finds %+v", found.Users)
	}

	alice.call("DELETE", "/api/v1/me", closeReq, http.StatusNoContent, nil)
	wantSessionEnded(t, aliceTab)
	wantSessionEnded(t, otherTab)
	if signedIn(t, alice) || signedIn(t, other) {
		t.Fatal("a session of a closed account works")
	}
	f := bobTab.expectPast("user")
	if f.User == nil || f.User.ID != alice.user.ID || f.User.DisplayName != "Deleted user" || !f.User.Closed {
		t.Errorf("bob's user frame: %+v, want alice closed as Deleted user", f.User)
	}

	rows := bob.conversations()
	if len(rows) != 1 || rows[0].OtherUser == nil || rows[0].OtherUser.DisplayName != "Deleted user" || !rows[0].OtherUser.Closed || rows[0].OtherUser.Online {
		t.Errorf("bob's list after the closure: %+v", rows)
	}
	if hist := bob.messages(conv, ""); len(hist.Messages) != 1 || !reflect.DeepEqual(hist.Messages[0], goodbye) {
		t.Errorf("bob's history after the closure: %+v, want %+v", hist.Messages, goodbye)
	}
	for _, q := range []string{"alice", "deleted", ""} {
		bob.call("GET", "/api/v1/users?q="+q, nil, http.StatusOK, &found)
		if len(found.Users) != 0 {
			t.Errorf("bob's search for %q finds %+v", q, found.Users)
		}
	}
	bob.wantError("POST", "/api/v1/conversations", wire.StartConversationRequest{UserID: alice.user.ID}, http.StatusNotFound, "not_found")
	if status, _, body := bob.page(fmt.Sprintf("/c/%d", conv)); status != http.StatusOK || !strings.Contains(body, `<p id="closed-notice" class="closed-notice">`) {
		t.Errorf("bob's page of the conversation does not say the account is closed: %d", status)
	}

	newClient(t, a).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, http.StatusUnauthorized, "unauthorized")
	newClient(t, b).wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "Alice", Password: "password-alice"}, http.StatusConflict, "conflict")
	alice.wantError("DELETE", "/api/v1/me", closeReq, http.StatusUnauthorized, "unauthorized")
}

// TestAccountsTwoNodes: on PostgreSQL and Redis, signing out everywhere,
// a password change and closing the account close sockets on the other
// node, and a new display name or a closure reaches people connected to
// the other node.
func TestAccountsTwoNodes(t *testing.T) {
	t.Parallel()
	t.Run("LogoutAll", func(t *testing.T) {
		t.Parallel()
		nodes := startCluster(t, 2, nil, nil)
		testLogoutAll(t, nodes[0], nodes[1])
	})
	t.Run("ChangePassword", func(t *testing.T) {
		t.Parallel()
		nodes := startCluster(t, 2, nil, nil)
		testChangePassword(t, nodes[0], nodes[1])
	})
	t.Run("DisplayName", func(t *testing.T) {
		t.Parallel()
		nodes := startCluster(t, 2, nil, nil)
		testUpdateDisplayName(t, nodes[0], nodes[1])
	})
	t.Run("CloseAccount", func(t *testing.T) {
		t.Parallel()
		nodes := startCluster(t, 2, nil, nil)
		testCloseAccount(t, nodes[0], nodes[1])
	})
	t.Run("LoginsRacingAccountChanges", func(t *testing.T) {
		t.Parallel()
		nodes := startCluster(t, 2, nil, nil)
		testLoginsRacingAccountChanges(t, nodes[0], nodes[1])
	})
}

// TestSettingsPage drives the settings page as a browser without
// JavaScript would: rename, a wrong and a right password change (which
// ends the other session), sign out everywhere.
func TestSettingsPage(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := register(t, s, "alice")
	other := login(t, s, "alice", "password-alice")
	otherTab := other.openTab("alice's other session")

	if status, h, _ := newClient(t, s).page("/settings"); status != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("signed out GET /settings: %d to %q", status, h.Get("Location"))
	}
	if status, _, body := alice.page("/"); status != http.StatusOK || !strings.Contains(body, `href="/settings"`) {
		t.Fatalf("the app does not link to the settings: %d", status)
	}
	status, _, body := alice.page("/settings")
	if status != http.StatusOK || !strings.Contains(body, `value="Alice"`) || !strings.Contains(body, `action="/settings/password"`) {
		t.Fatalf("GET /settings: %d %s", status, body)
	}

	status, _, body = alice.form("/settings/name", url.Values{"display_name": {"Alice <b>L</b>"}})
	if status != http.StatusOK || !strings.Contains(body, `value="Alice &lt;b&gt;L&lt;/b&gt;"`) || !strings.Contains(body, "display name is changed") {
		t.Fatalf("rename: %d %s", status, body)
	}
	status, _, body = alice.form("/settings/name", url.Values{"display_name": {"\u202e"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `id="name-error"`) {
		t.Fatalf("an invisible name: %d %s", status, body)
	}

	status, _, body = alice.form("/settings/password", url.Values{"current_password": {"wrong password"}, "new_password": {"a new password"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "current password is wrong") {
		t.Fatalf("a wrong current password: %d %s", status, body)
	}
	if !signedIn(t, other) {
		t.Fatal("a refused password change ended the other session")
	}
	status, _, body = alice.form("/settings/password", url.Values{"current_password": {"password-alice"}, "new_password": {"a new password"}})
	if status != http.StatusOK || !strings.Contains(body, "password is changed") {
		t.Fatalf("password change: %d %s", status, body)
	}
	wantSessionEnded(t, otherTab)
	if signedIn(t, other) || !signedIn(t, alice) {
		t.Fatal("after the password change the other session works, or this one does not")
	}

	again := login(t, s, "alice", "a new password")
	crossSiteRefused(t, alice, "POST", "/settings/logout-all", nil)
	if !signedIn(t, alice) {
		t.Fatal("a refused cross-site sign-out ended the session")
	}
	if status, loc, _ := alice.form("/settings/logout-all", nil); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("sign out everywhere: %d to %q", status, loc)
	}
	if signedIn(t, alice) || signedIn(t, again) {
		t.Fatal("a session works after signing out everywhere")
	}

	// Closing the account needs the password, then shows the login page.
	alice = login(t, s, "alice", "a new password")
	crossSiteRefused(t, alice, "POST", "/settings/close", url.Values{"password": {"a new password"}})
	status, _, body = alice.form("/settings/close", url.Values{"password": {"password-alice"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, `id="close-error"`) || !strings.Contains(body, "password is wrong") {
		t.Fatalf("closing with a wrong password: %d %s", status, body)
	}
	if !signedIn(t, alice) {
		t.Fatal("a refused closure ended the session")
	}
	status, _, body = alice.form("/settings/close", url.Values{"password": {"a new password"}})
	if status != http.StatusOK || !strings.Contains(body, "Your account is closed.") || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("closing the account: %d %s", status, body)
	}
	if signedIn(t, alice) {
		t.Fatal("the session works after the account was closed")
	}
	newClient(t, s).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "a new password"}, http.StatusUnauthorized, "unauthorized")
}

func TestLoginsRacingAccountChanges(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	testLoginsRacingAccountChanges(t, s, s)
}

// testLoginsRacingAccountChanges: logins with alice's password run, on
// node b, while her password is changed and then her account closed on
// node a. Whatever the interleaving, no session a login got survives the
// change it raced: each login either was bound in time and was ended with
// the others, or failed.
func testLoginsRacingAccountChanges(t *testing.T, a, b *server) {
	alice := register(t, a, "alice")
	race := func(password string, change func()) {
		t.Helper()
		done := make(chan struct{})
		var (
			mu  sync.Mutex
			got []*client
			wg  sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				for range 40 {
					select {
					case <-done:
						return
					default:
					}
					c := newClient(t, b)
					status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: password})
					if status == http.StatusOK {
						mu.Lock()
						got = append(got, c)
						mu.Unlock()
					}
				}
			})
		}
		change()
		close(done)
		wg.Wait()
		for i, c := range got {
			if signedIn(t, c) {
				t.Errorf("login %d of %d, with %q, kept its session after the change it raced", i+1, len(got), password)
			}
		}
	}
	race("password-alice", func() {
		alice.call("POST", "/api/v1/me/password", wire.PasswordRequest{CurrentPassword: "password-alice", NewPassword: "a new password"}, http.StatusNoContent, nil)
	})
	race("a new password", func() {
		alice.call("DELETE", "/api/v1/me", wire.CloseAccountRequest{Password: "a new password"}, http.StatusNoContent, nil)
	})
}
