package redis

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
)

func TestConnections(t *testing.T) {
	t.Parallel()
	brokertest.RunConnections(t, func(t *testing.T, n int) []chat.ConnectionCounter {
		var cs []chat.ConnectionCounter
		for _, c := range cluster(t, n) {
			conns := c.Connections(time.Minute)
			running(t, func(ctx context.Context) { conns.Run(ctx, slog.New(slog.DiscardHandler)) })
			cs = append(cs, conns)
		}
		return cs
	}, 3)
}

// TestConnectionsOfACrashedNode: the places of a node that stops renewing
// them (it died) free themselves within the lease time; a live node's
// heartbeats keep its places past it.
func TestConnectionsOfACrashedNode(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 2)
	lease := 2 * time.Second
	dead, alive := nodes[0].Connections(lease), nodes[1].Connections(lease)
	running(t, func(ctx context.Context) { alive.Run(ctx, slog.New(slog.DiscardHandler)) })
	const user chat.UserID = 1
	// The live node claims first, so its first lease runs out no later
	// than the dead node's: once the dead node's place is free, the live
	// node's is still held only if a heartbeat renewed it.
	if ok, err := alive.Reserve(t.Context(), user, "alive", 2); err != nil || !ok {
		t.Fatalf("alive: Reserve = %t, %v", ok, err)
	}
	if ok, err := dead.Reserve(t.Context(), user, "dead", 2); err != nil || !ok {
		t.Fatalf("dead: Reserve = %t, %v", ok, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := alive.Reserve(t.Context(), user, "probe", 2)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s (a lease is %v), the crashed node's place is still held", lease)
		}
		time.Sleep(lease / 10) // the poll interval
	}
	// The live node holds "alive" and "probe": the cap of 2 is reached.
	if ok, err := alive.Reserve(t.Context(), user, "extra", 2); err != nil || ok {
		t.Errorf("a third place with the live node's two held: Reserve = %t, %v; want false (its heartbeat keeps its places)", ok, err)
	}
}

// TestConnectionsClaimedAgainAfterLapse: a place whose record Redis lost
// (it was away longer than a lease) is claimed again by the next
// heartbeat, since its connection is still open.
func TestConnectionsClaimedAgainAfterLapse(t *testing.T) {
	t.Parallel()
	c := cluster(t, 1)[0]
	conns := c.Connections(900 * time.Millisecond)
	running(t, func(ctx context.Context) { conns.Run(ctx, slog.New(slog.DiscardHandler)) })
	const user chat.UserID = 7
	if ok, err := conns.Reserve(t.Context(), user, "open", 1); err != nil || !ok {
		t.Fatalf("Reserve = %t, %v", ok, err)
	}
	if err := c.rdb.Del(t.Context(), conns.key(user)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.rdb.ZScore(t.Context(), conns.key(user), "open").Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lost place was not claimed again within 15 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the poll interval
	}
}

// TestConnectionsWithdrawnAtShutdown: when Run ends, the node gives back
// every place it holds at once, without waiting for the leases.
func TestConnectionsWithdrawnAtShutdown(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 2)
	leaving, staying := nodes[0].Connections(time.Hour), nodes[1].Connections(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { leaving.Run(ctx, slog.New(slog.DiscardHandler)) })
	const user chat.UserID = 3
	for _, conn := range []string{"a", "b"} {
		if ok, err := leaving.Reserve(t.Context(), user, conn, 2); err != nil || !ok {
			t.Fatalf("Reserve(%q) = %t, %v", conn, ok, err)
		}
	}
	if ok, err := staying.Reserve(t.Context(), user, "c", 2); err != nil || ok {
		t.Fatalf("a place over the cap before the shutdown: Reserve = %t, %v; want false", ok, err)
	}
	cancel()
	wg.Wait()
	for _, conn := range []string{"c", "d"} {
		if ok, err := staying.Reserve(t.Context(), user, conn, 2); err != nil || !ok {
			t.Errorf("after the other node shut down: Reserve(%q) = %t, %v; want true", conn, ok, err)
		}
	}
}

// TestConnectionsWhenRedisIsAway: a Reserve that gets no answer reports an
// error, and its conn is kept for renewal (the claim may have gone
// through) until Release.
func TestConnectionsWhenRedisIsAway(t *testing.T) {
	t.Parallel()
	c := cluster(t, 1)[0]
	conns := c.Connections(time.Minute)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	const user chat.UserID = 5
	if ok, err := conns.Reserve(t.Context(), user, "x", 1); err == nil || ok {
		t.Fatalf("Reserve with Redis away = %t, %v; want an error", ok, err)
	}
	if got := conns.snapshot()[user]; len(got) != 1 || got[0] != "x" {
		t.Errorf("places renewed after the failed Reserve: %v, want [x]", got)
	}
	if err := conns.Release(t.Context(), user, "x"); err == nil {
		t.Error("Release with Redis away: no error")
	}
	if got := conns.snapshot(); len(got) != 0 {
		t.Errorf("places renewed after Release: %v, want none", got)
	}
}
