package postgres

import (
	"context"
	"errors"
	"fmt"
)

// errInRecovery and errReadOnly are Writable's answers for a server that
// is up but refuses writes.
var (
	errInRecovery = errors.New("server in recovery (a standby)")
	errReadOnly   = errors.New("transactions are read-only (default_transaction_read_only)")
)

// Writable reports whether the database can take a write now: nil, or
// why not — unreachable (the pool's error), a standby in recovery (as
// after a failover that left this node on the old primary's replica), or
// a server or database set read-only (default_transaction_read_only, as
// an operator or a managed service does when the disk is nearly full). It
// writes nothing: one query asks the server what a write would meet, in
// the pool's own session settings. A disk filled past that point shows
// only when a write fails.
func (s *Store) Writable(ctx context.Context) error {
	var recovery bool
	var readOnly string
	err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&recovery, &readOnly)
	switch {
	case err != nil:
		return fmt.Errorf("write check: %w", err)
	case recovery:
		return errInRecovery
	case readOnly == "on":
		return errReadOnly
	}
	return nil
}
