package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestAdminHelp: parley admin -h prints the admin usage on stdout and
// exits 0, as parley -h does; parley admin alone is still a mistake.
func TestAdminHelp(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	for _, arg := range []string{"-h", "-help", "--help", "help"} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"parley", "admin", arg}, noEnv, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 0 {
			t.Errorf("parley admin %s: exit %d (%v)", arg, code, err)
		}
		if !strings.Contains(stdout.String(), "usage: parley admin ACTION") || stderr.Len() != 0 {
			t.Errorf("parley admin %s: stdout %q, stderr %q", arg, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"parley", "admin"}, noEnv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), "name an action") {
		t.Errorf("parley admin: exit %d, stderr %q", code, stderr.String())
	}
}
