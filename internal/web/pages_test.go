package web

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// TestNoInlineScript holds the templates to what the Content-Security-Policy
// allows: scripts only from files, no inline handlers, no javascript: URLs.
// A JSON data block (type="application/json") is not script: it never
// runs, and the CSP does not apply to it.
func TestNoInlineScript(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?i)<script(?:[^>]*)>`)
	dataBlock := regexp.MustCompile(`(?i)^<script type="application/json" id="[a-z-]+">$`)
	handler := regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, tag := range inlineScript.FindAllString(src, -1) {
			if !strings.Contains(tag, "src=") && !dataBlock.MatchString(tag) {
				t.Errorf("%s: inline script %s", path, tag)
			}
		}
		if m := handler.FindString(src); m != "" {
			t.Errorf("%s: inline event handler %q", path, m)
		}
		if strings.Contains(strings.ToLower(src), "javascript:") {
			t.Errorf("%s: javascript: URL", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScriptWritesTextOnly keeps user text out of HTML parsing in every
// module: no innerHTML, outerHTML, insertAdjacentHTML, document.write or
// eval; and DOM updates are batched through a DocumentFragment.
func TestScriptWritesTextOnly(t *testing.T) {
	modules, err := fs.Glob(assets, "static/*.js")
	if err != nil || len(modules) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	fragment := false
	for _, name := range modules {
		b, err := assets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(b), banned) {
				t.Errorf("%s uses %s", name, banned)
			}
		}
		fragment = fragment || strings.Contains(string(b), "createDocumentFragment")
	}
	if !fragment {
		t.Error("no module batches DOM updates through a DocumentFragment")
	}
}

func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "register", "app", "people", "settings", "error"} {
		if p.sets[name] == nil {
			t.Errorf("no %s page", name)
		}
	}
	if len(p.static.hash) != 12 {
		t.Errorf("static version %q", p.static.hash)
	}
}

// TestWaitMessage: a throttled form says how long to wait, in words,
// rounded up, never shorter than the Retry-After header's seconds.
func TestWaitMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: 2 * time.Minute}, "Too many failed attempts. Try again in 2 minutes."},
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: 1500 * time.Millisecond}, "Too many failed attempts. Try again in 2 seconds."},
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: time.Second}, "Too many failed attempts. Try again in 1 second."},
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: 119 * time.Second}, "Too many failed attempts. Try again in 119 seconds."},
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many new accounts from your address: slow down", RetryAfter: 59*time.Minute + time.Second}, "Too many new accounts from your address. Try again in 60 minutes."},
		{&chat.Error{Code: chat.ERATELIMITED, Message: "too many failed attempts: try again later", RetryAfter: 3*time.Hour - time.Minute}, "Too many failed attempts. Try again in 3 hours."},
		{&chat.Error{Code: chat.EUNAVAILABLE, Message: "the server cannot check this now: try again shortly", RetryAfter: 5 * time.Second}, "The server cannot check this now. Try again in 5 seconds."},
		{chat.Errorf(chat.EINVALID, "display name must be 1 to 64 characters"), "Display name must be 1 to 64 characters."},
	} {
		if got := waitMessage(tc.err); got != tc.want {
			t.Errorf("waitMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestErrorPage: a failed page request gets the error page in the app's
// layout, with the status of the error, a heading, a sentence and a link
// back: to the conversations when signed in, to the log-in page when not.
// An internal error's cause stays in the log, with the route that failed.
func TestErrorPage(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	sm := scs.New()
	s := &server{pages: p, sessions: sm, logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	for _, tc := range []struct {
		name     string
		err      error
		signedIn bool
		status   int
		want     []string
	}{
		{"internal, signed out", errors.New("disk on fire"), false, 500, []string{"<h1>Something went wrong</h1>", `href="/login"`}},
		{"internal, signed in", errors.New("disk on fire"), true, 500, []string{"<h1>Something went wrong</h1>", `<a id="error-link" href="/">Back to your conversations</a>`}},
		{"not found", chat.NotFound("conversation"), true, 404, []string{"<title>Page not found · Parley</title>", "<h1>Page not found</h1>"}},
		{"forbidden", chat.Errorf(chat.EFORBIDDEN, "only admins may do that"), true, 403, []string{"<h1>Forbidden</h1>", "<p>Only admins may do that.</p>"}},
	} {
		h := http.NewServeMux()
		h.Handle("GET /c/{id}", sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.signedIn {
				sm.Put(r.Context(), sessionUserKey, int64(7))
			}
			s.pageError(w, r, tc.err)
		})))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/c/1", nil))
		body := w.Body.String()
		if w.Code != tc.status || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: %d %q, want %d and a page", tc.name, w.Code, w.Header().Get("Content-Type"), tc.status)
		}
		for _, want := range append(tc.want, `<link rel="stylesheet" href="/static/`, `<main class="auth error-page">`) {
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %q in the page:\n%s", tc.name, want, body)
			}
		}
		if strings.Contains(body, "disk on fire") {
			t.Errorf("%s: the page shows the internal error's cause", tc.name)
		}
	}
	if !strings.Contains(logs.String(), "disk on fire") || !strings.Contains(logs.String(), `"route":"GET /c/{id}"`) {
		t.Errorf("the internal error is not logged with its route: %s", logs.String())
	}
}

