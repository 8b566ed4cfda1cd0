package chat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestLockContextGivesUp: a caller waiting for a key held by another gives
// up when its context ends, holding nothing; the key is then free for the
// next once its holder lets go, and no lock is kept for a key no one uses.
func TestLockContextGivesUp(t *testing.T) {
	var m keyedMutex[int]
	unlock := m.Lock(1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.LockContext(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a held key until the deadline: %v, want the deadline's error", err)
	}
	// Another key is not held up.
	other, err := m.LockContext(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	other()
	unlock()
	again, err := m.LockContext(t.Context(), 1)
	if err != nil {
		t.Fatalf("the key after its holder let go: %v", err)
	}
	again()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.locks) != 0 {
		t.Errorf("%d locks kept for keys no one uses", len(m.locks))
	}
}

// TestLockContextExcludes: holders of one key never overlap, whether they
// waited with a context or not.
func TestLockContextExcludes(t *testing.T) {
	var (
		m       keyedMutex[string]
		wg      sync.WaitGroup
		holders int
		mu      sync.Mutex
		overlap bool
	)
	for i := range 50 {
		wg.Go(func() {
			var unlock func()
			if i%2 == 0 {
				unlock = m.Lock("k")
			} else {
				var err error
				if unlock, err = m.LockContext(t.Context(), "k"); err != nil {
					t.Error(err)
					return
				}
			}
			mu.Lock()
			holders++
			overlap = overlap || holders > 1
			mu.Unlock()
			mu.Lock()
			holders--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if overlap {
		t.Error("two holders of one key at once")
	}
}
