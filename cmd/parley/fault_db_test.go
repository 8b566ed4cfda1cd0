package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/parleychat/parley/internal/testenv"
)

// startClusterOn starts n nodes on the database dsn and the Redis of the
// test environment (under a prefix of the test's own), with the message
// limits out of the way and the default database deadline (-db-timeout,
// 5 s): shorter, a slow moment of a busy test machine could meet it.
func startClusterOn(t *testing.T, n int, dsn string) []*server {
	t.Helper()
	redisURL := testenv.Need(t, testenv.Redis)
	prefix := "parleytest:" + rand.Text()[:10] + ":"
	nodes := make([]*server, n)
	for i := range nodes {
		nodes[i] = startServer(t, map[string]string{
			"PARLEY_DB":            dsn,
			"PARLEY_REDIS":         redisURL,
			"PARLEY_REDIS_PREFIX":  prefix,
			"PARLEY_MESSAGE_RATE":  "1000",
			"PARLEY_MESSAGE_BURST": "1000",
		})
	}
	return nodes
}

// viaProxy returns a fresh PostgreSQL database for the test and the same
// URL through a fault proxy.
func viaProxy(t *testing.T) (*testenv.FaultProxy, string) {
	t.Helper()
	u := mustParse(t, postgresDatabase(t))
	proxy := testenv.NewFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	return proxy, u.String()
}

// TestDatabaseCutDelivery: two nodes reach PostgreSQL through one proxy;
// alice (node 1) and bob (node 2) send a steady stream while the database
// is cut for a few seconds. Sends during the cut are answered
// `unavailable` (503 with Retry-After, not `internal`) and go through when
// resent with the same client_id; nothing acked is missing from the
// database, and both connections, open throughout, end up with every
// acked message.
func TestDatabaseCutDelivery(t *testing.T) {
	t.Parallel()
	proxy, dsn := viaProxy(t)
	nodes := startClusterOn(t, 2, dsn)
	alice, bob := register(t, nodes[0], "alice"), register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)
	first := alice.send(conv, "before the stream", "first")
	am := watchConversation(t, "alice's tab on node 1", alice, conv, first.Seq)
	bm := watchConversation(t, "bob's tab on node 2", bob, conv, first.Seq)

	as, bs := newFaultSender("alice", alice, conv), newFaultSender("bob", bob, conv)
	stop := startSenders(faultInterval, as, bs)
	t.Cleanup(func() { stop(); logSenders(t, as, bs) })
	atLeast := func(what string, n int) {
		a, b := as.ackedCount(), bs.ackedCount()
		waitUntil(t, what, func() bool { return as.ackedCount() >= a+n && bs.ackedCount() >= b+n })
	}
	refused := func(s *faultSender) (n int) {
		for _, k := range s.refusals() {
			n += k
		}
		return n
	}
	atLeast("sends before the cut", 20)

	proxy.Cut()
	// Each sender's sends in flight are refused, wait out Retry-After
	// (1 s) and are refused again: the cut lasts a few seconds.
	waitUntil(t, "sends refused during the cut", func() bool { return refused(as) >= 3*faultInFlight && refused(bs) >= 3*faultInFlight })
	proxy.Mend()
	atLeast("sends after the cut", 20)
	stop()

	deliveryReport(t, alice, conv, first.Seq, []*faultSender{as, bs}, []*faultMember{am, bm})
	for _, s := range []*faultSender{as, bs} {
		for what, n := range s.refusals() {
			if what != "503 unavailable" {
				t.Errorf("%s: %d sends refused with %q during the cut, want 503 unavailable", s.name, n, what)
			}
		}
	}
}

// TestDatabaseStallUnavailable: when PostgreSQL stops answering (the
// proxy keeps the connections open but forwards nothing), a send is
// answered `unavailable` within the database deadline instead of hanging;
// once the database answers again the same client_id goes through and
// reaches bob. The test does not time the answer: it only needs one.
func TestDatabaseStallUnavailable(t *testing.T) {
	t.Parallel()
	proxy, dsn := viaProxy(t)
	nodes := startClusterOn(t, 2, dsn)
	alice, bob := register(t, nodes[0], "alice"), register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)
	first := alice.send(conv, "before the stall", "first")
	bm := watchConversation(t, "bob's tab on node 2", bob, conv, first.Seq)
	as := newFaultSender("alice", alice, conv)

	proxy.Stall()
	// patience bounds the wait for an answer; without a deadline on the
	// database the send hangs until then.
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	a, err := as.try(ctx, "c2", "sent while the database is stalled")
	cancel()
	proxy.Mend()
	switch {
	case err != nil:
		t.Errorf("send during the stall: no answer within %v: %v", patience, err)
	case a.status != http.StatusServiceUnavailable || a.code != "unavailable":
		t.Errorf("send during the stall: %d %q, want 503 unavailable", a.status, a.code)
	default:
		t.Logf("send during the stall: %d %s, Retry-After %v", a.status, a.code, a.retryAfter)
	}
	if _, err := as.post(t.Context(), "c2", "sent while the database is stalled"); err != nil {
		t.Fatalf("resend after the stall: %v", err)
	}
	deliveryReport(t, alice, conv, first.Seq, []*faultSender{as}, []*faultMember{bm})
}
