package brokertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// RunBroker runs the broker suite. newNodes returns n brokers that share one
// backplane: n nodes of one cluster, fresh for every call and isolated from
// the nodes of other calls, closed by newNodes' own t.Cleanup. maxNodes is
// the most nodes newNodes can make; tests that need more are skipped, so an
// in-process broker passes maxNodes 1 and is only ever asked for one.
func RunBroker(t *testing.T, newNodes func(t *testing.T, n int) []chat.Broker, maxNodes int) {
	t.Helper()
	run(t, []suite[chat.Broker]{
		{name: "Fields", nodes: 1, fn: testBrokerFields},
		{name: "NotSubscribed", nodes: 1, fn: testBrokerNotSubscribed},
		{name: "Unsubscribe", nodes: 1, fn: testBrokerUnsubscribe},
		{name: "SubscribeTwice", nodes: 1, fn: testBrokerSubscribeTwice},
		{name: "SomeRecipients", nodes: 1, fn: testBrokerSomeRecipients},
		{name: "Order", nodes: 1, fn: testBrokerOrder},
		{name: "PublishAll", nodes: 1, fn: testBrokerPublishAll},
		{name: "ConcurrentPublishers", nodes: 3, upTo: true, fn: testBrokerConcurrent},
		{name: "CancelledContext", nodes: 1, fn: testBrokerCancelled},
		{name: "AcrossNodes", nodes: 2, fn: testBrokerAcrossNodes},
	}, newNodes, maxNodes)
}

// event returns a small event numbered seq for the users to.
func event(seq int64, to ...chat.UserID) chat.Event {
	return chat.Event{Type: chat.EventRead, To: to, ConversationID: 42, UserID: to[0], Seq: seq}
}

func publish(t *testing.T, b chat.Broker, ev chat.Event) {
	t.Helper()
	if err := b.Publish(t.Context(), ev); err != nil {
		t.Fatalf("Publish(%s to %v): %v", describe(ev), ev.To, err)
	}
}

func subscribe(t *testing.T, b chat.Broker, user chat.UserID) {
	t.Helper()
	if err := b.Subscribe(t.Context(), user); err != nil {
		t.Fatalf("Subscribe(%d): %v", user, err)
	}
}

func unsubscribe(t *testing.T, b chat.Broker, user chat.UserID) {
	t.Helper()
	if err := b.Unsubscribe(t.Context(), user); err != nil {
		t.Fatalf("Unsubscribe(%d): %v", user, err)
	}
}

// testBrokerFields checks that every field of an event survives the trip,
// including a time (compared with Equal, as a broker that serialises it may
// hand back another *Location) and text that serialisers like to mangle.
func testBrokerFields(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	us := newUsers(2)
	a, other := us[0], us[1]
	subscribe(t, b, a)

	full := chat.Event{
		Type:     chat.EventMessage,
		To:       []chat.UserID{other, a}, // other is not subscribed, yet stays in To
		SkipConn: "conn-7f3a",
		Message: &chat.Message{
			ConversationID: 9001,
			Seq:            77,
			SenderID:       other,
			Body:           "héllo <b>&amp;</b> \"wörld\"\n\ttab 😀",
			ClientID:       "client-1",
			CreatedAt:      time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC),
		},
		ConversationID: 9001,
		UserID:         other,
		Seq:            1,
		Online:         true,
		Session:        "session-abc",
	}
	// A second, sparse event: zero values and a nil Message must come back
	// as such, not as empty structs.
	sparse := chat.Event{Type: chat.EventPresence, To: []chat.UserID{a}, UserID: other, Seq: 2}
	publish(t, b, full)
	publish(t, b, sparse)

	got := f.pass(t)[0]
	checkPairs(t, "deliveries", got, []pair{{1, a}, {2, a}})
	if len(got) != 2 || got[0].ev.Seq != 1 || got[1].ev.Seq != 2 {
		t.Fatalf("received %s, want seq 1 then seq 2 for user %d", pairsString(got), a)
	}
	for i, want := range []chat.Event{full, sparse} {
		if diff := diffEvent(got[i].ev, want); diff != "" {
			t.Errorf("delivered %s differs from the published one:%s", describe(want), diff)
		}
	}
}

