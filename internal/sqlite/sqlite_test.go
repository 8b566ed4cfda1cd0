package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// openTest opens a store, closed when the test ends.
func openTest(t *testing.T, path string, wrap func(driver.Connector) driver.Connector) *Store {
	t.Helper()
	s, err := open(t.Context(), path, wrap)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
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

// TestGuardedStore runs the suite through the guard, as the server opens
// the store.
func TestGuardedStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store {
		// Each send takes the write lock in turn: the suite's hundreds of
		// concurrent sends wait longer than the server's deadline on a
		// busy machine, which is not what the suite tests.
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"), Options{Timeout: 10 * time.Minute})
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
		"temp_store":   "2", // MEMORY
		"cache_size":   "-32768",
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

// PrepareContext counts the runs of the statement it prepares, not the
// preparing.
func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	stmt, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return countingStmt{Stmt: stmt, n: c.n}, nil
}

type countingStmt struct {
	driver.Stmt
	n *atomic.Int64
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.Add(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.Add(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.begins != nil {
		c.begins.Add(1)
	}
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// TestSendBatchIsSetBased: a batch of sends costs a fixed number of
// statements, whatever its size: more messages add none, and each more
// conversation adds two (its counters and its sender's read cursor).
func TestSendBatchIsSetBased(t *testing.T) {
	var statements, begins atomic.Int64
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), func(c driver.Connector) driver.Connector {
		return countingConnector{Connector: c, n: &statements, begins: &begins}
	})
	ctx := t.Context()
	a := storetest.NewUser(t, s, "alice")
	var convs []chat.ConversationID
	for i := range 8 {
		b := storetest.NewUser(t, s, fmt.Sprintf("bob%d", i))
		c, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	sent := 0
	// send stores n messages from alice over the first k conversations
	// and returns the statements and transactions that took.
	send := func(n, k int) (int64, int64) {
		t.Helper()
		ms := make([]chat.Message, n)
		for i := range ms {
			sent++
			ms[i] = chat.Message{ConversationID: convs[i%k], SenderID: a.ID, Body: fmt.Sprint("m", sent), ClientID: fmt.Sprint("c", sent), CreatedAt: chat.Now()}
		}
		statements.Store(0)
		begins.Store(0)
		rs, err := s.CreateMessages(ctx, ms)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Err != nil || !r.Stored.Changed {
				t.Fatalf("a send of the batch: %+v", r)
			}
		}
		return statements.Load(), begins.Load()
	}
	// The statements of each size are prepared on first use.
	send(1, 1)
	send(64, 1)
	send(64, 8)
	one, tx := send(1, 1)
	if tx != 1 {
		t.Errorf("%d transactions for one send", tx)
	}
	if many, tx := send(64, 1); many != one || tx != 1 {
		t.Errorf("64 sends to one conversation: %d statements in %d transactions; one send takes %d in 1", many, tx, one)
	}
	if spread, tx := send(64, 8); spread != one+2*7 || tx != 1 {
		t.Errorf("64 sends over 8 conversations: %d statements in %d transactions, want %d in 1", spread, tx, one+2*7)
	}
}
