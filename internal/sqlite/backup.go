package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"modernc.org/sqlite"
)

// Backup writes a consistent copy of the database file at path to the new
// file to, with VACUUM INTO, while a server may go on using the database.
//
// It reads through a read-only connection of its own: in WAL mode it takes
// no write lock, so the server's writes go on during the copy. The copy is
// the database as it was when Backup began (a read transaction's
// snapshot); until Backup ends the WAL cannot be checkpointed past that
// point, so it grows with whatever is written meanwhile, and shrinks back
// at the next checkpoint. The copy is compacted (no free pages, so no
// remains of deleted messages), and Backup checks it with PRAGMA
// integrity_check before it returns.
//
// to must not exist: Backup creates it, and removes it (and its journal)
// again when the copy fails. An existing to is an error that wraps fs.ErrExist; a path
// that does not exist, one that wraps fs.ErrNotExist.
func Backup(ctx context.Context, path, to string) (err error) {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Created here, empty, rather than by VACUUM INTO: O_EXCL makes the
	// refusal to overwrite atomic, and VACUUM INTO fills an empty file.
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %w: give a new file", &fs.PathError{Op: "create", Path: to, Err: fs.ErrExist})
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", errors.Join(err, os.Remove(to)))
	}
	defer func() {
		if err != nil {
			// VACUUM INTO may leave the copy's rollback journal too.
			journal := os.Remove(to + "-journal")
			if errors.Is(journal, fs.ErrNotExist) {
				journal = nil
			}
			err = errors.Join(err, os.Remove(to), journal)
		}
	}()

	db, err := openReadOnly(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, to); err != nil {
		return fmt.Errorf("backup: copy %s: %w", path, err)
	}
	return checkIntegrity(ctx, to)
}

// openReadOnly opens the database file at path read-only, one connection,
// waiting up to 10 s for locks (a checkpoint or a WAL recovery).
func openReadOnly(path string) (*sql.DB, error) {
	q := url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(10000)"}}
	c, err := sqlite.NewConnector((&url.URL{Scheme: "file", Opaque: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	return db, nil
}

// checkIntegrity runs PRAGMA integrity_check on the database file at path
// and returns an error holding what it found unless it found nothing wrong.
func checkIntegrity(ctx context.Context, path string) (err error) {
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("check %s: integrity_check: %s", path, strings.Join(problems, "; "))
	}
	return nil
}
