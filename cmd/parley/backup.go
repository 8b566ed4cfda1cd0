package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/parleychat/parley/internal/sqlite"
)

// runBackup is `parley backup -db FILE -to OUT`: a consistent copy of the
// SQLite database into the new file OUT, taken while the server runs (see
// sqlite.Backup). A PostgreSQL database is pg_dump's to back up.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "parley.db", "SQLite database file to back up, as the server's -db")
	to := fs.String("to", "", "file to write the copy to; it must not exist")
	if err := parseSubcommandFlags(fs, args, getenv, "db"); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("backup: -to is required: the file to write the copy to")
	}
	kind, path, err := storeDSN(*db)
	if err != nil {
		return err
	}
	if kind != "sqlite" {
		return errors.New("backup: -db is a PostgreSQL database: back it up with pg_dump (pg_dump -Fc), not parley backup")
	}
	if err := sqlite.Backup(ctx, path, *to); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "backed up %s to %s\n", path, *to)
	return err
}

// parseSubcommandFlags parses a subcommand's arguments (args[0] is its
// name) into fs. The flags named in envTwins take their defaults from
// their environment twins, as the server's flags do (see parseFlags), so
// that a subcommand finds the server's database where the server does.
func parseSubcommandFlags(fs *flag.FlagSet, args []string, getenv func(string) string, envTwins ...string) error {
	for _, name := range envTwins {
		f := fs.Lookup(name)
		f.Usage += " (env " + envName(name) + ")"
		if v := getenv(envName(name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("%s=%q: %w", envName(name), v, err)
			}
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}
