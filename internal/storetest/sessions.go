package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// SessionStore is the part of a store's HTTP session store (the scs
// CtxStore shape) that the session tests drive.
type SessionStore interface {
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	// FindExpiryCtx is FindCtx that also returns the stored expiry.
	FindExpiryCtx(ctx context.Context, token string) (data []byte, expiry time.Time, found bool, err error)
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// RunSessions runs the conformance tests of binding sessions to users,
// ending them and keeping them alive, and of display names and account
// closure, against a
// store and its session store made by newStores (fresh and empty each
// call).
func RunSessions(t *testing.T, newStores func(t *testing.T) (chat.Store, SessionStore)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s chat.Store, ss SessionStore)
	}{
		{"EndSessions", testEndSessions},
		{"EndedStaysEnded", testEndedStaysEnded},
		{"TouchSession", testTouchSession},
		{"FindExpiry", testFindExpiry},
		{"DeleteExpired", testDeleteExpired},
		{"SetDisplayName", testSetDisplayName},
		{"CloseUser", testCloseUser},
		{"StartSession", testStartSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ss := newStores(t)
			tc.fn(t, s, ss)
		})
	}
}

// commitBound commits a session and binds it to user.
func commitBound(t *testing.T, s chat.Store, ss SessionStore, user chat.UserID, key string, expiry time.Time) {
	t.Helper()
	if err := s.BindSession(t.Context(), user, key, expiry); err != nil {
		t.Fatalf("BindSession(%q): %v", key, err)
	}
	if err := ss.CommitCtx(t.Context(), key, []byte("data "+key), expiry); err != nil {
		t.Fatalf("CommitCtx(%q): %v", key, err)
	}
}

func found(t *testing.T, ss SessionStore, key string) bool {
	t.Helper()
	_, ok, err := ss.FindCtx(t.Context(), key)
	if err != nil {
		t.Fatalf("FindCtx(%q): %v", key, err)
	}
	return ok
}

func testEndSessions(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice, bob := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	later := time.Now().Add(time.Hour)
	for _, k := range []string{"a1", "a2", "a3"} {
		commitBound(t, s, ss, alice.ID, k, later)
	}
	commitBound(t, s, ss, bob.ID, "b1", later)
	// Binding twice is the same as once.
	if err := s.BindSession(ctx, alice.ID, "a1", later); err != nil {
		t.Fatal(err)
	}

	keys, err := s.EndSessions(ctx, alice.ID, "a2")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"a1", "a3"}) {
		t.Errorf("EndSessions(except a2) = %q, want [a1 a3]", keys)
	}
	for k, want := range map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true} {
		if got := found(t, ss, k); got != want {
			t.Errorf("session %s found %v after EndSessions, want %v", k, got, want)
		}
	}
	// Ended sessions are not ended again.
	if keys, err := s.EndSessions(ctx, alice.ID, "a2"); err != nil || len(keys) != 0 {
		t.Errorf("EndSessions again = %q, %v; want none", keys, err)
	}
	keys, err = s.EndSessions(ctx, alice.ID, "")
	if err != nil || !slices.Equal(keys, []string{"a2"}) {
		t.Errorf("EndSessions(all) = %q, %v; want [a2]", keys, err)
	}
	if found(t, ss, "a2") || !found(t, ss, "b1") {
		t.Error("after ending all of alice's sessions: a2 still there, or bob's gone")
	}
	if keys, err := s.EndSessions(ctx, bob.ID+100, ""); err != nil || len(keys) != 0 {
		t.Errorf("EndSessions of a user with none = %q, %v", keys, err)
	}
}

