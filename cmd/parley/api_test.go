package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// TestTwoPeopleTalk walks the whole API as two people would: register,
// find each other, start a conversation, talk, page history, see unread
// counts and mark read.
func TestTwoPeopleTalk(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	register(t, s, "carol")

	// Alice finds Bob by part of his display name, and never herself.
	var users wire.UsersResponse
	alice.call("GET", "/api/v1/users?q=OB", nil, http.StatusOK, &users)
	if len(users.Users) != 1 || users.Users[0].ID != bob.user.ID || users.Next != nil {
		t.Fatalf("search for bob: %+v", users)
	}
	alice.call("GET", "/api/v1/users", nil, http.StatusOK, &users)
	for _, u := range users.Users {
		if u.ID == alice.user.ID {
			t.Error("the directory lists the caller")
		}
	}
	if len(users.Users) != 2 {
		t.Errorf("directory has %d people, want bob and carol", len(users.Users))
	}

	conv, status := alice.startConversation(bob)
	if status != http.StatusCreated {
		t.Errorf("first start: status %d, want 201", status)
	}
	if again, status := bob.startConversation(alice); again != conv || status != http.StatusOK {
		t.Errorf("bob starting it: conversation %d status %d, want %d 200", again, status, conv)
	}

	for i := 1; i <= 120; i++ {
		m := alice.send(conv, fmt.Sprintf("message %d", i), fmt.Sprintf("c%d", i))
		if m.Seq != int64(i) || m.SenderID != alice.user.ID {
			t.Fatalf("send %d: got seq %d from %d", i, m.Seq, m.SenderID)
		}
	}
	// A retry with the same client_id returns the first message, stores nothing.
	var retry wire.MessageResponse
	alice.call("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: "other text", ClientID: "c7"}, http.StatusOK, &retry)
	if retry.Message.Seq != 7 || retry.Message.Body != "message 7" {
		t.Errorf("idempotent retry returned %+v, want message 7", retry.Message)
	}

	rows := bob.conversations()
	if len(rows) != 1 {
		t.Fatalf("bob has %d conversations, want 1", len(rows))
	}
	row := rows[0]
	if row.ID != conv || row.OtherUser == nil || row.OtherUser.ID != alice.user.ID || row.OtherUser.DisplayName != "Alice" ||
		row.UnreadCount != 120 || row.LastSeq != 120 || row.LastReadSeq != 0 ||
		row.LastMessage == nil || row.LastMessage.Body != "message 120" || row.LastMessageAt == nil {
		t.Errorf("bob's row: %+v", row)
	}
	if a := alice.conversations(); a[0].UnreadCount != 0 || a[0].LastReadSeq != 120 {
		t.Errorf("the sender's own messages count as unread: %+v", a[0])
	}

	// Bob scrolls back through all of it, newest page first.
	page := bob.messages(conv, "")
	var seen []int64
	for {
		if len(page.Messages) == 0 {
			t.Fatal("empty page while has_more was true")
		}
		batch := make([]int64, len(page.Messages))
		for i, m := range page.Messages {
			batch[i] = m.Seq
			if m.Body != fmt.Sprintf("message %d", m.Seq) {
				t.Errorf("seq %d has body %q", m.Seq, m.Body)
			}
		}
		seen = append(batch, seen...)
		if !page.HasMore {
			break
		}
		page = bob.messages(conv, fmt.Sprintf("before_seq=%d", page.Messages[0].Seq))
	}
	if len(seen) != 120 {
		t.Fatalf("paged through %d messages, want 120", len(seen))
	}
	for i, seq := range seen {
		if seq != int64(i+1) {
			t.Fatalf("history out of order at %d: %v", i, seen)
		}
	}
	if p := bob.messages(conv, ""); len(p.Messages) != 50 || p.Messages[0].Seq != 71 || !p.HasMore {
		t.Errorf("newest page: %d messages from %d, has_more %v", len(p.Messages), p.Messages[0].Seq, p.HasMore)
	}
	if p := bob.messages(conv, "after_seq=115&limit=10"); len(p.Messages) != 5 || p.Messages[0].Seq != 116 || p.HasMore {
		t.Errorf("after_seq page: %+v", p)
	}

	// Reading: forward only, clamped to the newest message.
	read := func(seq int64) {
		t.Helper()
		bob.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), wire.ReadRequest{Seq: seq}, http.StatusNoContent, nil)
	}
	read(100)
	if r := bob.conversations()[0]; r.UnreadCount != 20 || r.LastReadSeq != 100 {
		t.Errorf("after reading to 100: %+v", r)
	}
	read(40)
	if r := bob.conversations()[0]; r.LastReadSeq != 100 {
		t.Errorf("the read cursor moved back to %d", r.LastReadSeq)
	}
	read(1000)
	if r := bob.conversations()[0]; r.UnreadCount != 0 || r.LastReadSeq != 120 {
		t.Errorf("reading past the end: %+v", r)
	}

	// Messages are stored as typed; output escaping is the client's job.
	raw := "<script>alert(1)</script>\n\t& \"quoted\" 💬"
	if m := bob.send(conv, "  "+raw+"  ", ""); m.Body != raw {
		t.Errorf("body stored as %q, want %q", m.Body, raw)
	}
}

