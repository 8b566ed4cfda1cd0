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

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// TestMessageRateLimit: a user's burst is shared by their tabs and the HTTP
// API; past it, sends are refused with a retry time, nothing is stored, and
// the connection stays open.
func TestMessageRateLimit(t *testing.T) {
	t.Parallel()
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

// TestMessageRateRefills: a send right after another is refused while the
// bucket is empty, and once it has refilled, sending works again.
func TestMessageRateRefills(t *testing.T) {
	t.Parallel()
	const refill = time.Second // one message a second, one at once
	s := startServer(t, map[string]string{"PARLEY_MESSAGE_RATE": "1", "PARLEY_MESSAGE_BURST": "1"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	var sent time.Time // when the last try was sent
	try := func(body string) int {
		t.Helper()
		sent = time.Now()
		status, raw := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: body})
		if status != http.StatusCreated && status != http.StatusTooManyRequests {
			t.Fatalf("send %q: %d %s", body, status, raw)
		}
		return status
	}
	// A refused send takes no token, so trying until one is accepted waits
	// for the refill without using it up.
	for attempt := 1; ; attempt++ {
		waitUntil(t, "a send accepted", func() bool { return try("first") == http.StatusCreated })
		first := sent
		if try("at once") == http.StatusTooManyRequests {
			break
		}
		// A whole refill may have passed on a slow machine, and then the
		// bucket was right to accept it; not sooner.
		if took := time.Since(first); took < refill {
			t.Fatalf("a second send %v after the first was accepted; the bucket holds one and refills in %v", took, refill)
		}
		if attempt == 5 {
			t.Fatalf("%d times, the machine took more than %v between two sends", attempt, refill)
		}
	}
	waitUntil(t, "a send accepted after the refill", func() bool { return try("after the refill") == http.StatusCreated })
}

// TestHTTPRetryAfter: a 429 says when to come back.
func TestHTTPRetryAfter(t *testing.T) {
	t.Parallel()
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

// TestLoginThrottle: after five failures from one address an account must
// wait there, even with the right password, which is then not checked;
// unknown names are throttled alike; the owner's right password from
// another address still works; a success resets the count.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	firstWait := chat.DefaultThrottlePolicy().First // after five failures
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
	// sixth fails user's login five times from one address, then tries
	// the right password from it at once. The answer
	// must be the throttle's when the sixth was answered within firstWait
	// of the fifth failure's sending; a slower machine may have waited that
	// long, and then the pair is tried again (an unknown name under a new
	// name, as it has one failure more).
	tries, aliceTries := 0, 0
	from := ""
	for _, user := range []string{"alice", "nobody"} {
		for {
			tries++
			name := user
			if user == "nobody" {
				name = fmt.Sprint("nobody", tries)
			}
			var fifth time.Time
			from = fmt.Sprintf("203.0.113.%d", tries)
			for i := range 5 {
				fifth = time.Now()
				if status, _, raw := attempt(name, "wrong-password", from); status != 401 {
					t.Fatalf("%s failure %d: %d %s", name, i+1, status, raw)
				}
			}
			status, e, raw := attempt(name, "password-alice", from)
			if status == 429 {
				if e.Error.Code != "rate_limited" || e.Error.Message != "too many failed attempts: try again later" {
					t.Errorf("%s, sixth attempt: %d %+v", name, status, e)
				}
				if user == "alice" {
					aliceTries = tries
				}
				if user == "alice" {
					if status, _, raw := attempt("alice", "password-alice", "198.51.100.7"); status != 200 {
						t.Errorf("the owner from another address while %s waits: %d %s, want 200", from, status, raw)
					}
				}
				break
			}
			if took := time.Since(fifth); took < firstWait {
				t.Fatalf("%s, sixth attempt %v after the fifth failure: %d %s, want 429", name, took, status, raw)
			}
			if tries == 10 {
				t.Fatalf("%d times, the machine took more than %v for two logins", tries, firstWait)
			}
		}
	}
	// The wait passes; the right password works and clears the count.
	// Attempts while it lasts are refused unchecked and do not count.
	aliceFrom := fmt.Sprintf("203.0.113.%d", aliceTries)
	waitUntil(t, "alice's wait passes", func() bool {
		status, _, raw := attempt("ALICE", "password-alice", aliceFrom)
		if status != 200 && status != 429 {
			t.Fatalf("waiting: %d %s", status, raw)
		}
		return status == 200
	})
	for i := range 5 {
		if status, _, _ := attempt("alice", "wrong-password", aliceFrom); status != 401 {
			t.Errorf("the count survived a success: failure %d answered %d", i+1, status)
		}
	}
}

// retrySlow runs try until it decides, at most five times. A try reports
// false when the machine was too slow for it to decide: the throttle's wait
// of 2 s passed between the failures and the attempt that must wait for it.
func retrySlow(t *testing.T, what string, try func(n int) bool) {
	t.Helper()
	for n := 1; !try(n); n++ {
		if n == 5 {
			t.Fatalf("%s: %d tries, each too slow to decide", what, n)
		}
		t.Logf("%s: try %d too slow to decide: again", what, n)
	}
}

// TestLoginThrottlePerAddress: one address trying many accounts is
// throttled, another address is not; IPv6 addresses count by /64. The
// address budget is cut to five failures (100 by default) to keep the
// test's hashing short.
func TestLoginThrottlePerAddress(t *testing.T) {
	t.Parallel()
	firstWait := chat.DefaultThrottlePolicy().First // after five failures
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1", "PARLEY_LOGIN_ADDRESS_FAILURES": "5"})
	register(t, s, "alice")
	c := newClient(t, s)
	users := 0
	for _, tc := range []struct {
		name     string
		failFrom []string // five failures, each on another account
		same     string   // counts with them
		other    string   // does not
	}{
		{"IPv4", []string{"203.0.113.1%d", "203.0.113.1%d", "203.0.113.1%d", "203.0.113.1%d", "203.0.113.1%d"}, "203.0.113.1%d", "203.0.113.2%d"},
		{"IPv6 /64", []string{"2001:db8:%x:2::1", "2001:db8:%x:2::2", "2001:db8:%x:2:ffff::", "2001:db8:%x:2::beef", "2001:db8:%x:2::1"}, "2001:db8:%x:2::77", "2001:db8:%x:3::1"},
	} {
		// Each try from addresses of its own (the n in each pattern).
		retrySlow(t, tc.name, func(n int) bool {
			var fifth time.Time
			for i, pattern := range tc.failFrom {
				users++
				fifth = time.Now()
				from := fmt.Sprintf(pattern, n)
				status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: fmt.Sprintf("user%d", users), Password: "wrong-password"}, "X-Forwarded-For", from)
				if status != 401 {
					t.Fatalf("%s: failure %d from %s: %d", tc.name, i+1, from, status)
				}
			}
			same, other := fmt.Sprintf(tc.same, n), fmt.Sprintf(tc.other, n)
			if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, "X-Forwarded-For", same); status != 429 {
				if took := time.Since(fifth); took >= firstWait {
					return false
				}
				t.Errorf("%s: %s after five failures on five accounts: %d, want 429", tc.name, same, status)
			}
			if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, "X-Forwarded-For", other); status != 200 {
				t.Errorf("%s: another address %s: %d, want 200", tc.name, other, status)
			}
			return true
		})
	}
}

