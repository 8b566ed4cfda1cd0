package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

// postLogin sends one login from the address from (a trusted proxy's
// X-Forwarded-For) and returns the status; safe in parallel, it reports a
// transport error instead of failing the test.
func postLogin(base, username, password, from string) (int, error) {
	body, err := json.Marshal(wire.LoginRequest{Username: username, Password: password})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("POST", base+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	resp, err := (&http.Client{Timeout: patience}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// parallelLogins sends n wrong-password logins for username from one
// address at once and counts the answers by status.
func parallelLogins(t *testing.T, s *server, n int, username, from string) map[int]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
		failed atomic.Int64
	)
	for range n {
		wg.Go(func() {
			status, err := postLogin(s.URL, username, "wrong-password", from)
			if err != nil {
				t.Error(err)
				failed.Add(1)
				return
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	return counts
}

// TestParallelWrongPasswords: 100 parallel wrong-password logins for one
// account from one address have at most five passwords checked (401); the
// rest are refused by the throttle (429) unchecked.
func TestParallelWrongPasswords(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"})
	register(t, s, "alice")
	start := time.Now()
	counts := parallelLogins(t, s, 100, "alice", "203.0.113.50")
	// Each check past the fifth needs the wait after the one before it to
	// have run out: 2 s, then 4 s, 8 s …. A machine so slow that the burst
	// outlasts those waits may check one more per wait that ran out within
	// it, never more.
	allowed := 5
	for wait, total := 2*time.Second, 2*time.Second; total <= time.Since(start); total += wait {
		allowed++
		wait *= 2
	}
	if counts[401] < 1 || counts[401] > allowed || counts[401]+counts[429] != 100 {
		t.Errorf("100 parallel wrong passwords answered %v, want at most %d 401 and the rest 429", counts, allowed)
	}
}

// TestStrangerCannotLockOutOwner: a stranger's failures on an account from
// many addresses, past the account's budget, never stop the owner's right
// password from an address they signed in from before; a new address is
// stopped, and the attack is logged once.
func TestStrangerCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"PARLEY_TRUSTED_PROXIES":        "127.0.0.1",
		"PARLEY_LOGIN_ACCOUNT_FAILURES": "10", // 1,000 by default: shorter hashing
	})
	register(t, s, "alice")
	home := "198.51.100.20"
	if status, err := postLogin(s.URL, "alice", "password-alice", home); err != nil || status != 200 {
		t.Fatalf("alice from home: %d %v", status, err)
	}
	// The stranger tries from addresses of their own, five each (within
	// each address's and pair's free failures), in parallel.
	var wg sync.WaitGroup
	for a := range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := postLogin(s.URL, "alice", "wrong-password", fmt.Sprintf("203.0.113.%d", 100+a)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	status, err := postLogin(s.URL, "alice", "password-alice", "192.0.2.77")
	if err != nil || status != 429 {
		t.Errorf("a new address after the account's budget is spent: %d %v, want 429", status, err)
	}
	s.waitLog(t, "the attack logged", func() bool {
		return bytes.Contains([]byte(s.logs.String()), []byte(`"msg":"login attack: account failure budget spent"`))
	})
	if status, err := postLogin(s.URL, "alice", "password-alice", home); err != nil || status != 200 {
		t.Errorf("alice from home during the attack: %d %v, want 200", status, err)
	}
	// Her own typos at home are counted for her pair only.
	if status, err := postLogin(s.URL, "alice", "wrong-password", home); err != nil || status != 401 {
		t.Errorf("alice's typo at home: %d %v, want 401", status, err)
	}
}

// TestLimitsWithoutRedis: with Redis away, sends are still limited (by the
// node's own budget), logins and sign-ups are refused with 503, never 500,
// and the outage is not logged per request.
func TestLimitsWithoutRedis(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	gate := testenv.NewFaultProxy(t, u.Host)
	via := *u
	via.Host = gate.Addr()
	nodes := startCluster(t, 1, func(int) string { return via.String() }, map[string]string{
		"PARLEY_MESSAGE_RATE":  "0.001",
		"PARLEY_MESSAGE_BURST": "3",
	})
	s := nodes[0]
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)

	gate.Cut()
	cut := time.Now()
	waitUntil(t, "the node sees Redis gone", func() bool {
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	// The node's own budget: three messages, then 429.
	for i := range 3 {
		alice.send(conv, fmt.Sprint("without redis ", i), "")
	}
	alice.wantError("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: "one too many"}, 429, "rate_limited")
	// Logins and sign-ups fail closed. The outage is logged at most once per
	// 10 s, by the Redis client (the refusals are debug lines): once,
	// unless a loaded machine took longer.
	for range 5 {
		newClient(t, s).wantError("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, 503, "unavailable")
		newClient(t, s).wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "carol", Password: "password-carol"}, 503, "unavailable")
	}
	if n, most := bytes.Count([]byte(s.logs.String()), []byte(`"msg":"redis unavailable"`)), 1+int(time.Since(cut)/(10*time.Second)); n < 1 || n > most {
		t.Errorf("Redis's outage logged %d times in %v, want 1 to %d", n, time.Since(cut), most)
	}
	if n := bytes.Count([]byte(s.logs.String()), []byte(`"level":"DEBUG","msg":"login throttle unavailable: refusing logins"`)); n != bytes.Count([]byte(s.logs.String()), []byte(`"msg":"login throttle unavailable: refusing logins"`)) {
		t.Errorf("a refused login logged a line above debug level, besides Redis's outage:\n%s", s.logs)
	}
	// The broker fails to receive every 100 ms meanwhile: at most one
	// line per 10 s says so.
	if n, most := bytes.Count([]byte(s.logs.String()), []byte(`"msg":"redis pub/sub"`)), 1+int(time.Since(cut)/(10*time.Second)); n > most {
		t.Errorf("the broker logged the outage %d times in %v, want at most %d", n, time.Since(cut), most)
	}
}

// TestReadFloodLimited: read frames past the budget are answered with a
// rate_limited error frame.
func TestReadFloodLimited(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_READ_RATE": "0.001", "PARLEY_READ_BURST": "3"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "hello", "")
	b := bob.openTab("bob")
	for range 3 {
		b.send(frame("read", conv, "seq", 1))
	}
	b.expectPast("read") // the first moved the cursor
	b.sync()
	b.send(frame("read", conv, "seq", 1))
	if f := b.expectPast("error"); f.Code != "rate_limited" || f.RetryAfterMS <= 0 {
		t.Errorf("a read frame past the budget: %+v (%s), want rate_limited with retry_after_ms", f, f.ErrorText())
	}
	bob.wantError("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), map[string]any{"seq": 1}, 429, "rate_limited")
}

// TestConversationAndListBudgets: starting conversations and asking for
// list pages are budgeted per user.
func TestConversationAndListBudgets(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"PARLEY_CONVERSATION_RATE": "0.001", "PARLEY_CONVERSATION_BURST": "2",
		"PARLEY_LIST_RATE": "0.001", "PARLEY_LIST_BURST": "2",
	})
	alice, bob, carol, dave := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave")
	alice.startConversation(bob)
	alice.startConversation(carol)
	alice.wantError("POST", "/api/v1/conversations", wire.StartConversationRequest{UserID: dave.user.ID}, 429, "rate_limited")
	if rows := dave.conversations(); len(rows) != 0 {
		t.Errorf("a refused start made a conversation: %+v", rows)
	}
	alice.call("GET", "/api/v1/users", nil, 200, nil)
	alice.call("GET", "/api/v1/conversations", nil, 200, nil)
	alice.wantError("GET", "/api/v1/users?q=b", nil, 429, "rate_limited")
	alice.wantError("GET", "/api/v1/conversations", nil, 429, "rate_limited")
}

// TestResendAfterBudgetSpent: a resend of a stored client_id is answered
// with the stored message and costs no message budget: resends take
// nothing while budget is left (the token is given back), and get the
// message, not 429, once it is spent.
func TestResendAfterBudgetSpent(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MESSAGE_RATE": "0.001", "PARLEY_MESSAGE_BURST": "2"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	first := alice.send(conv, "first", "client-1")
	path := fmt.Sprintf("/api/v1/conversations/%d/messages", conv)
	for range 5 {
		var resp wire.MessageResponse
		alice.call("POST", path, wire.SendRequest{Body: "first, again", ClientID: "client-1"}, http.StatusOK, &resp)
		if !reflect.DeepEqual(resp.Message, first) {
			t.Fatalf("resend answered %+v, want %+v", resp.Message, first)
		}
	}
	// The resends took nothing: the second token of the burst is there.
	alice.send(conv, "second", "client-2")
	alice.wantError("POST", path, wire.SendRequest{Body: "third", ClientID: "client-3"}, 429, "rate_limited")
	status, raw := alice.do("POST", path, wire.SendRequest{Body: "first", ClientID: "client-1"})
	var resp wire.MessageResponse
	if err := json.Unmarshal(raw, &resp); err != nil || status/100 != 2 || resp.Message.Seq != first.Seq || resp.Message.Body != "first" {
		t.Errorf("resend of a stored client_id after the budget: %d %s, want message %d", status, raw, first.Seq)
	}
	// Resends are reads: past the read budget they are refused, so they
	// cannot flood the store.
	r := startServer(t, map[string]string{"PARLEY_READ_RATE": "0.001", "PARLEY_READ_BURST": "3"})
	carol, dave := register(t, r, "carol"), register(t, r, "dave")
	cd, _ := carol.startConversation(dave)
	stored := carol.send(cd, "once", "c-1")
	cdPath := fmt.Sprintf("/api/v1/conversations/%d/messages", cd)
	for range 3 {
		carol.call("POST", cdPath, wire.SendRequest{Body: "once", ClientID: "c-1"}, http.StatusOK, nil)
	}
	carol.wantError("POST", cdPath, wire.SendRequest{Body: "once", ClientID: "c-1"}, http.StatusTooManyRequests, "rate_limited")
	if got := carol.messages(cd, "").Messages; len(got) != 1 || !reflect.DeepEqual(got[0], stored) {
		t.Errorf("after the resends the conversation holds %+v", got)
	}

	// Over the WebSocket too: the ack carries the stored message.
	a := alice.openTab("alice")
	a.send(sendFrame(conv, "client-1", "first"))
	if f := a.expectPast("ack"); f.ClientID != "client-1" {
		t.Errorf("ack %+v", f)
	} else if m := a.message(f); m.Seq != first.Seq {
		t.Errorf("resend over the socket acked message %d, want %d", m.Seq, first.Seq)
	}
}
