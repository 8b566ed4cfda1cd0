package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// errorPageJS reads the error page as a visitor sees it.
const errorPageJS = `({
	status: performance.getEntriesByType('navigation')[0].responseStatus,
	heading: text('main h1'), text: text('main .card p'),
	link: $('#error-link') ? $('#error-link').getAttribute('href') : null, linkText: text('#error-link'),
	styled: getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)',
	icon: !!$('link[rel="icon"][href^="/static/"]'),
	title: document.title,
})`

// errorPage is what errorPageJS reads.
type errorPage struct {
	Status   int    `json:"status"`
	Heading  string `json:"heading"`
	Text     string `json:"text"`
	Link     string `json:"link"`
	LinkText string `json:"linkText"`
	Styled   bool   `json:"styled"`
	Icon     bool   `json:"icon"`
	Title    string `json:"title"`
}

// wantErrorPage opens path and checks that it is the error page of the
// app's layout (styled, with its icon) with the status, the heading and a
// link to link.
func wantErrorPage(b *browser, path string, status int, heading, link string) {
	b.t.Helper()
	b.open(path)
	b.waitFor("the error page of "+path, `document.readyState === 'complete' && $('main h1')`, "document.documentElement.outerHTML.slice(0, 500)")
	got := eval[errorPage](b, errorPageJS)
	if got.Status != status || got.Heading != heading || got.Text == "" || got.Link != link || got.LinkText == "" || !got.Styled || !got.Icon || got.Title != heading+" · Parley" {
		b.t.Errorf("%s: %s shows %+v, want status %d, heading %q, a sentence and a link to %s, in the layout", b.name, path, got, status, heading, link)
	}
}

// TestBrowserErrorPages: an unknown address, a conversation that does not
// exist and one the visitor is not in show the not-found page of the app's
// layout (heading, sentence, a link back) with status 404, signed in or
// out, while the API keeps its JSON errors; the log-in and sign-up forms,
// throttled, say how long to wait; and a new account's empty list says so
// at its top.
func TestBrowserErrorPages(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv("PARLEY_REGISTER_RATE", "3"))
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	visitor := newBrowser(t, s, "visitor", browserOptions{})

	// Signed out: the link goes to the log-in page.
	wantErrorPage(visitor, "/no/such/page", 404, "Page not found", "/login")

	// The API answers its unknown routes in JSON, not with the page.
	status, raw := alice.do("GET", "/api/v1/no-such-route", nil)
	var e wire.Error
	if err := json.Unmarshal(raw, &e); err != nil || status != http.StatusNotFound || e.Error.Code != "not_found" {
		t.Errorf("GET /api/v1/no-such-route: %d %s, want the JSON not_found error", status, raw)
	}

	// Three sign-ups an hour from this address (alice and bob through the
	// API, then carol): the fourth form says how long to wait.
	carol := newBrowser(t, s, "carol", browserOptions{})
	carol.signUp("carol", "Carol", "carol-password-1")
	visitor.open("/register")
	visitor.typeInto("#username", "dave")
	visitor.typeInto("#password", "dave-password-1")
	visitor.click("form#register-form button[type=submit]")
	visitor.waitFor("the throttled sign-up", `visible('#form-error')`, `$('#register-form').outerHTML`)
	registerWait := regexp.MustCompile(`^Too many new accounts from your address\. Try again in ([0-9]+) (minutes|seconds)\.$`)
	if got := eval[errorPage](visitor, errorPageJS); got.Status != http.StatusTooManyRequests {
		t.Errorf("visitor: the throttled sign-up answered %d, want 429", got.Status)
	}
	if msg := eval[string](visitor, `text('#form-error')`); !registerWait.MatchString(msg) {
		t.Errorf("visitor: the throttled sign-up says %q, want %v", msg, registerWait)
	}

	// Signed in: the not-found page links back to the conversations, and a
	// conversation one is not in looks the same as one that does not exist.
	wantErrorPage(carol, "/no/such/page", 404, "Page not found", "/")
	wantErrorPage(carol, "/c/99999", 404, "Page not found", "/")
	wantErrorPage(carol, fmt.Sprintf("/c/%d", conv), 404, "Page not found", "/")
	wantErrorPage(carol, "/c/not-a-number", 404, "Page not found", "/")

	// Her list is empty: the notice is at its top, not at the bottom of the
	// screen.
	carol.openConnected("/")
	carol.waitFor("No conversations yet", `visible('#no-conversations')`, `$('#no-conversations').outerHTML`)
	if top := eval[float64](carol, `$('#no-conversations').getBoundingClientRect().top - $('.sidebar .bar').getBoundingClientRect().bottom`); top < 0 || top > 60 {
		t.Errorf("carol: No conversations yet is %.0f px below the sidebar's bar, want right under it", top)
	}

	// Wrong passwords: past the free failures the log-in form says how long
	// to wait, and the wait is the one the server's Retry-After gives.
	loginWait := regexp.MustCompile(`^Too many failed attempts\. Try again in ([0-9]+) (second|seconds|minute|minutes)\.$`)
	throttled := false
	for try := 0; try < 12 && !throttled; try++ {
		visitor.open("/login")
		visitor.typeInto("#username", "alice")
		visitor.typeInto("#password", "wrong-password")
		visitor.click("form#login-form button[type=submit]")
		visitor.waitFor("the log-in answer", `location.pathname === '/login' && document.readyState === 'complete' && visible('#form-error')`, `$('#login-form').outerHTML`)
		got := eval[errorPage](visitor, errorPageJS)
		msg := eval[string](visitor, `text('#form-error')`)
		switch got.Status {
		case http.StatusUnauthorized:
			if msg != "invalid username or password" {
				t.Errorf("visitor: a wrong password says %q", msg)
			}
		case http.StatusTooManyRequests:
			throttled = true
			m := loginWait.FindStringSubmatch(msg)
			if m == nil {
				t.Errorf("visitor: the throttled log-in says %q, want %v", msg, loginWait)
				break
			}
			if invalid := eval[bool](visitor, `$('#password').hasAttribute('aria-invalid')`); invalid {
				t.Errorf("visitor: the throttled log-in marks the password invalid")
			}
			n, _ := strconv.Atoi(m[1])
			if n < 1 {
				t.Errorf("visitor: the throttled log-in says to wait %s", m[0])
			}
		default:
			t.Fatalf("visitor: log-in with a wrong password answered %d: %+v", got.Status, got)
		}
	}
	if !throttled {
		t.Errorf("visitor: no log-in was throttled after 12 wrong passwords")
	}
}
