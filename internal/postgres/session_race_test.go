package postgres

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// TestSessionCommitRacingEnd: a session committed while its user's
// sessions are being ended (their transaction open: a password change or
// an account closure under way) does not outlive them. The commit waits
// for the ending and then finds the session ended; before, it saw the
// session not yet ended, wrote it, and the ending, already past its
// deletion, left it behind.
func TestSessionCommitRacingEnd(t *testing.T) {
	s := openTest(t, newSchema(t), nil)
	ss := s.Sessions()
	ctx := t.Context()
	u, err := s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Alice", CreatedAt: time.Now()}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BindSession(ctx, u.ID, "tok", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // committed below; a no-op then
	if _, err := endSessions(ctx, tx, u.ID, ""); err != nil {
		t.Fatal(err)
	}

	committed := make(chan error, 1)
	go func() { committed <- ss.CommitCtx(ctx, "tok", []byte("data"), time.Now().Add(time.Hour)) }()
	// Let the commit get as far as it can while the ending is open: done,
	// or waiting for the ending's lock.
	var result error
	done := false
	for deadline := time.Now().Add(10 * time.Second); !done && time.Now().Before(deadline); {
		select {
		case result = <-committed:
			done = true
			continue
		default:
		}
		var waiting int
		if err := s.pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO sessions%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		// pg_stat_activity cannot be waited on, only looked at: this is
		// the pause between two looks, not a window the test relies on.
		// The assertion below holds whichever way the loop ends.
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !done {
		result = <-committed
	}
	if result != nil {
		t.Fatalf("commit: %v", result)
	}
	if data, found, err := ss.FindCtx(ctx, "tok"); err != nil || found {
		t.Errorf("after its user's sessions ended, the session racing the ending is still there: %q, %v, %v", data, found, err)
	}
}
