package memory

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
)

// One process is one node: the suites ask for a single node only.

func TestBroker(t *testing.T) {
	t.Parallel()
	brokertest.RunBroker(t, func(t *testing.T, n int) []chat.Broker {
		return []chat.Broker{NewBroker()}
	}, 1)
}

func TestPresence(t *testing.T) {
	t.Parallel()
	brokertest.RunPresence(t, func(t *testing.T, n int) []chat.Presence {
		return []chat.Presence{NewPresence()}
	}, 1)
}

// receive takes one delivery that must already be waiting.
func receive(t *testing.T, b *Broker) chat.Delivery {
	t.Helper()
	select {
	case d := <-b.Deliveries():
		return d
	default:
		t.Fatal("no delivery waiting")
		return chat.Delivery{}
	}
}

func TestPublishOneDeliveryPerEvent(t *testing.T) {
	b := NewBroker()
	ctx := t.Context()
	for _, u := range []chat.UserID{1, 2, 3} {
		if err := b.Subscribe(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// Recipients repeat and include unsubscribed ones: one delivery, each
	// subscribed recipient once, in To order.
	ev := chat.Event{Type: chat.EventTyping, To: []chat.UserID{3, 9, 1, 3, 9, 1}, Seq: 1}
	if err := b.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, b); !slices.Equal(d.Users, []chat.UserID{3, 1}) {
		t.Errorf("Users = %v, want [3 1]", d.Users)
	}

	// Past dedupeMapOver recipients the map takes over from the scan.
	var to []chat.UserID
	for range 3 {
		for u := chat.UserID(100); u > 0; u-- {
			to = append(to, u)
		}
	}
	if err := b.Publish(ctx, chat.Event{To: to}); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, b); !slices.Equal(d.Users, []chat.UserID{3, 2, 1}) {
		t.Errorf("Users = %v, want [3 2 1]", d.Users)
	}
	if n := len(b.Deliveries()); n != 0 {
		t.Errorf("%d deliveries more than one per event", n)
	}

	if err := b.Publish(ctx, chat.Event{To: []chat.UserID{7, 8}}); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Deliveries()); n != 0 {
		t.Errorf("an event for nobody subscribed made %d deliveries", n)
	}
}

// TestPublishCopies checks that the delivered event does not share memory
// with the published one, as it would not through a networked broker.
func TestPublishCopies(t *testing.T) {
	b := NewBroker()
	ctx := t.Context()
	if err := b.Subscribe(ctx, 1); err != nil {
		t.Fatal(err)
	}
	msg := &chat.Message{Body: "before"}
	ev := chat.Event{Type: chat.EventMessage, To: []chat.UserID{1, 2}, Message: msg}
	if err := b.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev.To[1] = 5
	msg.Body = "after"
	d := receive(t, b)
	if !slices.Equal(d.Event.To, []chat.UserID{1, 2}) || d.Event.Message.Body != "before" {
		t.Errorf("delivered To %v, Body %q: changed by the publisher after Publish", d.Event.To, d.Event.Message.Body)
	}
}

// fullBroker returns a broker whose one-slot channel is full, user 1
// subscribed.
func fullBroker(t *testing.T) *Broker {
	t.Helper()
	b := newBroker(1)
	if err := b.Subscribe(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), chat.Event{To: []chat.UserID{1}, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPublishFullCancelled runs in a synctest bubble, so that the test
// knows when Publish is blocked waiting for room, and a Publish that never
// returns fails the test at once as a deadlock instead of after a timeout.
func TestPublishFullCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := fullBroker(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.Publish(ctx, chat.Event{To: []chat.UserID{1}, Seq: 2}) }()
		synctest.Wait() // Publish is waiting for room

		// While Publish waits, the subscriptions stay usable: it does not
		// hold the lock that Subscribe and Unsubscribe take.
		if !b.mu.TryLock() {
			t.Fatal("Publish holds the subscriptions' lock while it waits for room")
		}
		b.mu.Unlock()
		if err := b.Subscribe(t.Context(), 2); err != nil {
			t.Fatal(err)
		}

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Publish on a full channel after cancel = %v, want context.Canceled", err)
		}
		if d := receive(t, b); d.Event.Seq != 1 {
			t.Errorf("channel holds seq %d, want 1", d.Event.Seq)
		}
		if n := len(b.Deliveries()); n != 0 {
			t.Errorf("the cancelled event was delivered too")
		}
	})
}

