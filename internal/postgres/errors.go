package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleychat/parley/internal/chat"
)

// errTimeout is the cause of a call's context ending at the store's
// deadline (Options.Timeout), telling it from the caller's own deadline or
// cancellation.
var errTimeout = errors.New("postgres: database call exceeded its deadline")

// classify returns err as the store's caller should see it: a database
// that cannot answer now — unreachable, its connection cut, shutting down
// or starting, out of resources (connections, memory, disk: class 53), a
// statement cancelled (57014, statement_timeout), or stalled past the
// store's deadline (ctx's cause errTimeout) — is chat.Unavailable("the
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
	if unavailable(err) {
		return chat.Unavailable("the database", err)
	}
	return err
}

// unavailable reports whether err says the database is not there to
// answer, rather than that it refused the statement.
func unavailable(err error) bool {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(e.Code, "08"), // connection exception
			strings.HasPrefix(e.Code, "53"), // insufficient resources
			e.Code == "57P01",               // admin_shutdown (pg_terminate_backend too)
			e.Code == "57P02",               // crash_shutdown
			e.Code == "57P03",               // cannot_connect_now
			e.Code == "57014":               // query_canceled
			return true
		}
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
