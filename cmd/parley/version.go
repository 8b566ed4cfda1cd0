package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// runVersion prints which build of parley this is, on one line:
//
//	parley v0.0.0-20261130101500-1a2b3c4d5e6f+dirty (rev 1a2b3c4d5e6f, 2026-11-30T10:15:00Z, modified) go1.26.8 linux/amd64
//
// The version, revision, commit time and modified flag are those the Go
// toolchain stamped into the binary (see describeBuild). It takes no
// arguments; -h prints its usage on stdout and returns flag.ErrHelp.
func runVersion(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley "+args[0], flag.ContinueOnError)
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.Usage = func() {
		fmt.Fprintf(&usage, "Usage: parley %s\n\n"+
			"Print parley's version, the revision and commit time it was built from\n"+
			"(\"modified\" when the working tree had uncommitted changes), and the Go\n"+
			"version and platform it was built with.\n", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		// -h asked for the usage: it goes to stdout, as the server's does.
		out := stderr
		if errors.Is(err, flag.ErrHelp) {
			out = stdout
		}
		if _, werr := io.WriteString(out, usage.String()); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments: %q", args[0], fs.Args())
	}
	info, _ := debug.ReadBuildInfo() // nil when the binary carries none
	_, err := fmt.Fprintln(stdout, describeBuild(info))
	return err
}

// describeBuild is parley's version line from info, which may be nil: the
// main module's version, then in parentheses the VCS revision (its first 12
// hex digits), the commit time (RFC 3339, UTC) and "modified" when the tree
// had uncommitted changes, then the Go version and GOOS/GOARCH.
//
// A build without a version (go run, go test, a tree without VCS, or
// -buildvcs=false) says "(devel)"; one without VCS settings says
// "(revision unknown)" in place of the parentheses' contents.
func describeBuild(info *debug.BuildInfo) string {
	version := ""
	goVersion := runtime.Version()
	var revision, commitTime string
	modified := false
	if info != nil {
		version = info.Main.Version
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				commitTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}

	var vcs []string
	if revision != "" {
		const shortRevision = 12 // as in Go's pseudo-versions
		if len(revision) > shortRevision {
			revision = revision[:shortRevision]
		}
		vcs = append(vcs, "rev "+revision)
	}
	if commitTime != "" {
		vcs = append(vcs, commitTime)
	}
	if modified {
		vcs = append(vcs, "modified")
	}
	if len(vcs) == 0 {
		vcs = append(vcs, "revision unknown")
	}
	return fmt.Sprintf("parley %s (%s) %s %s/%s", version, strings.Join(vcs, ", "), goVersion, runtime.GOOS, runtime.GOARCH)
}
