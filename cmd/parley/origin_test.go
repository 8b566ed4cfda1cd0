package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// The origin of a request is its scheme, host and port (RFC 6454): these
// tests hold the WebSocket handshake and the state-changing HTTP routes to
// all three, with the server's own scheme from TLS, a trusted proxy's
// X-Forwarded-Proto or -secure-cookies. Then what the server logs about
// logins and URLs: enough to act on, nothing secret.

// hostOf is the host:port of a server's URL.
func hostOf(t *testing.T, s *server) string {
	t.Helper()
	return mustParse(t, s.URL).Host
}

// otherPort is host with its port moved by one.
func otherPort(t *testing.T, host string) string {
	t.Helper()
	u := mustParse(t, "http://"+host)
	var port int
	if _, err := fmt.Sscan(u.Port(), &port); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", u.Hostname(), port+1)
}

// handshake opens a WebSocket as c with the given Origin and extra headers
// (name, value, …), closes it at once, and returns the handshake's status.
func handshake(t *testing.T, c *client, origin string, header ...string) int {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	d := websocket.Dialer{HandshakeTimeout: wsWait, Jar: c.http.Jar}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(c.base, "http")+"/ws", h)
	if err == nil {
		conn.Close()
		return resp.StatusCode
	}
	if resp == nil {
		t.Fatalf("handshake with Origin %q: %v", origin, err)
	}
	return resp.StatusCode
}

// post sends a message over the HTTP API with the given Origin (and no
// Sec-Fetch-Site, as an older browser would) and extra headers, and returns
// the status.
func post(c *client, conv int64, body, origin string, header ...string) int {
	c.t.Helper()
	h := append([]string{"Origin", origin}, header...)
	status, _ := c.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: body}, h...)
	return status
}

// TestOriginSchemeOverHTTP: a server reached over plain HTTP refuses an
// https Origin for its own host, and an Origin with another port, on the
// WebSocket handshake and on a state-changing route; its own origin passes.
func TestOriginSchemeOverHTTP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	host := hostOf(t, s)

	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://" + host, http.StatusForbidden},              // the scheme differs
		{"http://" + otherPort(t, host), http.StatusForbidden}, // the port differs
		{"http://" + host, http.StatusSwitchingProtocols},
		{"", http.StatusSwitchingProtocols}, // not a browser
	} {
		if got := handshake(t, alice, tc.origin); got != tc.want {
			t.Errorf("WebSocket, Origin %q: %d, want %d", tc.origin, got, tc.want)
		}
	}
	// Through the shared helper too, as other tests dial.
	if _, resp, err := alice.dial("https origin", dialOptions{origin: "https://" + host}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("dial with an https Origin: err %v resp %v, want 403", err, resp)
	}

	if got := post(alice, conv, "forged from https", "https://"+host); got != http.StatusForbidden {
		t.Errorf("POST with an https Origin: %d, want 403", got)
	}
	if got := post(alice, conv, "forged from another port", "http://"+otherPort(t, host)); got != http.StatusForbidden {
		t.Errorf("POST with another port's Origin: %d, want 403", got)
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("refused posts stored %d messages", len(p.Messages))
	}
	if got := post(alice, conv, "mine", "http://"+host); got != http.StatusCreated {
		t.Errorf("POST with the server's own Origin: %d, want 201", got)
	}
	// A browser's Sec-Fetch-Site compares whole origins already: left to
	// http.CrossOriginProtection.
	if got := post(alice, conv, "forged, cross-site", "https://"+host, "Sec-Fetch-Site", "cross-site"); got != http.StatusForbidden {
		t.Errorf("POST with Sec-Fetch-Site: cross-site: %d, want 403", got)
	}
}

