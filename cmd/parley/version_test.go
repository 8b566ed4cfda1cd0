package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersion: `parley version` prints one line naming parley and the Go
// version it was built with, and exits 0; -h prints its usage on stdout and
// exits 0; an argument is a mistake.
func TestVersion(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"parley", "version"}, noEnv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("parley version: exit %d (%v), stderr %q", code, err, stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "parley ") || !strings.HasSuffix(out, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") ||
		strings.Count(out, "\n") != 1 {
		t.Errorf("parley version printed %q", out)
	}

	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"parley", "version", arg}, noEnv, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 0 {
			t.Errorf("parley version %s: exit %d (%v)", arg, code, err)
		}
		if !strings.Contains(stdout.String(), "Usage: parley version") || stderr.Len() != 0 {
			t.Errorf("parley version %s: stdout %q, stderr %q", arg, stdout.String(), stderr.String())
		}
	}

	stdout.Reset()
	stderr.Reset()
	err = run(t.Context(), []string{"parley", "version", "extra"}, noEnv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), `unexpected arguments: ["extra"]`) {
		t.Errorf("parley version extra: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestDescribeBuild: the version line carries what the toolchain stamped,
// and says so plainly when it stamped nothing.
func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{{
		name: "go build in a modified checkout",
		info: &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: "github.com/parleychat/parley", Version: "v0.0.0-20261130101500-1a2b3c4d5e6f+dirty"},
			Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"},
				{Key: "vcs.time", Value: "2026-11-30T10:15:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		},
		want: "parley v0.0.0-20261130101500-1a2b3c4d5e6f+dirty (rev 1a2b3c4d5e6f, 2026-11-30T10:15:00Z, modified) go1.26.8 " + platform,
	}, {
		name: "a tagged release",
		info: &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: "github.com/parleychat/parley", Version: "v1.2.0"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"},
				{Key: "vcs.time", Value: "2026-11-30T10:15:00Z"},
				{Key: "vcs.modified", Value: "false"},
			},
		},
		want: "parley v1.2.0 (rev 1a2b3c4d5e6f, 2026-11-30T10:15:00Z) go1.26.8 " + platform,
	}, {
		name: "go run or go test: no VCS settings",
		info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/parleychat/parley", Version: "(devel)"}},
		want: "parley (devel) (revision unknown) go1.26.8 " + platform,
	}, {
		name: "no build information at all",
		info: nil,
		want: "parley (devel) (revision unknown) " + runtime.Version() + " " + platform,
	}} {
		if got := describeBuild(tc.info); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
