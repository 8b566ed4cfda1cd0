package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestSessionCheckIsARead: checking that a session is alive without
// moving its expiry (a WebSocket's periodic check) reads: it answers while
// another process holds the database's write lock, where a write would
// wait for it.
func TestSessionCheckIsARead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	ctx := t.Context()
	expiry := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	if err := s.Sessions().CommitCtx(ctx, "k1", []byte("data"), expiry); err != nil {
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
	defer conn.ExecContext(context.Background(), `ROLLBACK`) //nolint:errcheck // the test is over

	check, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, alive, err := s.TouchSession(check, "k1", time.Time{})
	if err != nil || !alive || !got.Equal(expiry) {
		t.Errorf("TouchSession(zero) with the write lock held = %v, %v, %v; want %v, true", got, alive, err, expiry)
	}
	if _, alive, err := s.TouchSession(check, "nope", time.Time{}); err != nil || alive {
		t.Errorf("TouchSession(zero) of no session = %v, %v; want false", alive, err)
	}
}
