package brokertest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// slack allows for a networked implementation's rounding when the suite
// compares a reported wait with what the rate promises.
const slack = 50 * time.Millisecond

// eventually calls cond until it reports true, sleeping between calls for
// the pause cond asks for (at most 100 ms, so that a wrong hint cannot
// stretch the wait), and fails the test if that has not happened within
// deliveryTimeout.
func eventually(t *testing.T, what string, cond func() (ok bool, pause time.Duration)) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		ok, pause := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, deliveryTimeout)
		}
		time.Sleep(min(max(pause, time.Millisecond), 100*time.Millisecond))
	}
}

// RunLimiter runs the Limiter suite. newNodes returns n limiters of one
// cluster (sharing buckets), each allowing perSecond tokens a second per
// key, up to burst at once.
func RunLimiter(t *testing.T, newNodes func(t *testing.T, n int, perSecond float64, burst int) []chat.Limiter, maxNodes int) {
	tests := []struct {
		name  string
		nodes int
		fn    func(t *testing.T, newNodes func(n int, perSecond float64, burst int) []chat.Limiter)
	}{
		{"Burst", 1, testLimiterBurst},
		{"KeysApart", 1, testLimiterKeys},
		{"Refill", 1, testLimiterRefill},
		{"Concurrent", 1, testLimiterConcurrent},
		{"AcrossNodes", 2, testLimiterAcrossNodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.nodes > maxNodes {
				t.Skipf("needs %d nodes; this implementation offers %d", tc.nodes, maxNodes)
			}
			tc.fn(t, func(n int, perSecond float64, burst int) []chat.Limiter { return newNodes(t, n, perSecond, burst) })
		})
	}
}

// uniqueKey keeps tests that share a backplane (one Redis) apart.
func uniqueKey(what string) string {
	return fmt.Sprintf("test:%s:%x", what, rand.Uint64())
}

func allow(t *testing.T, l chat.Limiter, key string) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Allow(t.Context(), key)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return ok, retry
}

func testLimiterBurst(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 1, 5)[0]
	key := uniqueKey("burst")
	for i := range 5 {
		if ok, _ := allow(t, l, key); !ok {
			t.Fatalf("token %d of a burst of 5 refused", i+1)
		}
	}
	ok, retry := allow(t, l, key)
	if ok {
		t.Fatal("a sixth token at once was allowed")
	}
	if retry <= 0 || retry > time.Second+slack {
		t.Errorf("retry after %v, want within (0, 1s] at one token a second", retry)
	}
}

func testLimiterKeys(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 0.01, 2)[0]
	a, b := uniqueKey("a"), uniqueKey("b")
	for range 2 {
		allow(t, l, a)
	}
	if ok, _ := allow(t, l, a); ok {
		t.Fatal("an empty bucket gave a token")
	}
	for i := range 2 {
		if ok, _ := allow(t, l, b); !ok {
			t.Fatalf("another key's token %d was refused: buckets are shared between keys", i+1)
		}
	}
}

func testLimiterRefill(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 10, 1)[0]
	key := uniqueKey("refill")
	if ok, _ := allow(t, l, key); !ok {
		t.Fatal("the first token was refused")
	}
	if ok, _ := allow(t, l, key); ok {
		t.Fatal("a second token at once was allowed with a burst of 1")
	}
	// The bucket refills within a tenth of a second; the deadline is for a
	// bucket that never does. A refused take costs no token, so asking
	// again and again does not delay the refill.
	eventually(t, "the bucket refilled", func() (bool, time.Duration) {
		return allow(t, l, key)
	})
}

func testLimiterConcurrent(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 0.001, 10)[0]
	key := uniqueKey("concurrent")
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ok, _, err := l.Allow(t.Context(), key)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("%d of 50 concurrent takes allowed from a bucket of 10", n)
	}
}

