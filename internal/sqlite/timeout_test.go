package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/storeguard"
	"github.com/parleychat/parley/internal/storetest"
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

// openGuarded opens the store as the server does, closed when the test
// ends.
func openGuarded(t *testing.T, path string, opts Options) *Guarded {
	t.Helper()
	s, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The conformance suite runs through the guard in
// TestGuardedStore (Open returns the Store guarded).

func TestGuardedSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) (chat.Store, storetest.SessionStore) {
		s := openGuarded(t, filepath.Join(t.TempDir(), "parley.db"), Options{})
		return s, s.Sessions()
	})
}

// TestFullDatabaseIsUnavailable: a database that cannot grow (a full disk,
// here a page limit) refuses writes as EUNAVAILABLE with a wait, not as an
// internal error; reads go on; the outage is logged once, and its end.
func TestFullDatabaseIsUnavailable(t *testing.T) {
	var log syncBuffer
	s := openGuarded(t, filepath.Join(t.TempDir(), "parley.db"), Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := t.Context()
	alice := storetest.NewUser(t, s, "alice")
	// The write connection is the only one, so the limit stays on it.
	var pages int
	if err := s.store.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = s.CreateUser(ctx, chat.User{Username: fmt.Sprintf("user%04d", i), DisplayName: strings.Repeat("x", 500), CreatedAt: chat.Now()}, "hash")
	}
	if chat.ErrorCode(err) != chat.EUNAVAILABLE || chat.RetryAfter(err) <= 0 {
		t.Fatalf("write to a full database: %v, want %s with a retry-after", err, chat.EUNAVAILABLE)
	}
	if e, ok := errors.AsType[*sqlite.Error](err); !ok || e.Code() != sqlite3.SQLITE_FULL {
		t.Errorf("cause = %v, want SQLITE_FULL", err)
	}
	// A second failure within 10 s adds no line.
	if _, err := s.CreateUser(ctx, chat.User{Username: "another", DisplayName: strings.Repeat("y", 500), CreatedAt: chat.Now()}, "hash"); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Fatalf("second write: %v", err)
	}
	if _, err := s.UserByID(ctx, alice.ID); err != nil {
		t.Errorf("read from a full database: %v", err)
	}
	if n := strings.Count(log.String(), `msg="database unavailable"`); n != 1 {
		t.Errorf("%d outage lines for two failures, want 1:\n%s", n, log.String())
	}
	if _, err := s.store.write.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, chat.User{Username: "bob", DisplayName: "Bob", CreatedAt: chat.Now()}, "hash"); err != nil {
		t.Fatalf("write after room was made: %v", err)
	}
	if !strings.Contains(log.String(), `msg="database available again"`) {
		t.Errorf("no line when the database came back:\n%s", log.String())
	}
}

// TestReadOnlyDatabaseIsUnavailable: a database that takes no writes (a
// file system remounted read-only, here query_only) refuses them as
// EUNAVAILABLE, not as an internal error.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	s := openGuarded(t, filepath.Join(t.TempDir(), "parley.db"), Options{})
	ctx := t.Context()
	// The write connection is the only one, so the setting stays on it.
	if _, err := s.store.write.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Alice", CreatedAt: chat.Now()}, "hash")
	if chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("write to a read-only database: %v, want %s", err, chat.EUNAVAILABLE)
	}
	if e, ok := errors.AsType[*sqlite.Error](err); !ok || e.Code()&0xff != sqlite3.SQLITE_READONLY {
		t.Errorf("cause = %v, want SQLITE_READONLY", err)
	}
}

// TestLockedDatabaseGivesUpAtTheDeadline: while another process holds the
// database's write lock, writes give up at the store's deadline with
// EUNAVAILABLE, rather than waiting out the busy timeout (10 s) and failing
// as an internal error; sends too.
func TestLockedDatabaseGivesUpAtTheDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openGuarded(t, path, Options{Timeout: time.Second})
	ctx := t.Context()
	alice := storetest.NewUser(t, s, "alice")
	bob := storetest.NewUser(t, s, "bob")
	c, _, err := s.DirectConversation(ctx, alice.ID, bob.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateUser(ctx, chat.User{Username: "carol", DisplayName: "Carol", CreatedAt: chat.Now()}, "hash")
	if chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("write while the database is locked: %v, want %s", err, chat.EUNAVAILABLE)
	}
	_, err = s.CreateMessage(ctx, chat.Message{ConversationID: c.ID, SenderID: alice.ID, Body: "hi", CreatedAt: chat.Now()})
	if chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("send while the database is locked: %v, want %s", err, chat.EUNAVAILABLE)
	}
	// Two calls ran out their deadline: the next is refused at once
	// rather than made to wait it too.
	if _, err := s.UserByID(ctx, alice.ID); chat.ErrorCode(err) != chat.EUNAVAILABLE || !errors.Is(err, storeguard.ErrNotTried) {
		t.Errorf("read after two calls ran out their deadline: %v, want %s not tried", err, chat.EUNAVAILABLE)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// Served again once the breaker lets a call through (a second after
	// it opened).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.CreateUser(ctx, chat.User{Username: "carol", DisplayName: "Carol", CreatedAt: chat.Now()}, "hash")
		if err == nil {
			break
		}
		if !errors.Is(err, storeguard.ErrNotTried) || time.Now().After(deadline) {
			t.Fatalf("write once the lock is gone: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the poll's interval: what it waits for is the breaker's second
	}
}

// TestDomainErrorsStay: a refusal by the rules keeps its code.
func TestDomainErrorsStay(t *testing.T) {
	s := openGuarded(t, filepath.Join(t.TempDir(), "parley.db"), Options{})
	storetest.NewUser(t, s, "alice")
	_, err := s.CreateUser(t.Context(), chat.User{Username: "alice", DisplayName: "A", CreatedAt: chat.Now()}, "hash")
	if chat.ErrorCode(err) != chat.ECONFLICT {
		t.Errorf("taken username: %v, want %s", err, chat.ECONFLICT)
	}
	if _, err := s.UserByID(t.Context(), 999); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("no such user: %v, want %s", err, chat.ENOTFOUND)
	}
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