// TestForwardedForNeedsTrustedProxy: without -trusted-proxies a client
// cannot pick its own address.
func TestForwardedForNeedsTrustedProxy(t *testing.T) {
	t.Parallel()
	firstWait := chat.DefaultThrottlePolicy().First // after five failures
	// A server for each try: all tries come from the one real address.
	retrySlow(t, "forged addresses", func(int) bool {
		s := startServer(t, map[string]string{"PARLEY_LOGIN_ADDRESS_FAILURES": "5"})
		c := newClient(t, s)
		var fifth time.Time
		for i := range 5 {
			fifth = time.Now()
			c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: fmt.Sprint("user", i), Password: "wrong-password"}, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		}
		if status, _ := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "someone", Password: "wrong-password"}, "X-Forwarded-For", "198.51.100.1"); status != 429 {
			if took := time.Since(fifth); took >= firstWait {
				return false
			}
			t.Errorf("a forged X-Forwarded-For escaped the address throttle: %d", status)
		}
		return true
	})
}

// TestRegistrationLimit: one address may create only so many accounts.
func TestRegistrationLimit(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "2"})
	alice := register(t, s, "alice")
	t1 := alice.openTab("1")
	alice.openTab("2")
	if _, resp, err := alice.dial("3", dialOptions{}); err == nil || resp == nil || resp.StatusCode != 429 {
		t.Errorf("a third socket: %v %v", err, resp)
	}
	t1.conn.Close()
	// The server counts the socket out once it has seen the close.
	waitUntil(t, "a closed socket makes room", func() bool {
		tb, resp, err := alice.dial("3 again", dialOptions{})
		if err != nil {
			if resp == nil || resp.StatusCode != 429 {
				t.Fatalf("a socket after one closed: %v %v", err, resp)
			}
			return false
		}
		tb.conn.Close()
		return true
	})
}