// diffEvent lists the fields in which got differs from want, one a line.
func diffEvent(got, want chat.Event) string {
	var lines []string
	field := func(name string, g, w any) {
		lines = append(lines, fmt.Sprintf("\n\t%s = %#v, want %#v", name, g, w))
	}
	if got.Type != want.Type {
		field("Type", got.Type, want.Type)
	}
	if !slices.Equal(got.To, want.To) {
		field("To", got.To, want.To)
	}
	if got.SkipConn != want.SkipConn {
		field("SkipConn", got.SkipConn, want.SkipConn)
	}
	switch gm, wm := got.Message, want.Message; {
	case gm == nil && wm == nil:
	case gm == nil || wm == nil:
		field("Message", gm, wm)
	default:
		if gm.ConversationID != wm.ConversationID {
			field("Message.ConversationID", gm.ConversationID, wm.ConversationID)
		}
		if gm.Seq != wm.Seq {
			field("Message.Seq", gm.Seq, wm.Seq)
		}
		if gm.SenderID != wm.SenderID {
			field("Message.SenderID", gm.SenderID, wm.SenderID)
		}
		if gm.Body != wm.Body {
			field("Message.Body", gm.Body, wm.Body)
		}
		if gm.ClientID != wm.ClientID {
			field("Message.ClientID", gm.ClientID, wm.ClientID)
		}
		if !gm.CreatedAt.Equal(wm.CreatedAt) {
			field("Message.CreatedAt", gm.CreatedAt.String(), wm.CreatedAt.String())
		}
	}
	if got.ConversationID != want.ConversationID {
		field("ConversationID", got.ConversationID, want.ConversationID)
	}
	if got.UserID != want.UserID {
		field("UserID", got.UserID, want.UserID)
	}
	if got.Seq != want.Seq {
		field("Seq", got.Seq, want.Seq)
	}
	if got.Online != want.Online {
		field("Online", got.Online, want.Online)
	}
	if got.Session != want.Session {
		field("Session", got.Session, want.Session)
	}
	return strings.Join(lines, "")
}

// testBrokerNotSubscribed checks that an event for a user nobody subscribed
// to reaches nobody, while the broker still delivers to a subscribed user
// (so the silence is not just a broken broker).
func testBrokerNotSubscribed(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	us := newUsers(2)
	a, stranger := us[0], us[1]
	subscribe(t, b, a)
	publish(t, b, event(1, stranger))
	publish(t, b, event(2, a))
	checkPairs(t, "deliveries", f.pass(t)[0], []pair{{2, a}})
}

// testBrokerUnsubscribe checks that nothing published after Unsubscribe
// arrives, and that subscribing again works.
func testBrokerUnsubscribe(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	a := newUsers(1)[0]
	subscribe(t, b, a)
	publish(t, b, event(1, a))
	// Event 1 is delivered before a leaves: a delivery still under way at
	// Unsubscribe may or may not arrive.
	checkPairs(t, "subscribed", f.pass(t)[0], []pair{{1, a}})
	unsubscribe(t, b, a)
	publish(t, b, event(2, a))
	checkPairs(t, "after Unsubscribe", f.pass(t)[0], []pair{{1, a}})

	subscribe(t, b, a)
	publish(t, b, event(3, a))
	checkPairs(t, "after subscribing again", f.pass(t)[0], []pair{{1, a}, {3, a}})
}

// testBrokerSubscribeTwice checks that subscriptions are a set: subscribing
// twice delivers once, and one Unsubscribe ends it.
func testBrokerSubscribeTwice(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	a := newUsers(1)[0]
	subscribe(t, b, a)
	subscribe(t, b, a)
	publish(t, b, event(1, a))
	checkPairs(t, "subscribed twice", f.pass(t)[0], []pair{{1, a}})

	unsubscribe(t, b, a)
	publish(t, b, event(2, a))
	checkPairs(t, "subscribed twice, unsubscribed once", f.pass(t)[0], []pair{{1, a}})
}

