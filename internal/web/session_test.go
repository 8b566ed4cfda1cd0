package web

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// expiringStore keeps one session's expiry, as the session store would:
// TouchSession moves it forward while it has not passed.
type expiringStore struct {
	chat.Store

	mu     sync.Mutex
	expiry time.Time
	moves  int // calls that asked to move the expiry: writes
}

func (s *expiringStore) TouchSession(_ context.Context, _ string, expiry time.Time) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !time.Now().Before(s.expiry) {
		return time.Time{}, false, nil
	}
	if !expiry.IsZero() {
		s.moves++
	}
	if expiry.After(s.expiry) {
		s.expiry = expiry
	}
	return s.expiry, true, nil
}

// TestSessionGuardFramesKeepSessionAlive: with a frame every 250 ms, the
// session never idles, however the guard's own looks at the store (at
// each expiry it knows of) fall between the frames.
func TestSessionGuardFramesKeepSessionAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 6 * time.Second
		store := &expiringStore{expiry: time.Now().Add(idle)}
		svc, err := chat.NewService(chat.ServiceConfig{Store: store, Hasher: fuzzHasher{}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		g := newSessionGuard(svc, slog.New(slog.DiscardHandler), "key", time.Now().Add(30*24*time.Hour), idle)
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		defer wg.Wait()
		defer stop()
		wg.Go(func() {
			// What watch does: look (without use) just after each expiry
			// the guard knows of.
			for {
				g.mu.Lock()
				at := g.expiry
				g.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at) + 50*time.Millisecond):
				}
				if alive, err := g.check(ctx, false); err != nil || !alive {
					t.Errorf("at %v the session was found gone (%v)", time.Now(), err)
					return
				}
			}
		})
		for end := time.Now().Add(5 * idle); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
			if alive, err := g.active(ctx); err != nil || !alive {
				t.Fatalf("a frame found the session gone (%v)", err)
			}
		}
	})
}

// TestSessionGuardWritesRarely: a socket sending a frame every 250 ms for
// twenty minutes writes its session (moves the stored expiry) at most once
// per idleRefresh, not at every store look; once the frames stop, the
// session still ends after the idle timeout.
func TestSessionGuardWritesRarely(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Hour
		store := &expiringStore{expiry: time.Now().Add(idle)}
		svc, err := chat.NewService(chat.ServiceConfig{Store: store, Hasher: fuzzHasher{}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		g := newSessionGuard(svc, slog.New(slog.DiscardHandler), "key", time.Now().Add(30*24*time.Hour), idle)
		const span = 20 * time.Minute
		// The bubble's clock: each sleep is the pace of the frames, not a
		// wait for anything.
		for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
			if alive, err := g.active(t.Context()); err != nil || !alive {
				t.Fatalf("a frame found the session gone (%v)", err)
			}
		}
		store.mu.Lock()
		moves := store.moves
		store.mu.Unlock()
		// Once per five minutes at most.
		if most := int(span/(5*time.Minute)) + 1; moves > most {
			t.Errorf("%d frames over %v wrote the session %d times, want at most %d", int(span/(250*time.Millisecond)), span, moves, most)
		}
		if moves == 0 {
			t.Error("frames over 20 minutes never moved the session's expiry")
		}
		// Idle: the stored expiry passes (the bubble's clock jumps an
		// hour), and the next frame finds the session gone.
		time.Sleep(idle)
		if alive, err := g.active(t.Context()); err != nil || alive {
			t.Errorf("a frame after an idle hour found the session alive (%v)", err)
		}
	})
}