// TestOriginSchemeHTTPSByProxy: behind a trusted proxy that says the client
// spoke HTTPS, the server's origin is https: an http Origin is refused, an
// https one passes; the same headers from an untrusted peer count for
// nothing. The misconfiguration (no -secure-cookies) is warned about once.
func TestOriginSchemeHTTPSByProxy(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	host := hostOf(t, s)
	https := []string{"X-Forwarded-Proto", "https"}

	if got := handshake(t, alice, "http://"+host, https...); got != http.StatusForbidden {
		t.Errorf("WebSocket via an https proxy, http Origin: %d, want 403", got)
	}
	if got := handshake(t, alice, "https://"+host, https...); got != http.StatusSwitchingProtocols {
		t.Errorf("WebSocket via an https proxy, https Origin: %d, want 101", got)
	}
	if got := handshake(t, alice, "https://"+otherPort(t, host), https...); got != http.StatusForbidden {
		t.Errorf("WebSocket via an https proxy, https Origin on another port: %d, want 403", got)
	}
	if got := post(alice, conv, "forged from http", "http://"+host, https...); got != http.StatusForbidden {
		t.Errorf("POST via an https proxy, http Origin: %d, want 403", got)
	}
	if got := post(alice, conv, "mine", "https://"+host, https...); got != http.StatusCreated {
		t.Errorf("POST via an https proxy, https Origin: %d, want 201", got)
	}
	if got := post(alice, conv, "mine too", "http://"+host, "X-Forwarded-Proto", "http"); got != http.StatusCreated {
		t.Errorf("POST via an http proxy, http Origin: %d, want 201", got)
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 2 {
		t.Errorf("%d messages stored, want the 2 allowed", len(p.Messages))
	}
	// The warning came once, however many requests said https.
	const warning = "trusted proxy forwards https but -secure-cookies is off"
	s.waitLog(t, "the warning", func() bool { return strings.Contains(s.logs.String(), warning) })
	if n := strings.Count(s.logs.String(), warning); n != 1 {
		t.Errorf("the warning was logged %d times, want once", n)
	}
	for line := range strings.Lines(s.logs.String()) {
		if strings.Contains(line, warning) && !strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("the warning is not at WARN: %s", line)
		}
	}

	// The same claim from a peer that is not a trusted proxy is ignored.
	direct := startServer(t, nil)
	carol, dave := register(t, direct, "carol"), register(t, direct, "dave")
	conv2, _ := carol.startConversation(dave)
	dhost := hostOf(t, direct)
	if got := handshake(t, carol, "https://"+dhost, https...); got != http.StatusForbidden {
		t.Errorf("untrusted peer claiming https, https Origin: %d, want 403", got)
	}
	if got := post(carol, conv2, "forged", "https://"+dhost, https...); got != http.StatusForbidden {
		t.Errorf("untrusted peer claiming https, POST with an https Origin: %d, want 403", got)
	}
	if strings.Contains(direct.logs.String(), warning) {
		t.Error("a claim from an untrusted peer set off the proxy warning")
	}
}

