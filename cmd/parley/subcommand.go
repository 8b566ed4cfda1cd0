package main

import (
	"context"
	"io"
)

// A subcommand is one of parley's jobs other than serving, run as
// `parley NAME [flags]`: args[0] is its name, the rest its arguments.
type subcommand func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

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
	}
	return nil
}
