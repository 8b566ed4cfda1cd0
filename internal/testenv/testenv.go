// Package testenv gives tests the outside services they run against —
// PostgreSQL, Redis and Chromium — named by environment variables.
//
// A test that needs a service calls [Need]. When the variable is unset the
// test is skipped with a message that names it, unless PARLEY_TEST_REQUIRE
// asks for that service: then the test fails, so that a CI run which lost a
// service says so instead of passing on skipped tests.
//
// go test shows a passing package's output only with -v, so [Main] also
// writes one line per missing service to the terminal, when there is one:
// a developer running `go test ./...` sees what did not run and how to run it.
package testenv

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// The variables that name the services.
const (
	Postgres = "PARLEY_TEST_POSTGRES" // a PostgreSQL URL; tests create their own schemas or databases in it
	Redis    = "PARLEY_TEST_REDIS"    // a Redis URL; tests use their own key prefixes
	Chromium = "PARLEY_TEST_CHROMIUM" // the path of a Chromium binary
)

// Require is the variable that turns a skip into a failure: "all", or a
// comma-separated list of the variables above (or their short names
// postgres, redis, chromium).
const Require = "PARLEY_TEST_REQUIRE"

// what says what the variable name should hold, for the skip message.
func what(name string) string {
	switch name {
	case Postgres:
		return "a PostgreSQL URL (postgres://postgres@127.0.0.1:5432/parley_test?sslmode=disable)"
	case Redis:
		return "a Redis URL (redis://127.0.0.1:6379/0)"
	case Chromium:
		return "a Chromium binary (/usr/bin/chromium)"
	}
	return "a value"
}

// Need returns the value of the environment variable name (one of
// [Postgres], [Redis], [Chromium]). When it is unset the test is skipped with
// a message naming the variable, or fails when [Require] asks for it.
func Need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if required(os.Getenv(Require), name) {
		t.Fatalf("%s is unset but %s=%q requires it: set it to %s", name, Require, os.Getenv(Require), what(name))
	}
	t.Skipf("%s is unset: set it to %s to run this test", name, what(name))
	return ""
}

// required reports whether the value of [Require] asks for the variable name.
func required(require, name string) bool {
	short := strings.ToLower(strings.TrimPrefix(name, "PARLEY_TEST_"))
	for _, w := range strings.Split(require, ",") {
		w = strings.TrimSpace(w)
		if w == "all" || w == name || strings.EqualFold(w, short) {
			return true
		}
	}
	return false
}

// Main runs a package's tests from its TestMain and returns the exit code
// for os.Exit. names are the variables the package's tests [Need]; for each
// one unset (and not required, so its tests skipped) it reports one line,
// on standard output and on the controlling terminal, if any.
func Main(m *testing.M, names ...string) int {
	code := m.Run()
	var missing []string
	for _, name := range names {
		if os.Getenv(name) == "" && !required(os.Getenv(Require), name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return code
	}
	slices.Sort(missing)
	var b strings.Builder
	for _, name := range missing {
		fmt.Fprintf(&b, "%s: tests skipped: set %s to %s to run them\n", pkgName(), name, what(name))
	}
	fmt.Print(b.String())
	// go test keeps a passing package's output to itself unless -v: the
	// terminal is where a person running it will see the line. Without one
	// (CI) the line is in the -v output only, and CI sets Require. A cached
	// result replays standard output only, so the line shows on the run
	// that skipped.
	if testing.Verbose() {
		return code
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		_, _ = io.WriteString(tty, b.String())
		_ = tty.Close()
	}
	return code
}

// pkgName names the package under test by its directory, as go test does.
func pkgName() string {
	wd, err := os.Getwd()
	if err != nil {
		return "testenv"
	}
	if i := strings.LastIndex(wd, "/internal/"); i >= 0 {
		return wd[i+1:]
	}
	if i := strings.LastIndex(wd, "/cmd/"); i >= 0 {
		return wd[i+1:]
	}
	return wd
}
