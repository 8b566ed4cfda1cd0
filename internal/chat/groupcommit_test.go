package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// batchingStore is a deliveryStore that records the size of each batch
// and holds the first one until released.
type batchingStore struct {
	*deliveryStore
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (s *batchingStore) CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(ms))
	first := len(s.sizes) == 1
	s.mu.Unlock()
	if first {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.deliveryStore.CreateMessages(ctx, ms)
}

// TestGroupCommitSharesCommits: sends to one conversation that arrive while
// a batch commits share the next commit, not one each; every send is
// answered only once its message is published, and the messages are
// published in seq order.
func TestGroupCommitSharesCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &batchingStore{deliveryStore: newDeliveryStore(), entered: make(chan struct{}, 1), release: make(chan struct{})}
		broker := &flakyBroker{}
		svc := newDeliveryService(t, store, broker, &lockedBuffer{})
		published := func(seq int64) bool {
			broker.mu.Lock()
			defer broker.mu.Unlock()
			for _, ev := range broker.events {
				if ev.Message.Seq == seq {
					return true
				}
			}
			return false
		}
		var wg sync.WaitGroup
		send := func(i int) {
			wg.Go(func() {
				m, created, err := svc.Send(t.Context(), deliveryMembers[i%len(deliveryMembers)], SendRequest{ConversationID: 5, Body: fmt.Sprint("m", i), ClientID: fmt.Sprint("c", i)})
				if err != nil || !created {
					t.Errorf("send %d: created %v, %v", i, created, err)
					return
				}
				if !published(m.Seq) {
					t.Errorf("send %d answered before seq %d was published", i, m.Seq)
				}
			})
		}
		send(0)
		<-store.entered // the first send's batch is committing
		const queued = 20
		for i := 1; i <= queued; i++ {
			send(i)
		}
		synctest.Wait() // every other send waits in the queue
		close(store.release)
		wg.Wait()

		if want := []int{1, queued}; fmt.Sprint(store.sizes) != fmt.Sprint(want) {
			t.Errorf("batches of %v, want %v: the sends queued behind a commit share the next", store.sizes, want)
		}
		if len(broker.events) != queued+1 {
			t.Fatalf("%d events published for %d sends", len(broker.events), queued+1)
		}
		for i, ev := range broker.events {
			if ev.Message.Seq != int64(i+1) {
				t.Fatalf("event %d published seq %d: not in seq order", i, ev.Message.Seq)
			}
		}
	})
}

// TestGroupCommitGiveUpWhileQueued: a send still queued behind a stalled
// commit when its context ends is taken out of the queue, storing nothing;
// the sends queued with it are committed once the store answers.
func TestGroupCommitGiveUpWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &batchingStore{deliveryStore: newDeliveryStore(), entered: make(chan struct{}, 1), release: make(chan struct{})}
		svc := newDeliveryService(t, store, &flakyBroker{}, &lockedBuffer{})
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, _, err := svc.Send(t.Context(), 1, SendRequest{ConversationID: 5, Body: "first"}); err != nil {
				t.Error(err)
			}
		})
		<-store.entered
		wg.Go(func() {
			if _, _, err := svc.Send(t.Context(), 2, SendRequest{ConversationID: 5, Body: "patient"}); err != nil {
				t.Error(err)
			}
		})
		ctx, cancel := context.WithCancel(t.Context())
		gaveUp := make(chan error, 1)
		go func() {
			_, _, err := svc.Send(ctx, 3, SendRequest{ConversationID: 5, Body: "impatient", ClientID: "gone"})
			gaveUp <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-gaveUp; ErrorCode(err) != EUNAVAILABLE {
			t.Errorf("the send that gave up: %v, want unavailable", err)
		}
		close(store.release)
		wg.Wait()
		if fmt.Sprint(store.sizes) != "[1 1]" {
			t.Errorf("batches of %v, want [1 1]: the patient send alone after the first", store.sizes)
		}
		if _, err := store.MessageByClientID(t.Context(), 3, "gone"); ErrorCode(err) != ENOTFOUND {
			t.Errorf("the send that gave up while queued was stored: %v", err)
		}
	})
}

// TestGroupChangeWaitsForSends: a change holding the conversation alone (a
// group change, an edit) waits until the sends under way are published,
// and sends arriving after it wait for it, so none is published between.
func TestGroupChangeWaitsForSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			m     keyedMutex[int]
			mu    sync.Mutex
			order []string
		)
		note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		send1, err := m.RLockContext(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		send2, err := m.RLockContext(t.Context(), 1) // sends share
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			unlock := m.Lock(1)
			note("change")
			unlock()
		})
		synctest.Wait() // the change waits for the two sends
		wg.Go(func() {
			unlock, err := m.RLockContext(t.Context(), 1)
			if err != nil {
				t.Error(err)
				return
			}
			note("later send")
			unlock()
		})
		other, err := m.RLockContext(t.Context(), 2) // another conversation is free
		if err != nil {
			t.Fatal(err)
		}
		other()
		synctest.Wait() // the later send waits behind the change
		note("sends published")
		send1()
		send2()
		wg.Wait()
		if fmt.Sprint(order) != "[sends published change later send]" {
			t.Errorf("order %v", order)
		}

		// A change that gives up waiting lets the sends behind it in.
		hold, err := m.RLockContext(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		gaveUp := make(chan error, 1)
		go func() {
			_, err := m.LockContext(ctx, 1)
			gaveUp <- err
		}()
		synctest.Wait()
		later := make(chan error, 1)
		go func() {
			unlock, err := m.RLockContext(t.Context(), 1)
			if err == nil {
				unlock()
			}
			later <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-gaveUp; err == nil {
			t.Error("the change that gave up holds the lock")
		}
		if err := <-later; err != nil {
			t.Errorf("the send behind a change that gave up: %v", err)
		}
		hold()
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.locks) != 0 {
			t.Errorf("%d locks kept for keys no one uses", len(m.locks))
		}
	})
}

