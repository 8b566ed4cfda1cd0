package redis

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
)

// sweepTTL is the presence TTL of the sweep tests: short for the tests'
// waits, and three heartbeats long, so that a loaded machine does not let
// a running node's claims lapse.
const sweepTTL = 2 * time.Second

func TestPresenceSweep(t *testing.T) {
	t.Parallel()
	brokertest.RunPresenceSweep(t, func(t *testing.T, n int) []brokertest.SweepNode {
		var nodes []brokertest.SweepNode
		for _, c := range cluster(t, n) {
			p := c.Presence(sweepTTL)
			var crashed atomic.Bool
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			// A crashed node withdraws nothing: its loop ends as if the
			// process had.
			wg.Go(func() {
				renew(ctx, slog.New(slog.DiscardHandler), "presence", p.ttl, p.heartbeat, func() error {
					if crashed.Load() {
						return nil
					}
					return p.withdraw()
				})
			})
			stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
			t.Cleanup(stop)
			nodes = append(nodes, brokertest.SweepNode{
				Presence: p,
				Crash:    func() { crashed.Store(true); stop() },
				Stop:     stop,
			})
		}
		return nodes
	}, 3)
}

// TestPresenceRenewedAfterLapse: a node that could not renew its claims in
// time (Redis away longer than the TTL) while its user stayed connected
// sees them swept offline by another node; its next heartbeat claims them
// again, and its next sweep reports them online, so that the people who
// were told they left learn they are back.
func TestPresenceRenewedAfterLapse(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 2)
	ttl := 300 * time.Millisecond
	late, other := nodes[0].Presence(ttl), nodes[1].Presence(ttl)
	const user chat.UserID = 7
	if _, err := late.Connect(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sw, err := other.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(sw.Offline, user) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lapsed claim is not swept within 30 s")
		}
		// The poll interval of this wait for the sweep.
		time.Sleep(ttl / 10)
	}
	if err := late.heartbeat(t.Context()); err != nil {
		t.Fatal(err)
	}
	online, err := other.Online(t.Context(), []chat.UserID{user})
	if err != nil {
		t.Fatal(err)
	}
	if !online[user] {
		t.Error("after the late node's heartbeat, its user is still offline")
	}
	sw, err := late.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sw.Online, []chat.UserID{user}) {
		t.Errorf("the late node's sweep reports online %v, want [%d]", sw.Online, user)
	}
	if sw, err := late.Sweep(t.Context()); err != nil || len(sw.Online) != 0 {
		t.Errorf("a second sweep reports online %v (%v), want nobody", sw.Online, err)
	}
}

// TestPresenceIndexesStayBounded: the sweep's indexes hold only users
// with claims and nodes that run: a user who disconnects leaves neither
// the index of expiries nor the node's set, and a node that stops cleanly
// leaves the registry of nodes.
func TestPresenceIndexesStayBounded(t *testing.T) {
	t.Parallel()
	c := cluster(t, 1)[0]
	p := c.Presence(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx, slog.New(slog.DiscardHandler)) })
	defer func() { cancel(); wg.Wait() }()
	count := func(what string, n *int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return *n
	}
	size := func() (expiries, users, nodes int64) {
		t.Helper()
		e, err := c.rdb.ZCard(t.Context(), p.expiries()).Result()
		expiries = count("expiries", &e, err)
		u, err := c.rdb.SCard(t.Context(), p.nodeUsers(p.node)).Result()
		users = count("node's users", &u, err)
		n, err := c.rdb.ZCard(t.Context(), p.nodes()).Result()
		nodes = count("nodes", &n, err)
		return
	}
	for u := range chat.UserID(3) {
		if _, err := p.Connect(t.Context(), u+1); err != nil {
			t.Fatal(err)
		}
	}
	if e, u, n := size(); e != 3 || u != 3 || n != 1 {
		t.Errorf("with 3 users connected: %d in expiries, %d in the node's set, %d nodes; want 3, 3, 1", e, u, n)
	}
	for u := range chat.UserID(3) {
		if _, err := p.Disconnect(t.Context(), u+1); err != nil {
			t.Fatal(err)
		}
	}
	if e, u, _ := size(); e != 0 || u != 0 {
		t.Errorf("after all disconnected: %d in expiries, %d in the node's set; want none", e, u)
	}
	cancel()
	wg.Wait()
	if _, _, n := size(); n != 0 {
		t.Errorf("after a clean stop: %d nodes registered, want none", n)
	}
}
