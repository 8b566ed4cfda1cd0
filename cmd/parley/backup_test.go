package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, to check the copy as a file

	"github.com/parleychat/parley/internal/wire"
)

// noEnv is a getenv with nothing set.
func noEnv(string) string { return "" }

// history pages through a conversation's whole history, ascending by seq.
func (c *client) history(conv int64) []wire.Message {
	c.t.Helper()
	var all []wire.Message
	for after := int64(0); ; {
		page := c.messages(conv, fmt.Sprintf("after_seq=%d&limit=100", after))
		all = append(all, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return all
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

// integrityCheck returns what PRAGMA integrity_check says of the SQLite
// file at path: "ok" when it finds nothing wrong.
func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&result); err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	return result
}

// TestBackupWhileServing: `parley backup` copies the database of a server
// that keeps taking messages during the copy; the copy passes
// integrity_check, and a server started on it has every message acked
// before the backup began, with history dense (no seq missing), and the
// sender still signed in.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	var acked []wire.Message
	for i := range 200 {
		acked = append(acked, alice.send(conv, fmt.Sprintf("before the backup %d", i), fmt.Sprintf("before-%d", i)))
	}

	out := filepath.Join(dir, "backup.db")
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"parley", "backup", "-db", db, "-to", out}, noEnv, &stdout, &stderr)
	}()
	// Sends go on while the copy is made; each is acked by the server.
	during := 0
	for copying := true; copying; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("backup: %v\n%s", err, stderr.String())
			}
			copying = false
		default:
			bob.send(conv, fmt.Sprintf("during the backup %d", during), fmt.Sprintf("during-%d", during))
			during++
		}
	}
	after := bob.send(conv, "after the backup", "after")
	if !strings.Contains(stdout.String(), out) {
		t.Errorf("backup said %q, want it to name %s", stdout.String(), out)
	}
	if got := integrityCheck(t, out); got != "ok" {
		t.Fatalf("the copy's integrity_check: %q", got)
	}

	restored := startServer(t, map[string]string{"PARLEY_DB": out})
	history := alice.on(restored).history(conv)
	if len(history) < len(acked) {
		t.Fatalf("the copy holds %d messages, want at least the %d acked before the backup", len(history), len(acked))
	}
	for i, m := range history {
		if m.Seq != int64(i+1) {
			t.Fatalf("the copy's history has seq %d at place %d: not dense", m.Seq, i+1)
		}
		if i < len(acked) && (m.Body != acked[i].Body || m.Seq != acked[i].Seq) {
			t.Fatalf("the copy's message %d is %d %q, want %d %q", i, m.Seq, m.Body, acked[i].Seq, acked[i].Body)
		}
		if m.Seq >= after.Seq {
			t.Fatalf("the copy holds %q, sent after the backup ended", m.Body)
		}
	}
	t.Logf("%d messages sent during the backup, %d of them in the copy", during, len(history)-len(acked))
}

// TestBackupRefusals: an existing -to is left alone, a PostgreSQL -db
// (flag or PARLEY_DB) is sent to pg_dump, and a -db that does not exist
// creates nothing.
func TestBackupRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "hello", "1")

	backup := func(getenv func(string) string, args ...string) error {
		var stdout, stderr bytes.Buffer
		return run(t.Context(), append([]string{"parley", "backup"}, args...), getenv, &stdout, &stderr)
	}

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := backup(noEnv, "-db", db, "-to", existing)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v, want a refusal saying it exists", err)
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep me" {
		t.Errorf("the existing file after the refusal: %q, %v", b, err)
	}

	pg := "postgres://parley@127.0.0.1:5432/parley?sslmode=disable"
	for name, try := range map[string]func() error{
		"flag":      func() error { return backup(noEnv, "-db", pg, "-to", filepath.Join(dir, "pg-flag.db")) },
		"PARLEY_DB": func() error { return backup(environment{"PARLEY_DB": pg}.get, "-to", filepath.Join(dir, "pg-env.db")) },
		"key/value": func() error {
			return backup(noEnv, "-db", "host=127.0.0.1 dbname=parley", "-to", filepath.Join(dir, "pg-kv.db"))
		},
	} {
		if err := try(); err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Errorf("backup of a PostgreSQL -db by %s: %v, want a refusal pointing at pg_dump", name, err)
		}
	}

	missing := filepath.Join(dir, "missing.db")
	if err := backup(noEnv, "-db", missing, "-to", filepath.Join(dir, "missing-copy.db")); err == nil {
		t.Error("backup of a database that does not exist: no error")
	}
	for _, name := range []string{"pg-flag.db", "pg-env.db", "pg-kv.db", "missing.db", "missing-copy.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s after a refused backup: %v, want it not to exist", name, err)
		}
	}
	if err := backup(noEnv, "-db", db); err == nil || !strings.Contains(err.Error(), "-to") {
		t.Errorf("backup without -to: %v, want an error naming -to", err)
	}
}

// environment is a set of environment variables.
type environment map[string]string

func (e environment) get(k string) string { return e[k] }
