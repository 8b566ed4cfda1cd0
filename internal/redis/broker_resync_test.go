package redis

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/testenv"
)

// TestBrokerResyncsAfterPubSubRestored: when a node's pub/sub connection
// to Redis is cut, what is published meanwhile never reaches it; once the
// connection is restored (go-redis subscribes again), the node gets an
// EventResync naming every user it is subscribed to, and events flow
// again. Nothing is resynced while the connection holds.
func TestBrokerResyncsAfterPubSubRestored(t *testing.T) {
	t.Parallel()
	c, proxy := openBehindProxy(t, slog.New(slog.DiscardHandler), 0)
	// Another node, reaching Redis directly: it publishes while this one
	// is cut off.
	other, err := Open(t.Context(), testenv.Need(t, testenv.Redis), c.prefix, slog.New(slog.DiscardHandler), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	b := c.Broker()
	running(t, b.Run)
	ctx := t.Context()
	for _, u := range []chat.UserID{3, 1, 2} {
		if err := b.Subscribe(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unsubscribe(ctx, 3); err != nil {
		t.Fatal(err)
	}

	publish := func(seq int64) {
		t.Helper()
		if err := other.Broker().Publish(ctx, chat.Event{Type: chat.EventRead, To: []chat.UserID{1}, ConversationID: 9, Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	// next returns the next delivery, failing the test after a while.
	next := func(what string) chat.Delivery {
		t.Helper()
		select {
		case d := <-b.Deliveries():
			return d
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: nothing delivered in 20 s", what)
			return chat.Delivery{}
		}
	}

	publish(1)
	if d := next("before the cut"); d.Event.Type != chat.EventRead || d.Event.Seq != 1 {
		t.Fatalf("before the cut got %+v, want the read event seq 1 (and no resync)", d)
	}

	proxy.Cut()
	publish(2) // lost to this node
	proxy.Mend()
	d := next("after the connection was restored")
	if d.Event.Type != chat.EventResync || !slices.Equal(d.Users, []chat.UserID{1, 2}) || !slices.Equal(d.Event.To, []chat.UserID{1, 2}) {
		t.Fatalf("after the cut got %+v, want a resync naming users 1 and 2", d)
	}

	// Events flow again, once the subscriptions are back: published until
	// one arrives, as go-redis may still be subscribing.
	deadline := time.Now().Add(20 * time.Second)
	for seq := int64(3); ; seq++ {
		publish(seq)
		select {
		case d := <-b.Deliveries():
			if d.Event.Type != chat.EventRead || d.Event.Seq < 3 {
				t.Fatalf("after the resync got %+v, want a read event published after it", d)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event delivered in 20 s after the connection was restored")
		}
	}
}