// testEndedStaysEnded: a request that loaded a session before it ended, or
// was deleted, cannot store it again when it commits.
func testEndedStaysEnded(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice")
	later := time.Now().Add(time.Hour)
	commitBound(t, s, ss, alice.ID, "a1", later)
	commitBound(t, s, ss, alice.ID, "a2", later)
	if _, err := s.EndSessions(ctx, alice.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := ss.DeleteCtx(ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a1", "a2"} {
		if err := ss.CommitCtx(ctx, k, []byte("late"), later); err != nil {
			t.Fatalf("late CommitCtx(%q): %v", k, err)
		}
		if found(t, ss, k) {
			t.Errorf("session %s came back after it ended", k)
		}
	}
	// A session deleted (signed out) is ended too.
	commitBound(t, s, ss, alice.ID, "a3", later)
	if err := ss.DeleteCtx(ctx, "a3"); err != nil {
		t.Fatal(err)
	}
	if err := ss.CommitCtx(ctx, "a3", []byte("late"), later); err != nil {
		t.Fatal(err)
	}
	if found(t, ss, "a3") {
		t.Error("a deleted session came back")
	}
	// Unbound sessions (signed out visitors) are stored as ever.
	if err := ss.CommitCtx(ctx, "anon", []byte("x"), later); err != nil || !found(t, ss, "anon") {
		t.Errorf("an unbound session was not stored: %v", err)
	}
}

func testTouchSession(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice")
	soon := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	commitBound(t, s, ss, alice.ID, "a1", soon)

	// The zero time moves nothing.
	exp, ok, err := s.TouchSession(ctx, "a1", time.Time{})
	if err != nil || !ok || !exp.Equal(soon) {
		t.Fatalf("TouchSession(zero) = %v, %v, %v; want %v, true", exp, ok, err, soon)
	}
	later := soon.Add(time.Hour)
	if exp, ok, err = s.TouchSession(ctx, "a1", later); err != nil || !ok || !exp.Equal(later) {
		t.Fatalf("TouchSession(later) = %v, %v, %v; want %v, true", exp, ok, err, later)
	}
	// Never backwards.
	if exp, ok, err = s.TouchSession(ctx, "a1", soon); err != nil || !ok || !exp.Equal(later) {
		t.Fatalf("TouchSession(earlier) = %v, %v, %v; want %v, true", exp, ok, err, later)
	}
	if _, ok, err := s.TouchSession(ctx, "none", later); err != nil || ok {
		t.Errorf("TouchSession of no session = %v, %v; want false", ok, err)
	}
	// An expired session is not brought back.
	commitBound(t, s, ss, alice.ID, "old", time.Now().Add(-time.Second))
	if _, ok, err := s.TouchSession(ctx, "old", later); err != nil || ok {
		t.Errorf("TouchSession of an expired session = %v, %v; want false", ok, err)
	}
	if found(t, ss, "old") {
		t.Error("an expired session was brought back")
	}
	// An ended one neither.
	if _, err := s.EndSessions(ctx, alice.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.TouchSession(ctx, "a1", later); err != nil || ok {
		t.Errorf("TouchSession of an ended session = %v, %v; want false", ok, err)
	}
}

// testFindExpiry: the stored expiry comes back with the data, as committed
// or as TouchSession moved it, and an expired session is not found.
func testFindExpiry(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice")
	soon := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	commitBound(t, s, ss, alice.ID, "a1", soon)
	data, exp, ok, err := ss.FindExpiryCtx(ctx, "a1")
	if err != nil || !ok || string(data) != "data a1" || !exp.Equal(soon) {
		t.Fatalf("FindExpiryCtx = %q, %v, %v, %v; want %q, %v, true", data, exp, ok, err, "data a1", soon)
	}
	later := soon.Add(time.Hour)
	if _, _, err := s.TouchSession(ctx, "a1", later); err != nil {
		t.Fatal(err)
	}
	if _, exp, ok, err := ss.FindExpiryCtx(ctx, "a1"); err != nil || !ok || !exp.Equal(later) {
		t.Errorf("FindExpiryCtx after TouchSession = %v, %v, %v; want %v", exp, ok, err, later)
	}
	commitBound(t, s, ss, alice.ID, "old", time.Now().Add(-time.Second))
	if _, _, ok, err := ss.FindExpiryCtx(ctx, "old"); err != nil || ok {
		t.Errorf("FindExpiryCtx of an expired session = %v, %v; want not found", ok, err)
	}
	if _, _, ok, err := ss.FindExpiryCtx(ctx, "none"); err != nil || ok {
		t.Errorf("FindExpiryCtx of no session = %v, %v; want not found", ok, err)
	}
}

// testDeleteExpired: the sweep deletes the sessions expired by the time it
// is given, and only those.
func testDeleteExpired(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice")
	now := time.Now()
	commitBound(t, s, ss, alice.ID, "fresh", now.Add(time.Hour))
	commitBound(t, s, ss, alice.ID, "stale", now.Add(-time.Second))
	if n, err := ss.DeleteExpired(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteExpired(now) = %d, %v; want 1 (the stale session)", n, err)
	}
	if !found(t, ss, "fresh") {
		t.Error("the sweep deleted an unexpired session")
	}
	if n, err := ss.DeleteExpired(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteExpired(in two hours) = %d, %v; want 1", n, err)
	}
	if found(t, ss, "fresh") {
		t.Error("a session expired by the sweep's time is still found")
	}
}

func testSetDisplayName(t *testing.T, s chat.Store, _ SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice")
	u, _, err := s.SetDisplayName(ctx, alice.ID, "Ålice Liddell")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != alice.ID || u.Username != "alice" || u.DisplayName != "Ålice Liddell" || !u.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("SetDisplayName = %+v (was %+v)", u, alice)
	}
	if got, err := s.UserByID(ctx, alice.ID); err != nil || got.DisplayName != "Ålice Liddell" {
		t.Errorf("UserByID after SetDisplayName = %+v, %v", got, err)
	}
	// Search sees the new name, in any letter case.
	bob := NewUser(t, s, "bob")
	found, err := s.SearchUsers(ctx, chat.UserQuery{Search: "liddell", Exclude: bob.ID, Limit: 10})
	if err != nil || len(found) != 1 || found[0].ID != alice.ID {
		t.Errorf("search for the new name: %+v, %v", found, err)
	}
	if _, _, err := s.SetDisplayName(ctx, alice.ID+100, "Nobody"); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("SetDisplayName of no user: %v, want not_found", err)
	}
}

