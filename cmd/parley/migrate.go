package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

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
	// Left to pgx's defaults, a connection string without a database
	// would copy into whichever database the user's name picks.
	if !namesDatabase(dsn) {
		return errors.New("migrate-to-postgres: -to must name its database: postgres://host/NAME or dbname=NAME")
	}
	// Both ends are checked before either is changed: the source exists,
	// the destination answers and is empty. Only then is the source
	// brought up to this version's schema and read.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate-to-postgres: -from: %w", err)
	}
	im, err := postgres.OpenImport(ctx, dsn)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	defer im.Close()
	snap, err := sqlite.OpenSnapshot(ctx, path)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	n, err := im.Import(ctx, snap)
	if err = errors.Join(err, snap.Close()); err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "copied %s into PostgreSQL database %q on %s: users %d, conversations %d, memberships %d, messages %d, sessions %d, invitations %d, attachments %d\n",
		path, im.Database, im.Host, n.Users, n.Conversations, n.Members, n.Messages, n.Sessions, n.Invitations, n.Attachments)
	if err == nil && n.Attachments > 0 {
		// The rows name files the database does not hold: the server
		// must keep reading them where they are.
		_, err = fmt.Fprintf(stdout, "the attachments' files stay in %s: start the server with -attachments-dir %s\n", defaultAttachmentsDir(path), defaultAttachmentsDir(path))
	}
	return err
}

// namesDatabase reports whether a PostgreSQL connection string dsn (as
// storeDSN returns it) names its database: a URL's path, or a key/value
// string's dbname.
func namesDatabase(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return strings.TrimPrefix(u.Path, "/") != "" || u.Query().Get("dbname") != ""
	}
	return dbnameRE.MatchString(dsn)
}

// dbnameRE matches the dbname keyword of a key/value connection string.
var dbnameRE = regexp.MustCompile(`(?i)(^|\s)dbname\s*=\s*[^\s']`)
