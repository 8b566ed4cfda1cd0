package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// wantPage fails the test unless the answer has the status and every
// piece of markup in want.
func wantPage(t *testing.T, what string, status int, body string, wantStatus int, want ...string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d", what, status, wantStatus)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: no %q in the page:\n%s", what, w, body)
		}
	}
}

// wantRedirect fails the test unless the answer is a 303 to loc.
func wantRedirect(t *testing.T, what string, status int, loc, wantLoc string, body string) {
	t.Helper()
	if status != http.StatusSeeOther || loc != wantLoc {
		t.Errorf("%s: %d Location %q, want 303 to %q\n%s", what, status, loc, wantLoc, body)
	}
}

// pickBox is the markup of a person's box in the "New group" picker.
func pickBox(c *client, checked bool) string {
	s := fmt.Sprintf(`<input type="checkbox" id="pick-%d" name="user_id" value="%d"`, c.user.ID, c.user.ID)
	if checked {
		s += " checked"
	}
	return s
}

// TestGroupPageNew: the "New group" page lists the directory with a box
// per person, searches by GET keeping the title and who is ticked, and
// creates the group by POST /groups, landing in it. Each refusal (no
// title, nobody, too many, an unknown or malformed person, a throttle)
// shows the form again with the error, aria-invalid and the choices kept.
func TestGroupPageNew(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_GROUP_MEMBERS": "3"})
	alice, bob, carol, dave := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave")

	status, _, body := alice.page("/groups/new")
	wantPage(t, "the new group page", status, body, 200,
		`<form id="group-form" class="group-form" method="post" action="/groups" novalidate>`,
		pickBox(bob, false), pickBox(carol, false), pickBox(dave, false),
		`<span id="group-count-number">0</span> chosen`, `<h1>New group</h1>`)
	if strings.Contains(body, fmt.Sprintf(`id="pick-%d"`, alice.user.ID)) {
		t.Error("the picker offers the visitor themselves")
	}

	// Searching keeps the title and carol, ticked, though she is not found.
	q := url.Values{"title": {"Ops <team>"}, "q": {"bo"}, "user_id": {strconv.FormatInt(carol.user.ID, 10)}}
	status, _, body = alice.page("/groups/new?" + q.Encode())
	wantPage(t, "a search", status, body, 200, `value="Ops &lt;team&gt;"`, pickBox(carol, true), pickBox(bob, false), `value="bo"`, `<span id="group-count-number">1</span> chosen`)
	if strings.Contains(body, pickBox(dave, false)) {
		t.Error("a search for bo shows dave")
	}
	if status, _, body := alice.page("/groups/new?user_id=x"); status != 200 || !strings.Contains(body, `id="group-people-error" class="field-error" role="alert">A choice is not a person of the directory.</p>`) {
		t.Errorf("a malformed choice in a search: %d\n%s", status, body)
	}

	// Each person shown as chosen is a look-up: a page shows at most 1,000.
	many := url.Values{"user_id": {}}
	for i := range 1001 {
		many["user_id"] = append(many["user_id"], strconv.Itoa(1000+i))
	}
	if status, _, body := alice.page("/groups/new?" + many.Encode()); status != 200 || !strings.Contains(body, `role="alert">At most 1000 people can be chosen here.</p>`) {
		t.Errorf("1,001 chosen: %d\n%s", status, body)
	}

	id := func(c *client) string { return strconv.FormatInt(c.user.ID, 10) }
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   []string
	}{
		{"no title", url.Values{"title": {"  "}, "user_id": {id(bob)}}, 400, []string{
			`id="group-title-error" class="field-error" role="alert">Title`, `aria-describedby="group-title-error" aria-invalid="true"`, pickBox(bob, true)}},
		{"nobody", url.Values{"title": {"Ops"}}, 400, []string{
			`id="group-people-error" class="field-error" role="alert">Choose at least one person besides you.</p>`, `value="Ops"`, `aria-invalid="true" aria-describedby="group-people-error"`}},
		{"only oneself", url.Values{"title": {"Ops"}, "user_id": {id(alice)}}, 400, []string{`Choose at least one person besides you.`}},
		{"too many", url.Values{"title": {"Ops"}, "user_id": {id(bob), id(carol), id(dave)}}, 400, []string{
			`role="alert">A group has at most 3 members, its creator included.</p>`, pickBox(bob, true), pickBox(carol, true), pickBox(dave, true), `<span id="group-count-number">3</span> chosen`}},
		{"unknown person", url.Values{"title": {"Ops"}, "user_id": {id(bob), "987654"}}, 404, []string{
			`id="group-people-error" class="field-error" role="alert">One of the people chosen no longer has an account: they are taken off the list.</p>`, pickBox(bob, true), `<span id="group-count-number">1</span> chosen`}},
		{"malformed person", url.Values{"title": {"Ops"}, "user_id": {id(bob), "-1"}}, 400, []string{`A choice is not a person of the directory.`}},
	} {
		status, loc, body := alice.form("/groups", tc.form)
		wantPage(t, tc.name, status, body, tc.status, tc.want...)
		if loc != "" {
			t.Errorf("%s: redirected to %q", tc.name, loc)
		}
	}
	if n := len(alice.conversations()); n != 0 {
		t.Fatalf("refused forms made %d conversations", n)
	}

	status, loc, body := alice.form("/groups", url.Values{"title": {"Ops"}, "q": {"ca"}, "user_id": {id(bob), id(carol)}})
	if status != http.StatusSeeOther || !regexp.MustCompile(`^/c/\d+$`).MatchString(loc) {
		t.Fatalf("create: %d %q\n%s", status, loc, body)
	}
	g, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/c/"), 10, 64)
	if got := roles(alice.members(g)); !maps(got, map[int64]string{alice.user.ID: "admin", bob.user.ID: "member", carol.user.ID: "member"}) {
		t.Errorf("the new group's members: %v", got)
	}
	if rows := bob.conversations(); len(rows) != 1 || rows[0].ID != g || rows[0].Kind != "group" || rows[0].Title != "Ops" {
		t.Errorf("bob's list: %+v", rows)
	}

	// A throttled creation: the form again, saying how long to wait.
	slow := startServer(t, map[string]string{"PARLEY_CONVERSATION_BURST": "1", "PARLEY_CONVERSATION_RATE": "0.001"})
	erin, fred := register(t, slow, "erin"), register(t, slow, "fred")
	if status, _, body := erin.form("/groups", url.Values{"title": {"One"}, "user_id": {id(fred)}}); status != http.StatusSeeOther {
		t.Fatalf("first creation: %d\n%s", status, body)
	}
	status, _, body = erin.form("/groups", url.Values{"title": {"Two"}, "user_id": {id(fred)}})
	wantPage(t, "a throttled creation", status, body, 429, `id="group-people-error" class="field-error" role="alert">`, "Try again in", `value="Two"`, pickBox(fred, true))
}

