package chat

import (
	"sync"
	"time"
)

// typingGate lets through at most one typing event per user and
// conversation per interval. Stale entries are swept as the map grows, so
// its size follows the number of people typing now, not ever.
type typingGate struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[typingKey]time.Time
	sweepAt  int
}

type typingKey struct {
	user UserID
	conv ConversationID
}

func newTypingGate(interval time.Duration) *typingGate {
	return &typingGate{interval: interval, last: make(map[typingKey]time.Time), sweepAt: 1024}
}

// allow reports whether a typing event of user in conv at now may pass.
func (g *typingGate) allow(user UserID, conv ConversationID, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := typingKey{user, conv}
	if t, ok := g.last[k]; ok && now.Sub(t) < g.interval {
		return false
	}
	g.last[k] = now
	if len(g.last) >= g.sweepAt {
		for k, t := range g.last {
			if now.Sub(t) >= g.interval {
				delete(g.last, k)
			}
		}
		g.sweepAt = max(1024, 2*len(g.last))
	}
	return true
}
