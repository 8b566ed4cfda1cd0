package main

import (
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// readyz returns /readyz's status and body.
func readyz(t *testing.T, s *server) (int, string) {
	t.Helper()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestReadyzDatabaseWritable: /readyz is 200 while the SQLite database can
// take writes, and 503 naming the database while it cannot — another
// process holds its write lock, so every send would wait and fail, though
// reads still answer — then 200 again once the lock is let go.
func TestReadyzDatabaseWritable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": path})
	alice := register(t, s, "alice")
	if status, body := readyz(t, s); status != http.StatusOK {
		t.Fatalf("/readyz: %d %q, want 200", status, body)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin() // BEGIN IMMEDIATE: the write lock, held
	if err != nil {
		t.Fatal(err)
	}
	status, body := readyz(t, s)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Errorf("/readyz with the database locked: %d %q, want 503 naming the database", status, body)
	}
	// Reads still work: a ping would have said ready.
	alice.call("GET", "/api/v1/me", nil, http.StatusOK, nil)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "/readyz is 200 once the lock is let go", func() bool {
		status, _ := readyz(t, s)
		return status == http.StatusOK
	})
}