// TestGroupPageMembers: the members page and its forms, as an admin, a
// member, an outsider; each action redirects back with a note, each
// refusal shows the page again with the error or the 403/404 page.
func TestGroupPageMembers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, carol, dave, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave"), register(t, s, "mallory")
	g := alice.createGroup("Team", bob, carol).ID
	dm, _ := alice.startConversation(bob)
	gp := fmt.Sprintf("/c/%d", g)
	members := gp + "/members"
	id := func(c *client) string { return strconv.FormatInt(c.user.ID, 10) }
	memberRow := func(c *client) string { return fmt.Sprintf(`data-id="%d">`, c.user.ID) }
	roleForm := func(c *client) string { return fmt.Sprintf(`action="/c/%d/members/%d/role"`, g, c.user.ID) }
	removeForm := func(c *client) string { return fmt.Sprintf(`action="/c/%d/members/%d/remove"`, g, c.user.ID) }

	status, _, body := alice.page(members)
	wantPage(t, "alice's members page", status, body, 200,
		`<h1 id="group-name" dir="auto">Team</h1>`, `<form id="rename-form"`, `value="Team"`, `Members <span class="count">(3)</span>`,
		memberRow(alice), memberRow(bob), memberRow(carol), `<span class="you">(you)</span>`, `<span class="role">admin</span>`, `<span class="role">member</span>`,
		roleForm(bob), removeForm(bob), removeForm(carol), `Make admin<span class="visually-hidden">: Bob</span>`,
		`id="add-people"`, fmt.Sprintf(`<input type="hidden" name="user_id" value="%d">`, dave.user.ID),
		`<form id="leave-form" method="post" action="/c/`+strconv.FormatInt(g, 10)+`/leave">`, `href="`+gp+`"`)
	if strings.Contains(body, removeForm(alice)) {
		t.Error("alice is offered to remove herself (that is Leave group)")
	}
	if strings.Contains(body, roleForm(alice)) {
		t.Error("alice, the only admin, is offered to step down (which is refused)")
	}
	if strings.Contains(body, fmt.Sprintf(`<input type="hidden" name="user_id" value="%d">`, bob.user.ID)) {
		t.Error("Add people offers bob, a member")
	}
	status, _, body = bob.page(members)
	wantPage(t, "bob's members page", status, body, 200, memberRow(alice), `<form id="leave-form"`, `(you)`)
	for _, no := range []string{`rename-form`, `add-people`, roleForm(carol), removeForm(carol)} {
		if strings.Contains(body, no) {
			t.Errorf("bob, a member, sees %q", no)
		}
	}
	// Outsiders and direct conversations: the not-found page.
	for _, tc := range []struct {
		who  *client
		path string
	}{{mallory, members}, {mallory, "/c/987654321/members"}, {alice, fmt.Sprintf("/c/%d/members", dm)}, {alice, "/c/x/members"}} {
		if status, _, body := tc.who.page(tc.path); status != 404 || !strings.Contains(body, "Page not found") {
			t.Errorf("%s on %s: %d, want the not-found page", tc.who.user.Username, tc.path, status)
		}
	}
	_, _, missing := mallory.page("/c/987654321/members")
	if _, _, body := mallory.page(members); body != missing {
		t.Error("mallory's members page of the group differs from a missing group's")
	}

	// Refusals for a member: 403, nothing changed.
	before := alice.members(g)
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{gp + "/title", url.Values{"title": {"Bob's"}}},
		{members, url.Values{"user_id": {id(dave)}}},
		{fmt.Sprintf("%s/%d/role", members, bob.user.ID), url.Values{"role": {"admin"}}},
		{fmt.Sprintf("%s/%d/remove", members, carol.user.ID), nil},
	} {
		status, loc, body := bob.form(f.path, f.form)
		if status != http.StatusForbidden || loc != "" || !strings.Contains(body, "Only the group&#39;s admins may do that.") {
			t.Errorf("bob POST %s: %d %q, want the 403 page\n%s", f.path, status, loc, body)
		}
	}
	// Outsiders and direct conversations: 404.
	for _, f := range []struct {
		who  *client
		path string
		form url.Values
	}{
		{mallory, gp + "/title", url.Values{"title": {"Mallory's"}}},
		{mallory, members, url.Values{"user_id": {id(mallory)}}},
		{mallory, fmt.Sprintf("%s/%d/remove", members, bob.user.ID), nil},
		{mallory, gp + "/leave", nil},
		{alice, fmt.Sprintf("/c/%d/title", dm), url.Values{"title": {"Us"}}},
		{alice, fmt.Sprintf("/c/%d/members", dm), url.Values{"user_id": {id(dave)}}},
		{alice, fmt.Sprintf("/c/%d/leave", dm), nil},
	} {
		if status, loc, body := f.who.form(f.path, f.form); status != 404 || loc != "" || !strings.Contains(body, "Page not found") {
			t.Errorf("%s POST %s: %d %q, want the 404 page", f.who.user.Username, f.path, status, loc)
		}
	}
	if after := alice.members(g); !maps(roles(after), roles(before)) {
		t.Errorf("refused forms changed the members: %v", roles(after))
	}

	// Rename.
	status, _, body = alice.form(gp+"/title", url.Values{"title": {"\u200b"}})
	wantPage(t, "an empty title", status, body, 400, `id="rename-error" class="field-error" role="alert">`, `aria-describedby="rename-error" aria-invalid="true"`, `<h1 id="group-name" dir="auto">Team</h1>`)
	status, loc, body := alice.form(gp+"/title", url.Values{"title": {"Team <2>"}})
	wantRedirect(t, "rename", status, loc, members+"?done=renamed", body)
	status, _, body = alice.page(loc)
	wantPage(t, "after the rename", status, body, 200, `<h1 id="group-name" dir="auto">Team &lt;2&gt;</h1>`, `role="status">The group is renamed.</p>`)
	if c := bob.conversations(); c[0].Title != "Team <2>" {
		t.Errorf("bob's row after the rename: %+v", c[0])
	}

	// Add.
	status, loc, body = alice.form(members, url.Values{"user_id": {id(dave)}, "q": {"da"}})
	wantRedirect(t, "add dave", status, loc, members+"?done=added", body)
	status, _, body = alice.form(members, url.Values{"user_id": {id(dave)}})
	wantPage(t, "add dave again", status, body, 409, `id="add-error" class="field-error" role="alert">Already a member of the group.</p>`)
	status, _, body = alice.form(members, url.Values{"user_id": {"nobody"}})
	wantPage(t, "add a malformed person", status, body, 400, `id="add-error" class="field-error" role="alert">A choice is not a person of the directory.</p>`)
	status, _, body = alice.form(members, nil)
	wantPage(t, "add nobody", status, body, 400, `id="add-error" class="field-error" role="alert">Choose one person to add.</p>`)
	status, _, body = alice.form(members, url.Values{"user_id": {"987654"}})
	wantPage(t, "add an unknown person", status, body, 404, `id="add-error" class="field-error" role="alert">`)

	// Roles: the only admin cannot step down; then bob is made admin, and
	// alice may.
	status, _, body = alice.form(fmt.Sprintf("%s/%d/role", members, alice.user.ID), url.Values{"role": {"member"}})
	wantPage(t, "the only admin steps down", status, body, 409, `id="member-error" class="field-error" role="alert">The group&#39;s only admin cannot step down: make another member admin first.</p>`)
	status, _, body = alice.form(fmt.Sprintf("%s/%d/role", members, bob.user.ID), url.Values{"role": {"owner"}})
	wantPage(t, "a made-up role", status, body, 400, `id="member-error" class="field-error" role="alert">`)
	status, _, body = alice.form(fmt.Sprintf("%s/%d/role", members, mallory.user.ID), url.Values{"role": {"admin"}})
	wantPage(t, "a role for an outsider", status, body, 404, `id="member-error" class="field-error" role="alert">Member not found.</p>`)
	status, _, body = alice.form(members+"/x/role", url.Values{"role": {"admin"}})
	wantPage(t, "a role for a malformed user", status, body, 400, `id="member-error"`)
	status, loc, body = alice.form(fmt.Sprintf("%s/%d/role", members, bob.user.ID), url.Values{"role": {"admin"}})
	wantRedirect(t, "make bob admin", status, loc, members+"?done=role", body)
	if got := roles(alice.members(g))[bob.user.ID]; got != "admin" {
		t.Errorf("bob's role: %s", got)
	}
	status, _, body = bob.page(members)
	wantPage(t, "bob's page as an admin", status, body, 200, `<form id="rename-form"`, removeForm(alice), `Make member<span class="visually-hidden">: Bob</span>`)

	// Remove.
	status, _, body = alice.form(fmt.Sprintf("%s/%d/remove", members, alice.user.ID), nil)
	wantPage(t, "alice removes herself", status, body, 400, `role="alert">To leave the group, use Leave group.</p>`)
	status, _, body = alice.form(fmt.Sprintf("%s/%d/remove", members, mallory.user.ID), nil)
	wantPage(t, "remove an outsider", status, body, 404, `role="alert">Member not found.</p>`)
	status, loc, body = alice.form(fmt.Sprintf("%s/%d/remove", members, carol.user.ID), nil)
	wantRedirect(t, "remove carol", status, loc, members+"?done=removed", body)
	carol.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d", g), nil, 404, "not_found")
	if status, _, _ := carol.page(members); status != 404 {
		t.Errorf("carol's members page after her removal: %d", status)
	}

	// Leave: to the list; the group is gone for bob.
	status, loc, body = bob.form(gp+"/leave", nil)
	wantRedirect(t, "bob leaves", status, loc, "/", body)
	if status, _, _ := bob.page(members); status != 404 {
		t.Errorf("bob's members page after leaving: %d", status)
	}
	if got := roles(alice.members(g)); !maps(got, map[int64]string{alice.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("members at the end: %v", got)
	}
	// The last admin leaves: dave, the one left, becomes admin.
	status, loc, body = alice.form(gp+"/leave", nil)
	wantRedirect(t, "alice leaves", status, loc, "/", body)
	status, _, body = dave.page(members)
	wantPage(t, "dave's page, the last one", status, body, 200, `<form id="rename-form"`, `<span class="role">admin</span>`, `Members <span class="count">(1)</span>`)
}

