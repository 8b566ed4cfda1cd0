package chat

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// LogGate lets through at most one log line per interval for each key (a
// dependency, an operation), so that an outage met by every request or
// connection logs a line now and then, not one each; a line says how many
// failures it stands for. Make one with NewLogGate; it is safe for
// concurrent use.
type LogGate struct {
	every time.Duration

	mu     sync.Mutex
	last   map[string]time.Time
	missed map[string]int
}

// NewLogGate returns a gate that lets one line per key through every
// interval.
func NewLogGate(every time.Duration) *LogGate {
	return &LogGate{every: every, last: make(map[string]time.Time), missed: make(map[string]int)}
}

// Allow counts one failure about key and reports whether a line may be
// logged for it now, and how many failures that line stands for: this one
// and those held back since the last line.
func (g *LogGate) Allow(key string) (failures int, ok bool) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.missed[key]++
	if last, seen := g.last[key]; seen && now.Sub(last) < g.every {
		return 0, false
	}
	failures = g.missed[key]
	g.last[key] = now
	delete(g.missed, key)
	return failures, true
}

// OutageLog logs the health of one dependency (the database, Redis) as an
// operator wants to read it in an outage: while it fails, one warning per
// interval saying how many failures it stands for (through a LogGate); when
// it answers again, one line saying so and for how long it was away. A
// failure whose warning the gate held back (a stale connection failing
// right after a recovery) and that ends before a warning went out is not
// announced as a recovery either. Make one with NewOutageLog; it is safe
// for concurrent use, and costs an atomic load per answer while the
// dependency is up.
type OutageLog struct {
	logger   *slog.Logger
	what     string
	down, up string // the two messages
	gate     *LogGate
	// since is when the current outage began, in Unix nanoseconds; 0 while
	// the dependency answers.
	since atomic.Int64
	// announced is set once a warning about the current outage is out.
	announced atomic.Bool
}

// NewOutageLog returns the outage log of a dependency named what
// ("database", "redis"): its lines are "<what> unavailable" (a warning,
// with err and failures) and "<what> available again" (info, with
// down_for), at most one warning per every.
func NewOutageLog(logger *slog.Logger, what string, every time.Duration) *OutageLog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &OutageLog{logger: logger, what: what, down: what + " unavailable", up: what + " available again", gate: NewLogGate(every)}
}

// Failed records one failure of the dependency, err, and logs it unless a
// line went out less than the interval ago.
func (o *OutageLog) Failed(ctx context.Context, err error) {
	o.since.CompareAndSwap(0, time.Now().UnixNano())
	if n, ok := o.gate.Allow(o.what); ok {
		o.announced.Store(true)
		o.logger.WarnContext(ctx, o.down, "err", err, "failures", n)
	}
}

// Answered records that the dependency answered; the first answer after an
// announced outage logs that it is back, with how long it was away.
func (o *OutageLog) Answered(ctx context.Context) {
	if o.since.Load() == 0 {
		return
	}
	if since := o.since.Swap(0); since != 0 && o.announced.Swap(false) {
		o.logger.InfoContext(ctx, o.up, "down_for", time.Since(time.Unix(0, since)).Round(time.Millisecond))
	}
}
