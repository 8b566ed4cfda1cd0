package main

import (
	"context"
	"io"
)

// A subcommand is one of parley's jobs other than serving, run as
// `parley NAME [flags]`: args[0] is its name, the rest its arguments.
type subcommand func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// subcommandUsage lists the subcommands, for the server's usage.
const subcommandUsage = `Commands (each takes -h):
  parley version              which build this is
  parley backup               an online copy of the SQLite database
  parley migrate-to-postgres  copy a SQLite database into an empty PostgreSQL one
  parley admin                create users and admins, invitations (parley admin -h)

Without a command, parley serves, with these flags:
`

// subcommandNamed returns the subcommand called name, or nil when there is
// none (the arguments are the server's flags).
func subcommandNamed(name string) subcommand {
	switch name {
	case "version":
		return runVersion
	case "backup":
		return runBackup
	case "migrate-to-postgres":
		return runMigrateToPostgres
	case "admin":
		return runAdmin
	case "help":
		// parley help is parley -h.
		return func(ctx context.Context, _ []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return run(ctx, []string{"parley", "-h"}, getenv, stdout, stderr)
		}
	}
	return nil
}
