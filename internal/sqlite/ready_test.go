package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/storetest"
)

// fileSizes returns the sizes of the database file and its write-ahead log.
func fileSizes(t *testing.T, path string) string {
	t.Helper()
	var out string
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %d; ", filepath.Base(p), st.Size())
	}
	return out
}

// TestWritableFullDatabase: when the database can grow no more
// (max_page_count reached: sends fail with SQLITE_FULL), Writable says so,
// though a plain read still answers; with room again it is writable.
func TestWritableFullDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	ctx := t.Context()
	if err := s.Writable(ctx); err != nil {
		t.Fatalf("Writable of a fresh database: %v", err)
	}
	// The store's writer is one connection: the limit is its own.
	var pages int
	if err := s.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	var limit int
	if err := s.write.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)).Scan(&limit); err != nil || limit != pages {
		t.Fatalf("max_page_count = %d, %v; want %d", limit, err, pages)
	}
	if err := s.Writable(ctx); err == nil {
		t.Error("Writable of a database at its max_page_count: nil")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping of a full database: %v (reads still work)", err)
	}
	if _, err := s.write.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable with room again: %v", err)
	}
}

// TestWritableLocked: while another process holds the database's write
// lock, Writable fails within its context; once the lock is let go it
// succeeds.
func TestWritableLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := s.Writable(ctx); err == nil {
		t.Error("Writable while another process holds the write lock: nil")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(t.Context()); err != nil {
		t.Errorf("Writable once the lock is free: %v", err)
	}
}

// TestWritableWritesNothing: probing leaves the database and its log the
// size they were and the probe's table empty.
func TestWritableWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	ctx := t.Context()
	storetest.NewUser(t, s, "alice")
	if err := s.Writable(ctx); err != nil {
		t.Fatal(err)
	}
	before := fileSizes(t, path)
	for range 200 {
		if err := s.Writable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after := fileSizes(t, path); after != before {
		t.Errorf("200 probes changed the files: %s → %s", before, after)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM readiness_probe`).Scan(&n); err != nil || n != 0 {
		t.Errorf("readiness_probe holds %d rows (%v), want 0", n, err)
	}
}
