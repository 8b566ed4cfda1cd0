package sqlite

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/parleychat/parley/internal/chat"
)

// TestAccessMigration upgrades a database made before site admins: its
// oldest open account becomes the admin (a closed one is passed over),
// nobody is deactivated, and the next account is no admin.
func TestAccessMigration(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 9)
	if _, err := db.ExecContext(ctx, `
		INSERT INTO users (id, username, display_name, search_name, password_hash, created_at, closed_at)
		VALUES (1, 'gone', 'Deleted user', '', '', 1, 2), (2, 'alice', 'alice', 'alice', 'h', 1, NULL), (3, 'bob', 'bob', 'bob', 'h', 1, NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, nil)
	for id, admin := range map[chat.UserID]bool{1: false, 2: true, 3: false} {
		u, err := s.UserByID(ctx, id)
		if err != nil || u.Admin != admin || u.Deactivated {
			t.Errorf("user %d after the upgrade: %+v, %v; want admin %v, not deactivated", id, u, err, admin)
		}
	}
	u, err := s.CreateUser(ctx, chat.User{Username: "carol", DisplayName: "carol", CreatedAt: chat.Now()}, "h")
	if err != nil || u.Admin {
		t.Errorf("a new account after the upgrade: %+v, %v; want no admin", u, err)
	}
}

// databaseAt makes a database file migrated up to version, as an older
// Parley left it, for a test of the migrations after it. The file is
// path; close db before opening it as a Store.
func databaseAt(t *testing.T, version int64) (db *sql.DB, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "parley.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return db, path
}
