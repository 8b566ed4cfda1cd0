package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/postgres"
	"github.com/parleychat/parley/internal/sqlite"
)

// runMigrateToPostgres is `parley migrate-to-postgres -from FILE -to DSN`:
// it copies the whole SQLite database FILE into the empty PostgreSQL
// database DSN (see postgres.Import), sessions included, so that people
// stay signed in. The server must be stopped first: what it writes after
// the copy began is not copied.
func runMigrateToPostgres(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "parley.db", "SQLite database file to copy; its default is the server's -db (env "+envName("db")+")")
	to := fs.String("to", "", "PostgreSQL database to copy into: a postgres:// URL or key/value connection string; it must be empty (new)")
	if v := getenv(envName("db")); v != "" {
		*from = v
	}
	if err := parseSubcommandFlags(fs, args, getenv); err != nil {
		return err
	}
	kind, path, err := storeDSN(*from)
	if err != nil {
		return err
	}
	if kind != "sqlite" {
		return errors.New("migrate-to-postgres: -from (or " + envName("db") + ") must name a SQLite database file")
	}
	kind, dsn, err := storeDSN(*to)
	if err != nil {
		return err
	}
	if *to == "" || kind != "postgres" {
		return errors.New("migrate-to-postgres: -to must be a PostgreSQL database: a postgres:// URL or key/value connection string")
	}

	snap, err := sqlite.OpenSnapshot(ctx, path)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	n, err := postgres.Import(ctx, dsn, snapshotSource{snap})
	if err = errors.Join(err, snap.Close()); err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "copied %s into PostgreSQL: %d users, %d conversations, %d memberships, %d messages, %d sessions\n",
		path, n.Users, n.Conversations, n.Members, n.Messages, n.Sessions)
	return err
}

// snapshotSource is a SQLite snapshot as postgres.Import reads it: the
// two packages' row types have the same fields, so each row converts.
type snapshotSource struct{ snap *sqlite.Snapshot }

func (s snapshotSource) Users(ctx context.Context) iter.Seq2[postgres.UserRow, error] {
	return convertRows(s.snap.Users(ctx), func(r sqlite.UserRow) postgres.UserRow { return postgres.UserRow(r) })
}

func (s snapshotSource) Conversations(ctx context.Context) iter.Seq2[postgres.ConversationRow, error] {
	return convertRows(s.snap.Conversations(ctx), func(r sqlite.ConversationRow) postgres.ConversationRow { return postgres.ConversationRow(r) })
}

func (s snapshotSource) Members(ctx context.Context) iter.Seq2[chat.Member, error] {
	return s.snap.Members(ctx)
}

func (s snapshotSource) Messages(ctx context.Context) iter.Seq2[postgres.MessageRow, error] {
	return convertRows(s.snap.Messages(ctx), func(r sqlite.MessageRow) postgres.MessageRow { return postgres.MessageRow(r) })
}

func (s snapshotSource) Sessions(ctx context.Context) iter.Seq2[postgres.SessionRow, error] {
	return convertRows(s.snap.Sessions(ctx), func(r sqlite.SessionRow) postgres.SessionRow { return postgres.SessionRow(r) })
}

func (s snapshotSource) UserSessions(ctx context.Context) iter.Seq2[postgres.UserSessionRow, error] {
	return convertRows(s.snap.UserSessions(ctx), func(r sqlite.UserSessionRow) postgres.UserSessionRow { return postgres.UserSessionRow(r) })
}

// convertRows yields rows, each converted.
func convertRows[A, B any](rows iter.Seq2[A, error], convert func(A) B) iter.Seq2[B, error] {
	return func(yield func(B, error) bool) {
		for r, err := range rows {
			if !yield(convert(r), err) {
				return
			}
		}
	}
}