// testBrokerSomeRecipients checks that an event reaches its subscribed
// recipients only: no delivery names a recipient nobody subscribed to.
func testBrokerSomeRecipients(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	us := newUsers(3)
	a, bob, carol := us[0], us[1], us[2]
	subscribe(t, b, bob)
	subscribe(t, b, carol)
	publish(t, b, event(1, a, bob))
	publish(t, b, event(2, carol, a, bob))
	checkPairs(t, "deliveries", f.pass(t)[0], []pair{{1, bob}, {2, carol}, {2, bob}})
}

// testBrokerOrder checks that events published one after the other reach
// the node in that order, each user's and all of them together: the order
// the suite's markers rely on.
func testBrokerOrder(t *testing.T, nodes []chat.Broker) {
	const n = 500
	b := nodes[0]
	f := watch(t, nodes)
	us := newUsers(2)
	a, bob := us[0], us[1]
	subscribe(t, b, a)
	subscribe(t, b, bob)
	seqs := make([]int64, n)
	for i := range seqs {
		seqs[i] = int64(i + 1)
		// Alternate between a alone and both, so that a's events are
		// interleaved with deliveries of other shapes.
		if i%2 == 0 {
			publish(t, b, event(seqs[i], a))
		} else {
			publish(t, b, event(seqs[i], a, bob))
		}
	}
	got := f.pass(t)[0]
	var want []pair
	for i, s := range seqs {
		want = append(want, pair{s, a})
		if i%2 == 1 {
			want = append(want, pair{s, bob})
		}
	}
	checkPairs(t, "deliveries", got, want)
	checkOrder(t, "node 1", got)
}

// testBrokerPublishAll checks that events published together
// (chat.BatchPublisher, which every broker implements) reach the node as
// if published one after the other: in order, each recipient once per
// event, before events published after them.
func testBrokerPublishAll(t *testing.T, nodes []chat.Broker) {
	b, ok := nodes[0].(chat.BatchPublisher)
	if !ok {
		t.Fatalf("%T is not a chat.BatchPublisher", nodes[0])
	}
	f := watch(t, nodes)
	us := newUsers(3)
	a, bob, carol := us[0], us[1], us[2]
	subscribe(t, nodes[0], a)
	subscribe(t, nodes[0], bob)
	var (
		evs  []chat.Event
		want []pair
	)
	for i := range 100 {
		seq := int64(i + 1)
		if i%2 == 0 {
			evs = append(evs, event(seq, a, carol))
			want = append(want, pair{seq, a})
		} else {
			// A recipient named twice hears of it once.
			evs = append(evs, event(seq, bob, a, bob))
			want = append(want, pair{seq, bob}, pair{seq, a})
		}
	}
	if err := b.PublishAll(t.Context(), evs); err != nil {
		t.Fatalf("PublishAll: %v", err)
	}
	publish(t, nodes[0], event(101, a))
	want = append(want, pair{101, a})
	got := f.pass(t)[0]
	checkPairs(t, "deliveries", got, want)
	checkOrder(t, "node 1", got)
}

// checkOrder reports the first received event that came after one
// published later; the tests number events in publish order by Seq.
func checkOrder(t *testing.T, what string, got []received) {
	t.Helper()
	last := int64(-1 << 63)
	for _, r := range got {
		if r.ev.Seq < last {
			t.Errorf("%s: seq %d (for user %d) arrived after seq %d, which was published later", what, r.ev.Seq, r.user, last)
			return
		}
		last = r.ev.Seq
	}
}

