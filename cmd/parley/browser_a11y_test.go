package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/testenv"
)

// axeScript is axe-core's browser build, which npm ci installs from
// package-lock.json into node_modules at the repository's root.
const axeScript = "node_modules/axe-core/axe.min.js"

// axeSource reads axe-core for the accessibility checks. Without it the
// test is skipped, saying how to get it, unless PARLEY_TEST_REQUIRE asks
// for every service ("all") or for "axe": then it fails, so that a CI run
// which lost it says so.
func axeSource(t *testing.T) string {
	t.Helper()
	path := filepath.Join("..", "..", axeScript)
	b, err := os.ReadFile(path)
	if err == nil {
		return string(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read %s: %v", path, err)
	}
	for _, w := range strings.Split(os.Getenv(testenv.Require), ",") {
		if w = strings.TrimSpace(w); w == "all" || strings.EqualFold(w, "axe") {
			t.Fatalf("%s is missing but %s=%q requires it: run npm ci at the repository's root", axeScript, testenv.Require, os.Getenv(testenv.Require))
		}
	}
	t.Skipf("%s is missing: run npm ci at the repository's root to run this test", axeScript)
	return ""
}

// axeViolation is one rule axe-core found broken, with the elements that
// break it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s\n\t\t%s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t\t"))
}

// axeRun runs axe-core over the page as it is and returns its violations:
// every rule it runs by default (WCAG 2 A and AA, best practices).
func axeRun(b *browser, src string) []axeViolation {
	b.t.Helper()
	// axe is put into the page through DevTools, as a script of its own,
	// not by the page: the page's Content-Security-Policy would refuse it
	// (the a11y browsers bypass the policy, see newA11yBrowser).
	b.do("load axe-core", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: "if (!window.axe) {\n" + src + "\n}"})
		return err
	}))
	return eval[[]axeViolation](b, `(async () => {
		const r = await axe.run(document, {resultTypes: ['violations']});
		return r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' ') + ' — ' + n.html.slice(0, 200))}));
	})()`)
}

// newA11yBrowser is a browser for the accessibility checks: axe-core
// builds markup to test the page with, which the page's Trusted Types
// policy would refuse, so the policy is bypassed (the other browser tests
// hold the page to it).
func newA11yBrowser(t *testing.T, s *server, name string) *browser {
	t.Helper()
	return newBrowser(t, s, name, browserOptions{bypassCSP: true})
}

