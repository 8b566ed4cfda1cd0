package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

func testUsersCreateAndRead(t *testing.T, s chat.Store) {
	ctx := t.Context()
	in := chat.User{Username: "alice", DisplayName: "Alice Liddell", CreatedAt: chat.Now()}
	alice, err := s.CreateUser(ctx, in, "hash-alice")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if alice.ID <= 0 {
		t.Fatalf("CreateUser returned ID %d, want > 0", alice.ID)
	}
	in.ID = alice.ID
	if !equalUser(alice, in) {
		t.Errorf("CreateUser returned %+v, want %+v", alice, in)
	}
	// Display names are not unique; only usernames are.
	bob := newUser(t, s, "bob", "Alice Liddell")
	if bob.ID <= 0 || bob.ID == alice.ID {
		t.Errorf("second user got ID %d (first %d), want a new ID > 0", bob.ID, alice.ID)
	}

	got, err := s.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if !equalUser(got, alice) {
		t.Errorf("UserByID = %+v, want %+v", got, alice)
	}
	got, hash, err := s.UserCredentials(ctx, "alice")
	if err != nil {
		t.Fatalf("UserCredentials: %v", err)
	}
	if !equalUser(got, alice) || hash != "hash-alice" {
		t.Errorf("UserCredentials = %+v, %q; want %+v, %q", got, hash, alice, "hash-alice")
	}
	got, hash, err = s.UserCredentials(ctx, "bob")
	if err != nil || !equalUser(got, bob) || hash != "hash" {
		t.Errorf("UserCredentials(bob) = %+v, %q, %v; want %+v, %q", got, hash, err, bob, "hash")
	}

	_, err = s.UserByID(ctx, max(alice.ID, bob.ID)+1_000_000)
	wantCode(t, err, chat.ENOTFOUND, "UserByID(unknown)")
	_, _, err = s.UserCredentials(ctx, "nobody")
	wantCode(t, err, chat.ENOTFOUND, "UserCredentials(unknown)")
}

func testUsersDuplicate(t *testing.T, s chat.Store) {
	ctx := t.Context()
	alice, err := s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Alice", CreatedAt: chat.Now()}, "hash-alice")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	// The Service lower-cases usernames, but the store is the last line:
	// it must refuse a name taken in any letter case.
	for _, name := range []string{"alice", "Alice", "ALICE", "aLiCe"} {
		_, err := s.CreateUser(ctx, chat.User{Username: name, DisplayName: "Impostor", CreatedAt: chat.Now()}, "hash-impostor")
		wantCode(t, err, chat.ECONFLICT, fmt.Sprintf("CreateUser(%q) after alice", name))
	}
	// The refused attempts changed nothing and stored no one.
	got, hash, err := s.UserCredentials(ctx, "alice")
	if err != nil || !equalUser(got, alice) || hash != "hash-alice" {
		t.Errorf("after duplicates, UserCredentials = %+v, %q, %v; want %+v, %q", got, hash, err, alice, "hash-alice")
	}
	users, err := s.SearchUsers(ctx, chat.UserQuery{Limit: 100})
	if err != nil {
		t.Fatalf("SearchUsers: %v", err)
	}
	if len(users) != 1 || !equalUser(users[0], alice) {
		t.Errorf("after duplicates, SearchUsers = %+v, want only %+v", users, alice)
	}
}

// searchFixture is the people directory of the search tests, by username.
func searchFixture(t *testing.T, s chat.Store) map[string]chat.User {
	t.Helper()
	// Only "zoe" and "quinn" contain a q or ë; only "under_score" an
	// underscore; only "percent" a percent sign; only "back" a backslash.
	people := [][2]string{
		{"alice", "Alice Liddell"},
		{"bob", "Bob Builder"},
		{"zoe", "Zoë Q"},
		{"quinn", "Harley"},
		{"under_score", "Under Score"},
		{"percent", "100% sure"},
		{"hundred", "100 x sure"},
		{"abc", "Abc Def"},
		{"back", `Back\slash`},
	}
	users := make(map[string]chat.User)
	for _, p := range people {
		users[p[0]] = newUser(t, s, p[0], p[1])
	}
	return users
}