// testCloseUser: a closed account ends its sessions, leaves the directory,
// cannot sign in or be changed, keeps its username taken and shows as
// ClosedDisplayName wherever it appears, its messages kept.
func testCloseUser(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice", "Alice Liddell"), NewUser(t, s, "bob")
	later := time.Now().Add(time.Hour)
	commitBound(t, s, ss, alice.ID, "a1", later)
	commitBound(t, s, ss, alice.ID, "a2", later)
	commitBound(t, s, ss, bob.ID, "b1", later)
	conv := direct(t, s, alice.ID, bob.ID, chat.Now())
	sent := send(t, s, conv.ID, alice.ID, "goodbye", "c1", chat.Now())

	closed, err := s.CloseUser(ctx, alice.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, keys := closed.User, closed.Sessions
	if len(closed.Groups) != 0 {
		t.Errorf("CloseUser of someone in no group left groups: %+v", closed.Groups)
	}
	want := chat.User{ID: alice.ID, Username: "alice", DisplayName: chat.ClosedDisplayName, CreatedAt: alice.CreatedAt, Closed: true}
	if u != want {
		t.Errorf("CloseUser = %+v, want %+v", u, want)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"a1", "a2"}) {
		t.Errorf("CloseUser ended sessions %q, want [a1 a2]", keys)
	}
	if found(t, ss, "a1") || found(t, ss, "a2") || !found(t, ss, "b1") {
		t.Error("after closing alice: one of her sessions is still there, or bob's is gone")
	}
	if got, err := s.UserByID(ctx, alice.ID); err != nil || got != want {
		t.Errorf("UserByID of a closed account = %+v, %v; want %+v", got, err, want)
	}
	_, _, err = s.UserCredentials(ctx, "alice")
	wantCode(t, err, chat.ENOTFOUND, "UserCredentials of a closed account")
	wantCode(t, s.SetPasswordHash(ctx, alice.ID, "new"), chat.ENOTFOUND, "SetPasswordHash of a closed account")
	_, _, err = s.SetDisplayName(ctx, alice.ID, "Back")
	wantCode(t, err, chat.ENOTFOUND, "SetDisplayName of a closed account")
	_, err = s.CloseUser(ctx, alice.ID, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "CloseUser twice")
	_, err = s.CloseUser(ctx, bob.ID+100, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "CloseUser of no user")
	_, err = s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Another", CreatedAt: chat.Now()}, "hash")
	wantCode(t, err, chat.ECONFLICT, "CreateUser with a closed account's username")

	for _, search := range []string{"", "alice", "liddell", "deleted"} {
		found, err := s.SearchUsers(ctx, chat.UserQuery{Search: search, Exclude: bob.ID, Limit: 10})
		if err != nil || len(found) != 0 {
			t.Errorf("SearchUsers(%q) after closing alice = %+v, %v; want nobody", search, found, err)
		}
	}
	row, err := s.Conversation(ctx, bob.ID, conv.ID)
	if err != nil || row.OtherUser == nil || *row.OtherUser != want {
		t.Errorf("bob's conversation with alice: other user %+v, %v; want %+v", row.OtherUser, err, want)
	}
	rows := conversations(t, s, chat.ConversationQuery{UserID: bob.ID, Limit: 10})
	if len(rows) != 1 || rows[0].OtherUser == nil || *rows[0].OtherUser != want {
		t.Errorf("bob's list after closing alice: %s", describeRows(rows))
	}
	checkMessages(t, "history after closing alice", messages(t, s, conv.ID, chat.MessageQuery{Limit: 10}), []chat.Message{sent})
	// Her other data stays consistent: ending sessions finds none left.
	if keys, err := s.EndSessions(ctx, alice.ID, ""); err != nil || len(keys) != 0 {
		t.Errorf("EndSessions after CloseUser = %q, %v; want none", keys, err)
	}
}

