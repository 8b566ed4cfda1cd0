package main

import (
	"io"
	"strings"
	"testing"
)

// TestRedactURL checks that no secret of a -db or -redis URL survives
// redactURL, and that everything else does.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"parley.db", "parley.db"},
		{"/var/lib/parley/parley.db", "/var/lib/parley/parley.db"},
		{"", ""},
		{"postgres://parley@db:5432/parley", "postgres://parley@db:5432/parley"},
		{"postgres://parley:s3cret@db:5432/parley?sslmode=require", "postgres://parley:xxxxx@db:5432/parley?sslmode=require"},
		{"postgres://parley@db/parley?sslmode=require&password=s3cret", "postgres://parley@db/parley?sslmode=require&password=xxxxx"},
		{"postgres://db/parley?PASSWORD=s3cret&application_name=parley", "postgres://db/parley?PASSWORD=xxxxx&application_name=parley"},
		{"postgres://u:p1@db/parley?password=p2&sslpassword=p3", "postgres://u:xxxxx@db/parley?password=xxxxx&sslpassword=xxxxx"},
		{"postgresql://db/parley?pass%77ord=s3cret", "postgresql://db/parley?password=xxxxx"},
		{"redis://:s3cret@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		{"redis://redis:6379/0?client_secret=s3cret&auth_token=s3cret&pwd=s3cret&db=1", "redis://redis:6379/0?client_secret=xxxxx&auth_token=xxxxx&pwd=xxxxx&db=1"},
		{"rediss://default:s3cret@redis:6380", "rediss://default:xxxxx@redis:6380"},
		{"postgres://u:%zz@db/parley", "[unparsable URL, not logged]"},
		{"POSTGRES://parley:s3cret@db/parley?Password=s3cret", "postgres://parley:xxxxx@db/parley?Password=xxxxx"},
		// PostgreSQL keyword/value connection strings.
		{"host=127.0.0.1 user=postgres password=s3cret dbname=x sslmode=disable", "host=127.0.0.1 user=postgres password=xxxxx dbname=x sslmode=disable"},
		{"host=db  PASSWORD = s3cret\tdbname=x", "host=db  PASSWORD = xxxxx\tdbname=x"},
		{"host=db password='s3cret with \\' quote' sslpassword=s3cret dbname='my db'", "host=db password=xxxxx sslpassword=xxxxx dbname='my db'"},
		{"dbname=x password=s3\\ cret", "dbname=x password=xxxxx"},
		{"dbname=x password=", "dbname=x password=xxxxx"},
		{"host=db password='s3cret", "[unparsable connection string, not logged]"},
		{"host=db s3cret", "[unparsable connection string, not logged]"},
	} {
		got := redactURL(tc.in)
		if got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "p1") || strings.Contains(got, "p2") || strings.Contains(got, "p3") {
			t.Errorf("redactURL(%q) = %q leaks a secret", tc.in, got)
		}
	}
}

// TestStoreDSN checks which store each -db value names: PostgreSQL for a
// postgres:// or postgresql:// URL in any letter case (handed to pgx in
// lower case) and for a keyword/value string, SQLite for a file path, and
// nothing for a URL of another scheme.
func TestStoreDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, kind, dsn string }{
		{"parley.db", "sqlite", "parley.db"},
		{"/var/lib/parley/parley.db", "sqlite", "/var/lib/parley/parley.db"},
		{"./data/chat=1.db", "sqlite", "./data/chat=1.db"},
		{"postgres://u:p@db/parley", "postgres", "postgres://u:p@db/parley"},
		{"postgresql://db/parley", "postgres", "postgresql://db/parley"},
		{"POSTGRES://u:p@db/parley", "postgres", "postgres://u:p@db/parley"},
		{"PostgreSQL://db/Parley", "postgres", "postgresql://db/Parley"},
		{"host=127.0.0.1 user=postgres password=KvSecret dbname=x sslmode=disable", "postgres", "host=127.0.0.1 user=postgres password=KvSecret dbname=x sslmode=disable"},
		{"dbname=parley", "postgres", "dbname=parley"},
		{"HOST = db dbname=parley", "postgres", "HOST = db dbname=parley"},
		{"mysql://u:p@db/parley", "", ""},
		{"redis://db", "", ""},
	} {
		kind, dsn, err := storeDSN(tc.in)
		if tc.kind == "" {
			if err == nil {
				t.Errorf("storeDSN(%q) = %s %q, want an error", tc.in, kind, dsn)
			} else if strings.Contains(err.Error(), "u:p@") {
				t.Errorf("storeDSN(%q): error %q repeats the URL", tc.in, err)
			}
			continue
		}
		if err != nil || kind != tc.kind || dsn != tc.dsn {
			t.Errorf("storeDSN(%q) = %s %q, %v; want %s %q", tc.in, kind, dsn, err, tc.kind, tc.dsn)
		}
	}
}

// TestDBFlagRefusesOtherURLs: -db with a URL that names no supported store
// is refused before anything starts, and the message names no secret.
func TestDBFlagRefusesOtherURLs(t *testing.T) {
	t.Parallel()
	_, err := parseFlags([]string{"parley", "-db", "mysql://root:s3cret@db/parley"}, func(string) string { return "" }, io.Discard)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("parseFlags: %v, want an error that names no secret", err)
	}
	cfg, err := parseFlags([]string{"parley", "-db", "host=db password=s3cret dbname=x"}, func(string) string { return "" }, io.Discard)
	if err != nil || !isPostgres(cfg.db) {
		t.Errorf("a key/value -db: %v, PostgreSQL %v", err, isPostgres(cfg.db))
	}
}
