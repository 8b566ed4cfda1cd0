package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
)

// readyStatus is the status of s's /readyz.
func readyStatus(t *testing.T, s *server) int {
	t.Helper()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// faultInterval paces each sender of the fault tests: 50 messages a second.
const faultInterval = 20 * time.Millisecond

// TestBrokerOutageDelivery: two nodes reach Redis through one proxy; alice
// (node 1) and bob (node 2) send a steady stream to each other, and Redis
// is cut for a few seconds while they do. The stream stops before Redis
// is mended, so that no later message shows the members a gap to fetch:
// what was sent during the outage reaches them only if the server makes
// them catch up. Every acked message is in the database, and both of
// their connections, open throughout, end up with every acked message:
// live, or by the catch-up a resync frame asks for.
func TestBrokerOutageDelivery(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u := mustParse(t, redisURL)
	proxy := testenv.NewFaultProxy(t, u.Host)
	via := *u
	via.Host = proxy.Addr()
	nodes := startCluster(t, 2, func(int) string { return via.String() },
		map[string]string{"PARLEY_MESSAGE_RATE": "1000", "PARLEY_MESSAGE_BURST": "1000"})
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
	atLeast("sends before the outage", 20)

	proxy.Cut()
	waitUntil(t, "both nodes see Redis gone", func() bool {
		return readyStatus(t, nodes[0]) == http.StatusServiceUnavailable && readyStatus(t, nodes[1]) == http.StatusServiceUnavailable
	})
	// Sends with Redis away can be slow (the rate limiter and the
	// publish each find it gone): the count, not the time, says the
	// outage covered a stream of sends.
	atLeast("sends during the outage", 20)
	stop()
	proxy.Mend()
	waitUntil(t, "both nodes back on Redis", func() bool {
		return readyStatus(t, nodes[0]) == http.StatusOK && readyStatus(t, nodes[1]) == http.StatusOK
	})

	deliveryReport(t, alice, conv, first.Seq, []*faultSender{as, bs}, []*faultMember{am, bm})
	for _, s := range []*faultSender{as, bs} {
		for what, n := range s.refusals() {
			t.Errorf("%s: %d sends refused (%s): with Redis down, messages are still stored", s.name, n, what)
		}
	}
}

// TestResendAfterBrokerOutage: with node 1 cut off from Redis, alice posts
// m2 (201); with Redis back she resends it (200, the stored message) and
// posts m3. Bob, on node 2, whose own subscription never broke, gets 1, 2
// and 3: the resend of a message that was stored but maybe never
// published publishes it (or the server tells bob to catch up).
func TestResendAfterBrokerOutage(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u := mustParse(t, redisURL)
	proxy := testenv.NewFaultProxy(t, u.Host)
	via := *u
	via.Host = proxy.Addr()
	nodes := startCluster(t, 2, func(i int) string {
		if i == 0 {
			return via.String()
		}
		return redisURL
	}, map[string]string{"PARLEY_MESSAGE_RATE": "1000", "PARLEY_MESSAGE_BURST": "1000"})
	alice, bob := register(t, nodes[0], "alice"), register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)
	bm := watchConversation(t, "bob's tab on node 2", bob, conv, 0)
	as := newFaultSender("alice", alice, conv)
	ctx := t.Context()
	post := func(clientID, body string, wantStatus int) int64 {
		t.Helper()
		a, err := as.post(ctx, clientID, body)
		if err != nil {
			t.Fatalf("post %s: %v", clientID, err)
		}
		if a.status != wantStatus {
			t.Errorf("post %s: status %d, want %d", clientID, a.status, wantStatus)
		}
		return a.msg.Seq
	}
	m1 := post("c1", "m1", http.StatusCreated)
	waitUntil(t, "bob gets m1", func() bool { return bm.has([]int64{m1}) })

	proxy.Cut()
	waitUntil(t, "node 1 sees Redis gone", func() bool { return readyStatus(t, nodes[0]) == http.StatusServiceUnavailable })
	m2 := post("c2", "m2", http.StatusCreated)
	proxy.Mend()
	waitUntil(t, "node 1 back on Redis", func() bool { return readyStatus(t, nodes[0]) == http.StatusOK })
	if again := post("c2", "m2", http.StatusOK); again != m2 {
		t.Errorf("the resend of c2 got seq %d, want %d", again, m2)
	}
	// Bob must get m2 before m3 is sent: m3 would show him a gap, which
	// he would fetch (the protocol's gap rule) whether or not the resend
	// was published.
	waitUntil(t, "bob gets m2 after its resend", func() bool { return bm.has([]int64{m2}) })
	m3 := post("c3", "m3", http.StatusCreated)
	if m2 != m1+1 || m3 != m2+1 {
		t.Fatalf("seqs %d, %d, %d", m1, m2, m3)
	}
	deliveryReport(t, alice, conv, 0, []*faultSender{as}, []*faultMember{bm})
}