// setColorScheme makes the page see prefers-color-scheme: scheme ("light"
// or "dark").
func setColorScheme(b *browser, scheme string) {
	b.t.Helper()
	b.do("prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	b.waitFor("the page in "+scheme, fmt.Sprintf(`matchMedia('(prefers-color-scheme: %s)').matches`, scheme), `matchMedia('(prefers-color-scheme: dark)').matches`)
}

// TestBrowserA11y runs axe-core on every page, in the light and the dark
// color scheme: log-in and sign-up (also showing their errors), the main
// view without and with a conversation open (with messages, one of them
// over several lines, "Seen", a day separator; also an edited and a
// deleted message, an open editor and a delete question; opened at a
// message, marked), people, message
// search (results, and a refused query), settings (with an error), "New
// group" and a group's members page (each also with its errors) and the
// not-found page. None may have a violation.
func TestBrowserA11y(t *testing.T) {
	chromiumPath(t)
	src := axeSource(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice := register(t, s, "alice")
	bob := register(t, s, "bob")
	carol := register(t, s, "carol")
	conv, _ := alice.startConversation(bob)
	carolConv, _ := carol.startConversation(alice)
	// Enough messages for the history to scroll.
	for i := range 15 {
		alice.send(conv, fmt.Sprintf("Hello Bob, is this readable? (%d)", i+1), "")
		bob.send(conv, fmt.Sprintf("It is.\nEven over two lines, with https://example.com/a/link in it. (%d)", i+1), "")
	}
	alice.send(conv, "Good.", "")
	// An edited message and a deleted one: "(edited)" and the tombstone.
	bob.edit(conv, 2, "It is, edited.")
	alice.call("DELETE", messagePath(conv, 3), nil, http.StatusNoContent, nil)
	group := bob.createGroup("Team", alice, carol).ID
	carol.send(carolConv, "Unread, from Carol", "")

	b := newA11yBrowser(t, s, "reader")
	type page struct {
		name  string
		setup func()
	}
	pages := []page{
		{"log-in", func() {
			b.open("/login")
			b.waitFor("the log-in form", `visible('form#login-form')`, "document.body.innerText")
		}},
		{"log-in, wrong password", func() {
			b.open("/login")
			b.typeInto("#username", "alice")
			b.typeInto("#password", "wrong-password")
			b.click("form#login-form button[type=submit]")
			b.waitFor("the error", `visible('#form-error') && $('#password').getAttribute('aria-invalid') === 'true'`, `$('#login-form').outerHTML`)
		}},
		{"sign-up", func() {
			b.open("/register")
			b.waitFor("the sign-up form", `visible('form#register-form')`, "document.body.innerText")
		}},
		{"sign-up, field errors", func() {
			b.open("/register")
			b.typeInto("#username", "a!")
			b.typeInto("#password", "short")
			b.click("form#register-form button[type=submit]")
			b.waitFor("the field errors", `visible('#username-error') && $('#username').getAttribute('aria-invalid') === 'true' && $('#password').getAttribute('aria-invalid') === 'true' && !$('#display_name').hasAttribute('aria-invalid')`,
				`$('#register-form').outerHTML`)
		}},
		{"not found, signed out", func() {
			b.open("/no/such/page")
			b.waitFor("the not-found page", `visible('h1') && text('h1') === 'Page not found'`, "document.body.innerText")
		}},
		{"main view", func() {
			b.logIn("bob", "password-bob")
			b.waitFor("the list", fmt.Sprintf(`visible(%q) && !visible('section#conversation')`, convRow(conv)), `$('#conversation-list').outerHTML`)
		}},
		{"conversation", func() {
			b.openConnected(fmt.Sprintf("/c/%d", conv))
			b.waitFor("the messages, seen", fmt.Sprintf(`$$('#messages li.message').length === 31 && visible(%q) && visible('#messages .seen') && $('#message-scroller').scrollHeight > $('#message-scroller').clientHeight`, messageItem(31)), readMessagesJS)
		}},
		{"conversation, editing and asking to delete", func() {
			b.click(messageItem(2) + " .edit-button")
			b.click(messageItem(4) + " .delete-button")
			b.waitFor("the editor and the question", fmt.Sprintf(`visible(%q) && visible(%q) && visible(%q)`, messageItem(2)+" .message-editor", messageItem(4)+" .delete-confirm", messageItem(3)+".deleted"),
				`$('#messages').outerHTML`)
		}},
		{"people", func() {
			b.open("/people?q=a")
			b.waitFor("the people", `$$('#people-results li.person').length >= 2`, `$('#people-results').outerHTML`)
		}},
		{"search", func() {
			b.open("/search?q=is")
			b.waitFor("the results", `$$('#search-results li.search-result').length === 20 && $$('#search-results mark').length >= 20 && visible('#search-next')`, `$('main').outerHTML`)
		}},
		{"search, refused", func() {
			b.open("/search?q=%22%22")
			b.waitFor("the refusal", `visible('#search-error') && $('#search-input').getAttribute('aria-invalid') === 'true'`, `$('#search-form').outerHTML`)
		}},
		{"conversation, opened at a message", func() {
			b.openConnected(fmt.Sprintf("/c/%d?at=10#m-10", conv))
			b.waitFor("the message marked", `visible('#m-10.found[aria-current="true"]') && $('#message-scroller').classList.contains('ready')`, `$('#messages').outerHTML`)
		}},
		{"settings", func() {
			b.open("/settings")
			b.waitFor("the settings", `visible('form#name-form')`, "document.body.innerText")
		}},
		{"settings, wrong password", func() {
			b.open("/settings")
			b.typeInto("#close_password", "wrong-password")
			b.click("form#close-form button[type=submit]")
			b.waitFor("the error", `visible('#close-error') && $('#close_password').getAttribute('aria-invalid') === 'true'`, `$('#close-form').outerHTML`)
		}},
		{"new group", func() {
			b.open("/groups/new")
			b.waitFor("the picker", `visible('form#group-form') && $$('#group-results li.person').length >= 2`, `$('#group-form').outerHTML`)
		}},
		{"new group, errors", func() {
			b.open("/groups/new")
			b.waitFor("the picker", `visible('form#group-form')`, "document.body.innerText")
			b.click("#group-create")
			b.waitFor("the errors", `visible('#group-title-error') && visible('#group-people-error') && $('#group-title').getAttribute('aria-invalid') === 'true'`, `$('#group-form').outerHTML`)
		}},
		{"members", func() {
			b.open(fmt.Sprintf("/c/%d/members", group))
			b.waitFor("the members", `$$('#member-list li.person').length === 3 && visible('#add-people')`, `$('main').outerHTML`)
			b.click("#leave summary")
			b.waitFor("the leave button", `$('#leave').open && visible('#leave-form button')`, `$('#leave').outerHTML`)
		}},
		{"members, error", func() {
			b.open(fmt.Sprintf("/c/%d/members", group))
			b.clearField("#rename-title")
			b.click("#rename-form button[type=submit]")
			b.waitFor("the error", `visible('#rename-error') && $('#rename-title').getAttribute('aria-invalid') === 'true'`, `$('#rename-form').outerHTML`)
		}},
		{"not found, signed in", func() {
			b.open(fmt.Sprintf("/c/%d", carolConv))
			b.waitFor("the not-found page", `visible('h1') && text('h1') === 'Page not found'`, "document.body.innerText")
		}},
	}
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		if scheme == "dark" {
			// Signed in from the light round: sign out, for the signed-out pages.
			b.open("/")
			b.click("form#logout-form button[type=submit]")
			b.waitPath("/login")
		}
		for _, p := range pages {
			p.setup()
			for _, v := range axeRun(b, src) {
				t.Errorf("%s, %s: %s", p.name, scheme, v)
			}
		}
		// At phone width, one pane at a time: the list, then the
		// conversation.
		b.phone()
		for _, p := range pages {
			if p.name != "conversation" {
				continue
			}
			b.openConnected("/")
			b.waitFor("the list alone", fmt.Sprintf(`visible(%q) && !visible('section#conversation')`, convRow(conv)), `$('#conversation-list').outerHTML`)
			for _, v := range axeRun(b, src) {
				t.Errorf("main view at phone width, %s: %s", scheme, v)
			}
			p.setup()
			for _, v := range axeRun(b, src) {
				t.Errorf("conversation at phone width, %s: %s", scheme, v)
			}
		}
		b.do("the desktop's screen again", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
			return err
		}))
		b.waitFor("the desktop's width", `innerWidth > 700`, `innerWidth`)
	}
}