// batchBroker is a flakyBroker that publishes batches too, refusing
// every batch.
type batchBroker struct {
	*flakyBroker
	batches int
}

func (b *batchBroker) PublishAll(context.Context, []Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches++
	return errRefused()
}

// TestGroupCommitBatchPublishRefused: a batch's messages go to a
// BatchPublisher in one go; when it refuses them the sends still succeed
// (they are committed) and every recipient is owed a resync.
func TestGroupCommitBatchPublishRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &batchingStore{deliveryStore: newDeliveryStore(), entered: make(chan struct{}, 1), release: make(chan struct{})}
		broker := &batchBroker{flakyBroker: &flakyBroker{}}
		svc := newDeliveryService(t, store, broker, &lockedBuffer{})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, _, err := svc.Send(t.Context(), 1, SendRequest{ConversationID: 5, Body: fmt.Sprint("m", i)}); err != nil {
					t.Errorf("send %d of a committed batch: %v", i, err)
				}
			})
			if i == 0 {
				<-store.entered
			}
		}
		synctest.Wait()
		close(store.release)
		wg.Wait()
		if broker.batches != 1 {
			t.Errorf("%d batches offered to the broker, want the 3 queued sends as 1", broker.batches)
		}
		if got := svc.resync.pending(); got != len(deliveryMembers) {
			t.Errorf("%d users owed a resync, want the %d members", got, len(deliveryMembers))
		}
	})
}

// panicStore is a deliveryStore whose first batch panics.
type panicStore struct {
	*deliveryStore
	once sync.Once
}

func (s *panicStore) CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error) {
	s.once.Do(func() { panic("store bug") })
	return s.deliveryStore.CreateMessages(ctx, ms)
}

// TestGroupCommitSurvivesPanic: a batch whose store call panics answers
// its sends EINTERNAL and lets go of their conversations; later sends and
// edits to the same conversation go through.
func TestGroupCommitSurvivesPanic(t *testing.T) {
	store := &panicStore{deliveryStore: newDeliveryStore()}
	logs := &lockedBuffer{}
	svc := newDeliveryService(t, store, &flakyBroker{}, logs)
	if _, _, err := svc.Send(t.Context(), 1, SendRequest{ConversationID: 5, Body: "first"}); ErrorCode(err) != EINTERNAL {
		t.Fatalf("the send whose batch panicked: %v, want internal", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m, created, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "second"})
	if err != nil || !created {
		t.Fatalf("the next send: created %v, %v", created, err)
	}
	if _, err := svc.EditMessage(ctx, 1, 5, m.Seq, "second, edited"); err != nil {
		t.Errorf("an edit after the panic: %v", err)
	}
	if !strings.Contains(logs.String(), "group commit panicked") {
		t.Error("the panic was not logged")
	}
}

// gatedBroker is a flakyBroker whose first Publish waits to be let
// through.
type gatedBroker struct {
	*flakyBroker
	gate  chan struct{}
	first sync.Once
}

func (b *gatedBroker) Publish(ctx context.Context, ev Event) error {
	b.first.Do(func() { <-b.gate })
	return b.flakyBroker.Publish(ctx, ev)
}

// TestGroupCommitPublishesInCommitOrder: the next batch commits while one
// is publishing, but is published only after it, so events still go out
// in seq order.
func TestGroupCommitPublishesInCommitOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &batchingStore{deliveryStore: newDeliveryStore(), entered: make(chan struct{}, 1), release: make(chan struct{})}
		close(store.release)
		broker := &gatedBroker{flakyBroker: &flakyBroker{}, gate: make(chan struct{})}
		svc := newDeliveryService(t, store, broker, &lockedBuffer{})
		var wg sync.WaitGroup
		send := func(i int) {
			wg.Go(func() {
				if _, _, err := svc.Send(t.Context(), 1, SendRequest{ConversationID: 5, Body: fmt.Sprint("m", i)}); err != nil {
					t.Errorf("send %d: %v", i, err)
				}
			})
		}
		send(0)
		<-store.entered
		synctest.Wait() // the first batch is committed, its publish held
		for i := 1; i <= 3; i++ {
			send(i)
		}
		synctest.Wait()
		store.mu.Lock()
		committed := len(store.sizes)
		store.mu.Unlock()
		if committed < 2 {
			t.Errorf("%d batches committed while the first was publishing, want the next one too", committed)
		}
		if n := len(broker.events); n != 0 {
			t.Errorf("%d events published while the first batch's publish was held", n)
		}
		close(broker.gate)
		wg.Wait()
		if len(broker.events) != 4 {
			t.Fatalf("%d events for 4 sends", len(broker.events))
		}
		for i, ev := range broker.events {
			if ev.Message.Seq != int64(i+1) {
				t.Fatalf("event %d published seq %d: not in seq order", i, ev.Message.Seq)
			}
		}
	})
}