// testStartSession: a login's session is bound only while the account is
// open and its password hash is the one the login checked.
func testStartSession(t *testing.T, s chat.Store, ss SessionStore) {
	ctx := t.Context()
	alice := NewUser(t, s, "alice") // password hash "hash"
	later := time.Now().Add(time.Hour)
	start := func(key, hash string) bool {
		t.Helper()
		ok, err := s.StartSession(ctx, alice.ID, key, later, hash)
		if err != nil {
			t.Fatalf("StartSession(%q): %v", key, err)
		}
		if ok {
			if err := ss.CommitCtx(ctx, key, []byte("data "+key), later); err != nil {
				t.Fatal(err)
			}
		}
		return ok
	}
	if !start("s1", "hash") {
		t.Fatal("StartSession with the account's hash did not bind")
	}
	if start("s2", "other hash") {
		t.Error("StartSession with another hash bound the session")
	}
	// A password change: a login that checked the old hash gets nothing;
	// the session bound before is ended with the others.
	if err := s.SetPasswordHash(ctx, alice.ID, "new hash"); err != nil {
		t.Fatal(err)
	}
	if start("s3", "hash") {
		t.Error("StartSession with the old hash bound the session after a password change")
	}
	keys, err := s.EndSessions(ctx, alice.ID, "")
	if err != nil || !slices.Equal(keys, []string{"s1"}) {
		t.Errorf("EndSessions = %q, %v; want [s1]", keys, err)
	}
	if !start("s4", "new hash") {
		t.Fatal("StartSession with the new hash did not bind")
	}
	// A closure: the bound session ends, and no login binds any more.
	closed, err := s.CloseUser(ctx, alice.ID, chat.Now())
	if keys = closed.Sessions; err != nil || !slices.Equal(keys, []string{"s4"}) {
		t.Errorf("CloseUser ended %q, %v; want [s4]", keys, err)
	}
	if start("s5", "new hash") || start("s6", "") {
		t.Error("StartSession bound a session of a closed account")
	}
	for _, k := range []string{"s1", "s3", "s4", "s5"} {
		if found(t, ss, k) {
			t.Errorf("session %s is alive", k)
		}
	}
}