// TestGroupPageMembersPaged: a group of more members than a page holds
// lists them page by page.
func TestGroupPageMembersPaged(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_LIST_BURST": "1000", "PARLEY_LIST_RATE": "1000"})
	alice := register(t, s, "alice")
	var others []*client
	for i := range 51 {
		others = append(others, register(t, s, fmt.Sprintf("member%02d", i)))
	}
	g := alice.createGroup("Crowd", others...).ID
	members := fmt.Sprintf("/c/%d/members", g)
	status, _, body := alice.page(members)
	rows := regexp.MustCompile(`<li class="person member[^"]*" data-id="(\d+)">`)
	first := rows.FindAllStringSubmatch(body, -1)
	next := regexp.MustCompile(`<a id="members-next" class="button" href="([^"]+)">More members</a>`).FindStringSubmatch(body)
	if status != 200 || len(first) != 50 || next == nil || !strings.Contains(body, `Members <span class="count">(52)</span>`) {
		t.Fatalf("the first page: %d, %d rows, next %v", status, len(first), next)
	}
	status, _, body = alice.page(strings.ReplaceAll(next[1], "&amp;", "&"))
	second := rows.FindAllStringSubmatch(body, -1)
	if status != 200 || len(second) != 2 || !strings.Contains(body, `<a id="members-first" class="button" href="`+members+`">First page</a>`) || !strings.Contains(body, `id="members-next" class="button" href="`+members+`?after=" hidden`) {
		t.Errorf("the second page: %d, %d rows\n%s", status, len(second), body)
	}
	if second[1][1] != strconv.FormatInt(others[50].user.ID, 10) {
		t.Errorf("the last row: %s, want %d", second[1][1], others[50].user.ID)
	}
	// In a group of many pages, Add people cannot know who is in: adding a
	// member says so.
	if _, _, body := alice.page(members + "?q=member01"); !strings.Contains(body, fmt.Sprintf(`<input type="hidden" name="user_id" value="%d">`, others[1].user.ID)) {
		t.Errorf("Add people does not offer member01 on a paged group")
	}
	// The picker pages through the directory too, keeping who is ticked.
	_, _, body = alice.page("/groups/new")
	after := regexp.MustCompile(`<button id="group-next" type="submit" name="after" value="([^"]+)" formmethod="get" formaction="/groups/new">More people</button>`).FindStringSubmatch(body)
	if after == nil || !strings.Contains(body, `formaction="/groups/new" hidden>First page</button>`) {
		t.Fatalf("the picker's first page has no More people button\n%s", body)
	}
	status, _, body = alice.page(fmt.Sprintf("/groups/new?after=%s&user_id=%d&title=Crowd", url.QueryEscape(after[1]), others[0].user.ID))
	wantPage(t, "the picker's second page", status, body, 200, pickBox(others[0], true), pickBox(others[25], false), `formaction="/groups/new">First page</button>`, `value="Crowd"`, `<span id="group-count-number">1</span> chosen`)
	if n := strings.Count(body, fmt.Sprintf(`id="pick-%d"`, others[0].user.ID)); n != 1 {
		t.Errorf("the picker's second page shows member00 %d times, want once (ticked)", n)
	}

	var conv wire.ConversationResponse
	alice.call("GET", fmt.Sprintf("/api/v1/conversations/%d", g), nil, 200, &conv)
	if conv.Conversation.MemberCount != 52 {
		t.Errorf("member_count %d", conv.Conversation.MemberCount)
	}
}
