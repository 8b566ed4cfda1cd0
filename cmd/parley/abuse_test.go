package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// TestMessageRateLimit: a user's burst is shared by their tabs and the HTTP
// API; past it, sends are refused with a retry time, nothing is stored, and
// the connection stays open.
func TestMessageRateLimit(t *testing.T) {
	// Refilling one token in 100 s, the bucket holds still while the test
	// runs, however slowly.
	s := startServer(t, map[string]string{"PARLEY_MESSAGE_RATE": "0.01", "PARLEY_MESSAGE_BURST": "20"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a1, a2 := alice.openTab("a1"), alice.openTab("a2")

	// 20 tokens: 8 over HTTP, then 12 over the two tabs, then none.
	for i := range 8 {
		alice.send(conv, fmt.Sprint("http ", i), "")
	}
	acks := 0
	for i := range 16 {
		tb := []*tab{a1, a2}[i%2]
		tb.send(sendFrame(conv, fmt.Sprint("ws-", i), fmt.Sprint("ws ", i)))
		f := tb.next()
		for f.Type == "message" { // the other tab's sends
			f = tb.next()
		}
		switch f.Type {
		case "ack":
			acks++
		case "error":
			if f.Code != "rate_limited" || f.ClientID != fmt.Sprint("ws-", i) || f.RetryAfterMS <= 0 || f.RetryAfterMS > 100_000 {
				t.Errorf("send %d: error frame %+v", i, f)
			}
		default:
			t.Fatalf("send %d: %s frame", i, f.Type)
		}
	}
	if acks != 12 {
		t.Errorf("%d WebSocket sends acked after 8 over HTTP, want 12 (a burst of 20)", acks)
	}
	status, raw := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: "one more"})
	if status != http.StatusTooManyRequests {
		t.Errorf("HTTP send past the limit: %d %s", status, raw)
	}
	if p := alice.messages(conv, "limit=100"); len(p.Messages) != 20 {
		t.Errorf("%d messages stored, want 20", len(p.Messages))
	}

	// The limit is per user: bob still has his whole burst.
	bob.send(conv, "bob is fine", "")
	// And the refused tab is still open: it answers the next frame.
	a1.send(frame("typing", 987654))
	for f := a1.next(); f.Type != "error" || f.Code != "not_found"; f = a1.next() {
		if f.Type != "message" {
			t.Fatalf("after the limit: %+v", f)
		}
	}
}

// TestMessageRateRefills: once the bucket has refilled, sending works again.
func TestMessageRateRefills(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_MESSAGE_RATE": "5", "PARLEY_MESSAGE_BURST": "1"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "one", "")
	var e wire.Error
	status, raw := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: "two"})
	jsonUnmarshal(raw, &e)
	if status != 429 {
		t.Fatalf("second send at once: %d %s", status, raw)
	}
	time.Sleep(250 * time.Millisecond) // a token every 200 ms
	alice.send(conv, "three", "")
}

