package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelp: -h and --help print the usage on stdout and exit 0; a mistake
// prints it on stderr with the error and exits 1. The default address is
// this machine only.
func TestHelp(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	for _, arg := range []string{"-h", "-help", "--help", "help"} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"parley", arg}, noEnv, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 0 {
			t.Errorf("parley %s: exit %d (%v)", arg, code, err)
		}
		if out := stdout.String(); !strings.Contains(out, "Usage of parley:") || !strings.Contains(out, `-addr string`) ||
			!strings.Contains(out, "parley migrate-to-postgres") || !strings.Contains(out, "parley admin") ||
			!strings.Contains(out, `(default "localhost:8080")`) {
			t.Errorf("parley %s printed:\n%s", arg, out)
		}
		if stderr.Len() != 0 {
			t.Errorf("parley %s wrote to stderr: %s", arg, stderr.String())
		}
	}

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"parley", "-no-such-flag"}, noEnv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Errorf("parley -no-such-flag: exit %d", code)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage of parley:") || !strings.Contains(stderr.String(), "parley: flag provided but not defined: -no-such-flag") {
		t.Errorf("parley -no-such-flag: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
