package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// listed is what a conversation list row shows, presence aside (nobody is
// online across the move).
type listed struct {
	ID, LastSeq, LastVersion, LastReadSeq, OtherReadSeq, Unread int64
	Kind, Title                                                 string
	Members                                                     int
	Other                                                       wire.User
	LastMessageAt                                               string
}

func listing(rows []wire.ConversationRow) []listed {
	out := make([]listed, 0, len(rows))
	for _, r := range rows {
		l := listed{ID: r.ID, LastSeq: r.LastSeq, LastVersion: r.LastVersion, LastReadSeq: r.LastReadSeq, OtherReadSeq: r.OtherReadSeq,
			Unread: r.UnreadCount, Kind: r.Kind, Title: r.Title, Members: r.MemberCount}
		if r.OtherUser != nil {
			l.Other = r.OtherUser.User
		}
		if r.LastMessageAt != nil {
			l.LastMessageAt = r.LastMessageAt.UTC().String()
		}
		out = append(out, l)
	}
	return out
}

// sameHistory reports whether two histories hold the same messages in the
// same state, system messages and client IDs included.
func sameHistory(a, b []wire.Message) bool {
	return slices.EqualFunc(a, b, func(x, y wire.Message) bool {
		return sameMessage(x, y) && x.Kind == y.Kind && x.System == y.System && x.ClientID == y.ClientID
	})
}

// migrateToPostgres runs `parley migrate-to-postgres -from db -to dsn`.
func migrateToPostgres(t *testing.T, db, dsn string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"parley", "migrate-to-postgres", "-from", db, "-to", dsn}, noEnv, &stdout, &stderr)
	return stdout.String(), err
}

// TestMigrateToPostgres: a SQLite database built by a server (a direct
// conversation with an edit, a deletion and a read cursor moved; a renamed
// group of three; a closed account) is copied into PostgreSQL, and a
// server started on it shows everyone the same: the sessions are still
// signed in, old passwords sign in, conversation lists (unread counts
// included) and histories are the same, search finds the same messages,
// and new messages, conversations and accounts take the next seqs and
// IDs. Migrating into the database again is refused and changes nothing.
func TestMigrateToPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDatabase(t)
	db := filepath.Join(t.TempDir(), "parley.db")
	lite := startServer(t, map[string]string{"PARLEY_DB": db})
	alice, bob, carol, dave := register(t, lite, "alice"), register(t, lite, "bob"), register(t, lite, "carol"), register(t, lite, "dave")

	direct, _ := alice.startConversation(bob)
	alice.send(direct, "hello bob, the zebra is loose", "d-1")
	bob.send(direct, "which zebra?", "d-2")
	striped := alice.send(direct, "the striped one", "d-3")
	alice.edit(direct, striped.Seq, "the striped one, obviously")
	wrong := alice.send(direct, "oops, the aardvark chat", "d-4")
	alice.call("DELETE", messagePath(direct, wrong.Seq), nil, http.StatusNoContent, nil)
	alice.send(direct, "anyway", "d-5")
	bob.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", direct), wire.ReadRequest{Seq: 2}, http.StatusNoContent, nil)

	group := alice.createGroup("Team", bob, carol)
	alice.call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", group.ID), wire.RenameRequest{Title: "Zebra keepers"}, http.StatusOK, nil)
	carol.send(group.ID, "the zebra is back in its pen", "g-1")
	bob.send(group.ID, "good", "g-2")

	closing, _ := dave.startConversation(carol)
	dave.send(closing, "goodbye carol", "c-1")
	dave.call("DELETE", "/api/v1/me", wire.CloseAccountRequest{Password: "password-dave"}, http.StatusNoContent, nil)

	people := []*client{alice, bob, carol}
	lists := map[string][]listed{}
	histories := map[int64][]wire.Message{}
	for _, c := range people {
		lists[c.user.Username] = listing(c.conversations())
	}
	for _, conv := range []int64{direct, group.ID} {
		histories[conv] = alice.history(conv)
	}
	histories[closing] = carol.history(closing)
	found := bob.searchAll("zebra", 0, 10)
	if len(found) != 3 {
		t.Fatalf("before the move bob finds %q", found)
	}
	stopServer(t, lite)

	out, err := migrateToPostgres(t, db, dsn)
	if err != nil {
		t.Fatalf("migrate-to-postgres: %v", err)
	}
	if !strings.Contains(out, "users 4,") || !strings.Contains(out, "conversations 3,") || !strings.Contains(out, `database "parley_`) {
		t.Errorf("migrate-to-postgres said %q", out)
	}

	pg := startServer(t, map[string]string{"PARLEY_DB": dsn})
	for _, c := range people {
		if !signedIn(t, c.on(pg)) {
			t.Errorf("%s's session did not survive the move", c.user.Username)
		}
	}
	bob2 := login(t, pg, "bob", "password-bob")
	if bob2.user != bob.user {
		t.Errorf("bob signs in as %+v, was %+v", bob2.user, bob.user)
	}
	if status, _ := newClient(t, pg).do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "dave", Password: "password-dave"}); status != http.StatusUnauthorized {
		t.Errorf("the closed account signs in: %d", status)
	}
	for _, c := range []*client{alice.on(pg), bob2, carol.on(pg)} {
		if got, want := listing(c.conversations()), lists[c.user.Username]; !slices.Equal(got, want) {
			t.Errorf("%s's conversations after the move:\n%+v\nwant\n%+v", c.user.Username, got, want)
		}
	}
	for conv, want := range histories {
		reader := bob2
		if conv == closing {
			reader = carol.on(pg)
		}
		if got := reader.history(conv); !sameHistory(got, want) {
			t.Errorf("history of %d after the move:\n%+v\nwant\n%+v", conv, got, want)
		}
	}
	if got := bob2.searchAll("zebra", 0, 10); !slices.Equal(got, found) {
		t.Errorf("bob's search for zebra after the move: %q, want %q", got, found)
	}
	if got := bob2.searchAll("obviously", direct, 10); !slices.Equal(got, []string{"the striped one, obviously"}) {
		t.Errorf("search for an edited word: %q", got)
	}
	if got := alice.on(pg).searchAll("aardvark", 0, 10); len(got) != 0 {
		t.Errorf("search finds the deleted message: %q", got)
	}

	next := bob2.send(direct, "the zebra made it to PostgreSQL", "p-1")
	if want := histories[direct][len(histories[direct])-1].Seq + 1; next.Seq != want {
		t.Errorf("a new message in the direct conversation has seq %d, want %d", next.Seq, want)
	}
	if got := bob2.searchAll("zebra", 0, 10); len(got) != 4 || got[0] != next.Body {
		t.Errorf("search after a new message: %q, want it first", got)
	}
	erin := register(t, pg, "erin")
	if erin.user.ID <= dave.user.ID {
		t.Errorf("a new account has ID %d, not past the copied ones (%d)", erin.user.ID, dave.user.ID)
	}
	if g := alice.on(pg).createGroup("After", erin); g.ID <= closing {
		t.Errorf("a new group has ID %d, not past the copied ones (%d)", g.ID, closing)
	}

	// Again into the database, now in use: refused, with nothing copied.
	before := listing(bob2.conversations())
	otherDB := filepath.Join(t.TempDir(), "other.db")
	other := startServer(t, map[string]string{"PARLEY_DB": otherDB})
	zed, yan := register(t, other, "zed"), register(t, other, "yan")
	zc, _ := zed.startConversation(yan)
	zed.send(zc, "zebra crossing", "z-1")
	stopServer(t, other)
	if _, err := migrateToPostgres(t, otherDB, dsn); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("migrating into a database in use: %v, want a refusal saying it is not empty", err)
	}
	if status, _ := newClient(t, pg).do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "zed", Password: "password-zed"}); status != http.StatusUnauthorized {
		t.Errorf("after a refused migration zed signs in: %d", status)
	}
	if got := listing(bob2.conversations()); !slices.Equal(got, before) {
		t.Errorf("bob's conversations changed after a refused migration:\n%+v\nwant\n%+v", got, before)
	}
	if got := bob2.searchAll("zebra", 0, 10); len(got) != 4 {
		t.Errorf("bob's search after a refused migration: %q", got)
	}
}

