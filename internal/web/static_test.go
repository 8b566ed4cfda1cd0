package web

import (
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// staticCopy is the embedded static/ directory as a MapFS, to change.
func staticCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// TestStaticServed: each file is served under /static/{hash}/ with its
// type (modules as JavaScript, or browsers refuse them) and a year of
// immutable caching.
func TestStaticServed(t *testing.T) {
	b, err := loadStatic(assets)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(b.hash) {
		t.Errorf("hash %q", b.hash)
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, name := range []string{"main.js", "api.js", "style.css"} {
		if _, ok := b.files[name]; !ok {
			t.Fatalf("no %s in the bundle", name)
		}
	}
	for name, f := range b.files {
		resp := get(t, b, b.prefix()+"/"+name)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != string(f.body) {
			t.Errorf("%s: %d, %d bytes, want 200 and the file's %d", name, resp.StatusCode, len(body), len(f.body))
		}
		ext := name[strings.LastIndexByte(name, '.'):]
		if got := resp.Header.Get("Content-Type"); got != wantType[ext] {
			t.Errorf("%s: Content-Type %q, want %q", name, got, wantType[ext])
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		etag := resp.Header.Get("ETag")
		if again := get(t, b, b.prefix()+"/"+name, "If-None-Match", etag); etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match %q: %d, want 304", name, etag, again.StatusCode)
		}
	}
}

// TestStaticOtherVersions: only this version's hash is served. Another
// release's (older, or newer during a rolling deploy), a path without a
// hash and a file the bundle lacks are 404, and the 404 is not cached, so
// that the same URL works once it reaches a node that has it.
func TestStaticOtherVersions(t *testing.T) {
	b, err := loadStatic(assets)
	if err != nil {
		t.Fatal(err)
	}
	edited := staticCopy(t)
	edited["static/style.css"].Data = append(edited["static/style.css"].Data, "\n/* next release */\n"...)
	next, err := loadStatic(edited)
	if err != nil {
		t.Fatal(err)
	}
	if next.hash == b.hash {
		t.Fatalf("an edited file left the hash at %s", b.hash)
	}
	for _, tc := range []struct {
		h    http.Handler
		path string
	}{
		{b, next.prefix() + "/main.js"}, // the next release's page asks this node
		{next, b.prefix() + "/main.js"}, // an older page asks a node of the next release
		{b, "/static/main.js"},          // no hash (before versioned paths: /static/chat.js)
		{b, "/static/chat.js"},          // the module before the split
		{b, b.prefix() + "/chat.js"},    // a file the bundle does not have
		{b, b.prefix() + "/"},           // no listing
		{b, b.prefix()},                 // no file
		{b, "/static/" + strings.ToUpper(b.hash) + "/main.js"},
		{b, b.prefix() + "/../static/main.js"},
	} {
		resp := get(t, tc.h, tc.path)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q; want 404, no-store", tc.path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestStaticHash: the hash follows the content and the names of the
// files, and nothing else.
func TestStaticHash(t *testing.T) {
	b, err := loadStatic(assets)
	if err != nil {
		t.Fatal(err)
	}
	same, err := loadStatic(staticCopy(t))
	if err != nil || same.hash != b.hash {
		t.Errorf("the same files: hash %q (%v), want %q", same.hash, err, b.hash)
	}
	renamed := staticCopy(t)
	renamed["static/extra.css"] = renamed["static/style.css"]
	delete(renamed, "static/style.css")
	if r, err := loadStatic(renamed); err != nil || r.hash == b.hash {
		t.Errorf("a renamed file: hash %q (%v), want other than %q", r.hash, err, b.hash)
	}
}

// TestStaticImports: the pages preload every module main.js reaches; a
// module importing a file the bundle lacks stops the server at start-up;
// and every other module is reached, unless it holds types only.
func TestStaticImports(t *testing.T) {
	b, err := loadStatic(assets)
	if err != nil {
		t.Fatal(err)
	}
	reached := map[string]bool{staticEntry: true}
	for _, m := range b.modules {
		if reached[m] {
			t.Errorf("%s preloaded twice", m)
		}
		reached[m] = true
	}
	comments := regexp.MustCompile(`(?s:/\*.*?\*/)|//[^\n]*`)
	for name, f := range b.files {
		if !strings.HasSuffix(name, ".js") || reached[name] {
			continue
		}
		if code := strings.TrimSpace(comments.ReplaceAllString(string(f.body), "")); code != "export {};" {
			t.Errorf("%s is not imported by main.js or a module it imports", name)
		}
	}
	for _, want := range []string{"api.js", "connection.js", "outbox.js", "store.js", "conversation-list.js", "conversation-view.js", "people.js"} {
		if !reached[want] {
			t.Errorf("main.js does not reach %s", want)
		}
	}

	broken := staticCopy(t)
	broken["static/main.js"] = &fstest.MapFile{Data: append([]byte("import { x } from \"./gone.js\";\n"), broken["static/main.js"].Data...)}
	if _, err := loadStatic(broken); err == nil || !strings.Contains(err.Error(), "gone.js") {
		t.Errorf("a module importing a missing file: %v, want an error naming it", err)
	}
}

// TestModulesChecked: every module asks for type checking (tsc checks
// only the files that do, under checkJs they all are, but the line keeps
// an editor checking a file opened alone).
func TestModulesChecked(t *testing.T) {
	b, err := loadStatic(assets)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range b.files {
		if strings.HasSuffix(name, ".js") && !strings.HasPrefix(string(f.body), "// @ts-check\n") {
			t.Errorf("%s does not start with // @ts-check", name)
		}
	}
}

// renderPage renders a page as a signed-in user with data, and returns
// the HTML.
func renderPage(t *testing.T, p *pages, name string, data pageData) string {
	t.Helper()
	w := httptest.NewRecorder()
	p.render(w, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), name, http.StatusOK, data)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", name, w.Code, w.Body)
	}
	return w.Body.String()
}

// TestPageTemplates: every <template> a module clones is in every page
// that loads the modules, and the pages load this version's files.
func TestPageTemplates(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	cloned := map[string]bool{}
	call := regexp.MustCompile(`cloneTemplate\("([^"]+)"\)`)
	for name, f := range p.static.files {
		for _, m := range call.FindAllStringSubmatch(string(f.body), -1) {
			cloned[m[1]] = true
		}
		if strings.Contains(string(f.body), "cloneTemplate(") && !call.Match(f.body) && name != "markup.js" {
			t.Errorf("%s clones a template by an id that is not a literal: this test cannot see it", name)
		}
	}
	if len(cloned) < 5 {
		t.Fatalf("only %d template ids found in the modules: %v", len(cloned), cloned)
	}
	me := &chat.User{ID: 1, Username: "ada", DisplayName: "Ada"}
	for _, page := range []string{"app", "people", "settings"} {
		html := renderPage(t, p, page, pageData{Me: me, State: appState{Me: wireUser(*me), Conversations: []wire.ConversationRow{}}})
		for id := range cloned {
			if n := strings.Count(html, `<template id="`+id+`">`); n != 1 {
				t.Errorf("%s page: %d <template id=%q>, want 1", page, n, id)
			}
		}
		want := []string{
			`<link rel="stylesheet" href="` + p.static.prefix() + `/style.css">`,
			`<script type="module" src="` + p.static.prefix() + `/main.js" blocking="render"></script>`,
		}
		for _, m := range p.static.modules {
			want = append(want, `<link rel="modulepreload" href="`+p.static.prefix()+`/`+m+`">`)
		}
		for _, w := range want {
			if !strings.Contains(html, w) {
				t.Errorf("%s page lacks %s", page, w)
			}
		}
	}
	login := renderPage(t, p, "login", pageData{})
	if strings.Contains(login, "<script") || strings.Contains(login, "<template") {
		t.Errorf("the log-in page loads the modules:\n%s", login)
	}
	if !strings.Contains(login, `<link rel="stylesheet" href="`+p.static.prefix()+`/style.css">`) {
		t.Errorf("the log-in page lacks its style sheet:\n%s", login)
	}
}

// TestPageState: the main view's data for its script is JSON in a data
// block, in the API's shapes, whatever the text in it.
func TestPageState(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	me := &chat.User{ID: 1, Username: "ada", DisplayName: "Ada"}
	row := wire.ConversationRow{ID: 7, Kind: "direct", OtherUser: &wire.Contact{User: wire.User{ID: 2, Username: "bob", DisplayName: `</script><script>alert(1)</script>`}, Online: true}, LastSeq: 3, LastReadSeq: 1, UnreadCount: 2}
	state := appState{Me: wireUser(*me), Conversations: []wire.ConversationRow{row}, Open: &openState{Conversation: row, Messages: []wire.Message{{ConversationID: 7, Seq: 3, SenderID: 2, Body: "a <b> & \u2028 'c'"}}}}
	html := renderPage(t, p, "app", pageData{Me: me, State: state, Conversations: rowViews(int64(me.ID), state.Conversations, 7, names{}), Open: openConversation(int64(me.ID), state.Open, names{})})
	start := strings.Index(html, `<script type="application/json" id="page-state">`)
	end := strings.Index(html[start+1:], "</script>")
	if start < 0 || end < 0 {
		t.Fatalf("no page state:\n%s", html)
	}
	raw := html[start+len(`<script type="application/json" id="page-state">`) : start+1+end]
	var got appState
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("page state %q: %v", raw, err)
	}
	if got.Open == nil || got.Open.Messages[0].Body != state.Open.Messages[0].Body || got.Conversations[0].OtherUser.DisplayName != row.OtherUser.DisplayName || got.Me.ID != 1 {
		t.Errorf("page state %+v, want %+v", got, state)
	}
	if strings.Count(html, "<script") != 2 {
		t.Errorf("a name or a message broke out of the data block:\n%s", html)
	}
}
