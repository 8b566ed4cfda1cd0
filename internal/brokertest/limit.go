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
		{"Refund", 1, testLimiterRefund},
		{"AllowN", 1, testLimiterAllowN},
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

// testLimiterAllowN: n tokens are taken all at once or not at all; more
// than the burst never.
func testLimiterAllowN(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 0.01, 10)[0]
	key := uniqueKey("allow-n")
	take := func(n int) (bool, time.Duration) {
		t.Helper()
		ok, retry, err := l.AllowN(t.Context(), key, n)
		if err != nil {
			t.Fatalf("AllowN(%q, %d): %v", key, n, err)
		}
		return ok, retry
	}
	if ok, _ := take(11); ok {
		t.Fatal("11 tokens of a burst of 10 allowed")
	}
	for i := range 2 {
		if ok, _ := take(4); !ok {
			t.Fatalf("4 tokens, time %d, of a burst of 10 refused", i+1)
		}
	}
	if ok, retry := take(4); ok || retry <= 0 {
		t.Fatalf("4 tokens with 2 left: allowed %v, retry %v; want refused with a wait", ok, retry)
	}
	if ok, _ := take(2); !ok {
		t.Fatal("the 2 tokens left were refused: a refused AllowN took some")
	}
	if ok, _ := allow(t, l, key); ok {
		t.Fatal("a token past the burst was allowed")
	}
}

// testLimiterRefund: a token given back can be taken again, once; a full
// bucket given a token holds no more than its burst.
func testLimiterRefund(t *testing.T, newNodes func(int, float64, int) []chat.Limiter) {
	l := newNodes(1, 0.01, 3)[0]
	refund := func(key string) {
		t.Helper()
		if err := l.Refund(t.Context(), key); err != nil {
			t.Fatalf("Refund(%q): %v", key, err)
		}
	}
	key := uniqueKey("refund")
	for range 3 {
		allow(t, l, key)
	}
	refund(key)
	if ok, _ := allow(t, l, key); !ok {
		t.Fatal("the token given back was refused")
	}
	if ok, _ := allow(t, l, key); ok {
		t.Fatal("one token given back was taken twice")
	}

	full := uniqueKey("refund-full")
	refund(full)
	refund(full)
	for i := range 3 {
		if ok, _ := allow(t, l, full); !ok {
			t.Fatalf("token %d of a burst of 3 refused", i+1)
		}
	}
	if ok, _ := allow(t, l, full); ok {
		t.Fatal("tokens given back to a full bucket went past its burst")
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
	const perSecond = 5
	l := newNodes(1, perSecond, 1)[0]
	var key string
	for try := 1; ; try++ {
		key = uniqueKey("refill")
		start := time.Now()
		if ok, _ := allow(t, l, key); !ok {
			t.Fatal("the first token was refused")
		}
		second, _ := allow(t, l, key)
		if time.Since(start) < time.Second/perSecond {
			if second {
				t.Fatal("a second token at once was allowed with a burst of 1")
			}
			break
		}
		// The two takes were a refill apart (a paused machine): the
		// second one proves nothing either way.
		if try == 5 {
			t.Fatalf("5 tries at two takes within %v failed", time.Second/perSecond)
		}
	}
	// The bucket refills within a fifth of a second; the deadline is for a
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
// cluster (sharing counts).
func RunThrottle(t *testing.T, newNodes func(t *testing.T, n int) []chat.Throttle, maxNodes int) {
	// Waits of ten seconds and more: the time that passes between a
	// Reserve and the next, however loaded the machine, is small beside
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
		{"Refund", 1, policy, testThrottleRefund},
		{"Forgets", 1, forgetting, testThrottleForgets},
		{"KeysApart", 1, policy, testThrottleKeys},
		{"AllOrNothing", 1, policy, testThrottleAllOrNothing},
		{"Parallel", 1, policy, testThrottleParallel},
		{"AcrossNodes", 2, policy, testThrottleAcrossNodes},
		{"ParallelAcrossNodes", 2, policy, testThrottleParallel},
		{"Remember", 2, policy, testThrottleRemember},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.nodes > maxNodes {
				t.Skipf("needs %d nodes; this implementation offers %d", tc.nodes, maxNodes)
			}
			tc.fn(t, tc.policy, newNodes(t, tc.nodes))
		})
	}
}