// TestNonMemberSeesNotFound checks that a conversation one is not in looks
// exactly like one that does not exist.
func TestNonMemberSeesNotFound(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "mallory")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "secret", "")

	for _, id := range []int64{conv, 999999} {
		base := fmt.Sprintf("/api/v1/conversations/%d", id)
		a := mallory.wantError("GET", base+"/messages", nil, 404, "not_found")
		b := mallory.wantError("POST", base+"/messages", wire.SendRequest{Body: "hi"}, 404, "not_found")
		c := mallory.wantError("POST", base+"/read", wire.ReadRequest{Seq: 1}, 404, "not_found")
		if a != b || b != c {
			t.Errorf("not-found answers differ: %+v %+v %+v", a, b, c)
		}
	}
	if n := len(mallory.conversations()); n != 0 {
		t.Errorf("mallory lists %d conversations", n)
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 1 {
		t.Errorf("a non-member changed the conversation: %d messages", len(p.Messages))
	}
	if r := bob.conversations()[0]; r.LastReadSeq != 0 {
		t.Errorf("a non-member moved bob's read cursor to %d", r.LastReadSeq)
	}
}

// TestCrossSiteRequestRefused checks CSRF protection: a cross-site POST is
// refused and changes nothing.
func TestCrossSiteRequestRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)

	status, raw := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), `{"body":"forged"}`, "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden || !strings.Contains(string(raw), `"code":"forbidden"`) {
		t.Errorf("cross-site POST: %d %s", status, raw)
	}
	status, _ = alice.do("POST", "/api/v1/auth/logout", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden {
		t.Errorf("cross-site logout: %d", status)
	}
	// A page's form gets a page, not the API's JSON.
	status, raw = alice.do("POST", "/logout", "", "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden || !strings.Contains(string(raw), "<h1>Refused</h1>") || !strings.Contains(string(raw), "nothing was done") {
		t.Errorf("cross-site logout form: %d %s, want the 403 page", status, raw)
	}
	alice.call("GET", "/api/v1/me", nil, http.StatusOK, nil) // still signed in
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("the forged message was stored")
	}
	// Same-origin requests pass.
	if status, _ := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), `{"body":"mine"}`, "Sec-Fetch-Site", "same-origin"); status != http.StatusCreated {
		t.Errorf("same-origin POST: %d", status)
	}
}

// TestLogin checks that failed logins all look the same, that login rotates
// the session token and that logout ends the session.
func TestLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	register(t, s, "alice")
	c := newClient(t, s)

	wrong := c.wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "not-her-password"}, 401, "unauthorized")
	unknown := c.wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "nobody", Password: "not-her-password"}, 401, "unauthorized")
	if wrong != unknown || wrong.Error.Message != "invalid username or password" {
		t.Errorf("wrong password %+v, unknown user %+v: want the same generic answer", wrong, unknown)
	}
	c.wantError("GET", "/api/v1/me", nil, 401, "unauthorized")

	// A session cookie planted before login must not survive it.
	u := mustParse(t, s.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "parley_session", Value: "planted-token", Path: "/"}})
	var me wire.UserResponse
	c.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "ALICE", Password: "password-alice"}, 200, &me)
	if me.User.Username != "alice" {
		t.Errorf("login as ALICE gave %+v", me.User)
	}
	token := sessionCookie(t, c, s)
	if token == "" || token == "planted-token" {
		t.Errorf("session token after login = %q", token)
	}
	c.call("GET", "/api/v1/me", nil, 200, &me)

	// A second login gets a new token.
	c.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, 200, nil)
	if again := sessionCookie(t, c, s); again == token {
		t.Error("login did not rotate the session token")
	}
	old := newClient(t, s)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "parley_session", Value: token, Path: "/"}})
	old.wantError("GET", "/api/v1/me", nil, 401, "unauthorized")

	c.call("POST", "/api/v1/auth/logout", nil, http.StatusNoContent, nil)
	c.wantError("GET", "/api/v1/me", nil, 401, "unauthorized")
}

