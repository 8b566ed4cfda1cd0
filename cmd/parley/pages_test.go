package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// form posts a urlencoded form without following the redirect.
func (c *client) form(path string, values url.Values) (int, string, string) {
	c.t.Helper()
	noFollow := *c.http
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.PostForm(c.base+path, values)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

func (c *client) page(path string) (int, http.Header, string) {
	c.t.Helper()
	noFollow := *c.http
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestPagesWithoutJavaScript drives the forms as a browser without
// JavaScript would: sign up, find someone, talk, log out, log in.
func TestPagesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	bob := register(t, s, "bob")
	c := newClient(t, s)

	if status, loc, _ := c.form("/register", url.Values{}); status != 400 || loc != "" {
		t.Errorf("empty sign-up: %d %q", status, loc)
	}
	status, _, body := c.form("/register", url.Values{"username": {"x"}, "password": {"short"}, "display_name": {"Al\u202eice"}})
	for _, want := range []string{`id="username-error" class="field-error" role="alert">Username must be 3 to 32 characters.`, `id="password-error" class="field-error" role="alert">Password must be 8 to 128 characters.`, `id="display_name-error" class="field-error" role="alert">Display name may not contain`} {
		if status != 400 || !strings.Contains(body, want) {
			t.Errorf("bad sign-up: %d, no %q in the page", status, want)
		}
	}
	if status, _, body := c.form("/register", url.Values{"username": {"BOB"}, "password": {"password-1"}}); status != 409 || !strings.Contains(body, `id="username-error" class="field-error" role="alert">Username &#34;bob&#34; is taken.`) {
		t.Errorf("taken name: %d\n%s", status, body)
	}
	status, loc, _ := c.form("/register", url.Values{"username": {"alice"}, "password": {"password-alice"}, "display_name": {"Alice <3"}})
	if status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("sign-up: %d %q", status, loc)
	}

	status, _, body = c.page("/people?q=bo")
	if status != 200 || !strings.Contains(body, fmt.Sprintf(`action="/people/%d/message"`, bob.user.ID)) {
		t.Fatalf("people page: %d\n%s", status, body)
	}
	status, loc, _ = c.form(fmt.Sprintf("/people/%d/message", bob.user.ID), nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/c/") {
		t.Fatalf("message button: %d %q", status, loc)
	}
	if status, again, _ := c.form(fmt.Sprintf("/people/%d/message", bob.user.ID), nil); again != loc {
		t.Errorf("second message button: %d %q, want the same conversation %q", status, again, loc)
	}
	if status, back, _ := c.form(loc+"/messages", url.Values{"body": {"<script>alert(1)</script> hi"}}); status != http.StatusSeeOther || back != loc {
		t.Errorf("composer without JavaScript: %d %q", status, back)
	}
	status, header, body := c.page(loc)
	if status != 200 || !strings.Contains(body, `<p class="body" dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; hi</p>`) || strings.Contains(body, "<script>alert") {
		t.Errorf("the conversation page does not show the message as text: %d\n%s", status, body)
	}
	if !strings.Contains(body, `<h2 id="conversation-title" dir="auto">Bob</h2>`) {
		t.Error("the conversation page has no title")
	}
	csp := header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || header.Get("X-Content-Type-Options") != "nosniff" || header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("page headers: %v", header)
	}
	if status, _, body := bob.page("/"); status != 200 || !strings.Contains(body, `<span class="name" dir="auto">Alice &lt;3</span>`) || !strings.Contains(body, `<span class="unread" aria-label="1 unread">1</span>`) {
		t.Errorf("bob's list: %d\n%s", status, body)
	}

	if status, loc, _ := c.form("/logout", nil); status != http.StatusSeeOther || loc != "/login" {
		t.Errorf("log out: %d %q", status, loc)
	}
	if status, header, _ := c.page("/"); status != http.StatusSeeOther || header.Get("Location") != "/login" {
		t.Errorf("signed out: %d %q", status, header.Get("Location"))
	}
	status, _, body = c.form("/login", url.Values{"username": {"alice"}, "password": {"wrong-password"}})
	if status != 401 || !strings.Contains(body, `<p id="form-error" class="form-error" role="alert">invalid username or password</p>`) {
		t.Errorf("failed log-in: %d\n%s", status, body)
	}
	_, _, unknown := c.form("/login", url.Values{"username": {"nobody"}, "password": {"wrong-password"}})
	if strings.Replace(unknown, "nobody", "alice", 1) != body {
		t.Error("an unknown user's failed log-in page differs from a wrong password's")
	}
	if status, loc, _ := c.form("/login", url.Values{"username": {"alice"}, "password": {"password-alice"}}); status != http.StatusSeeOther || loc != "/" {
		t.Errorf("log-in: %d %q", status, loc)
	}
}