// TestMigrateToPostgresRefusals: arguments that name the wrong kind of
// database, or a SQLite file that does not exist, are refused before
// anything is read or written.
func TestMigrateToPostgresRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	for _, tc := range []struct {
		name string
		args []string
		env  environment
		want string
	}{
		{"no -to", []string{"-from", missing}, nil, "-to"},
		{"a file as -to", []string{"-from", missing, "-to", filepath.Join(dir, "other.db")}, nil, "-to"},
		{"PostgreSQL as -from", []string{"-from", "postgres://parley@127.0.0.1/a", "-to", "postgres://parley@127.0.0.1/b"}, nil, "-from"},
		{"PostgreSQL as PARLEY_DB", []string{"-to", "postgres://parley@127.0.0.1/b"}, environment{"PARLEY_DB": "postgres://parley@127.0.0.1/a"}, "PARLEY_DB"},
		{"a missing -from", []string{"-from", missing, "-to", "postgres://parley@127.0.0.1:1/b?connect_timeout=1"}, nil, "missing.db"},
		{"a URL without a database", []string{"-from", missing, "-to", "postgres://"}, nil, "name its database"},
		{"key/value without dbname", []string{"-from", missing, "-to", "host=127.0.0.1 user=parley"}, nil, "name its database"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), append([]string{"parley", "migrate-to-postgres"}, tc.args...), tc.env.get, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a refused migration created its -from: %v", err)
	}

	// A destination that cannot be reached leaves the source as it was:
	// not even brought up to this version's schema.
	src := filepath.Join(dir, "src.db")
	if err := os.WriteFile(src, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"parley", "migrate-to-postgres", "-from", src, "-to", "postgres://parley@127.0.0.1:1/b?connect_timeout=1"},
		environment(nil).get, &stdout, &stderr); err == nil {
		t.Error("migrating into an unreachable database succeeded")
	}
	if fi, err := os.Stat(src); err != nil || fi.Size() != 0 {
		t.Errorf("the source after a refused migration: %v, %v; want it untouched (empty)", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a refused migration left files beside its source: %v", entries)
	}
}