// TestSessionCookieFlags checks the cookie a browser gets.
func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		env := map[string]string{}
		if secure {
			env["PARLEY_SECURE_COOKIES"] = "true"
		}
		s := startServer(t, env)
		c := newClient(t, s)
		status, _ := c.do("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "alice", Password: "password-alice"})
		if status != 201 {
			t.Fatalf("register: %d", status)
		}
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/auth/login", strings.NewReader(`{"username":"alice","password":"password-alice"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("login set %d cookies", len(cookies))
		}
		ck := cookies[0]
		wantName := "parley_session"
		if secure {
			wantName = "__Host-parley_session"
		}
		if ck.Name != wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/" {
			t.Errorf("secure=%v: cookie %+v", secure, ck)
		}
	}
}

// TestBadInput checks that bad input gets a clear error and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	msgs := fmt.Sprintf("/api/v1/conversations/%d/messages", conv)
	anon := newClient(t, s)

	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "Alice", Password: "password-1"}, 409, "conflict")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "al", Password: "password-1"}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "al ice", Password: "password-1"}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "dave", Password: "short"}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "dave", Password: strings.Repeat("p", 129)}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "dave", Password: "password-1", DisplayName: "Dave\u202e"}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "dave", Password: "password-1", DisplayName: strings.Repeat("d", 65)}, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", `{"username":"dave","password":"password-1","admin":true}`, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", `{"username":"dave"`, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", `{"username":"dave","password":"password-1"}{}`, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", `{"username":5,"password":"password-1"}`, 400, "invalid")
	anon.wantError("POST", "/api/v1/auth/register", "", 400, "invalid")
	anon.wantError("GET", "/api/v1/users", nil, 401, "unauthorized")
	anon.wantError("GET", msgs, nil, 401, "unauthorized")
	var users wire.UsersResponse
	alice.call("GET", "/api/v1/users?q=dave", nil, 200, &users)
	if len(users.Users) != 0 {
		t.Errorf("a refused registration created %+v", users.Users)
	}

	alice.wantError("POST", msgs, wire.SendRequest{Body: "   \n "}, 400, "invalid")
	alice.wantError("POST", msgs, wire.SendRequest{Body: strings.Repeat("é", 4001)}, 400, "invalid")
	alice.wantError("POST", msgs, wire.SendRequest{Body: "bell\a"}, 400, "invalid")
	alice.wantError("POST", msgs, "{\"body\":\"bad utf8 \xff\"}", 400, "invalid")
	alice.wantError("POST", msgs, wire.SendRequest{Body: "hi", ClientID: strings.Repeat("x", 65)}, 400, "invalid")
	alice.wantError("POST", msgs, `{"body":"`+strings.Repeat("a", 2<<20)+`"}`, 413, "too_large")
	alice.wantError("GET", msgs+"?limit=101", nil, 400, "invalid")
	alice.wantError("GET", msgs+"?limit=0", nil, 400, "invalid")
	alice.wantError("GET", msgs+"?before_seq=x", nil, 400, "invalid")
	alice.wantError("GET", msgs+"?before_seq=5&after_seq=2", nil, 400, "invalid")
	alice.wantError("GET", "/api/v1/conversations/abc/messages", nil, 400, "invalid")
	alice.wantError("GET", "/api/v1/users?limit=500", nil, 400, "invalid")
	alice.wantError("GET", "/api/v1/conversations?before=garbage", nil, 400, "invalid")
	alice.wantError("POST", "/api/v1/conversations", wire.StartConversationRequest{UserID: alice.user.ID}, 400, "invalid")
	alice.wantError("POST", "/api/v1/conversations", wire.StartConversationRequest{UserID: 424242}, 404, "not_found")
	alice.wantError("GET", "/api/v1/nothing-here", nil, 404, "not_found")
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("bad sends stored %d messages", len(p.Messages))
	}
	// 4,000 characters of multi-byte text is within the limit.
	alice.send(conv, strings.Repeat("é", 4000), "")
}

// TestConversationListPaging pages a list longer than one page.
func TestConversationListPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	me := register(t, s, "myself")
	want := map[int64]bool{}
	for i := range 7 {
		other := register(t, s, fmt.Sprintf("friend%d", i))
		conv, _ := other.startConversation(me)
		other.send(conv, "hello", "")
		want[conv] = true
	}
	var got []int64
	path := "/api/v1/conversations?limit=3"
	for {
		var resp wire.ConversationsResponse
		me.call("GET", path, nil, 200, &resp)
		for _, c := range resp.Conversations {
			got = append(got, c.ID)
		}
		if resp.Next == nil {
			break
		}
		path = "/api/v1/conversations?limit=3&before=" + *resp.Next
	}
	if len(got) != 7 {
		t.Fatalf("paged %d conversations, want 7: %v", len(got), got)
	}
	for i, id := range got {
		if !want[id] {
			t.Fatalf("conversation %d listed twice or unknown: %v", id, got)
		}
		delete(want, id)
		// Newest activity first: each friend wrote after the one before.
		if i > 0 && id > got[i-1] {
			t.Errorf("not newest first: %v", got)
		}
	}
}

