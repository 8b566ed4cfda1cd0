package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNonsenseFlagsRefused: a setting that parses but makes no sense is
// refused at start with an error naming the flag (or the environment
// variable that set it), and no database is created.
func TestNonsenseFlagsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"-session-lifetime", "0"}, want: "-session-lifetime must be at least 1s"},
		{args: []string{"-session-lifetime", "-1h"}, want: "-session-lifetime must be at least 1s"},
		{args: []string{"-session-idle", "-1h"}, want: "-session-idle must be at least 1s"},
		{env: map[string]string{"PARLEY_SESSION_IDLE": "0s"}, want: "PARLEY_SESSION_IDLE must be at least 1s"},
		{args: []string{"-ws-timeout", "0"}, want: "-ws-timeout must be at least 1s"},
		{args: []string{"-shutdown-timeout", "-5s"}, want: "-shutdown-timeout must be positive"},
		{args: []string{"-shutdown-timeout", "0"}, want: "-shutdown-timeout must be positive"},
		{args: []string{"-read-header-timeout", "0"}, want: "-read-header-timeout must be positive"},
		{args: []string{"-db-timeout", "-1s"}, want: "-db-timeout must be positive"},
		{args: []string{"-register-rate", "NaN"}, want: "-register-rate must be a positive number"},
		{args: []string{"-message-rate", "Inf"}, want: "-message-rate must be a positive number"},
		{args: []string{"-search-rate", "-Inf"}, want: "-search-rate must be a positive number"},
		{args: []string{"-typing-rate", "0"}, want: "-typing-rate must be a positive number"},
		{env: map[string]string{"PARLEY_LIST_RATE": "nan"}, want: "PARLEY_LIST_RATE must be a positive number"},
		{args: []string{"-read-burst", "0"}, want: "-read-burst must be at least 1"},
		{args: []string{"-max-conns-per-user", "-1"}, want: "-max-conns-per-user must be at least 0"},
		{args: []string{"-max-group-members", "1"}, want: "-max-group-members must be at least 2"},
		{env: map[string]string{"PARLEY_REGISTRATION": "bogus"}, want: `PARLEY_REGISTRATION: registration mode "bogus"`},
		{args: []string{"-registration", "bogus"}, want: `-registration: registration mode "bogus"`},
		{env: map[string]string{"PARLEY_LOG_FORMAT": "xml"}, want: "PARLEY_LOG_FORMAT must be text or json"},
		{args: []string{"-addr", "bogus"}, want: `-addr "bogus": want host:port`},
		{args: []string{"-addr", "localhost:99999"}, want: `-addr "localhost:99999": "99999" is not a port`},
		{args: []string{"-addr", "localhost:"}, want: `-addr "localhost:": "" is not a port`},
		{args: []string{"-metrics-addr", "bogus"}, want: `-metrics-addr "bogus": want host:port`},
		{env: map[string]string{"PARLEY_DEBUG_ADDR": "6060"}, want: `PARLEY_DEBUG_ADDR "6060": want host:port`},
		{args: []string{"-addr", "127.0.0.1:8080", "-metrics-addr", "127.0.0.1:8080"}, want: `-addr "127.0.0.1:8080" and -metrics-addr "127.0.0.1:8080" both listen on port 8080`},
		{args: []string{"-addr", ":8080", "-debug-addr", "127.0.0.1:8080"}, want: "both listen on port 8080"},
		{args: []string{"-metrics-addr", "127.0.0.1:9464", "-debug-addr", "[::]:9464"}, want: "both listen on port 9464"},
		{env: map[string]string{"PARLEY_REDIS": "http://127.0.0.1:6379"}, want: "PARLEY_REDIS http://127.0.0.1:6379: redis: invalid URL scheme: http"},
		{args: []string{"-redis", "redis://u:secret@[::1"}, want: "-redis "},
	}
	for _, c := range cases {
		db := filepath.Join(t.TempDir(), "parley.db")
		var stdout, stderr bytes.Buffer
		args := append([]string{"parley", "-db", db}, c.args...)
		err := run(t.Context(), args, func(k string) string { return c.env[k] }, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 1 {
			t.Errorf("%v %v: exit %d, want 1", c.args, c.env, code)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v %v: stderr %q, want it to say %q", c.args, c.env, stderr.String(), c.want)
		}
		if strings.Contains(stderr.String(), "secret") {
			t.Errorf("%v %v: the error shows a password: %q", c.args, c.env, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v %v: logged %q before refusing", c.args, c.env, stdout.String())
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("%v %v: the database was created (%v)", c.args, c.env, err)
		}
	}
}

// TestSensibleFlagsAccepted: the edges of what is allowed still parse:
// no cap on connections, ephemeral ports on every listener, listeners on
// distinct ports and hosts, service names as ports.
func TestSensibleFlagsAccepted(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{
		{"-max-conns-per-user", "0"},
		{"-session-idle", "1s", "-session-lifetime", "1m"},
		{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0"},
		{"-addr", "127.0.0.1:8080", "-metrics-addr", "127.0.0.2:8080"},
		{"-addr", ":8080", "-metrics-addr", "127.0.0.1:9464", "-debug-addr", "localhost:6060"},
		{"-addr", "localhost:http"},
		{"-register-rate", "0.5", "-message-rate", "1e6"},
	} {
		var out bytes.Buffer
		if _, err := parseFlags(append([]string{"parley"}, args...), noEnv, &out); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestMaxConnsUsageSaysZero: -h says what 0 means for -max-conns-per-user.
func TestMaxConnsUsageSaysZero(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	_ = run(t.Context(), []string{"parley", "-h"}, func(string) string { return "" }, &stdout, &stderr)
	for line := range strings.SplitSeq(stdout.String(), "\n  -") {
		if strings.HasPrefix(line, "max-conns-per-user") && !strings.Contains(line, "0 sets no cap") {
			t.Errorf("-max-conns-per-user's usage does not say what 0 means: %q", line)
		}
	}
}
