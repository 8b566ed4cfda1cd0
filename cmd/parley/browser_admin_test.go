package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrowserAdminPage: an admin finds the admin page from Settings,
// creates an invitation with its form and sees its link, revokes it and
// deactivates an account; axe-core finds no violation on the page in the
// light and the dark color scheme, and at 320 px nothing scrolls
// sideways, long names included.
func TestBrowserAdminPage(t *testing.T) {
	chromiumPath(t)
	src := axeSource(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	register(t, s, "root")
	long := register(t, s, "w"+strings.Repeat("w", 31))
	b := newA11yBrowser(t, s, "admin")
	b.logIn("root", "password-root")

	b.open("/settings")
	b.click("#admin-link")
	b.waitFor("the admin page", `location.pathname === '/admin' && visible('form#invitation-form') && $$('#accounts tbody tr').length === 2`, `$('main').outerHTML`)
	b.click("form#invitation-form button[type=submit]")
	b.waitFor("the new link", `visible('#new-invitation-link') && $('#new-invitation-link').value.includes('/register?invite=') && $$('#invitations tbody tr').length === 1`, `$('main').outerHTML`)
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		for _, v := range axeRun(b, src) {
			t.Errorf("admin page, %s: %s", scheme, v)
		}
	}
	b.click("#invitations tbody form button[type=submit]")
	b.waitFor("the revocation", `visible('#admin-notice') && text('#admin-notice') === 'Invitation revoked.' && text('#invitations tbody td:nth-child(5)') === 'revoked'`, `$('main').outerHTML`)
	b.click(fmt.Sprintf("#account-%d form button[type=submit]", long.user.ID))
	b.waitFor("the deactivation", fmt.Sprintf(`visible('#admin-notice') && text('#account-%d td:nth-child(2)') === 'deactivated'`, long.user.ID), `$('main').outerHTML`)
	if signedIn(t, long) {
		t.Error("the deactivated account's session still works")
	}

	b.phone()
	b.open("/admin")
	b.waitFor("the admin page", `visible('form#invitation-form')`, `$('main').outerHTML`)
	noSideways(b, "the admin page")
	b.clearField("#max_uses")
	b.typeInto("#max_uses", "-1")
	b.click("form#invitation-form button[type=submit]")
	b.waitFor("the error", `visible('#invitation-error')`, `$('main').outerHTML`)
	noSideways(b, "the admin page with an error")
	for _, v := range axeRun(b, src) {
		t.Errorf("admin page with an error at phone width: %s", v)
	}
}