// checkSearch runs a query and checks that it returns exactly the named
// users, in that order, each as stored.
func checkSearch(t *testing.T, s chat.Store, users map[string]chat.User, q chat.UserQuery, want ...string) {
	t.Helper()
	got, err := s.SearchUsers(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchUsers(%+v): %v", q, err)
	}
	names := make([]string, len(got))
	for i, u := range got {
		names[i] = u.Username
		if w, ok := users[u.Username]; !ok || !equalUser(u, w) {
			t.Errorf("SearchUsers(%+v) returned %+v, want %+v", q, u, w)
		}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(names, want) {
		t.Errorf("SearchUsers(%+v) = %q, want %q", q, names, want)
	}
}

func testSearchMatch(t *testing.T, s chat.Store) {
	users := searchFixture(t, s)
	all := []string{"abc", "alice", "back", "bob", "hundred", "percent", "quinn", "under_score", "zoe"}

	checkSearch(t, s, users, chat.UserQuery{Limit: 100}, all...)
	// Username or display name, any case, anywhere in the text.
	checkSearch(t, s, users, chat.UserQuery{Search: "zoë", Limit: 100}, "zoe")
	checkSearch(t, s, users, chat.UserQuery{Search: "Zoë", Limit: 100}, "zoe")
	checkSearch(t, s, users, chat.UserQuery{Search: "Q", Limit: 100}, "quinn", "zoe")
	checkSearch(t, s, users, chat.UserQuery{Search: "q", Limit: 100}, "quinn", "zoe")
	checkSearch(t, s, users, chat.UserQuery{Search: "ALI", Limit: 100}, "alice")
	checkSearch(t, s, users, chat.UserQuery{Search: "ice", Limit: 100}, "alice")
	checkSearch(t, s, users, chat.UserQuery{Search: "DELL", Limit: 100}, "alice")
	checkSearch(t, s, users, chat.UserQuery{Search: "build", Limit: 100}, "bob")
	checkSearch(t, s, users, chat.UserQuery{Search: "sure", Limit: 100}, "hundred", "percent")
	checkSearch(t, s, users, chat.UserQuery{Search: "nobody", Limit: 100})

	// Exclude leaves out the one who is looking, whatever else matches.
	checkSearch(t, s, users, chat.UserQuery{Exclude: users["alice"].ID, Limit: 100}, slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "alice" })...)
	checkSearch(t, s, users, chat.UserQuery{Search: "ali", Exclude: users["alice"].ID, Limit: 100})
	checkSearch(t, s, users, chat.UserQuery{Search: "q", Exclude: users["alice"].ID, Limit: 100}, "quinn", "zoe")

	// After continues strictly after the given username; Limit caps the page.
	checkSearch(t, s, users, chat.UserQuery{After: "bob", Limit: 100}, "hundred", "percent", "quinn", "under_score", "zoe")
	checkSearch(t, s, users, chat.UserQuery{After: "bob", Limit: 2}, "hundred", "percent")
	checkSearch(t, s, users, chat.UserQuery{Search: "sure", After: "hundred", Limit: 100}, "percent")
	checkSearch(t, s, users, chat.UserQuery{After: "zoe", Limit: 100})
}

