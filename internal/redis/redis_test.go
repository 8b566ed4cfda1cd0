package redis

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Redis)) }

// cluster opens n clients of one Redis under a prefix of the test's own, so
// that tests sharing a Redis (these, run in parallel, and other runs) do not
// see each other.
func cluster(t *testing.T, n int) []*Client {
	t.Helper()
	url := testenv.Need(t, testenv.Redis)
	prefix := "parleytest:" + rand.Text()[:10] + ":"
	clients := make([]*Client, n)
	for i := range clients {
		c, err := Open(t.Context(), url, prefix, slog.New(slog.DiscardHandler), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	return clients
}

// running starts fn(ctx) and stops and joins it when the test ends.
func running(t *testing.T, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { fn(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestBroker(t *testing.T) {
	t.Parallel()
	brokertest.RunBroker(t, func(t *testing.T, n int) []chat.Broker {
		var brokers []chat.Broker
		for _, c := range cluster(t, n) {
			b := c.Broker()
			running(t, b.Run)
			brokers = append(brokers, b)
		}
		return brokers
	}, 3)
}

func TestPresence(t *testing.T) {
	t.Parallel()
	brokertest.RunPresence(t, func(t *testing.T, n int) []chat.Presence {
		var ps []chat.Presence
		for _, c := range cluster(t, n) {
			ps = append(ps, c.Presence(time.Minute))
		}
		return ps
	}, 3)
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	brokertest.RunLimiter(t, func(t *testing.T, n int, perSecond float64, burst int) []chat.Limiter {
		var ls []chat.Limiter
		for _, c := range cluster(t, n) {
			ls = append(ls, c.Limiter("messages", perSecond, burst))
		}
		return ls
	}, 2)
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	brokertest.RunThrottle(t, func(t *testing.T, n int) []chat.Throttle {
		var ts []chat.Throttle
		for _, c := range cluster(t, n) {
			ts = append(ts, c.Throttle("logins"))
		}
		return ts
	}, 2)
}

// TestPresenceOfACrashedNode: a node that stops renewing its claims (it
// died) takes its users offline within the TTL; a live node's heartbeats
// keep its users online past it.
func TestPresenceOfACrashedNode(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 2)
	ttl := 600 * time.Millisecond
	dead, alive := nodes[0].Presence(ttl), nodes[1].Presence(ttl)
	running(t, func(ctx context.Context) { alive.Run(ctx, slog.New(slog.DiscardHandler)) })
	const crashed, stays chat.UserID = 1, 2
	// stays is claimed first, so its first claim expires no later than the
	// crashed user's: an answer that has the crashed user offline and stays
	// online proves that a heartbeat renewed stays' claim. Online judges
	// both users at one instant, so the answer is read as a whole; a
	// heartbeat that comes late on a loaded machine only makes the wait
	// longer, while a node that never renews fails it.
	if _, err := alive.Connect(t.Context(), stays); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Connect(t.Context(), crashed); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		online, err := alive.Online(t.Context(), []chat.UserID{crashed, stays})
		if err != nil {
			t.Fatal(err)
		}
		if !online[crashed] && online[stays] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s (a TTL is %v): %v, want the crashed node's user offline and the live node's online", ttl, online)
		}
		time.Sleep(ttl / 10)
	}
}
