package memory

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Limiter = (*Limiter)(nil)

// Limiter is a token bucket per key (golang.org/x/time/rate) in process.
// A bucket left alone until it is full again is the same as a new one, so
// such buckets are dropped: memory follows the keys active lately, not all
// keys ever seen.
type Limiter struct {
	limit rate.Limit
	burst int
	// refill is how long an empty bucket takes to fill: idle that long, a
	// bucket is forgotten.
	refill time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
	sweepSize int
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewLimiter returns a Limiter allowing perSecond tokens a second per key,
// up to burst at once.
func NewLimiter(perSecond float64, burst int) *Limiter {
	refill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &Limiter{
		limit:     rate.Limit(perSecond),
		burst:     burst,
		refill:    refill,
		buckets:   make(map[string]*bucket),
		sweepSize: 1024,
	}
}

// Allow takes a token from key's bucket, or reports how long until one is
// there.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN takes n tokens from key's bucket, all or none, or reports how
// long until they are there (a refill's time when n is past the burst:
// never).
func (l *Limiter) AllowN(_ context.Context, key string, n int) (bool, time.Duration, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, n)
	if !r.OK() {
		return false, l.refill, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return false, wait, nil
	}
	return true, 0, nil
}

// Refund gives back a token of key's bucket, up to its burst.
func (l *Limiter) Refund(_ context.Context, key string) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// A bucket forgotten is full. Taking -1 tokens adds one; x/time/rate
	// caps the bucket at its burst as time next moves it.
	if b := l.buckets[key]; b != nil {
		b.lim.AllowN(now, -1)
	}
	return nil
}

// sweep drops buckets idle long enough to be full, when the map has grown
// or a refill time has passed since the last sweep, so its cost is spread
// over many calls.
func (l *Limiter) sweep(now time.Time) {
	if len(l.buckets) < l.sweepSize && now.Sub(l.lastSweep) < max(l.refill, time.Minute) {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.refill {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
	l.sweepSize = max(1024, 2*len(l.buckets))
}

// Len returns how many buckets are held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