func testLimiterAcrossNodes(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	nodes := newNodes(2, 0.001, 4)
	key := uniqueKey("nodes")
	allowed := 0
	for i := range 10 {
		if ok, _ := allow(t, nodes[i%2], key); ok {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("%d takes allowed over two nodes from one bucket of 4", allowed)
	}
}

// RunThrottle runs the Throttle suite. newNodes returns n throttles of one
// cluster (sharing counts) with the given policy.
func RunThrottle(t *testing.T, newNodes func(t *testing.T, n int, p chat.ThrottlePolicy) []chat.Throttle, maxNodes int) {
	// Waits of ten seconds and more: the time that passes between a Fail
	// and the Wait after it, however loaded the machine, is small beside
	// them and beside the steps between them, so the checks on reported
	// waits never depend on how fast the test runs.
	policy := chat.ThrottlePolicy{Free: 3, Window: 2 * time.Minute, First: 10 * time.Second, Max: 40 * time.Second}
	// Forgets needs the opposite: a window that passes soon, and a wait
	// that outlasts the test, so that no wait is proof the count was
	// forgotten and not that the wait ran out.
	forgetting := chat.ThrottlePolicy{Free: 2, Window: 300 * time.Millisecond, First: time.Hour, Max: time.Hour}
	tests := []struct {
		name   string
		nodes  int
		policy chat.ThrottlePolicy
		fn     func(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle)
	}{
		{"GrowingWaits", 1, policy, testThrottleGrowing},
		{"Reset", 1, policy, testThrottleReset},
		{"Forgets", 1, forgetting, testThrottleForgets},
		{"KeysApart", 1, policy, testThrottleKeys},
		{"AcrossNodes", 2, policy, testThrottleAcrossNodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.nodes > maxNodes {
				t.Skipf("needs %d nodes; this implementation offers %d", tc.nodes, maxNodes)
			}
			tc.fn(t, tc.policy, newNodes(t, tc.nodes, tc.policy))
		})
	}
}

func fail(t *testing.T, th chat.Throttle, key string) {
	t.Helper()
	if err := th.Fail(t.Context(), key); err != nil {
		t.Fatalf("Fail(%q): %v", key, err)
	}
}

func wait(t *testing.T, th chat.Throttle, key string) time.Duration {
	t.Helper()
	d, err := th.Wait(t.Context(), key)
	if err != nil {
		t.Fatalf("Wait(%q): %v", key, err)
	}
	return d
}

func testThrottleGrowing(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("grow")
	for i := range p.Free - 1 {
		fail(t, th, key)
		if d := wait(t, th, key); d != 0 {
			t.Fatalf("after %d failures (of %d free) a wait of %v", i+1, p.Free, d)
		}
	}
	var last time.Duration
	for failures := p.Free; failures <= p.Free+4; failures++ {
		fail(t, th, key)
		d := wait(t, th, key)
		limit := p.Delay(failures)
		if d <= 0 || d > limit {
			t.Errorf("after %d failures: wait %v, want within (0, %v]", failures, d, limit)
		}
		if limit > p.Delay(failures-1) && d <= last {
			t.Errorf("after %d failures the wait (%v) did not grow from %v", failures, d, last)
		}
		last = d
	}
	if last > p.Max {
		t.Errorf("wait %v above the cap %v", last, p.Max)
	}
}

func testThrottleReset(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("reset")
	for range p.Free + 1 {
		fail(t, th, key)
	}
	if wait(t, th, key) == 0 {
		t.Fatal("no wait after many failures")
	}
	if err := th.Reset(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if d := wait(t, th, key); d != 0 {
		t.Errorf("a wait of %v after Reset", d)
	}
	fail(t, th, key)
	if d := wait(t, th, key); d != 0 {
		t.Errorf("one failure after Reset costs %v: the old count survived", d)
	}
}

// testThrottleForgets checks that a key's failures are forgotten a window
// after the last one. The policy's wait is an hour, far past the deadline,
// so the wait ends within the test only by being forgotten.
func testThrottleForgets(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("forget")
	for range p.Free {
		fail(t, th, key)
	}
	eventually(t, "the failures were forgotten", func() (bool, time.Duration) {
		return wait(t, th, key) == 0, 10 * time.Millisecond
	})
	fail(t, th, key)
	if d := wait(t, th, key); d != 0 {
		t.Errorf("one failure after the window costs %v: the old count survived", d)
	}
}

func testThrottleKeys(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, a, b := nodes[0], uniqueKey("a"), uniqueKey("b")
	for range p.Free + 2 {
		fail(t, th, a)
	}
	if d := wait(t, th, b); d != 0 {
		t.Errorf("another key waits %v", d)
	}
}

func testThrottleAcrossNodes(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	key := uniqueKey("nodes")
	for i := range p.Free {
		fail(t, nodes[i%2], key)
	}
	for i, th := range nodes {
		if d := wait(t, th, key); d <= 0 {
			t.Errorf("node %d: no wait after %d failures spread over the nodes", i+1, p.Free)
		}
	}
}