func testSearchWildcards(t *testing.T, s chat.Store) {
	users := searchFixture(t, s)
	// LIKE's wildcards and its usual escape character match themselves.
	checkSearch(t, s, users, chat.UserQuery{Search: "_", Limit: 100}, "under_score")
	checkSearch(t, s, users, chat.UserQuery{Search: "r_s", Limit: 100}, "under_score")
	checkSearch(t, s, users, chat.UserQuery{Search: "a_c", Limit: 100})
	checkSearch(t, s, users, chat.UserQuery{Search: "%", Limit: 100}, "percent")
	checkSearch(t, s, users, chat.UserQuery{Search: "0%", Limit: 100}, "percent")
	checkSearch(t, s, users, chat.UserQuery{Search: "100%sure", Limit: 100})
	checkSearch(t, s, users, chat.UserQuery{Search: "%%", Limit: 100})
	checkSearch(t, s, users, chat.UserQuery{Search: `\`, Limit: 100}, "back")
	checkSearch(t, s, users, chat.UserQuery{Search: `k\s`, Limit: 100}, "back")
	checkSearch(t, s, users, chat.UserQuery{Search: `\_`, Limit: 100})
	checkSearch(t, s, users, chat.UserQuery{Search: `\%`, Limit: 100})
}

func testSearchPaging(t *testing.T, s chat.Store) {
	ctx := t.Context()
	users := make(map[string]chat.User)
	// Users that "user" does not match, around the ones it does.
	for _, n := range []string{"aaron", "mallory", "zed"} {
		users[n] = NewUser(t, s, n)
	}
	var matching []string
	for i := range 45 {
		n := fmt.Sprintf("user%02d", i)
		users[n] = NewUser(t, s, n)
		matching = append(matching, n)
	}

	// pages follows After from page to page and checks the page sizes.
	pages := func(q chat.UserQuery) []string {
		t.Helper()
		var names []string
		for range 100 {
			page, err := s.SearchUsers(ctx, q)
			if err != nil {
				t.Fatalf("SearchUsers(%+v): %v", q, err)
			}
			if len(page) > q.Limit {
				t.Fatalf("SearchUsers(%+v) returned %d users, more than the limit", q, len(page))
			}
			for _, u := range page {
				if !equalUser(u, users[u.Username]) {
					t.Errorf("SearchUsers returned %+v, want %+v", u, users[u.Username])
				}
				names = append(names, u.Username)
			}
			if len(page) < q.Limit {
				return names
			}
			q.After = page[len(page)-1].Username
		}
		t.Fatalf("SearchUsers paging did not end")
		return nil
	}

	got := pages(chat.UserQuery{Search: "user", Limit: 20})
	if !slices.Equal(got, matching) {
		t.Errorf("paging through \"user\" in pages of 20 gave %q, want %q", got, matching)
	}
	// 45 = 20 + 20 + 5: the third page is short.
	page, err := s.SearchUsers(ctx, chat.UserQuery{Search: "user", After: "user39", Limit: 20})
	if err != nil || len(page) != 5 {
		t.Errorf("third page = %d users, %v; want 5", len(page), err)
	}
	page, err = s.SearchUsers(ctx, chat.UserQuery{Search: "user", After: "user44", Limit: 20})
	if err != nil || len(page) != 0 {
		t.Errorf("page after the last user = %+v, %v; want none", page, err)
	}

	// Everyone but the excluded one, across pages of another size.
	want := []string{"aaron", "mallory"}
	for _, n := range matching {
		if n != "user07" {
			want = append(want, n)
		}
	}
	want = append(want, "zed")
	got = pages(chat.UserQuery{Exclude: users["user07"].ID, Limit: 7})
	if !slices.Equal(got, want) {
		t.Errorf("paging everyone but user07 in pages of 7 gave %q, want %q", got, want)
	}
}

func testUsersSetPasswordHash(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	if err := s.SetPasswordHash(ctx, a.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	if _, h, err := s.UserCredentials(ctx, "alice"); err != nil || h != "new-hash" {
		t.Errorf("alice's hash = %q, %v; want new-hash", h, err)
	}
	if _, h, _ := s.UserCredentials(ctx, "bob"); h != "hash" {
		t.Errorf("bob's hash changed to %q", h)
	}
	if err := s.SetPasswordHash(ctx, a.ID+b.ID+1000, "x"); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("unknown user: %v", err)
	}
}