// TestHTTPRetryAfter: a 429 says when to come back.
func TestHTTPRetryAfter(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_MESSAGE_RATE": "0.1", "PARLEY_MESSAGE_BURST": "1"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "one", "")
	resp, err := alice.http.Post(fmt.Sprintf("%s/api/v1/conversations/%d/messages", s.URL, conv), "application/json", stringsReader(`{"body":"two"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || secs < 1 || secs > 10 {
		t.Errorf("status %d, Retry-After %q (want 429 and 1..10 s at one message per 10 s)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestLoginThrottle: after five failures an account must wait, even with
// the right password, which is then not checked; unknown names are
// throttled alike; a success resets the count.
func TestLoginThrottle(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	register(t, s, "alice")
	c := newClient(t, s)
	attempt := func(user, password, from string) (int, wire.Error, string) {
		t.Helper()
		status, raw := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: user, Password: password}, "X-Forwarded-For", from)
		var e wire.Error
		jsonUnmarshal(raw, &e)
		return status, e, string(raw)
	}
	for _, user := range []string{"alice", "nobody"} {
		for i := range 5 {
			// Each failure from its own address: only the account counts.
			if status, _, raw := attempt(user, "wrong-password", fmt.Sprintf("203.0.113.%d", i)); status != 401 {
				t.Fatalf("%s failure %d: %d %s", user, i+1, status, raw)
			}
		}
		status, e, _ := attempt(user, "password-alice", "198.51.100.7")
		if status != 429 || e.Error.Code != "rate_limited" || e.Error.Message != "too many failed attempts: try again later" {
			t.Errorf("%s, sixth attempt: %d %+v", user, status, e)
		}
	}
	// The wait passes; the right password works and clears the count.
	time.Sleep(2100 * time.Millisecond)
	if status, _, raw := attempt("ALICE", "password-alice", "198.51.100.7"); status != 200 {
		t.Fatalf("after the wait: %d %s", status, raw)
	}
	if status, _, _ := attempt("alice", "wrong-password", "198.51.100.8"); status != 401 {
		t.Errorf("the count survived a success: %d", status)
	}
}

// TestLoginThrottlePerAddress: one address trying many accounts is
// throttled, another address is not; IPv6 addresses count by /64.
func TestLoginThrottlePerAddress(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	register(t, s, "alice")
	c := newClient(t, s)
	for _, tc := range []struct {
		name     string
		failFrom []string // five failures, each on another account
		same     string   // counts with them
		other    string   // does not
	}{
		{"IPv4", []string{"203.0.113.9", "203.0.113.9", "203.0.113.9", "203.0.113.9", "203.0.113.9"}, "203.0.113.9", "203.0.113.10"},
		{"IPv6 /64", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::", "2001:db8:1:2::beef", "2001:db8:1:2::1"}, "2001:db8:1:2::77", "2001:db8:1:3::1"},
	} {
		for i, from := range tc.failFrom {
			status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: fmt.Sprintf("user%d", i), Password: "wrong-password"}, "X-Forwarded-For", from)
			if status != 401 {
				t.Fatalf("%s: failure %d from %s: %d", tc.name, i+1, from, status)
			}
		}
		if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, "X-Forwarded-For", tc.same); status != 429 {
			t.Errorf("%s: %s after five failures on five accounts: %d, want 429", tc.name, tc.same, status)
		}
		if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, "X-Forwarded-For", tc.other); status != 200 {
			t.Errorf("%s: another address %s: %d, want 200", tc.name, tc.other, status)
		}
	}
}

// TestForwardedForNeedsTrustedProxy: without -trusted-proxies a client
// cannot pick its own address.
func TestForwardedForNeedsTrustedProxy(t *testing.T) {
	s := startServer(t, nil)
	c := newClient(t, s)
	for i := range 5 {
		c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: fmt.Sprint("user", i), Password: "wrong-password"}, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
	}
	if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "someone", Password: "wrong-password"}, "X-Forwarded-For", "198.51.100.1"); status != 429 {
		t.Errorf("a forged X-Forwarded-For escaped the address throttle: %d", status)
	}
}

// TestRegistrationLimit: one address may create only so many accounts.
func TestRegistrationLimit(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_REGISTER_RATE": "2", "PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	c := newClient(t, s)
	reg := func(name, from string) int {
		status, _ := c.do("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: name, Password: "password-1"}, "X-Forwarded-For", from)
		return status
	}
	if reg("first", "203.0.113.1") != 201 || reg("second", "203.0.113.1") != 201 {
		t.Fatal("the first two sign-ups were refused")
	}
	if status := reg("third", "203.0.113.1"); status != 429 {
		t.Errorf("third sign-up from one address: %d", status)
	}
	if status := reg("fourth", "203.0.113.2"); status != 201 {
		t.Errorf("a sign-up from another address: %d", status)
	}
}

// TestWebSocketCapPerUser: one user may hold only so many sockets.
func TestWebSocketCapPerUser(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "2"})
	alice := register(t, s, "alice")
	t1 := alice.openTab("1")
	alice.openTab("2")
	if _, resp, err := alice.dial("3", dialOptions{}); err == nil || resp == nil || resp.StatusCode != 429 {
		t.Errorf("a third socket: %v %v", err, resp)
	}
	t1.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tb, _, err := alice.dial("3 again", dialOptions{})
		if err == nil {
			tb.conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a socket closed did not make room")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSessionTimeouts: a session ends when idle too long, and when too old
// however busy.
func TestSessionTimeouts(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": "1s", "PARLEY_SESSION_LIFETIME": "3s"})
	idle := register(t, s, "idle")
	busy := register(t, s, "busy")
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		busy.call("GET", "/api/v1/me", nil, 200, nil) // activity keeps it alive...
		time.Sleep(300 * time.Millisecond)
	}
	idle.wantError("GET", "/api/v1/me", nil, 401, "unauthorized")
	time.Sleep(time.Until(start.Add(3200 * time.Millisecond)))
	busy.wantError("GET", "/api/v1/me", nil, 401, "unauthorized") // ...but not past its lifetime
}

// TestSlowAndHugeHeaders: a client dribbling its headers is cut off, and
// headers over the cap are refused.
func TestSlowAndHugeHeaders(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_READ_HEADER_TIMEOUT": "500ms"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a connection sending half its headers was kept open (read %d, %v)", n, err)
	}

	req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %d, want 431", resp.StatusCode)
	}
}
