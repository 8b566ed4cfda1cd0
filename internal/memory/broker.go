package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// deliveryBuffer is how many deliveries NewBroker's channel holds before
// Publish waits for the node to catch up: deep enough to absorb bursts
// without the hub keeping pace event by event, small enough to bound memory.
const deliveryBuffer = 4096

// dedupeMapOver is the recipient count above which Publish deduplicates with
// a map instead of a linear scan, so large groups stay linear in cost while
// direct conversations (two recipients) allocate nothing extra.
const dedupeMapOver = 32

// Broker is a chat.Broker for a single node: publishing and delivering
// happen in the same process, so every event goes straight onto the
// Deliveries channel. It starts no goroutines and needs no Close.
//
// Publish blocks while the Deliveries channel is full, until the node has
// read enough to make room or the publisher's context ends. That is the
// back-pressure of a single node: a reader that stops reading stalls
// publishers rather than growing memory or silently dropping events.
type Broker struct {
	mu   sync.RWMutex
	subs map[chat.UserID]struct{}
	out  chan chat.Delivery
}

var (
	_ chat.Broker         = (*Broker)(nil)
	_ chat.BatchPublisher = (*Broker)(nil)
)

// NewBroker returns a Broker with no subscriptions and a Deliveries channel
// of 4096 deliveries.
func NewBroker() *Broker {
	return newBroker(deliveryBuffer)
}

// newBroker lets tests choose a tiny buffer so that a full channel is easy
// to reach.
func newBroker(size int) *Broker {
	return &Broker{
		subs: make(map[chat.UserID]struct{}),
		out:  make(chan chat.Delivery, size),
	}
}

// Publish delivers ev as one Delivery naming, in ev.To order and once each,
// the recipients that are subscribed; it delivers nothing when none is.
// When the Deliveries channel is full it blocks until there is room or ctx
// ends, and then returns ctx.Err(). While there is room it delivers even
// with a context that has already ended: the work is done by then and
// nothing is gained by refusing it.
//
// The delivered event holds its own copies of ev.To and *ev.Message, so a
// publisher that reuses them afterwards races with nobody, as it would not
// with a networked broker that serialises the event.
func (b *Broker) Publish(ctx context.Context, ev chat.Event) error {
	users := b.subscribed(ev.To)
	if len(users) == 0 {
		return nil
	}
	ev.To = slices.Clone(ev.To)
	if ev.Message != nil {
		m := *ev.Message
		ev.Message = &m
	}
	d := chat.Delivery{Event: ev, Users: users}
	// Try without blocking first: a select with both cases ready picks one
	// at random, and an ended context should not lose an event there is
	// room for.
	select {
	case b.out <- d:
		return nil
	default:
	}
	select {
	case b.out <- d:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PublishAll publishes evs one after the other, as Publish does each.
func (b *Broker) PublishAll(ctx context.Context, evs []chat.Event) error {
	for _, ev := range evs {
		if err := b.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// subscribed returns the subscribed users among to, deduplicated, in order.
// It holds the lock only for the lookup, never while Publish waits on the
// channel, so a stalled reader cannot block Subscribe or Unsubscribe. A user
// who unsubscribes in between may still be named in the delivery; the node
// must cope with that anyway, since its connections come and go at any time.
func (b *Broker) subscribed(to []chat.UserID) []chat.UserID {
	var seen map[chat.UserID]struct{}
	if len(to) > dedupeMapOver {
		seen = make(map[chat.UserID]struct{}, len(to))
	}
	var users []chat.UserID
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, u := range to {
		if _, ok := b.subs[u]; !ok {
			continue
		}
		if seen != nil {
			if _, dup := seen[u]; dup {
				continue
			}
			seen[u] = struct{}{}
		} else if slices.Contains(users, u) {
			continue
		}
		users = append(users, u)
	}
	return users
}

// Subscribe makes Publish deliver events for user. Subscribing again changes
// nothing: subscriptions are a set, not a count. It never fails.
func (b *Broker) Subscribe(_ context.Context, user chat.UserID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[user] = struct{}{}
	return nil
}

// Unsubscribe stops delivering events for user, however many times it was
// subscribed. Deliveries already in the channel stay there. It never fails.
func (b *Broker) Unsubscribe(_ context.Context, user chat.UserID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, user)
	return nil
}

// Deliveries returns the channel Publish delivers to. It is never closed.
func (b *Broker) Deliveries() <-chan chat.Delivery {
	return b.out
}