// TestOperations covers health, readiness, security headers, -h and a
// graceful restart on the same database.
func TestOperations(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db})
	c := register(t, s, "alice")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: security headers missing: %v", path, resp.Header)
		}
	}
	if !strings.Contains(s.logs.String(), `"msg":"request","method":"GET","path":"/healthz","status":200`) {
		t.Errorf("no access log line for /healthz:\n%s", s.logs)
	}

	// Stop gracefully, start again on the same file: the data is there.
	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run returned %v on shutdown", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(patience):
		t.Fatal("server did not stop")
	}
	s2 := startServer(t, map[string]string{"PARLEY_DB": db})
	c2 := newClient(t, s2)
	var me wire.UserResponse
	c2.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, 200, &me)
	if me.User.ID != c.user.ID {
		t.Errorf("after restart alice is %+v", me.User)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"parley", "-h"}, func(string) string { return "" }, &out, &out)
	if err == nil {
		t.Fatal("-h did not stop")
	}
	for _, want := range []string{"-addr", "PARLEY_ADDR", "-db", "PARLEY_DB", "-origins", "PARLEY_ORIGINS", "-log-format", "PARLEY_LOG_FORMAT", "-secure-cookies", "PARLEY_SECURE_COOKIES"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h does not mention %s:\n%s", want, out.String())
		}
	}
	cfg, err := parseFlags([]string{"parley", "-addr", ":9"}, func(k string) string {
		return map[string]string{"PARLEY_ADDR": ":7", "PARLEY_DB": "x.db", "PARLEY_LOG_FORMAT": "json"}[k]
	}, &out)
	if err != nil || cfg.addr != ":9" || cfg.db != "x.db" || cfg.logFormat != "json" {
		t.Errorf("flags over env: %+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"parley"}, func(k string) string {
		return map[string]string{"PARLEY_LOG_FORMAT": "xml"}[k]
	}, &out); err == nil {
		t.Error("a bad log format was accepted")
	}

	// An error that stops the server is an ERROR line of the JSON log
	// too, where a log collector sees it.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var logs bytes.Buffer
	err = run(t.Context(), []string{"parley", "-addr", busy.Addr().String(), "-db", filepath.Join(t.TempDir(), "busy.db"), "-log-format", "json"},
		func(string) string { return "" }, &logs, &out)
	if err == nil {
		t.Fatal("a server on a taken address started")
	}
	var stopped bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry struct{ Level, Msg, Err string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == "ERROR" && entry.Msg == "stopped on an error" && strings.Contains(entry.Err, "address already in use") {
			stopped = true
		}
	}
	if !stopped {
		t.Errorf("no ERROR line saying why the server stopped:\n%s", logs.String())
	}

	// A wrong origin or proxy is refused before the database is opened:
	// no file is made.
	db := filepath.Join(t.TempDir(), "parley.db")
	for _, bad := range [][]string{{"-origins", "chat.example.com"}, {"-trusted-proxies", "10.0.0.300"}} {
		err := run(t.Context(), append([]string{"parley", "-addr", "127.0.0.1:0", "-db", db}, bad...), func(string) string { return "" }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s %s: %v, want an error naming %s", bad[0], bad[1], err, bad[0])
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("%s %s: the database was made before the setting was refused (%v)", bad[0], bad[1], err)
		}
	}
}

// TestDemo: -demo makes three accounts whose logged passwords work, with a
// conversation going; a second start gives new passwords that work too.
func TestDemo(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	for start := range 2 {
		s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_DEMO": "true"})
		passwords := map[string]string{}
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var entry struct{ Msg, Username, Password string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "demo account" {
				passwords[entry.Username] = entry.Password
			}
		}
		if len(passwords) != 3 {
			t.Fatalf("start %d: %d demo accounts logged: %v", start, len(passwords), passwords)
		}
		for name, password := range passwords {
			c := newClient(t, s)
			c.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: name, Password: password}, 200, nil)
			if name == "ada" {
				rows := c.conversations()
				seqs := map[int64]bool{}
				for _, r := range rows {
					seqs[r.LastSeq] = true
				}
				if len(rows) != 2 || !seqs[5] || !seqs[0] {
					t.Errorf("start %d: ada's conversations: %+v", start, rows)
				}
			}
		}
		s.stop()
		<-s.done
		s.done <- nil
	}
}
