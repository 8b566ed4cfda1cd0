package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/storeguard"
	"github.com/parleychat/parley/internal/storetest"
	"github.com/parleychat/parley/internal/testenv"
)

// syncBuffer is a log destination that tests may read while the store
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

// openBehindProxy opens the store as the server does, in a schema of its
// own, reaching the database through a [testenv.FaultProxy].
func openBehindProxy(t *testing.T, opts Options) (*Guarded, *testenv.FaultProxy) {
	t.Helper()
	u, err := url.Parse(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.NewFaultProxy(t, u.Host)
	u.Host = p.Addr()
	q := u.Query()
	q.Set("search_path", newSchema(t))
	// One connection, so that a test knows which one the next call uses.
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	s, err := Open(t.Context(), u.String(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s, p
}

// TestCutDatabaseIsUnavailable: with the database's connections cut and
// new ones refused, calls end EUNAVAILABLE with a wait, not internal; the
// outage is logged once however many calls meet it, and its end once.
func TestCutDatabaseIsUnavailable(t *testing.T) {
	var log syncBuffer
	s, p := openBehindProxy(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := t.Context()
	alice := storetest.NewUser(t, s, "alice")
	p.Cut()
	for range 3 {
		if _, err := s.UserByID(ctx, alice.ID); chat.ErrorCode(err) != chat.EUNAVAILABLE || chat.RetryAfter(err) <= 0 {
			t.Fatalf("read with the database cut: %v, want %s with a retry-after", err, chat.EUNAVAILABLE)
		}
	}
	if _, err := s.CreateUser(ctx, chat.User{Username: "bob", DisplayName: "Bob", CreatedAt: chat.Now()}, "hash"); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Fatalf("write with the database cut: %v, want %s", err, chat.EUNAVAILABLE)
	}
	if n := strings.Count(log.String(), `msg="database unavailable"`); n != 1 {
		t.Errorf("%d outage lines for four failures, want 1:\n%s", n, log.String())
	}
	p.Mend()
	if _, err := s.UserByID(ctx, alice.ID); err != nil {
		t.Fatalf("read once the database is back: %v", err)
	}
	if !strings.Contains(log.String(), `msg="database available again"`) {
		t.Errorf("no line when the database came back:\n%s", log.String())
	}
}

// TestStalledDatabaseGivesUpAtTheDeadline: a database that stops
// answering (no byte moves, the connections stay open) makes calls end
// EUNAVAILABLE at the store's deadline rather than hang.
func TestStalledDatabaseGivesUpAtTheDeadline(t *testing.T) {
	s, p := openBehindProxy(t, Options{Timeout: time.Second})
	ctx := t.Context()
	alice := storetest.NewUser(t, s, "alice")
	p.Stall()
	if _, err := s.UserByID(ctx, alice.ID); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("read with the database stalled: %v, want %s", err, chat.EUNAVAILABLE)
	}
	if _, err := s.CreateUser(ctx, chat.User{Username: "bob", DisplayName: "Bob", CreatedAt: chat.Now()}, "hash"); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("write with the database stalled: %v, want %s", err, chat.EUNAVAILABLE)
	}
	// Two calls ran out their deadline: the next is refused at once
	// rather than made to wait it too.
	if _, err := s.UserByID(ctx, alice.ID); chat.ErrorCode(err) != chat.EUNAVAILABLE || !errors.Is(err, storeguard.ErrNotTried) {
		t.Errorf("read after two stalled calls: %v, want %s not tried", err, chat.EUNAVAILABLE)
	}
	p.Mend()
	// The stalled connections were given up; new ones serve, once the
	// breaker lets a call through again (a second after it opened).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.UserByID(ctx, alice.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, storeguard.ErrNotTried) || time.Now().After(deadline) {
			t.Fatalf("read once the database answers again: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the poll's interval: what it waits for is the breaker's second
	}
}

// TestTerminatedBackendIsUnavailable: a connection the database ends
// (pg_terminate_backend, as a restart or a failover does) fails the call
// that meets it with EUNAVAILABLE, not internal; the next call gets a new
// connection.
func TestTerminatedBackendIsUnavailable(t *testing.T) {
	s, _ := openBehindProxy(t, Options{})
	ctx := t.Context()
	alice := storetest.NewUser(t, s, "alice")
	var pid int
	// The pool's one connection, which the next call will use again.
	if err := s.store.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, alice.ID); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("read on a terminated connection: %v, want %s", err, chat.EUNAVAILABLE)
	}
	if _, err := s.UserByID(ctx, alice.ID); err != nil {
		t.Errorf("read after: %v", err)
	}
}

// TestDomainErrorsStay: a refusal by the rules keeps its code.
func TestDomainErrorsStay(t *testing.T) {
	s, _ := openBehindProxy(t, Options{})
	storetest.NewUser(t, s, "alice")
	_, err := s.CreateUser(t.Context(), chat.User{Username: "alice", DisplayName: "A", CreatedAt: chat.Now()}, "hash")
	if chat.ErrorCode(err) != chat.ECONFLICT {
		t.Errorf("taken username: %v, want %s", err, chat.ECONFLICT)
	}
	if _, err := s.UserByID(t.Context(), 999); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("no such user: %v, want %s", err, chat.ENOTFOUND)
	}
}

func TestGuardedSessions(t *testing.T) {
	testDSN(t)
	storetest.RunSessions(t, func(t *testing.T) (chat.Store, storetest.SessionStore) {
		s, _ := openBehindProxy(t, Options{})
		return s, s.Sessions()
	})
}

// TestGuardedCoversStore: Guarded takes every chat.Store method from the
// embedded storeguard.Store (which runs each through the guard) or
// defines it itself, leaving none to the store's own (which would run it
// without a deadline): a promoted method is a wrapper the compiler
// generates, with no source file, so whose it is is told by the embedded
// field that has it. (The guarded sessions are storeguard's, which
// implements chat.SessionStore's every method itself.)
func TestGuardedCoversStore(t *testing.T) {
	// check fails for a method of guarded neither defined in timeout.go
	// nor promoted from an embedded field of type via, the only embedded
	// field that has it.
	check := func(guarded reflect.Type, names []string, via reflect.Type) {
		for _, name := range names {
			m, ok := guarded.MethodByName(name)
			if !ok {
				t.Fatalf("%v has no %s", guarded, name)
			}
			f := runtime.FuncForPC(m.Func.Pointer())
			file, _ := f.FileLine(f.Entry())
			if strings.HasSuffix(file, "/timeout.go") {
				continue
			}
			if file != "<autogenerated>" {
				t.Errorf("%v.%s is defined in %s, not timeout.go", guarded, name, file)
				continue
			}
			var from []reflect.Type
			for i := range guarded.Elem().NumField() {
				if field := guarded.Elem().Field(i); field.Anonymous {
					if _, ok := field.Type.MethodByName(name); ok {
						from = append(from, field.Type)
					}
				}
			}
			if via == nil || len(from) != 1 || from[0] != via {
				t.Errorf("%v.%s is promoted from %v, not from %v alone", guarded, name, from, via)
			}
		}
	}
	var names []string
	for m := range reflect.TypeFor[chat.Store]().Methods() {
		names = append(names, m.Name)
	}
	check(reflect.TypeFor[*Guarded](), names, reflect.TypeFor[*storeguard.Store]())
}