// me asks the server who c is: 200, or 401 once the session has ended. It
// returns when the request was sent and when its answer came: the server
// checked the session, and renewed it, in between.
func (c *client) me() (status int, sent, answered time.Time) {
	c.t.Helper()
	sent = time.Now()
	status, raw := c.do("GET", "/api/v1/me", nil)
	if status != http.StatusOK && status != http.StatusUnauthorized {
		c.t.Fatalf("GET /api/v1/me: %d %s", status, raw)
	}
	return status, sent, time.Now()
}

// The session tests reason from what the client sees: the server renews a
// session at each request, at some time between its sending and its
// answer, until idle after that. So a request answered less than idle after
// the previous one was sent must find the session alive (unless its
// lifetime is over), and one sent more than idle after the previous one was
// answered must find it ended. Between the two, either answer is right.

// TestSessionIdleTimeout: a session left alone longer than the idle timeout
// ends, and not sooner.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": idle.String()})
	prevSent := time.Now()
	c := register(t, s, "idle")
	prevAnswered := time.Now()
	// Each look renews the session, so the test waits a little longer
	// before each one, until the session has ended.
	for wait := idle / 8; ; wait *= 2 {
		// Not a wait for something to happen: the gap between looks is
		// what is tested (idleness), and each answer is judged by the
		// measured send and answer times, so any gap gives a sound verdict.
		time.Sleep(wait)
		status, sent, answered := c.me()
		switch {
		case status == http.StatusUnauthorized && answered.Sub(prevSent) < idle:
			t.Fatalf("the session ended at most %v after it was last used; its idle timeout is %v", answered.Sub(prevSent), idle)
		case status == http.StatusUnauthorized:
			return
		case sent.Sub(prevAnswered) > idle:
			t.Fatalf("the session lived on after at least %v unused; its idle timeout is %v", sent.Sub(prevAnswered), idle)
		}
		prevSent, prevAnswered = sent, answered
	}
}

// TestSessionLifetime: a session in use lives past the idle timeout, and
// ends at its lifetime however busy.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	const idle, lifetime = time.Second, 3 * time.Second
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": idle.String(), "PARLEY_SESSION_LIFETIME": lifetime.String()})
	for try := 1; !sessionInUse(t, s, try, idle, lifetime); try++ {
		if try == 5 {
			t.Fatalf("%d times, the machine left more than %v between two requests", try, idle)
		}
	}
}

// sessionInUse signs up and uses the session every idle/10 until it ends.
// It reports false when a pause of the machine left the session unused
// long enough to end by its idle timeout: the try showed nothing.
func sessionInUse(t *testing.T, s *server, try int, idle, lifetime time.Duration) bool {
	t.Helper()
	created := time.Now() // the session is created after this...
	c := register(t, s, fmt.Sprint("busy", try))
	signedUp := time.Now() // ...and before this
	prevSent := created
	outlivedIdle := false // a request found the session alive though created more than idle before
	for {
		// The gap keeps the session in use without hammering the server;
		// verdicts come from the measured times, not from this sleep.
		time.Sleep(idle / 10)
		status, sent, answered := c.me()
		inUse := answered.Sub(prevSent) < idle
		switch {
		case status == http.StatusOK && sent.Sub(signedUp) > lifetime:
			t.Fatalf("the session lived on %v after it was created; its lifetime is %v", sent.Sub(signedUp), lifetime)
		case status == http.StatusOK:
			outlivedIdle = outlivedIdle || sent.Sub(signedUp) > idle
			prevSent = sent
			continue
		case !inUse:
			t.Logf("try %d: %v between two requests, more than the idle timeout %v: the session may have idled out", try, answered.Sub(prevSent), idle)
			return false
		case answered.Sub(created) < lifetime:
			t.Fatalf("the session, in use, ended at most %v after it was created; its lifetime is %v", answered.Sub(created), lifetime)
		case !outlivedIdle:
			t.Logf("try %d: the session ended before a request more than %v after sign-up found it alive", try, idle)
			return false
		}
		return true
	}
}

// TestSlowAndHugeHeaders: a client dribbling its headers is cut off, and
// headers over the cap are refused.
func TestSlowAndHugeHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_READ_HEADER_TIMEOUT": "500ms"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	// A deadline for failing: the server cuts the connection at 500 ms.
	conn.SetReadDeadline(time.Now().Add(patience))
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
