package memory

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Throttle = (*Throttle)(nil)

// Throttle counts failures per key in process. A key's count is forgotten
// a policy window after its last failure.
type Throttle struct {
	policy chat.ThrottlePolicy

	mu        sync.Mutex
	keys      map[string]*failures
	sweepSize int
}

type failures struct {
	count int
	last  time.Time
}

// NewThrottle returns a Throttle with the given policy.
func NewThrottle(policy chat.ThrottlePolicy) *Throttle {
	return &Throttle{policy: policy, keys: make(map[string]*failures), sweepSize: 1024}
}

// Wait reports how long key must still wait.
func (t *Throttle) Wait(_ context.Context, key string) (time.Duration, error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.current(key, now)
	if f == nil {
		return 0, nil
	}
	return max(0, f.last.Add(t.policy.Delay(f.count)).Sub(now)), nil
}

// Fail records a failure of key.
func (t *Throttle) Fail(_ context.Context, key string) error {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.current(key, now)
	if f == nil {
		t.sweep(now)
		f = &failures{}
		t.keys[key] = f
	}
	f.count++
	f.last = now
	return nil
}

// Reset forgets key's failures.
func (t *Throttle) Reset(_ context.Context, key string) error {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
	return nil
}

// current returns key's failures unless they have expired.
func (t *Throttle) current(key string, now time.Time) *failures {
	f := t.keys[key]
	if f != nil && now.Sub(f.last) >= t.policy.Window {
		delete(t.keys, key)
		return nil
	}
	return f
}

// sweep drops expired keys once the map has doubled since the last sweep.
func (t *Throttle) sweep(now time.Time) {
	if len(t.keys) < t.sweepSize {
		return
	}
	for k, f := range t.keys {
		if now.Sub(f.last) >= t.policy.Window {
			delete(t.keys, k)
		}
	}
	t.sweepSize = max(1024, 2*len(t.keys))
}
