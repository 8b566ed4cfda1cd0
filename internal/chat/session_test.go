package chat

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// sweptSessions counts the sweeps asked of it.
type sweptSessions struct {
	SessionStore
	swept chan time.Time
}

func (s sweptSessions) DeleteExpired(_ context.Context, now time.Time) (int64, error) {
	s.swept <- now
	return 1, nil
}

// TestSessionsRun: the sweep deletes expired sessions as of the time it
// runs, again and again, and Run returns when its context ends.
func TestSessionsRun(t *testing.T) {
	ss := Sessions{sweptSessions{swept: make(chan time.Time)}}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { ss.Run(ctx, time.Millisecond, slog.New(slog.DiscardHandler)) })
	start := time.Now()
	for range 2 {
		if at := <-ss.SessionStore.(sweptSessions).swept; at.Before(start) {
			t.Errorf("swept as of %v, before Run started (%v)", at, start)
		}
	}
	cancel()
	wg.Wait()
}