// TestPagesRefuseOutsiders: a conversation page of others is not found, and
// a cross-site form post is refused.
func TestPagesRefuseOutsiders(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "mallory")
	conv, _ := alice.startConversation(bob)
	if status, _, _ := mallory.page(fmt.Sprintf("/c/%d", conv)); status != 404 {
		t.Errorf("an outsider's view of a conversation: %d", status)
	}
	if status, _, _ := mallory.form(fmt.Sprintf("/c/%d/messages", conv), url.Values{"body": {"hi"}}); status != 404 {
		t.Errorf("an outsider's post: %d", status)
	}
	status, _ := alice.do("POST", fmt.Sprintf("/c/%d/messages", conv), "body=forged", "Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden {
		t.Errorf("cross-site form post: %d", status)
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("%d messages stored", len(p.Messages))
	}
}

// TestStaticVersioned: a signed-in page loads its style sheet and modules
// from this version's /static/{hash}/, each served with its type and a
// year of immutable caching; the modules' relative imports resolve there
// and are all preloaded; every <template> a module clones is in the page;
// and another version's path is 404, not cached.
func TestStaticVersioned(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := register(t, s, "alice")
	status, _, page := alice.page("/")
	if status != 200 {
		t.Fatalf("GET /: %d", status)
	}
	links := regexp.MustCompile(`<(script type="module" src|link rel="stylesheet" href|link rel="modulepreload" href)="(/static/([0-9a-f]{12})/([^"]+))"`).FindAllStringSubmatch(page, -1)
	kinds := map[string]int{}
	loaded := map[string]string{} // path → body
	for _, l := range links {
		kinds[l[1]]++
		if l[3] != links[0][3] {
			t.Errorf("%s is not under the same version as %s", l[2], links[0][2])
		}
		resp, err := alice.http.Get(s.URL + l[2])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "text/javascript; charset=utf-8"
		if strings.HasSuffix(l[4], ".css") {
			want = "text/css; charset=utf-8"
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d, Content-Type %q, Cache-Control %q", l[2], resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		loaded[l[2]] = string(body)
	}
	if kinds[`script type="module" src`] != 1 || kinds[`link rel="stylesheet" href`] != 1 || kinds[`link rel="modulepreload" href`] < 5 {
		t.Fatalf("the page links %v", kinds)
	}
	prefix := "/static/" + links[0][3] + "/"
	imports := regexp.MustCompile(`(?m)^(?:import|export)\b[^"\n]*"\./([^"]+)"`)
	clones := regexp.MustCompile(`cloneTemplate\("([^"]+)"\)`)
	templates := 0
	for path, body := range loaded {
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			if _, ok := loaded[prefix+m[1]]; !ok {
				t.Errorf("%s imports %s, which the page does not preload", path, m[1])
			}
		}
		for _, m := range clones.FindAllStringSubmatch(body, -1) {
			templates++
			if !strings.Contains(page, `<template id="`+m[1]+`">`) {
				t.Errorf("%s clones #%s, which the page lacks", path, m[1])
			}
		}
	}
	if templates < 5 {
		t.Errorf("only %d cloneTemplate calls found in the modules", templates)
	}

	for _, path := range []string{"/static/000000000000/main.js", "/static/main.js", "/static/chat.js", prefix + "chat.js"} {
		resp, err := alice.http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q; want 404, no-store", path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if _, _, login := newClient(t, s).page("/login"); !strings.Contains(login, `<link rel="stylesheet" href="`+prefix+`style.css">`) {
		t.Errorf("the log-in page does not load this version's style sheet:\n%s", login)
	}
}
