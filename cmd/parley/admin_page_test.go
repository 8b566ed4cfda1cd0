package main

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminPage: the admin page works with plain forms: an admin creates
// an invitation and sees its link once, the link's sign-up form carries
// the token and registers in invite mode, the admin revokes another
// invitation and deactivates and reactivates an account. Others get the
// 403 page, or the log-in page when signed out, and change nothing.
func TestAdminPage(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "invite"})
	if _, err := adminCLI(t, db, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root")); err != nil {
		t.Fatal(err)
	}
	if _, err := adminCLI(t, db, "create-user", "-username", "bob", "-password-file", passwordFile(t, "password-bob")); err != nil {
		t.Fatal(err)
	}
	root, bob := login(t, s, "root", "password-root"), login(t, s, "bob", "password-bob")

	_, settings := root.pageOK(t, "/settings")
	if !strings.Contains(settings, `href="/admin"`) {
		t.Error("an admin's settings page has no link to the admin page")
	}
	if _, bobSettings := bob.pageOK(t, "/settings"); strings.Contains(bobSettings, `href="/admin"`) {
		t.Error("bob's settings page links to the admin page")
	}
	if status, _, _ := bob.page("/admin"); status != http.StatusForbidden {
		t.Errorf("bob's GET /admin: %d, want 403", status)
	}
	if status, h, _ := newClient(t, s).page("/admin"); status != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Errorf("signed out GET /admin: %d %q, want 303 to /login", status, h.Get("Location"))
	}
	if status, _, _ := bob.form("/admin/invitations", url.Values{"max_uses": {"1"}, "expires_hours": {"1"}}); status != http.StatusForbidden {
		t.Errorf("bob's invitation form: %d, want 403", status)
	}

	crossSiteRefused(t, root, "POST", "/admin/invitations", nil)
	crossSiteRefused(t, root, "POST", fmt.Sprintf("/admin/users/%d/deactivate", bob.user.ID), nil)
	crossSiteRefused(t, root, "POST", "/api/v1/admin/invitations", map[string]int{"max_uses": 1})
	crossSiteRefused(t, root, "POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", bob.user.ID), nil)
	if !signedIn(t, bob) {
		t.Fatal("a refused cross-site deactivation ended bob's session")
	}

	status, _, body := root.form("/admin/invitations", url.Values{"max_uses": {"1"}, "expires_hours": {"24"}})
	if status != http.StatusOK {
		t.Fatalf("the invitation form: %d\n%s", status, body)
	}
	m := regexp.MustCompile(`value="(http://[^"]+/register\?invite=[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page after creating an invitation shows no link:\n%s", body)
	}
	link, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	token := link.Query().Get("invite")
	if _, again := root.pageOK(t, "/admin"); strings.Contains(again, token) {
		t.Error("the invitation's token is shown again")
	}
	if status, _, body := root.form("/admin/invitations", url.Values{"max_uses": {"-1"}, "expires_hours": {"24"}}); status != http.StatusBadRequest || !strings.Contains(body, "must be a whole number from 1 to 10000") {
		t.Errorf("an invitation of -1 uses: %d, want 400 with the reason", status)
	}

	visitor := newClient(t, s)
	if _, plain := visitor.pageOK(t, "/register"); !strings.Contains(plain, "needs an invitation link") {
		t.Errorf("the sign-up page without an invitation does not say one is needed:\n%s", plain)
	}
	_, signup := visitor.pageOK(t, link.RequestURI())
	if !strings.Contains(signup, `name="invite" value="`+token+`"`) || strings.Contains(signup, "needs an invitation link") {
		t.Fatalf("the sign-up form opened from the link does not carry the token:\n%s", signup)
	}
	if status, loc, body := visitor.form("/register", url.Values{"username": {"carol"}, "password": {"password-carol"}, "invite": {token}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("registering with the form and the token: %d %q\n%s", status, loc, body)
	}
	if status, _, body := newClient(t, s).form("/register", url.Values{"username": {"dave"}, "password": {"password-dave"}, "invite": {token}}); status != http.StatusForbidden || !strings.Contains(body, "invitation") {
		t.Errorf("registering with a used-up token: %d, want 403 saying why\n%s", status, body)
	}

	other := root.createInvitation(3)
	if status, _, body := root.form(fmt.Sprintf("/admin/invitations/%d/revoke", other.ID), url.Values{}); status != http.StatusOK || !strings.Contains(body, "Invitation revoked.") {
		t.Errorf("revoking from the page: %d\n%s", status, body)
	}
	if status, _ := tryRegister(t, s, "erin", other.Token); status != http.StatusForbidden {
		t.Errorf("registering with the revoked invitation: %d, want 403", status)
	}

	tb := bob.openTab("bob's tab")
	if status, _, body := root.form(fmt.Sprintf("/admin/users/%d/deactivate", bob.user.ID), url.Values{}); status != http.StatusOK || !strings.Contains(body, "@bob is deactivated") {
		t.Fatalf("deactivating from the page: %d\n%s", status, body)
	}
	wantSessionEnded(t, tb)
	if signedIn(t, bob) {
		t.Error("bob is signed in after deactivation")
	}
	if status, _, body := root.form(fmt.Sprintf("/admin/users/%d/deactivate", root.user.ID), url.Values{}); status != http.StatusBadRequest || !strings.Contains(body, "cannot deactivate your own account") {
		t.Errorf("deactivating oneself from the page: %d\n%s", status, body)
	}
	if status, _, body := root.form(fmt.Sprintf("/admin/users/%d/reactivate", bob.user.ID), url.Values{}); status != http.StatusOK || !strings.Contains(body, "@bob is reactivated") {
		t.Errorf("reactivating from the page: %d\n%s", status, body)
	}
	login(t, s, "bob", "password-bob")
}