// TestGroupWords: what the main view says of a group (format.js says the
// same in the script): system messages as sentences, the reader as "You",
// previews with the sender's name, the status line, "Seen by …" and when
// a message shows its sender.
func TestGroupWords(t *testing.T) {
	const me = 1
	n := names{1: {ID: 1, DisplayName: "Ada"}, 2: {ID: 2, DisplayName: "Grace"}, 3: {ID: 3, DisplayName: "Bob"}}
	sys := func(action string, actor, user int64, title string) wire.Message {
		return wire.Message{Kind: wire.MessageSystem, SenderID: actor, System: wire.SystemEvent{Action: action, ActorID: actor, UserID: user, Title: title}}
	}
	for _, tc := range []struct {
		m    wire.Message
		want string
	}{
		{sys(wire.SystemAdded, 2, 3, ""), "Grace added Bob"},
		{sys(wire.SystemAdded, 1, 3, ""), "You added Bob"},
		{sys(wire.SystemAdded, 2, 1, ""), "Grace added you"},
		{sys(wire.SystemRemoved, 2, 3, ""), "Grace removed Bob"},
		{sys(wire.SystemLeft, 3, 3, ""), "Bob left"},
		{sys(wire.SystemLeft, 1, 1, ""), "You left"},
		{sys(wire.SystemTitle, 2, 0, "Ops"), "Grace renamed the group to “Ops”"},
		{wire.Message{Seq: 1, Kind: wire.MessageSystem, SenderID: 2, System: wire.SystemEvent{Action: wire.SystemTitle, ActorID: 2, Title: "Ops"}}, "Grace created the group “Ops”"},
		{sys(wire.SystemAdded, 2, 99, ""), "Grace added Someone"},
	} {
		if got := partsText(systemParts(me, tc.m, n)); got != tc.want {
			t.Errorf("systemParts(%+v) = %q, want %q", tc.m.System, got, tc.want)
		}
	}
	// Names and titles are the parts shown isolated.
	if p := systemParts(me, sys(wire.SystemTitle, 2, 0, "Ops"), n); !p[0].Name || p[1].Name || !p[2].Name || p[3].Name {
		t.Errorf("title parts %+v: names and the title isolated", p)
	}

	group := wire.ConversationRow{Kind: wire.KindGroup}
	direct := wire.ConversationRow{Kind: wire.KindDirect}
	text := func(sender int64, body string) *wire.Message {
		return &wire.Message{Kind: wire.MessageText, SenderID: sender, Body: body}
	}
	system := sys(wire.SystemRemoved, 2, 3, "")
	for _, tc := range []struct {
		row  wire.ConversationRow
		m    *wire.Message
		want string
	}{
		{group, text(2, "hi"), "Grace: hi"},
		{group, text(1, "hi"), "You: hi"},
		{group, &system, "Grace removed Bob"},
		{group, nil, ""},
		{direct, text(2, "hi"), "hi"},
	} {
		tc.row.LastMessage = tc.m
		if got := previewText(me, tc.row, n); got != tc.want {
			t.Errorf("previewText(%s, %+v) = %q, want %q", tc.row.Kind, tc.m, got, tc.want)
		}
	}

	members := []wire.Member{
		{User: n[1], LastReadSeq: 9, Online: false},
		{User: n[2], LastReadSeq: 5, Online: true},
		{User: n[3], LastReadSeq: 4, Online: false},
	}
	if got := memberStatus(me, 3, members); got != "3 members, 2 online" {
		t.Errorf("memberStatus = %q", got)
	}
	if got := memberStatus(me, 1, members[:1]); got != "1 member, 1 online" {
		t.Errorf("memberStatus alone = %q", got)
	}
	history := []wire.Message{*text(1, "a"), *text(2, "b"), *text(1, "c"), sys(wire.SystemAdded, 1, 3, ""), *text(1, "d")}
	for i := range history {
		history[i].Seq = int64(i + 2)
	}
	// Seqs: a 2, b 3, c 4, added 5 (own, but a system line), d 6.
	if seq, got := seenBy(me, history, members); seq != 4 || got != "Seen by Grace, Bob" {
		t.Errorf("seenBy = %d %q, want 4 \"Seen by Grace, Bob\"", seq, got)
	}
	if seq, _ := seenBy(me, history[:1], members[:1]); seq != 0 {
		t.Errorf("seenBy with nobody else = %d, want 0", seq)
	}
	many := []wire.Member{{User: n[1]}}
	for id := int64(10); id < 14; id++ {
		many = append(many, wire.Member{User: wire.User{ID: id, DisplayName: "P"}, LastReadSeq: 6})
	}
	if _, got := seenBy(me, history, many); got != "Seen by 4" {
		t.Errorf("seenBy of four = %q, want \"Seen by 4\"", got)
	}

	b := *text(2, "b")
	if !showSender(me, nil, b, true) || showSender(me, &b, b, true) || !showSender(me, &b, b, false) || showSender(me, nil, *text(1, "a"), true) {
		t.Error("showSender: the first of a run of others' messages, the same day, shows the name; own never")
	}
	if !showSender(me, &system, b, true) {
		t.Error("showSender: a message after a system line shows the name")
	}
}
