package password

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/parleychat/parley/internal/chat"
)

// gateHasher is a fake hasher whose every operation, named by its
// password, runs until the test opens that password's gate.
type gateHasher struct {
	mu      sync.Mutex
	gates   map[string]chan struct{}
	running map[string]bool
	ran     map[string]bool
}

func newGateHasher() *gateHasher {
	return &gateHasher{gates: map[string]chan struct{}{}, running: map[string]bool{}, ran: map[string]bool{}}
}

func (g *gateHasher) gate(p string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[p] == nil {
		g.gates[p] = make(chan struct{})
	}
	return g.gates[p]
}

func (g *gateHasher) run(p string) {
	gate := g.gate(p)
	g.mu.Lock()
	g.running[p], g.ran[p] = true, true
	g.mu.Unlock()
	<-gate
	g.mu.Lock()
	delete(g.running, p)
	g.mu.Unlock()
}

func (g *gateHasher) Hash(p string) (string, error) { g.run(p); return "h:" + p, nil }

func (g *gateHasher) Verify(h, p string) (bool, error) { g.run(p); return h == "h:"+p, nil }

// open lets p's operation finish.
func (g *gateHasher) open(p string) { close(g.gate(p)) }

// nowRunning lists the passwords whose operations are inside the hasher.
func (g *gateHasher) nowRunning() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.running))
}

func (g *gateHasher) hasRun(p string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ran[p]
}

// start runs a verification of p through b in a goroutine; its error
// arrives on the returned channel.
func start(ctx context.Context, b *BoundedHasher, p string) <-chan error {
	done := make(chan error, 1)
	go func() {
		ok, err := b.VerifyContext(ctx, "h:"+p, p)
		if err == nil && !ok {
			err = errors.New("verification of " + p + " failed")
		}
		done <- err
	}()
	return done
}

// wantBusy checks that err is the refusal: EUNAVAILABLE with a RetryAfter.
func wantBusy(t *testing.T, what string, err error) {
	t.Helper()
	if chat.ErrorCode(err) != chat.EUNAVAILABLE || chat.RetryAfter(err) != BusyRetryAfter {
		t.Errorf("%s: err %v (code %q, retry after %v), want %s with retry after %v",
			what, err, chat.ErrorCode(err), chat.RetryAfter(err), chat.EUNAVAILABLE, BusyRetryAfter)
	}
}

func wantRunning(t *testing.T, g *gateHasher, want ...string) {
	t.Helper()
	if got := g.nowRunning(); !slices.Equal(got, want) {
		t.Fatalf("running %q, want %q", got, want)
	}
}

// pending reports whether an operation has not finished yet.
func pending(done <-chan error) bool { return len(done) == 0 }

// TestBoundedRunsQueuesRefuses: with 2 slots and a queue of 1, of four
// operations at once two run, one waits and the fourth is refused at once
// without reaching the hasher; when one finishes, the waiter runs.
func TestBoundedRunsQueuesRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGateHasher()
		b := Bounded(g, 2, 1)
		a := start(t.Context(), b, "a")
		bDone := make(chan error, 1)
		go func() {
			_, err := b.HashContext(t.Context(), "b")
			bDone <- err
		}()
		synctest.Wait()
		wantRunning(t, g, "a", "b")

		c := start(t.Context(), b, "c")
		synctest.Wait()
		wantRunning(t, g, "a", "b")
		if !pending(c) {
			t.Fatalf("c finished while both slots were taken: %v", <-c)
		}

		// Called here, not in a goroutine: were it to wait, the bubble
		// would deadlock and synctest would fail the test.
		_, err := b.Verify("h:d", "d")
		wantBusy(t, "fourth operation", err)
		_, err = b.Hash("e")
		wantBusy(t, "fifth operation", err)
		if g.hasRun("d") || g.hasRun("e") {
			t.Error("a refused operation reached the hasher")
		}

		g.open("a")
		synctest.Wait()
		if err := <-a; err != nil {
			t.Errorf("a: %v", err)
		}
		wantRunning(t, g, "b", "c")

		g.open("b")
		g.open("c")
		synctest.Wait()
		if err := <-bDone; err != nil {
			t.Errorf("b: %v", err)
		}
		if err := <-c; err != nil {
			t.Errorf("c: %v", err)
		}
		wantRunning(t, g)
	})
}

// TestBoundedWaiterLeavesWithContext: a waiter whose context ends is
// refused without hashing and frees its place in the queue.
func TestBoundedWaiterLeavesWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGateHasher()
		b := Bounded(g, 2, 1)
		a := start(t.Context(), b, "a")
		bb := start(t.Context(), b, "b")
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		c := start(ctx, b, "c")
		synctest.Wait()
		if !pending(c) {
			t.Fatalf("c finished while both slots were taken: %v", <-c)
		}
		_, err := b.Verify("h:d", "d")
		wantBusy(t, "operation beyond the queue", err)

		cancel()
		synctest.Wait()
		if pending(c) {
			t.Fatal("c still waits after its context ended")
		}
		wantBusy(t, "waiter whose context ended", <-c)
		if g.hasRun("c") {
			t.Error("c reached the hasher after its context ended")
		}

		// c's place is free again: e waits instead of being refused, and
		// runs when a slot frees.
		e := start(t.Context(), b, "e")
		synctest.Wait()
		if !pending(e) {
			t.Fatalf("e was not queued: %v", <-e)
		}
		g.open("b")
		synctest.Wait()
		wantRunning(t, g, "a", "e")
		g.open("a")
		g.open("e")
		synctest.Wait()
		for name, done := range map[string]<-chan error{"a": a, "b": bb, "e": e} {
			if err := <-done; err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// TestBoundedWaitersInOrder: waiters get slots in the order they came.
func TestBoundedWaitersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGateHasher()
		b := Bounded(g, 1, 3)
		done := []<-chan error{start(t.Context(), b, "0")}
		synctest.Wait()
		for _, p := range []string{"1", "2", "3"} {
			done = append(done, start(t.Context(), b, p))
			synctest.Wait() // p is queued before the next comes
		}
		for i, p := range []string{"0", "1", "2", "3"} {
			wantRunning(t, g, p)
			g.open(p)
			synctest.Wait()
			if err := <-done[i]; err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	})
}

// TestBoundedPassesThrough: results and errors of the wrapped hasher come
// back unchanged, and every operation gives its slot back, failed or not.
func TestBoundedPassesThrough(t *testing.T) {
	weak := Argon2id{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16}
	b := Bounded(weak, 1, 0)
	for range 3 {
		h, err := b.Hash("password1")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := b.Verify(h, "password1"); !ok || err != nil {
			t.Errorf("right password: ok=%v err=%v", ok, err)
		}
		if ok, err := b.Verify(h, "password2"); ok || err != nil {
			t.Errorf("wrong password: ok=%v err=%v", ok, err)
		}
		if _, err := b.Verify("plain", "password1"); err == nil || chat.ErrorCode(err) != chat.EINTERNAL {
			t.Errorf("malformed hash: err %v, want the hasher's own error", err)
		}
	}
}