// reserve reserves an attempt on keys, each with policy p, and returns
// the wait and its key's index.
func reserve(t *testing.T, th chat.Throttle, p chat.ThrottlePolicy, keys ...string) (time.Duration, int) {
	t.Helper()
	tk := make([]chat.ThrottleKey, len(keys))
	for i, k := range keys {
		tk[i] = chat.ThrottleKey{Key: k, Policy: p}
	}
	d, by, err := th.Reserve(t.Context(), tk...)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", keys, err)
	}
	if (d > 0) != (by >= 0 && by < len(keys)) {
		t.Fatalf("Reserve(%q) = %v, key index %d", keys, d, by)
	}
	return d, by
}

// mustReserve reserves an attempt that must not wait.
func mustReserve(t *testing.T, th chat.Throttle, p chat.ThrottlePolicy, keys ...string) {
	t.Helper()
	if d, _ := reserve(t, th, p, keys...); d != 0 {
		t.Fatalf("Reserve(%q): a wait of %v", keys, d)
	}
}

func testThrottleGrowing(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("grow")
	for range p.Free {
		mustReserve(t, th, p, key)
	}
	// Each wait reported is the one after the count so far; refunding
	// the next reservation is not needed, as a refused one counts nothing.
	d, _ := reserve(t, th, p, key)
	if d <= 0 || d > p.Delay(p.Free) {
		t.Fatalf("after %d attempts: wait %v, want within (0, %v]", p.Free, d, p.Delay(p.Free))
	}
	if d2, _ := reserve(t, th, p, key); d2 > d {
		t.Errorf("a refused attempt counted: the wait grew from %v to %v", d, d2)
	}
	if p.Delay(p.Free+1) <= p.Delay(p.Free) || p.Delay(p.Free+4) != p.Max {
		t.Fatalf("policy %+v does not grow to its cap", p)
	}
}