// testBrokerConcurrent publishes from several goroutines (spread over the
// nodes when there are several) and checks that every event reaches every
// subscribed recipient exactly once, each publisher's events in order.
func testBrokerConcurrent(t *testing.T, nodes []chat.Broker) {
	const publishers, each = 8, 100
	f := watch(t, nodes)
	us := newUsers(3)
	a, bob, stranger := us[0], us[1], us[2]
	first, last := 0, len(nodes)-1
	subscribe(t, nodes[first], a)
	subscribe(t, nodes[last], bob)

	var wg sync.WaitGroup
	for g := range publishers {
		b := nodes[g%len(nodes)]
		wg.Go(func() {
			for i := range each {
				// seq encodes publisher and position: g*1000+i.
				ev := event(int64(g*1000+i), a, stranger, bob)
				if err := b.Publish(t.Context(), ev); err != nil {
					t.Errorf("publisher %d: Publish(%s): %v", g, describe(ev), err)
					return
				}
			}
		})
	}
	wg.Wait()

	var seqs []int64
	for g := range publishers {
		for i := range each {
			seqs = append(seqs, int64(g*1000+i))
		}
	}
	want := make([][]pair, len(nodes))
	want[first] = append(want[first], pairsFor(seqs, a)...)
	want[last] = append(want[last], pairsFor(seqs, bob)...)
	got := f.pass(t)
	for i := range nodes {
		checkPairs(t, f.cs[i].name, got[i], want[i])
	}
	for i, node := range got {
		for g := range publishers {
			// Order holds per publisher only: keep the events of
			// publisher g (markers, with negative seqs, are no one's).
			var own []received
			for _, r := range node {
				if r.ev.Seq >= 0 && r.ev.Seq/1000 == int64(g) {
					own = append(own, r)
				}
			}
			checkOrder(t, fmt.Sprintf("%s, publisher %d", f.cs[i].name, g), own)
		}
	}
}

// testBrokerCancelled checks that Publish with an ended context returns
// rather than hangs, and either fails or delivers: a networked broker may
// fail after the event went out, so an error still allows one delivery.
// Either way the broker keeps working.
func testBrokerCancelled(t *testing.T, nodes []chat.Broker) {
	b := nodes[0]
	f := watch(t, nodes)
	a := newUsers(1)[0]
	subscribe(t, b, a)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan error, 1)
	go func() { done <- b.Publish(ctx, event(1, a)) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(deliveryTimeout):
		t.Fatalf("Publish with a cancelled context has not returned after %v", deliveryTimeout)
	}

	publish(t, b, event(2, a))
	// An event 1 that Publish sent out before failing could in principle
	// still be under way and is not seen here; that would go unnoticed
	// only if it arrived twice.
	got := f.pass(t)[0]
	n1, n2 := 0, 0
	for _, r := range got {
		switch {
		case r.user != a:
			t.Errorf("received seq %d for user %d, who is not subscribed", r.ev.Seq, r.user)
		case r.ev.Seq == 1:
			n1++
		case r.ev.Seq == 2:
			n2++
		default:
			t.Errorf("received seq %d, which was never published", r.ev.Seq)
		}
	}
	if n2 != 1 {
		t.Errorf("the event published after the cancelled one arrived %d times, want once; got %s", n2, pairsString(got))
	}
	switch {
	case err == nil && n1 != 1:
		t.Errorf("Publish with a cancelled context returned nil, but its event arrived %d times, want once", n1)
	case err != nil && n1 > 1:
		t.Errorf("Publish with a cancelled context returned %v, and its event arrived %d times, want at most once", err, n1)
	}
}

// testBrokerAcrossNodes checks that an event reaches the node its recipient
// is subscribed on, wherever it was published, and no other node.
func testBrokerAcrossNodes(t *testing.T, nodes []chat.Broker) {
	f := watch(t, nodes)
	us := newUsers(3)
	a, bob, stranger := us[0], us[1], us[2]
	subscribe(t, nodes[1], a) // a on node 2 only

	publish(t, nodes[0], event(1, a))
	got := f.pass(t)
	checkPairs(t, "node 1, where nobody is subscribed", got[0], nil)
	checkPairs(t, "node 2, where the recipient is subscribed", got[1], []pair{{1, a}})

	subscribe(t, nodes[0], bob) // bob on node 1 only
	publish(t, nodes[1], event(2, bob, stranger, a))
	got = f.pass(t)
	checkPairs(t, "node 1", got[0], []pair{{2, bob}})
	checkPairs(t, "node 2", got[1], []pair{{1, a}, {2, a}})
}
