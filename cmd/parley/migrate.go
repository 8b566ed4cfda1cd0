package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

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
	n, err := postgres.Import(ctx, dsn, snap)
	if err = errors.Join(err, snap.Close()); err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "copied %s into PostgreSQL: %d users, %d conversations, %d memberships, %d messages, %d sessions\n",
		path, n.Users, n.Conversations, n.Members, n.Messages, n.Sessions)
	return err
}
