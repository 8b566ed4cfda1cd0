package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	stdmaps "maps"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/parleychat/parley/internal/wire"
)

// sessionRows returns every stored session's expiry and data, by token,
// read from the SQLite file at path through a connection of the test's own.
func sessionRows(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT token, expiry, data FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var token string
		var expiry int64
		var data []byte
		if err := rows.Scan(&token, &expiry, &data); err != nil {
			t.Fatal(err)
		}
		got[token] = fmt.Sprintf("expiry %d data %x", expiry, data)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestReadsDoNotWriteSessions: reading (GETs of pages and the API),
// reconnecting WebSockets and sending frames on them leave the session
// rows as they were, expiry included: with the default idle timeout, use
// within a few minutes of the last write writes nothing.
func TestReadsDoNotWriteSessions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": path, "PARLEY_LIST_RATE": "1000", "PARLEY_LIST_BURST": "1000", "PARLEY_READ_RATE": "1000", "PARLEY_READ_BURST": "1000"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "hello", "c1")
	before := sessionRows(t, path)
	if len(before) != 2 {
		t.Fatalf("%d sessions stored, want 2 (alice's and bob's)", len(before))
	}

	for range 50 {
		for _, p := range []string{"/api/v1/me", "/api/v1/conversations", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), "/"} {
			if status, raw := alice.do("GET", p, nil); status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", p, status, raw)
			}
		}
		bob.call("GET", "/api/v1/me", nil, http.StatusOK, nil)
	}
	for range 10 { // reconnects, each with a few frames
		a := alice.openTab("alice")
		for range 10 {
			a.send(frame("read", conv, "seq", 1))
		}
		a.sync()
		a.conn.Close() // a reconnect: the next tab opens after this one closed
	}
	if after := sessionRows(t, path); !stdmaps.Equal(after, before) {
		t.Errorf("reads rewrote sessions:\nbefore %v\nafter  %v", before, after)
	}
}

// TestRequestsKeepSessionFromIdling: requests still move a session's
// expiry, so use keeps it alive well past the idle timeout; once unused
// for the idle timeout it ends.
func TestRequestsKeepSessionFromIdling(t *testing.T) {
	t.Parallel()
	const idle = 4 * time.Second
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": idle.String()})
	alice := register(t, s, "alice")
	// Not a wait for a condition: the session must stay alive through
	// this whole stretch, two and a half idle timeouts of requests.
	pace := time.NewTicker(100 * time.Millisecond)
	defer pace.Stop()
	last := time.Now()
	for end := time.Now().Add(idle * 5 / 2); time.Now().Before(end); <-pace.C {
		alice.call("GET", "/api/v1/me", nil, http.StatusOK, nil)
		last = time.Now()
	}
	token := sessionCookie(t, alice, s)
	waitUntil(t, "the idle timeout passes after the last request", func() bool { return time.Since(last) > idle })
	// The cookie's own expiry has passed in the jar: it is sent by hand.
	req, err := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "parley_session", Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /me after %v unused: %d, want 401", idle, resp.StatusCode)
	}
}

// TestReadsWorkWhileSessionsCannotBeWritten: when a session's expiry is
// due to move but the database cannot take the write (another process
// holds its write lock past -db-timeout), a read still gets its answer,
// whole and alone, not an error with the answer appended.
func TestReadsWorkWhileSessionsCannotBeWritten(t *testing.T) {
	t.Parallel()
	const idle = 8 * time.Second // the expiry moves when a second stale
	path := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": path, "PARLEY_SESSION_IDLE": idle.String(), "PARLEY_DB_TIMEOUT": "1s"})
	alice := register(t, s, "alice")
	signedIn := time.Now()

	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin() // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	waitUntil(t, "the session's expiry is due to move", func() bool { return time.Since(signedIn) > 1500*time.Millisecond })
	status, raw := alice.do("GET", "/api/v1/me", nil)
	var me wire.UserResponse
	if status != http.StatusOK || json.Unmarshal(raw, &me) != nil || me.User.Username != "alice" {
		t.Fatalf("GET /me with the database locked: %d %s; want 200 and alice alone", status, raw)
	}
}
