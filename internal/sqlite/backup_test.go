package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/internal/storetest"
)

// TestBackupOfStoppedDatabase: Backup copies a database no server has
// open (its WAL checkpointed and gone, so the read-only connection
// finds no -wal or -shm file), and the copy opens as a store with the
// same users. A second Backup to the same file is refused with
// fs.ErrExist and leaves the copy alone.
func TestBackupOfStoppedDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	s, err := open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.NewUser(t, s, "alice")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s after the store closed: %v, want none", suffix, err)
		}
	}

	to := filepath.Join(dir, "copy.db")
	if err := Backup(t.Context(), path, to); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	before, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	if err := Backup(t.Context(), path, to); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Backup to an existing file: %v, want fs.ErrExist", err)
	}
	if after, err := os.ReadFile(to); err != nil || string(after) != string(before) {
		t.Errorf("the copy changed after a refused Backup (%v)", err)
	}

	c := openTest(t, to, nil)
	u, err := c.UserByID(t.Context(), alice.ID)
	if err != nil || u.Username != "alice" {
		t.Fatalf("alice in the copy: %+v, %v", u, err)
	}

	if err := Backup(t.Context(), filepath.Join(dir, "missing.db"), filepath.Join(dir, "missing-copy.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Backup of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing-copy.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Backup left its file: %v", err)
	}
}
