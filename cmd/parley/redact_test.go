package main

import (
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
