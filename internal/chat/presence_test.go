package chat

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
)

// sweepingPresence is a PresenceSweeper whose next Sweep returns swept and
// err.
type sweepingPresence struct {
	Presence
	swept PresenceSweep
	err   error
}

func (p *sweepingPresence) Sweep(context.Context) (PresenceSweep, error) { return p.swept, p.err }

// sweepStore knows who shares a conversation with whom; a user it does
// not know fails.
type sweepStore struct {
	Store
	contacts map[UserID][]UserID
}

func (s sweepStore) Contacts(_ context.Context, u UserID) ([]UserID, error) {
	c, ok := s.contacts[u]
	if !ok {
		return nil, errors.New("database away")
	}
	return c, nil
}

// sweepBroker records what is published.
type sweepBroker struct {
	Broker
	mu     sync.Mutex
	events []Event
}

func (b *sweepBroker) Publish(_ context.Context, ev Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
	return nil
}

// TestSweepPresencePublishes: what a sweep takes reaches the people who
// must hear of it, even when the sweep failed part way (what it took is
// taken): each lapsed user's contacts see them offline, a user claimed anew
// online, and a dead node's users and their contacts are told to resync,
// a user whose contacts cannot be read still themself.
func TestSweepPresencePublishes(t *testing.T) {
	const gone, back, stranded, unknown, c1, c2, c3 UserID = 1, 2, 3, 4, 11, 12, 13
	broker := &sweepBroker{}
	sweepErr := errors.New("redis: connection reset")
	svc, err := NewService(ServiceConfig{
		Store:  sweepStore{contacts: map[UserID][]UserID{gone: {c1, c2}, back: {c3}, stranded: {c2, c3}}},
		Hasher: plainHasher{},
		Broker: broker,
		Presence: &sweepingPresence{
			swept: PresenceSweep{Offline: []UserID{gone}, Online: []UserID{back}, Stranded: []UserID{stranded, unknown}},
			err:   sweepErr,
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SweepPresence(t.Context()); !errors.Is(err, sweepErr) {
		t.Errorf("SweepPresence: %v, want the sweep's error", err)
	}
	presence := map[UserID]bool{}
	var resync []UserID
	for _, ev := range broker.events {
		switch ev.Type {
		case EventPresence:
			if ev.UserID == gone && (ev.Online || !slices.Equal(ev.To, []UserID{c1, c2})) ||
				ev.UserID == back && (!ev.Online || !slices.Equal(ev.To, []UserID{c3})) {
				t.Errorf("presence event %+v", ev)
			}
			presence[ev.UserID] = ev.Online
		case EventResync:
			resync = append(resync, ev.To...)
		default:
			t.Errorf("unexpected event %+v", ev)
		}
	}
	if want := map[UserID]bool{gone: false, back: true}; !maps.Equal(presence, want) {
		t.Errorf("presence published %v, want %v", presence, want)
	}
	slices.Sort(resync)
	if want := []UserID{stranded, unknown, c2, c3}; !slices.Equal(resync, want) {
		t.Errorf("resync to %v, want %v", resync, want)
	}
}

// TestSweepPresenceRefusedIsOwed: when the broker refuses what a sweep
// took, its recipients are owed a resync (published by Run once the
// broker takes events), whose catch-up shows them presence as it is.
func TestSweepPresenceRefusedIsOwed(t *testing.T) {
	const gone, stranded, c1, c2 UserID = 1, 3, 11, 12
	svc, err := NewService(ServiceConfig{
		Store:    sweepStore{contacts: map[UserID][]UserID{gone: {c1}, stranded: {c2}}},
		Hasher:   plainHasher{},
		Broker:   downBroker{err: errRefused()},
		Presence: &sweepingPresence{swept: PresenceSweep{Offline: []UserID{gone}, Stranded: []UserID{stranded}}},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SweepPresence(t.Context()); err != nil {
		t.Fatal(err)
	}
	if owed, _ := svc.resync.take(); !slices.Equal(owed, []UserID{stranded, c1, c2}) {
		t.Errorf("owed a resync: %v, want %v", owed, []UserID{stranded, c1, c2})
	}
}
