package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
	"github.com/parleychat/parley/internal/testenv"
)

var _ scs.CtxStore = chat.Sessions{}

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Postgres)) }

// testDSN returns the database the tests may use, or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	return testenv.Need(t, testenv.Postgres)
}

// newSchema creates a schema of its own for one test, dropped when the test
// ends, and returns its name: every store opened in it starts empty.
func newSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	name := "t_" + strings.ToLower(rand.Text())
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(t.Context(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		if err := exec(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openTest opens a store in schema, closed when the test ends (before the
// schema is dropped), after configure has had its say.
func openTest(t testing.TB, schema string, configure func(*pgxpool.Config)) *Store {
	t.Helper()
	s, err := open(t.Context(), testDSN(t), func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["search_path"] = schema
		if configure != nil {
			configure(c)
		}
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestStore(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) chat.Store {
		return openTest(t, newSchema(t), nil)
	})
}

func TestStoreSessions(t *testing.T) {
	testDSN(t)
	storetest.RunSessions(t, func(t *testing.T) (chat.Store, storetest.SessionStore) {
		s := openTest(t, newSchema(t), nil)
		return s, s.Sessions()
	})
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	schema := newSchema(t)
	s := openTest(t, schema, nil)
	alice := storetest.NewUser(t, s, "alice")
	s.Close()

	// Several nodes starting at once: the migration lock makes them take
	// turns, and none applies anything again or loses data.
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = open(t.Context(), testDSN(t), func(c *pgxpool.Config) {
				c.ConnConfig.RuntimeParams["search_path"] = schema
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open %d: %v", i, err)
		}
		t.Cleanup(stores[i].Close)
	}
	s = stores[0]
	var applied int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer func() { _ = db.Close() }()
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.ListSources()); applied != n {
		t.Errorf("migrations recorded = %d, want %d (one row each, none twice)", applied, n)
	}
	got, err := s.UserByID(t.Context(), alice.ID)
	if err != nil {
		t.Fatalf("user lost across restart: %v", err)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
	}
}

// TestConversationListIsOneStatement proves the conversation list has no
// N+1: a page costs one statement whatever its size.
func TestConversationListIsOneStatement(t *testing.T) {
	var statements atomic.Int64
	s := openTest(t, newSchema(t), func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = countingTracer{n: &statements}
	})
	ctx := t.Context()
	me := storetest.NewUser(t, s, "me")
	var first chat.ConversationID
	for i := range 30 {
		other := storetest.NewUser(t, s, fmt.Sprintf("other%02d", i))
		c, _, err := s.DirectConversation(ctx, me.ID, other.ID, chat.Now())
		if err != nil {
			t.Fatal(err)
		}
		if first == 0 {
			first = c.ID
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
	statements.Store(0)
	if _, err := s.Conversation(ctx, me.ID, first); err != nil {
		t.Fatal(err)
	}
	if n := statements.Load(); n != 1 {
		t.Errorf("one conversation took %d statements, want 1", n)
	}
}

// countingTracer counts the statements run on the pool's connections.
type countingTracer struct{ n *atomic.Int64 }

func (c countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestSessions(t *testing.T) {
	s := openTest(t, newSchema(t), nil)
	ss := s.Sessions()
	ctx := t.Context()
	find := func(token string) ([]byte, bool) {
		t.Helper()
		data, found, err := ss.FindCtx(ctx, token)
		if err != nil {
			t.Fatalf("FindCtx(%q): %v", token, err)
		}
		return data, found
	}

	if _, found := find("none"); found {
		t.Error("found a session never committed")
	}
	if err := ss.CommitCtx(ctx, "tok", []byte("one"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if data, found := find("tok"); !found || string(data) != "one" {
		t.Errorf("after commit: %q, %v; want \"one\", true", data, found)
	}
	// A second commit replaces data and expiry.
	if err := ss.Commit("tok", []byte{0, 1, 2, 0xff}, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if data, found, err := ss.Find("tok"); err != nil || !found || string(data) != "\x00\x01\x02\xff" {
		t.Errorf("after recommit: %q, %v, %v; want the new bytes", data, found, err)
	}
	// An expired session is not found, even before it is swept.
	if err := ss.CommitCtx(ctx, "old", []byte("stale"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found := find("old"); found {
		t.Error("found an expired session")
	}
	if err := ss.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	if _, found := find("tok"); found {
		t.Error("found a deleted session")
	}
	if err := ss.DeleteCtx(ctx, "never there"); err != nil {
		t.Errorf("deleting an unknown token: %v", err)
	}

	// Run sweeps the expired session and keeps the live one, until its
	// context ends.
	if err := ss.CommitCtx(ctx, "live", []byte("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ss.Run(runCtx, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	rows := func() map[string]bool {
		r, err := s.pool.Query(ctx, `SELECT token FROM sessions`)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, tok := range tokens {
			m[tok] = true
		}
		return m
	}
	// Run sweeps every 10 ms; the deadline is for a Run that never does.
	deadline := time.Now().Add(15 * time.Second)
	for rows()["old"] {
		if time.Now().After(deadline) {
			t.Fatal("Run did not delete the expired session within 15 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if !rows()["live"] {
		t.Error("Run deleted a live session")
	}
	if data, found := find("live"); !found || string(data) != "live" {
		t.Errorf("live session: %q, %v", data, found)
	}
}
