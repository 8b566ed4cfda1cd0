package brokertest_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/memory"
)

// The suite's own test runs it against a fake cluster that takes the
// liberties a networked broker may: several nodes, one Delivery per user,
// handed over later by another goroutine through a one-slot channel, and
// events that went through JSON. It is what exercises the multi-node tests
// and the suite's tolerance of either delivery shape before a real networked
// implementation exists.

func TestSuiteOnFakeCluster(t *testing.T) {
	brokertest.RunBroker(t, newCluster, 3)
}

func TestPresenceSuiteOnSharedPresence(t *testing.T) {
	brokertest.RunPresence(t, func(t *testing.T, n int) []chat.Presence {
		shared := memory.NewPresence() // one backplane: every node sees the same counts
		nodes := make([]chat.Presence, n)
		for i := range nodes {
			nodes[i] = shared
		}
		return nodes
	}, 3)
}

type cluster struct {
	mu    sync.Mutex
	nodes []*fakeNode
}

type fakeNode struct {
	c     *cluster
	subs  map[chat.UserID]struct{} // guarded by c.mu
	queue []chat.Delivery          // guarded by c.mu
	wake  chan struct{}
	out   chan chat.Delivery
}

func newCluster(t *testing.T, n int) []chat.Broker {
	c := &cluster{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	brokers := make([]chat.Broker, n)
	for i := range brokers {
		node := &fakeNode{c: c, subs: map[chat.UserID]struct{}{}, wake: make(chan struct{}, 1), out: make(chan chat.Delivery, 1)}
		c.nodes = append(c.nodes, node)
		brokers[i] = node
		wg.Go(func() { node.pump(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return brokers
}

// pump hands the node's queue to its channel one delivery at a time.
func (n *fakeNode) pump(ctx context.Context) {
	for {
		n.c.mu.Lock()
		var d chat.Delivery
		ok := len(n.queue) > 0
		if ok {
			d, n.queue = n.queue[0], n.queue[1:]
		}
		n.c.mu.Unlock()
		if !ok {
			select {
			case <-n.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case n.out <- d:
		case <-ctx.Done():
			return
		}
	}
}

// PublishAll publishes evs one after the other.
func (n *fakeNode) PublishAll(ctx context.Context, evs []chat.Event) error {
	for _, ev := range evs {
		if err := n.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (n *fakeNode) Publish(ctx context.Context, ev chat.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	for _, node := range n.c.nodes {
		var sent []chat.UserID
		for _, u := range ev.To {
			if _, ok := node.subs[u]; !ok || slices.Contains(sent, u) {
				continue
			}
			sent = append(sent, u)
			var dup chat.Event
			if err := json.Unmarshal(b, &dup); err != nil {
				return err
			}
			node.queue = append(node.queue, chat.Delivery{Event: dup, Users: []chat.UserID{u}})
		}
		if len(sent) > 0 {
			select {
			case node.wake <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

func (n *fakeNode) Subscribe(_ context.Context, u chat.UserID) error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.subs[u] = struct{}{}
	return nil
}

func (n *fakeNode) Unsubscribe(_ context.Context, u chat.UserID) error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	delete(n.subs, u)
	return nil
}

func (n *fakeNode) Deliveries() <-chan chat.Delivery { return n.out }
