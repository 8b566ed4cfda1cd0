package sqlite

import (
	"context"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parleychat/parley/internal/chat"
)

// errTimeout is the cause of a call's context ending at the store's
// deadline (Options.Timeout), telling it from the caller's own deadline or
// cancellation.
var errTimeout = errors.New("sqlite: database call exceeded its deadline")

// classify returns err as the store's caller should see it: a database
// that cannot answer now — locked or busy past the busy timeout, full, read
// only, failing to read or write its file, out of memory, or stalled past
// the store's deadline (ctx's cause errTimeout) — is chat.Unavailable("the
// database", err): the server's trouble, worth retrying. Domain errors
// (*chat.Error: ENOTFOUND, ECONFLICT…) and every other error are returned
// as they are.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*chat.Error](err); ok {
		return err
	}
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeout) {
		return chat.Unavailable("the database", errors.Join(errTimeout, err))
	}
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		switch e.Code() & 0xff { // the primary code, without the extended bits
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM:
			return chat.Unavailable("the database", err)
		}
	}
	return err
}