// TestOriginSecureCookies: -secure-cookies says the deployment serves
// HTTPS, so the server's origin is https even on a plain connection (TLS
// ends at a proxy), and an http Origin is refused. Answers carry
// Strict-Transport-Security, and the proxy warning has no cause.
func TestOriginSecureCookies(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_SECURE_COOKIES": "true", "PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	// The cookie is Secure: the jar would not send it over http. The
	// handshake's Origin check comes before the session's, so a client
	// without a session shows it.
	c := newClient(t, s)
	host := hostOf(t, s)
	if got := handshake(t, c, "http://"+host); got != http.StatusForbidden {
		t.Errorf("WebSocket, http Origin to a secure deployment: %d, want 403", got)
	}
	if got := handshake(t, c, "https://"+host); got != http.StatusUnauthorized {
		t.Errorf("WebSocket, https Origin to a secure deployment, no session: %d, want 401 (origin passed)", got)
	}
	status, _ := c.do("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "alice", Password: "password-alice"}, "Origin", "http://"+host)
	if status != http.StatusForbidden {
		t.Errorf("register with an http Origin to a secure deployment: %d, want 403", status)
	}
	status, _ = c.do("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "alice", Password: "password-alice"}, "Origin", "https://"+host, "X-Forwarded-Proto", "https")
	if status != http.StatusCreated {
		t.Errorf("register with an https Origin to a secure deployment: %d, want 201", status)
	}

	resp, err := c.http.Get(s.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("Strict-Transport-Security %q", got)
	}
	if strings.Contains(s.logs.String(), "-secure-cookies is off") {
		t.Error("the proxy warning came with -secure-cookies on")
	}
}

// TestOriginListed: an origin listed in -origins passes with exactly its
// scheme, host and port (a default port written or not); the same host
// with another scheme or port does not.
func TestOriginListed(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_ORIGINS": "https://chat.example.com:443, http://localhost:3000"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://chat.example.com", true},
		{"https://CHAT.example.com:443", true},
		{"http://localhost:3000", true},
		{"http://chat.example.com", false},
		{"https://chat.example.com:8443", false},
		{"http://localhost:3001", false},
		{"https://localhost:3000", false},
	} {
		wantWS, wantPost := http.StatusForbidden, http.StatusForbidden
		if tc.want {
			wantWS, wantPost = http.StatusSwitchingProtocols, http.StatusCreated
		}
		if got := handshake(t, alice, tc.origin); got != wantWS {
			t.Errorf("WebSocket, Origin %q: %d, want %d", tc.origin, got, wantWS)
		}
		if got := post(alice, conv, "from "+tc.origin, tc.origin); got != wantPost {
			t.Errorf("POST, Origin %q: %d, want %d", tc.origin, got, wantPost)
		}
	}
}

// TestSecurityHeadersServed: every answer, page or API, carries COOP and a
// CSP that requires Trusted Types; Strict-Transport-Security only comes
// with -secure-cookies (see TestOriginSecureCookies).
func TestSecurityHeadersServed(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, path := range []string{"/login", "/api/v1/me", "/static/chat.js"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Cross-Origin-Opener-Policy"); got != "same-origin" {
			t.Errorf("%s: Cross-Origin-Opener-Policy %q", path, got)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "require-trusted-types-for 'script'") || !strings.Contains(csp, "trusted-types 'none'") {
			t.Errorf("%s: CSP without Trusted Types: %q", path, csp)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s: Strict-Transport-Security %q over plain http without -secure-cookies", path, got)
		}
	}
}

