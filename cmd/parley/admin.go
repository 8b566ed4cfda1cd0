package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/memory"
	"github.com/parleychat/parley/internal/password"
	"github.com/parleychat/parley/internal/sqlite"
)

// adminUsage lists the admin subcommands.
const adminUsage = `usage: parley admin ACTION [flags]

actions:
  create-user        create an account, whatever -registration says (-admin makes it a site admin)
  make-admin         make an account a site admin (-revoke takes that away,
                     but not from the last active site admin)
  create-invitation  create an invitation and print its link (or its token and path)

Each takes -db as the server does (env PARLEY_DB); parley admin ACTION -h
lists its flags.`

// runAdmin is `parley admin ACTION [flags]`: what a site admin does, done
// from the server's machine on its database directly, for a headless start
// (the first admin of a server whose registration is invite or closed).
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) >= 2 {
		switch args[1] {
		case "-h", "-help", "--help", "help":
			// The usage was asked for: it is the answer, as parley -h's is.
			if _, err := fmt.Fprintln(stdout, adminUsage); err != nil {
				return err
			}
			return flag.ErrHelp
		}
	}
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		_, _ = fmt.Fprintln(stderr, adminUsage) // the error says what went wrong
		return errors.New("admin: name an action: create-user, make-admin or create-invitation")
	}
	action := args[1]
	sub := append([]string{"admin " + action}, args[2:]...)
	switch action {
	case "create-user":
		return adminCreateUser(ctx, sub, getenv, stdout, stderr)
	case "make-admin":
		return adminMakeAdmin(ctx, sub, getenv, stdout, stderr)
	case "create-invitation":
		return adminCreateInvitation(ctx, sub, getenv, stdout, stderr)
	}
	_, _ = fmt.Fprintln(stderr, adminUsage) // the error says what went wrong
	return fmt.Errorf("admin: unknown action %q", action)
}

// withAdminService opens the database named by db and runs fn with a
// Service on it that publishes nowhere but this process.
func withAdminService(ctx context.Context, db string, stderr io.Writer, fn func(*chat.Service) error) (err error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := createPrivateDB(db); err != nil {
		return err
	}
	store, _, closeStore, err := openStore(ctx, db, sqlite.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore()) }()
	svc, err := chat.NewService(chat.ServiceConfig{
		Store:    store,
		Hasher:   password.Default(),
		Broker:   memory.NewBroker(),
		Presence: memory.NewPresence(),
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	return fn(svc)
}

func adminCreateUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "parley.db", "the server's database, as its -db")
	username := fs.String("username", "", "the new account's username (required)")
	displayName := fs.String("display-name", "", "the new account's display name (default the username)")
	passwordFile := fs.String("password-file", "-", "file whose first line is the password; - reads it from standard input")
	admin := fs.Bool("admin", false, "make the account a site admin (the first account is one anyway)")
	if err := parseSubcommandFlags(fs, args, getenv, "db"); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("admin create-user: -username is required")
	}
	pw, err := readPassword(*passwordFile)
	if err != nil {
		return fmt.Errorf("admin create-user: %w", err)
	}
	// A headless start creates the database; a mistyped path would too,
	// so the answer says which file it was and whether it is new.
	where := *db
	if kind, path, err := storeDSN(*db); err == nil && kind == "sqlite" {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			where = path + ", a new database"
		}
	} else if err == nil {
		where = "PostgreSQL"
	}
	return withAdminService(ctx, *db, stderr, func(svc *chat.Service) error {
		u, err := svc.CreateAccount(ctx, chat.Registration{Username: *username, Password: pw, DisplayName: *displayName}, *admin)
		if err != nil {
			return fmt.Errorf("admin create-user: %s", chat.ErrorMessage(err))
		}
		role := "user"
		if u.Admin {
			role = "site admin"
		}
		_, err = fmt.Fprintf(stdout, "created %s %s (id %d) in %s\n", role, u.Username, u.ID, where)
		return err
	})
}

// readPassword reads the first line of the file at path ("-": standard
// input), without its line ending.
func readPassword(path string) (string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer func() { _ = f.Close() }() // read only
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password given: its first line is empty")
	}
	return line, nil
}

func adminMakeAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "parley.db", "the server's database, as its -db")
	username := fs.String("username", "", "the account's username (required)")
	revoke := fs.Bool("revoke", false, "take the account's site admin rights away instead")
	if err := parseSubcommandFlags(fs, args, getenv, "db"); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("admin make-admin: -username is required")
	}
	return withAdminService(ctx, *db, stderr, func(svc *chat.Service) error {
		u, err := svc.MakeAdmin(ctx, *username, !*revoke)
		if err != nil {
			return fmt.Errorf("admin make-admin: %s", chat.ErrorMessage(err))
		}
		what := "is now a site admin"
		if !u.Admin {
			what = "is no longer a site admin"
		}
		_, err = fmt.Fprintf(stdout, "%s %s\n", u.Username, what)
		return err
	})
}

func adminCreateInvitation(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "parley.db", "the server's database, as its -db")
	uses := fs.Int("uses", 1, "how many accounts the invitation admits")
	expires := fs.Duration("expires", chat.DefaultInvitationLifetime, "how long the invitation stays valid")
	baseURL := fs.String("base-url", "", "the server's address as people reach it (https://chat.example.com), to print the whole link")
	if err := parseSubcommandFlags(fs, args, getenv, "db"); err != nil {
		return err
	}
	if *uses < 1 || *uses > chat.MaxInvitationUses {
		return fmt.Errorf("admin create-invitation: -uses must be from 1 to %d", chat.MaxInvitationUses)
	}
	if *expires < time.Minute || *expires > chat.MaxInvitationLifetime {
		return fmt.Errorf("admin create-invitation: -expires must be from 1m to %v", chat.MaxInvitationLifetime)
	}
	var base *url.URL
	if *baseURL != "" {
		u, err := url.Parse(*baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("admin create-invitation: -base-url %q: want http:// or https:// and a host", *baseURL)
		}
		base = u
	}
	return withAdminService(ctx, *db, stderr, func(svc *chat.Service) error {
		inv, token, err := svc.CreateInvitationAsOperator(ctx, chat.NewInvitation{MaxUses: *uses, Lifetime: *expires})
		if err != nil {
			return fmt.Errorf("admin create-invitation: %s", chat.ErrorMessage(err))
		}
		path := "/register?" + url.Values{"invite": {token}}.Encode()
		link := path
		if base != nil {
			link = strings.TrimSuffix(base.String(), "/") + path
		}
		_, err = fmt.Fprintf(stdout, "invitation %d: %d use(s), valid until %s\n%s\n",
			inv.ID, inv.MaxUses, inv.ExpiresAt.Format(time.RFC3339), link)
		return err
	})
}
