package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserRefusedHandshakeGoesToLogin: a page whose WebSocket is
// refused (its session is gone: here the cookie is, while the server is
// away) goes to the login page instead of retrying for ever.
func TestBrowserRefusedHandshakeGoesToLogin(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	db := t.TempDir() + "/parley.db"
	s := startServer(t, browserServerEnv("PARLEY_DB", db))
	addr := strings.TrimPrefix(s.URL, "http://")
	alice := newBrowser(t, s, "alice", browserOptions{})
	alice.signUp("alice", "Alice", "alice-password-1")

	stopServer(t, s)
	alice.waitFor("Reconnecting…", `visible('#connection-status')`, `$('#connection-status').outerHTML`)
	alice.do("forget the session cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
	startServerAt(t, addr, db)
	alice.waitPath("/login")
}

// TestBrowserExpiredSessionGoesToLogin: when the session reaches its
// lifetime, the server closes the page's WebSocket with 4001 and the page
// goes to the login page.
func TestBrowserExpiredSessionGoesToLogin(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv("PARLEY_SESSION_LIFETIME", "8s"))
	alice := newBrowser(t, s, "alice", browserOptions{})
	alice.signUp("alice", "Alice", "alice-password-1")
	alice.waitPath("/login")
}
