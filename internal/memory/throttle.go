package memory

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Throttle = (*Throttle)(nil)

// Throttle counts attempts per key in process, under one mutex, so a
// reservation over several keys is atomic. A key's count is forgotten its
// policy's window after its last attempt; a remembered key when its time is
// up.
type Throttle struct {
	mu        sync.Mutex
	keys      map[string]*failures
	known     map[string]time.Time
	sweepSize int
}

type failures struct {
	count  int
	last   time.Time
	window time.Duration
}

// NewThrottle returns an empty Throttle.
func NewThrottle() *Throttle {
	return &Throttle{keys: make(map[string]*failures), known: make(map[string]time.Time), sweepSize: 1024}
}

// Reserve counts one attempt on every key unless one must wait; then it
// counts nothing and reports the longest wait and the index of its key.
func (t *Throttle) Reserve(_ context.Context, keys ...chat.ThrottleKey) (time.Duration, int, error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	by := -1
	for i, k := range keys {
		f := t.current(k.Key, now)
		if f == nil {
			continue
		}
		if w := f.last.Add(k.Policy.Delay(f.count)).Sub(now); w > wait {
			wait, by = w, i
		}
	}
	if wait > 0 {
		return wait, by, nil
	}
	t.sweep(now)
	for _, k := range keys {
		f := t.current(k.Key, now)
		if f == nil {
			f = &failures{}
			t.keys[k.Key] = f
		}
		f.count++
		f.last = now
		f.window = k.Policy.Window
	}
	return 0, -1, nil
}

// Refund takes back one attempt of each key.
func (t *Throttle) Refund(_ context.Context, keys ...chat.ThrottleKey) error {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if f := t.current(k.Key, now); f != nil && f.count > 0 {
			f.count--
		}
	}
	return nil
}

// Reset forgets key's attempts.
func (t *Throttle) Reset(_ context.Context, key string) error {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
	return nil
}

// Remember records key for ttl and reports whether it was new.
func (t *Throttle) Remember(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	until, ok := t.known[key]
	t.known[key] = now.Add(ttl)
	return !ok || !now.Before(until), nil
}

// Known reports whether key is recorded.
func (t *Throttle) Known(_ context.Context, key string) (bool, error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.known[key]
	return ok && now.Before(until), nil
}

// current returns key's failures unless they have expired.
func (t *Throttle) current(key string, now time.Time) *failures {
	f := t.keys[key]
	if f != nil && now.Sub(f.last) >= f.window {
		delete(t.keys, key)
		return nil
	}
	return f
}

// sweep drops expired keys once the maps have doubled since the last sweep.
func (t *Throttle) sweep(now time.Time) {
	if len(t.keys)+len(t.known) < t.sweepSize {
		return
	}
	for k, f := range t.keys {
		if now.Sub(f.last) >= f.window {
			delete(t.keys, k)
		}
	}
	for k, until := range t.known {
		if !now.Before(until) {
			delete(t.known, k)
		}
	}
	t.sweepSize = max(1024, 2*(len(t.keys)+len(t.known)))
}
