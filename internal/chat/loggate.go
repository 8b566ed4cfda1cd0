package chat

import (
	"sync"
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
