package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
)

// MinFreeBytes is the free space under which Writable reports the disk
// full: 4 MiB, what the write-ahead log takes between two checkpoints
// (SQLite's default autocheckpoint of 1,000 pages of 4 KiB). Below it
// sends start failing with SQLITE_FULL while smaller writes may still
// pass.
const MinFreeBytes = 4 << 20

// errDiskFull and errReadOnly are Writable's answers for a file system
// that cannot take the database's writes.
var (
	errDiskFull = errors.New("disk full")
	errReadOnly = errors.New("file system mounted read-only")
)

// Writable reports whether the database can take a write now, without
// writing anything: nil, or why not. It is what /readyz asks.
//
// Two checks, because neither sees everything (measured on SQLite in WAL
// mode, see BENCHMARKS.md): a full disk lets a small committed write
// through (the write-ahead log reuses its own space) and lets a write
// that is rolled back through too (it never reaches the disk), so the
// file system is asked how much room it has left (less than MinFreeBytes
// is full) and whether it is mounted read-only. The database's own limits
// and locks — max_page_count reached, another process holding the write
// lock past ctx — are found by a write transaction on the store's writer
// that takes the write lock, inserts a page's worth of bytes into the
// empty readiness_probe table and rolls back: it costs one round on the
// writer and leaves neither the database nor its log any larger.
func (s *Store) Writable(ctx context.Context) error {
	var seq int
	var name, file string
	if err := s.write.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if file != "" { // "" for an in-memory database
		free, readOnly, err := diskSpace(filepath.Dir(file))
		switch {
		case err != nil:
			return fmt.Errorf("disk space: %w", err)
		case readOnly:
			return errReadOnly
		case free >= 0 && free < MinFreeBytes:
			return fmt.Errorf("%w: %d bytes free", errDiskFull, free)
		}
	}
	tx, err := s.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): the write lock
	if err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	// A committed transaction would write the log; this one never does.
	defer func() { _ = tx.Rollback() }()
	var pageSize int
	if err := tx.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO readiness_probe (filler) VALUES (zeroblob(?))`, pageSize); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	return nil
}
