package chat

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// retentionStore holds messages of two conversations, 7 (members 1 and 2)
// and 8 (members 1, 2 and 3), and erases them as a store does. Its first
// failures calls of ExpiredMessages fail.
type retentionStore struct {
	Store
	mu       sync.Mutex
	messages []Message
	version  map[ConversationID]int64
	batches  []int // sizes of the batches asked for
	failures int
}

func (s *retentionStore) ExpiredMessages(_ context.Context, before time.Time, limit int) ([]MessageRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, limit)
	if s.failures > 0 {
		s.failures--
		return nil, errors.New("connection reset by peer")
	}
	var refs []MessageRef
	for _, m := range s.messages { // oldest first
		if len(refs) < limit && m.CreatedAt.Before(before) && !m.Deleted() {
			refs = append(refs, MessageRef{ConversationID: m.ConversationID, Seq: m.Seq})
		}
	}
	return refs, nil
}

func (s *retentionStore) EraseMessages(_ context.Context, conv ConversationID, seqs []int64, at time.Time) ([]Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	members := map[ConversationID][]UserID{7: {1, 2}, 8: {1, 2, 3}}[conv]
	var stored []Stored
	for i, m := range s.messages {
		if m.ConversationID != conv || !slices.Contains(seqs, m.Seq) || m.Deleted() {
			continue
		}
		s.version[conv]++
		m.Body, m.DeletedAt, m.Version = "", at, s.version[conv]
		s.messages[i] = m
		stored = append(stored, Stored{Message: m, Changed: true, Recipients: members})
	}
	return stored, nil
}

// asked returns the sizes of the batches asked for so far.
func (s *retentionStore) asked() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// left returns how many messages are not erased yet.
func (s *retentionStore) left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.messages {
		if !m.Deleted() {
			n++
		}
	}
	return n
}

// TestRetentionErasesOldMessagesInBatches: with a day's retention, the
// 450 messages older than a day go in batches of 200 (the last one short),
// each to its conversation's members as an update; the 100 newer ones
// stay until they too are a day old; a failed pass is tried again.
func TestRetentionErasesOldMessagesInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := Now()
		store := &retentionStore{version: map[ConversationID]int64{}, failures: 1}
		for i := range 550 {
			age := 48 * time.Hour
			if i >= 450 {
				age = 23 * time.Hour
			}
			conv := ConversationID(7 + i%2)
			store.version[conv]++
			store.messages = append(store.messages, Message{ConversationID: conv, Seq: store.version[conv], Body: "hello", CreatedAt: now.Add(-age + time.Duration(i)*time.Millisecond), Version: store.version[conv]})
		}
		broker := &flakyBroker{}
		logs := &lockedBuffer{}
		svc := newDeliveryService(t, store, broker, logs)

		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { svc.RunRetention(ctx, Retention{Keep: 24 * time.Hour}) })

		synctest.Wait() // the first pass failed
		if store.left() != 550 || !strings.Contains(logs.String(), `msg="retention failed"`) {
			t.Fatalf("after a failed pass %d messages are left, want 550, and the failure logged:\n%s", store.left(), logs.String())
		}
		// In a synctest bubble a sleep is no wait: it moves the bubble's
		// clock past the retry's interval at once, and synctest.Wait
		// below returns once every goroutine is blocked again, that is
		// once retention has done all it had to.
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if got := store.left(); got != 100 {
			t.Fatalf("after the retry %d messages are left, want the 100 newer than a day", got)
		}
		events := broker.taken()
		if len(events) != 450 {
			t.Fatalf("%d events published, want one per erased message (450)", len(events))
		}
		for _, ev := range events {
			want := map[ConversationID][]UserID{7: {1, 2}, 8: {1, 2, 3}}[ev.Message.ConversationID]
			if ev.Type != EventMessageUpdated || !ev.Message.Deleted() || ev.Message.Body != "" || !slices.Equal(ev.To, want) {
				t.Fatalf("event %+v: want a tombstone update to the members %v", ev, want)
			}
		}
		if want := []int{200, 200, 200, 200}; !slices.Equal(store.asked(), want) {
			t.Errorf("batches asked for %v, want %v (a failure, two full, one short)", store.asked(), want)
		}

		// The bubble's clock again: an hour on, the newer messages are a
		// day old and several passes have run, done at synctest.Wait.
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := store.left(); got != 0 {
			t.Errorf("an hour later %d messages are left, want none", got)
		}
		cancel()
		wg.Wait()
	})
}

// TestRetentionOffKeepsEverything: with Keep 0 RunRetention returns at
// once and asks the store nothing.
func TestRetentionOffKeepsEverything(t *testing.T) {
	store := &retentionStore{version: map[ConversationID]int64{}}
	svc := newDeliveryService(t, store, &flakyBroker{}, &lockedBuffer{})
	svc.RunRetention(t.Context(), Retention{})
	if asked := store.asked(); len(asked) != 0 {
		t.Errorf("retention off asked the store for %d batches", len(asked))
	}
}