// TestPublishFullWaitsForRoom runs in a synctest bubble: a delivery that
// never comes is a deadlock, reported at once.
func TestPublishFullWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := fullBroker(t)
		done := make(chan error, 1)
		go func() { done <- b.Publish(t.Context(), chat.Event{To: []chat.UserID{1}, Seq: 2}) }()
		synctest.Wait() // Publish is waiting for room
		for _, want := range []int64{1, 2} {
			if d := <-b.Deliveries(); d.Event.Seq != want {
				t.Errorf("received seq %d, want %d", d.Event.Seq, want)
			}
		}
		if err := <-done; err != nil {
			t.Errorf("Publish = %v once there was room", err)
		}
	})
}

// TestPublishCancelledWithRoom pins down the choice Publish makes with an
// ended context while there is room: it delivers.
func TestPublishCancelledWithRoom(t *testing.T) {
	b := NewBroker()
	if err := b.Subscribe(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 100 { // a random choice between ready cases would show here
		if err := b.Publish(ctx, chat.Event{To: []chat.UserID{1}}); err != nil {
			t.Fatalf("Publish with room and a cancelled context = %v, want nil", err)
		}
	}
	if n := len(b.Deliveries()); n != 100 {
		t.Errorf("%d deliveries, want 100", n)
	}
}

func TestUnsubscribeForgets(t *testing.T) {
	b := NewBroker()
	ctx := t.Context()
	for range 2 {
		if err := b.Subscribe(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unsubscribe(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctx, 2); err != nil { // never subscribed: no error
		t.Fatal(err)
	}
	if len(b.subs) != 0 {
		t.Errorf("%d subscriptions kept after unsubscribing", len(b.subs))
	}
}

func TestDisconnectWithoutConnect(t *testing.T) {
	p := NewPresence()
	ctx := t.Context()
	if went, err := p.Disconnect(ctx, 1); err != nil || went {
		t.Errorf("Disconnect of a user never connected = %t, %v; want false, nil", went, err)
	}
	// No debt left behind: the next Connect still brings the user online.
	if came, err := p.Connect(ctx, 1); err != nil || !came {
		t.Errorf("Connect after a stray Disconnect = %t, %v; want true, nil", came, err)
	}
	if went, err := p.Disconnect(ctx, 1); err != nil || !went {
		t.Errorf("Disconnect of the only connection = %t, %v; want true, nil", went, err)
	}
	if went, _ := p.Disconnect(ctx, 1); went {
		t.Error("a second Disconnect reported the user going offline again")
	}
}

func TestPresenceForgetsOffline(t *testing.T) {
	p := NewPresence()
	ctx := t.Context()
	for u := range chat.UserID(100) {
		p.Connect(ctx, u)
		p.Connect(ctx, u)
		p.Disconnect(ctx, u)
		p.Disconnect(ctx, u)
	}
	if len(p.conns) != 0 {
		t.Errorf("%d users kept after all went offline", len(p.conns))
	}
	if online, _ := p.Online(ctx, nil); online == nil || len(online) != 0 {
		t.Errorf("Online(nil) = %#v, want an empty map", online)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	brokertest.RunLimiter(t, func(t *testing.T, n int, perSecond float64, burst int) []chat.Limiter {
		return []chat.Limiter{NewLimiter(perSecond, burst)}
	}, 1)
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	brokertest.RunThrottle(t, func(t *testing.T, n int) []chat.Throttle {
		return []chat.Throttle{NewThrottle()}
	}, 1)
}

// TestLimiterMemoryStaysBounded: a million users, each sending once over
// time, leave only the recently active buckets behind.
func TestLimiterMemoryStaysBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(5, 20) // a bucket refills in 4 s
		for i := range 1_000_000 {
			if i%10_000 == 0 {
				time.Sleep(time.Second)
			}
			if ok, _, _ := l.Allow(t.Context(), "user:"+strconv.Itoa(i)); !ok {
				t.Fatal("a new user's first message was refused")
			}
		}
		// About 4 s of users (40,000) are still refilling; twice that is
		// allowed for the sweep's lag.
		if n := l.Len(); n > 100_000 {
			t.Errorf("%d buckets held after a million users, want the recent few", n)
		}
	})
}

func TestThrottleMemoryStaysBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle()
		for i := range 200_000 {
			if i%1_000 == 0 {
				time.Sleep(time.Minute)
			}
			_, _, _ = th.Reserve(t.Context(), chat.ThrottleKey{Key: "user:" + strconv.Itoa(i), Policy: chat.DefaultThrottlePolicy()})
		}
		th.mu.Lock()
		n := len(th.keys)
		th.mu.Unlock()
		// 15 minutes of failures: 15,000 keys, twice that for the sweep's lag.
		if n > 40_000 {
			t.Errorf("%d keys held, want about the last window's", n)
		}
	})
}
