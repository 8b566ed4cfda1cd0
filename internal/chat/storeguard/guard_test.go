package storeguard

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

var errTimeout = errors.New("test: call exceeded its deadline")

// classify is the stores' rule for a deadline: a call cut off by it is
// unavailable.
func classify(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeout) {
		return chat.Unavailable("the database", errors.Join(errTimeout, err))
	}
	return err
}

// database is a chat.Store whose Ping answers, or stalls until its
// context ends; every other method panics (its chat.Store is nil), so a
// call that reaches it shows.
type database struct {
	chat.Store
	stalled atomic.Bool
	pings   atomic.Int64
}

func (d *database) Ping(ctx context.Context) error {
	d.pings.Add(1)
	if d.stalled.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// syncBuffer is a log destination that tests may read while the guard
// writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newStore(t *testing.T, log *syncBuffer) (*Store, *database) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if log != nil {
		logger = slog.New(slog.NewTextHandler(log, nil))
	}
	db := &database{}
	g := NewGuard(Config{Timeout: 20 * time.Millisecond, Logger: logger, Classify: classify, TimeoutCause: errTimeout})
	return New(db, g), db
}

// TestStallOpensTheBreaker: calls that run out the deadline end
// EUNAVAILABLE; after two in a row the next is refused at once without
// reaching the database, and once the breaker's second is over one is
// tried again. The outage is logged, and its end.
func TestStallOpensTheBreaker(t *testing.T) {
	var log syncBuffer
	s, db := newStore(t, &log)
	ctx := t.Context()
	db.stalled.Store(true)
	for range 2 {
		if err := s.Ping(ctx); chat.ErrorCode(err) != chat.EUNAVAILABLE || !errors.Is(err, errTimeout) {
			t.Fatalf("ping of a stalled database: %v, want %s at the deadline", err, chat.EUNAVAILABLE)
		}
	}
	if err := s.Ping(ctx); chat.ErrorCode(err) != chat.EUNAVAILABLE || !errors.Is(err, ErrNotTried) {
		t.Errorf("ping after two stalled calls: %v, want %s not tried", err, chat.EUNAVAILABLE)
	}
	if n := db.pings.Load(); n != 2 {
		t.Errorf("the database got %d calls, want 2: the refused one reached it", n)
	}
	if !strings.Contains(log.String(), "database unavailable") {
		t.Errorf("no outage line:\n%s", log.String())
	}
	db.stalled.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNotTried) || time.Now().After(deadline) {
			t.Fatalf("ping once the database answers again: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // the poll's interval: what it waits for is the breaker's second
	}
	if !strings.Contains(log.String(), "database available again") {
		t.Errorf("no line when the database came back:\n%s", log.String())
	}
}

// TestCallerGivingUpKeepsTheBreakerClosed: calls that end because their
// caller gave up (not at the guard's deadline) say nothing of the
// database: they do not stop the next call from being tried.
func TestCallerGivingUpKeepsTheBreakerClosed(t *testing.T) {
	s, db := newStore(t, nil)
	db.stalled.Store(true)
	for range 3 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Ping(ctx); !errors.Is(err, context.Canceled) || chat.ErrorCode(err) == chat.EUNAVAILABLE {
			t.Fatalf("ping the caller gave up on: %v, want its cancellation", err)
		}
	}
	if n := db.pings.Load(); n != 3 {
		t.Errorf("the database got %d calls, want 3: a call was refused", n)
	}
}

// TestEveryMethodIsGuarded: every chat.Store method of Store goes through
// the guard: with the breaker open, each is refused with ErrNotTried
// rather than reaching the database.
func TestEveryMethodIsGuarded(t *testing.T) {
	s, db := newStore(t, nil)
	stall := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ctxType := reflect.TypeFor[context.Context]()
	for m := range reflect.TypeFor[chat.Store]().Methods() {
		// Opened anew for each method, well within its second.
		for range 2 {
			_ = s.Guard().Run(t.Context(), stall)
		}
		f := reflect.ValueOf(s).MethodByName(m.Name)
		args := make([]reflect.Value, f.Type().NumIn())
		for i := range args {
			args[i] = reflect.Zero(f.Type().In(i))
			if f.Type().In(i) == ctxType {
				args[i] = reflect.ValueOf(t.Context())
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s reached the database past an open breaker: %v", m.Name, r)
				}
			}()
			out := f.Call(args)
			err, _ := out[len(out)-1].Interface().(error)
			if !errors.Is(err, ErrNotTried) {
				t.Errorf("%s with the breaker open: %v, want not tried", m.Name, err)
			}
		}()
	}
	if n := db.pings.Load(); n != 0 {
		t.Errorf("the database got %d pings, want none", n)
	}
}
