package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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

// wantPrivate fails the test unless the file at path, when it exists, is
// readable and writable by its owner only.
func wantPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("%s has mode %v; want no access for group and others", filepath.Base(path), perm)
	}
}

// TestNewDatabaseIsPrivate: a SQLite database the server or parley admin
// creates, and its WAL and shared-memory files, are the owner's alone:
// they hold password and session-token hashes.
func TestNewDatabaseIsPrivate(t *testing.T) {
	t.Parallel()
	cli := filepath.Join(t.TempDir(), "cli.db")
	if out, err := adminCLI(t, cli, "create-user", "-username", "owner", "-password-file", passwordFile(t, "password-owner")); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("parley admin created no database: %v", err)
	}
	wantPrivate(t, cli)

	served := filepath.Join(t.TempDir(), "served.db")
	s := startServer(t, map[string]string{"PARLEY_DB": served})
	register(t, s, "alice")
	if _, err := os.Stat(served + "-wal"); err != nil {
		t.Fatalf("no WAL file while serving: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		wantPrivate(t, served+suffix)
	}

	// A database that exists keeps the mode its operator gave it.
	shared := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o640); err != nil {
		t.Fatal(err)
	}
	if out, err := adminCLI(t, shared, "create-user", "-username", "owner", "-password-file", passwordFile(t, "password-owner")); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing database's mode changed: %v, %v", fi.Mode(), err)
	}
}

// TestLastAdminKept: parley admin make-admin -revoke refuses to take the
// rights of the last active site admin, and does once there is another.
func TestLastAdminKept(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	if out, err := adminCLI(t, db, "create-user", "-username", "root", "-password-file", passwordFile(t, "password-root")); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	out, err := adminCLI(t, db, "make-admin", "-username", "root", "-revoke")
	if err == nil || !strings.Contains(err.Error(), "last active site admin") {
		t.Errorf("revoking the only admin: %v\n%s; want it refused", err, out)
	}
	if out, err := adminCLI(t, db, "create-user", "-username", "second", "-admin", "-password-file", passwordFile(t, "password-second")); err != nil {
		t.Fatalf("create-user -admin: %v\n%s", err, out)
	}
	if out, err := adminCLI(t, db, "make-admin", "-username", "root", "-revoke"); err != nil || !strings.Contains(out, "root is no longer a site admin") {
		t.Errorf("revoking one of two admins: %v\n%s", err, out)
	}
	if _, err := adminCLI(t, db, "make-admin", "-username", "second", "-revoke"); err == nil || !strings.Contains(err.Error(), "last active site admin") {
		t.Errorf("revoking the last admin left: %v; want it refused", err)
	}
}

// TestLoginFormDeactivatedSentence: the log-in form tells a deactivated
// account so in a sentence, as other form errors are written.
func TestLoginFormDeactivatedSentence(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin, bob := register(t, s, "admin"), register(t, s, "bob")
	admin.call("POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", bob.user.ID), nil, http.StatusOK, nil)
	status, _, body := newClient(t, s).form("/login", url.Values{"username": {"bob"}, "password": {"password-bob"}})
	if status != http.StatusForbidden || !strings.Contains(body, "This account is deactivated: ask an administrator.") {
		t.Errorf("the log-in form for a deactivated account: %d\n%s", status, body)
	}
}
