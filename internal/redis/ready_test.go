package redis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestReadyCheck: the check passes while the node's subscription
// connection is subscribed, and fails, naming the subscription, once that
// connection is gone though Redis still answers.
func TestReadyCheck(t *testing.T) {
	t.Parallel()
	c := cluster(t, 1)[0]
	b := c.Broker()
	check := b.ReadyCheck(t.Context())
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx) })
	defer wg.Wait()
	defer stop()
	waitFor(t, "the check passes", func() bool { return check(t.Context()) == nil })
	if err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Run's end closes the subscription connection; the pool stays.
	stop()
	wg.Wait()
	waitFor(t, "the check fails for the subscription", func() bool {
		return errors.Is(check(t.Context()), errSubscriptionDown)
	})
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the subscription closed: %v; want Redis still there", err)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		// The poll interval of this wait on cond.
		time.Sleep(20 * time.Millisecond)
	}
}