// logLines returns the server's JSON log lines whose msg is msg.
func logLines(s *server, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// TestLoginLogs: every login, over the API or the form, is logged with the
// real client address (from a trusted proxy's X-Forwarded-For): a success
// at INFO with the user's ID, a failure or a throttled attempt at WARN. The
// username is logged only when it is a valid name; the password never.
func TestLoginLogs(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	alice := register(t, s, "alice")
	c := newClient(t, s)
	const secret = "Wr0ng-Secret-Pass"

	c.wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "Alice", Password: secret}, 401, "unauthorized")
	// A password typed into the username field is not a valid name.
	status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: secret + " !", Password: secret}, "X-Forwarded-For", "198.51.100.9")
	if status != 401 {
		t.Fatalf("login with a garbled name: %d", status)
	}
	// The form, from behind the proxy.
	form := url.Values{"username": {"alice"}, "password": {secret}}
	req, err := http.NewRequest("POST", s.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("form login with a wrong password: %d", resp.StatusCode)
	}
	c.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, 200, nil)

	s.waitLog(t, "the login lines", func() bool {
		return len(logLines(s, "login failed")) == 3 && len(logLines(s, "login succeeded")) == 1
	})
	failed := logLines(s, "login failed")
	for i, want := range []struct {
		addr, username string
		userID         int64 // of an account that exists, else 0
	}{
		{"127.0.0.1", "alice", alice.user.ID},
		{"198.51.100.9", "", 0},
		{"203.0.113.7", "alice", alice.user.ID},
	} {
		l := failed[i]
		if l["level"] != "WARN" || l["addr"] != want.addr {
			t.Errorf("failure %d: %v, want WARN from %s", i+1, l, want.addr)
		}
		if got, _ := l["username"].(string); got != want.username {
			t.Errorf("failure %d: username %q, want %q", i+1, got, want.username)
		}
		if got, _ := l["user_id"].(float64); int64(got) != want.userID {
			t.Errorf("failure %d: user_id %v, want %d", i+1, l["user_id"], want.userID)
		}
	}
	ok := logLines(s, "login succeeded")[0]
	if ok["level"] != "INFO" || ok["addr"] != "127.0.0.1" || ok["username"] != "alice" || ok["user_id"] != float64(alice.user.ID) {
		t.Errorf("success: %v, want INFO from 127.0.0.1 with user_id %d", ok, alice.user.ID)
	}

	// Failures past the free ones are throttled, and say so.
	for i := 0; len(logLines(s, "login throttled")) == 0; i++ {
		if i == 20 {
			t.Fatal("twenty failures and no login throttled")
		}
		c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: secret}, "X-Forwarded-For", "192.0.2.44")
	}
	th := logLines(s, "login throttled")[0]
	if th["level"] != "WARN" || th["addr"] != "192.0.2.44" || th["username"] != "bob" || th["retry_after"] == nil {
		t.Errorf("throttled: %v, want WARN from 192.0.2.44 for bob with retry_after", th)
	}

	if strings.Contains(s.logs.String(), secret) || strings.Contains(s.logs.String(), "password-alice") {
		t.Errorf("a password reached the log:\n%s", s.logs)
	}
}

// TestDatabaseURLSecretsNotLogged: the -db and -redis URLs are logged
// without their passwords, in the userinfo or in the query, whether the
// server starts or not.
func TestDatabaseURLSecretsNotLogged(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the server logs what it opens, then fails.
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	vars := map[string]string{
		"PARLEY_ADDR":       "127.0.0.1:0",
		"PARLEY_LOG_FORMAT": "json",
		"PARLEY_DB":         "postgres://parley:Userinfo-S3cret@127.0.0.1:1/parley?sslmode=disable&password=Query-S3cret&connect_timeout=2",
		"PARLEY_REDIS":      "redis://:Redis-S3cret@127.0.0.1:1/0",
	}
	err := run(ctx, []string{"parley"}, func(k string) string { return vars[k] }, logs, logs)
	if err == nil {
		t.Fatal("the server started on a database that is not there")
	}
	out := logs.String() + err.Error()
	for _, secret := range []string{"Userinfo-S3cret", "Query-S3cret", "Redis-S3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s reached the log or the error:\n%s", secret, out)
		}
	}
	if !strings.Contains(logs.String(), "127.0.0.1:1/parley") || !strings.Contains(logs.String(), "password=xxxxx") {
		t.Errorf("the database URL is not logged, redacted:\n%s", logs)
	}
}

// TestDatabaseURLSecretsNotLoggedPostgres: a real PostgreSQL URL with
// ?password= (ignored by a server that trusts the connection) appears in the
// "listening" line redacted.
func TestDatabaseURLSecretsNotLoggedPostgres(t *testing.T) {
	t.Parallel()
	dsn, _ := freshDatabase(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	const secret = "Query-S3cret-pg"
	s := startServer(t, map[string]string{"PARLEY_DB": dsn + sep + "password=" + secret})
	listening := logLines(s, "listening")
	if len(listening) != 1 {
		t.Fatalf("%d listening lines", len(listening))
	}
	if db, _ := listening[0]["db"].(string); !strings.Contains(db, "password=xxxxx") {
		t.Errorf("listening: db %q, want the password redacted", db)
	}
	if strings.Contains(s.logs.String(), secret) {
		t.Errorf("the password reached the log:\n%s", s.logs)
	}
}
