package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// openTest opens a store with its group-commit writer running until the
// test ends.
func openTest(t *testing.T, path string, wrap func(driver.Connector) driver.Connector) *Store {
	t.Helper()
	s, err := open(t.Context(), path, wrap)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store {
		return openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	})
}

func TestStoreSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) (chat.Store, storetest.SessionStore) {
		s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
		return s, s.Sessions()
	})
}

// TestStoreWithoutGroupCommit runs the suite with every send committing
// alone, the mode -sqlite-group-commit=false selects.
func TestStoreWithoutGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store {
		// Each send takes the write lock in turn: the suite's hundreds of
		// concurrent sends wait longer than the server's deadline on a
		// busy machine, which is not what the suite tests.
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"), Options{NoGroupCommit: true, Timeout: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	first, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.NewUser(t, first, "alice")
	first.Close()

	// A second start applies nothing and keeps the data.
	s := openTest(t, path, nil)
	var applied int
	if err := s.read.QueryRowContext(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(entries) + len(goMigrations()); applied != want {
		t.Errorf("migrations recorded = %d, want %d (one row each, none twice)", applied, want)
	}
	if _, err := s.UserByID(t.Context(), alice.ID); err != nil {
		t.Errorf("user lost across restart: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "2", // FULL
		"busy_timeout": "10000",
	} {
		var got string
		if err := s.write.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	if _, err := s.read.ExecContext(t.Context(), `DELETE FROM users`); err == nil {
		t.Error("a read connection could write")
	}
}

// TestConversationListIsOneStatement proves the conversation list has no
// N+1: a page costs one statement whatever its size.
func TestConversationListIsOneStatement(t *testing.T) {
	var statements atomic.Int64
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), func(c driver.Connector) driver.Connector {
		return countingConnector{Connector: c, n: &statements}
	})
	ctx := t.Context()
	me := storetest.NewUser(t, s, "me")
	for i := range 30 {
		other := storetest.NewUser(t, s, fmt.Sprintf("other%02d", i))
		c, _, err := s.DirectConversation(ctx, me.ID, other.ID, chat.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: c.ID, SenderID: other.ID, Body: "hi", CreatedAt: chat.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 30} {
		statements.Store(0)
		rows, err := s.Conversations(ctx, chat.ConversationQuery{UserID: me.ID, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != limit {
			t.Fatalf("page of %d: got %d rows", limit, len(rows))
		}
		for _, r := range rows {
			if r.OtherUser == nil || r.LastMessage == nil || r.UnreadCount() != 1 {
				t.Fatalf("page of %d: incomplete row %+v", limit, r)
			}
		}
		if n := statements.Load(); n != 1 {
			t.Errorf("page of %d conversations took %d statements, want 1", limit, n)
		}
	}
}

// countingConnector counts the statements run on its connections.
type countingConnector struct {
	driver.Connector
	n      *atomic.Int64
	begins *atomic.Int64 // transactions begun, when set
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn, n: c.n, begins: c.begins}, nil
}

type countingConn struct {
	driver.Conn
	n      *atomic.Int64
	begins *atomic.Int64
}

func (c countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.begins != nil {
		c.begins.Add(1)
	}
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// TestGroupCommitGathersSends: sends that arrive while a transaction is
// under way are committed together in the next one, each acked only after
// it.
func TestGroupCommitGathersSends(t *testing.T) {
	var begins atomic.Int64
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), func(c driver.Connector) driver.Connector {
		return countingConnector{Connector: c, n: new(atomic.Int64), begins: &begins}
	})
	ctx := t.Context()
	a, b := storetest.NewUser(t, s, "alice"), storetest.NewUser(t, s, "bob")
	conv, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	acked := make(chan chat.Message, n)
	// The senders are joined at the end, when t.Context has ended: any
	// still waiting (the test failed) give up then.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	sendOne := func(i int) {
		wg.Go(func() {
			stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: conv.ID, SenderID: a.ID, Body: fmt.Sprint("m", i), CreatedAt: chat.Now()})
			m := stored.Message
			if err != nil {
				t.Error(err)
			}
			acked <- m
		})
	}
	// until polls cond; the deadline is for a writer that never gets there.
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15 s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Hold the write connection (the store's only one). A first send is
	// then taken by the writer, alone, and the writer waits for the
	// connection: the write pool counts that wait.
	hold, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// If the test fails while holding it, the writer still gets it back
	// before it is stopped; a second Rollback does nothing.
	t.Cleanup(func() { _ = hold.Rollback() })
	waits := s.write.Stats().WaitCount
	sendOne(0)
	until("the writer waits for the connection with the first send", func() bool {
		return s.write.Stats().WaitCount > waits
	})
	// The writer reads no more sends until that transaction is done, so
	// the others all queue up.
	for i := 1; i < n; i++ {
		sendOne(i)
	}
	until(fmt.Sprintf("%d sends queued behind the writer", n-1), func() bool { return len(s.sends) == n-1 })
	select {
	case <-acked:
		t.Fatal("a send was acked before anything could commit")
	default:
	}
	begins.Store(0)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]bool{}
	for range n {
		seqs[(<-acked).Seq] = true
	}
	if len(seqs) != n {
		t.Errorf("%d distinct seqs for %d sends", len(seqs), n)
	}
	// One transaction for the first send, one for all the queued ones.
	if got := begins.Load(); got != 2 {
		t.Errorf("%d transactions for a send and %d queued behind it, want 2", got, n-1)
	}
}