func testThrottleReset(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("reset")
	for range p.Free {
		mustReserve(t, th, p, key)
	}
	if d, _ := reserve(t, th, p, key); d == 0 {
		t.Fatal("no wait after the free attempts")
	}
	if err := th.Reset(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	for range p.Free {
		mustReserve(t, th, p, key)
	}
	if d, _ := reserve(t, th, p, key); d == 0 {
		t.Error("no wait after the free attempts following Reset")
	}
}

func testThrottleRefund(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key, other := nodes[0], uniqueKey("refund"), uniqueKey("refund-other")
	for range p.Free {
		mustReserve(t, th, p, key, other)
		if err := th.Refund(t.Context(), chat.ThrottleKey{Key: key, Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	// key was refunded every time; other was not.
	if d, by := reserve(t, th, p, key, other); d == 0 || by != 1 {
		t.Fatalf("after %d refunded attempts: wait %v by key %d, want a wait by the unrefunded key", p.Free, d, by)
	}
	for range p.Free {
		mustReserve(t, th, p, key)
	}
	if d, by := reserve(t, th, p, key); d == 0 || by != 0 {
		t.Errorf("after %d unrefunded attempts: wait %v", p.Free, d)
	}
	// A refund of a key with nothing counted keeps it at zero.
	empty := uniqueKey("refund-empty")
	for range 3 {
		if err := th.Refund(t.Context(), chat.ThrottleKey{Key: empty, Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	for range p.Free {
		mustReserve(t, th, p, empty)
	}
	if d, _ := reserve(t, th, p, empty); d == 0 {
		t.Error("refunds of nothing were banked as free attempts")
	}
}

// testThrottleForgets checks that a key's attempts are forgotten a window
// after the last one. The policy's wait is an hour, far past the deadline,
// so the wait ends within the test only by being forgotten.
func testThrottleForgets(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, key := nodes[0], uniqueKey("forget")
	for range p.Free {
		mustReserve(t, th, p, key)
	}
	eventually(t, "the attempts were forgotten", func() (bool, time.Duration) {
		d, _ := reserve(t, th, p, key)
		return d == 0, 10 * time.Millisecond
	})
	for range p.Free - 1 {
		mustReserve(t, th, p, key)
	}
}

func testThrottleKeys(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, a, b := nodes[0], uniqueKey("a"), uniqueKey("b")
	for range p.Free {
		mustReserve(t, th, p, a)
	}
	if d, _ := reserve(t, th, p, a); d == 0 {
		t.Fatal("no wait after the free attempts")
	}
	mustReserve(t, th, p, b)
}

// testThrottleAllOrNothing: a reservation one key refuses counts on none.
func testThrottleAllOrNothing(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	th, full, other := nodes[0], uniqueKey("full"), uniqueKey("other")
	for range p.Free {
		mustReserve(t, th, p, full)
	}
	for range 2 * p.Free {
		if d, by := reserve(t, th, p, other, full); d == 0 || by != 1 {
			t.Fatalf("a reservation with a waiting key: wait %v by key %d", d, by)
		}
	}
	for range p.Free {
		mustReserve(t, th, p, other)
	}
}

// testThrottleParallel: 100 parallel reservations of one key, spread over
// the nodes, let exactly the policy's free attempts through.
func testThrottleParallel(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	key := uniqueKey("parallel")
	var (
		wg     sync.WaitGroup
		passed atomic.Int64
		errs   = make(chan error, 100)
	)
	for i := range 100 {
		wg.Go(func() {
			d, _, err := nodes[i%len(nodes)].Reserve(t.Context(), chat.ThrottleKey{Key: key, Policy: p})
			if err != nil {
				errs <- err
				return
			}
			if d == 0 {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := passed.Load(); n != int64(p.Free) {
		t.Errorf("%d of 100 parallel attempts passed, want exactly %d", n, p.Free)
	}
}

func testThrottleAcrossNodes(t *testing.T, p chat.ThrottlePolicy, nodes []chat.Throttle) {
	key := uniqueKey("nodes")
	for i := range p.Free {
		mustReserve(t, nodes[i%2], p, key)
	}
	for i, th := range nodes {
		if d, _ := reserve(t, th, p, key); d <= 0 {
			t.Errorf("node %d: no wait after %d attempts spread over the nodes", i+1, p.Free)
		}
	}
}

func testThrottleRemember(t *testing.T, _ chat.ThrottlePolicy, nodes []chat.Throttle) {
	a, b := nodes[0], nodes[len(nodes)-1]
	key, short := uniqueKey("known"), uniqueKey("known-short")
	known := func(th chat.Throttle, k string) bool {
		t.Helper()
		ok, err := th.Known(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	remember := func(th chat.Throttle, k string, ttl time.Duration) bool {
		t.Helper()
		fresh, err := th.Remember(t.Context(), k, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if known(b, key) {
		t.Fatal("a key never remembered is known")
	}
	if !remember(a, key, time.Hour) {
		t.Error("the first Remember is not fresh")
	}
	if !known(b, key) {
		t.Error("a remembered key is not known on every node")
	}
	if remember(b, key, time.Hour) {
		t.Error("a second Remember is fresh")
	}
	remember(a, short, 200*time.Millisecond)
	eventually(t, "the short record expired", func() (bool, time.Duration) {
		return !known(b, short), 10 * time.Millisecond
	})
	if !remember(b, short, time.Hour) {
		t.Error("a Remember after expiry is not fresh")
	}
}
