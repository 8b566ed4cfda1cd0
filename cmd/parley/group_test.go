package main

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// createGroup makes a group of c (its admin) and members over the API.
func (c *client) createGroup(title string, members ...*client) wire.Conversation {
	c.t.Helper()
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.user.ID
	}
	var resp wire.ConversationResponse
	c.call("POST", "/api/v1/conversations", wire.CreateGroupRequest{Title: title, UserIDs: ids}, http.StatusCreated, &resp)
	return resp.Conversation
}

// members returns a conversation's whole member list, as c sees it.
func (c *client) members(conv int64) []wire.Member {
	c.t.Helper()
	var resp wire.MembersResponse
	c.call("GET", fmt.Sprintf("/api/v1/conversations/%d/members?limit=100", conv), nil, http.StatusOK, &resp)
	return resp.Members
}

// roles maps a member list to each member's role, by user ID.
func roles(members []wire.Member) map[int64]string {
	r := make(map[int64]string, len(members))
	for _, m := range members {
		r[m.User.ID] = m.Role
	}
	return r
}

func membersPath(conv int64) string { return fmt.Sprintf("/api/v1/conversations/%d/members", conv) }

func memberPath(conv int64, user *client) string {
	return fmt.Sprintf("/api/v1/conversations/%d/members/%d", conv, user.user.ID)
}

// wantSystemMessage checks that f is a message frame carrying the system
// message of conv recording action by actor (on user, or with title).
func wantSystemMessage(tb *tab, f wire.ServerFrame, conv int64, action string, actor, user *client, title string) wire.Message {
	tb.t.Helper()
	m := tb.message(f)
	want := wire.SystemEvent{Action: action, ActorID: actor.user.ID, Title: title}
	if user != nil {
		want.UserID = user.user.ID
	}
	if f.Type != "message" || m.ConversationID != conv || m.Kind != "system" || m.SenderID != actor.user.ID || m.Body != "" || m.System != want {
		tb.t.Fatalf("%s: %s frame %+v, want a system message in %d recording %+v", tb.name, f.Type, m, conv, want)
	}
	return m
}

// wantMemberFrame checks that f is a member frame.
func wantMemberFrame(tb *tab, f wire.ServerFrame, conv int64, user *client, role, change string) {
	tb.t.Helper()
	if f.Type != "member" || f.ConversationID != conv || f.UserID != user.user.ID || f.Role != role || f.Change != change {
		tb.t.Fatalf("%s: %s frame %+v, want member %d %s %s in %d", tb.name, f.Type, f, user.user.ID, role, change, conv)
	}
}

// TestGroupAPI: creating a group, its row and member list, renaming,
// adding, changing roles, removing and leaving, as docs/api.md says,
// with the errors each refusal gets.
func TestGroupAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_GROUP_MEMBERS": "4"})
	alice, bob, carol, dave, erin := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave"), register(t, s, "erin")

	// The caller and repeats are dropped; the creator is the admin.
	g := alice.createGroup("  Café team  ", bob, carol, bob, alice)
	if g.Kind != "group" || g.Title != "Café team" || g.MemberCount != 3 || g.LastSeq != 3 || g.LastMessageAt == nil {
		t.Fatalf("created group %+v", g)
	}
	history := alice.messages(g.ID, "").Messages
	if len(history) != 3 || history[0].System != (wire.SystemEvent{Action: "title", ActorID: alice.user.ID, Title: "Café team"}) ||
		history[1].System != (wire.SystemEvent{Action: "added", ActorID: alice.user.ID, UserID: bob.user.ID}) || history[2].Kind != "system" {
		t.Errorf("a new group's history: %+v", history)
	}
	for _, c := range []*client{alice, bob, carol} {
		rows := c.conversations()
		if len(rows) != 1 || rows[0].ID != g.ID || rows[0].Kind != "group" || rows[0].Title != "Café team" || rows[0].OtherUser != nil ||
			rows[0].MemberCount != 3 || rows[0].UnreadCount != 0 || rows[0].LastMessage == nil || rows[0].LastMessage.Kind != "system" {
			t.Errorf("%s's list: %+v", c.user.Username, rows)
		}
	}
	if got := roles(bob.members(g.ID)); !maps(got, map[int64]string{alice.user.ID: "admin", bob.user.ID: "member", carol.user.ID: "member"}) {
		t.Errorf("members %v", got)
	}
	// Paging by user ID.
	var page wire.MembersResponse
	bob.call("GET", membersPath(g.ID)+"?limit=2", nil, http.StatusOK, &page)
	if len(page.Members) != 2 || page.Next == nil || page.Members[0].User.ID != alice.user.ID {
		t.Fatalf("first page of members: %+v", page)
	}
	bob.call("GET", membersPath(g.ID)+"?limit=2&after="+*page.Next, nil, http.StatusOK, &page)
	if len(page.Members) != 1 || page.Next != nil || page.Members[0].User.ID != carol.user.ID || page.Members[0].LastReadSeq != 3 {
		t.Errorf("second page of members: %+v", page)
	}
	bob.wantError("GET", membersPath(g.ID)+"?limit=0", nil, http.StatusBadRequest, "invalid")
	bob.wantError("GET", membersPath(g.ID)+"?after=x", nil, http.StatusBadRequest, "invalid")

	// Creation refused.
	for _, body := range []any{
		wire.CreateGroupRequest{Title: "", UserIDs: []int64{bob.user.ID}},
		wire.CreateGroupRequest{Title: "\u200b", UserIDs: []int64{bob.user.ID}},
		wire.CreateGroupRequest{Title: "Alone", UserIDs: []int64{alice.user.ID}},
		wire.CreateGroupRequest{Title: "Nobody", UserIDs: []int64{}},
		wire.CreateGroupRequest{Title: "Too many", UserIDs: []int64{bob.user.ID, carol.user.ID, dave.user.ID, erin.user.ID}},
		wire.CreateGroupRequest{Title: "Negative", UserIDs: []int64{-1}},
		`{"title":"No user_ids"}`,
		`{"user_ids":[2]}`,
		fmt.Sprintf(`{"user_id":%d,"title":"Both"}`, bob.user.ID),
		fmt.Sprintf(`{"user_id":%d,"user_ids":[%d]}`, bob.user.ID, carol.user.ID),
		`{}`,
		`{"title":"x","user_ids":[2],"Title":"case"}`,
		`{"title":"x","user_ids":"2"}`,
	} {
		alice.wantError("POST", "/api/v1/conversations", body, http.StatusBadRequest, "invalid")
	}
	alice.wantError("POST", "/api/v1/conversations", wire.CreateGroupRequest{Title: "Ghost", UserIDs: []int64{bob.user.ID, 999999}}, http.StatusNotFound, "not_found")
	// A direct conversation still starts with {user_id}.
	direct, status := alice.startConversation(bob)
	if status != http.StatusCreated {
		t.Errorf("starting a direct conversation: %d", status)
	}

	// Rename: admins only; the same title changes nothing.
	var renamed wire.ConversationResponse
	alice.call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: "Ops"}, http.StatusOK, &renamed)
	if renamed.Conversation.Title != "Ops" || renamed.Conversation.LastSeq != 4 || renamed.Conversation.MemberCount != 3 {
		t.Errorf("renamed %+v", renamed.Conversation)
	}
	alice.call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: "Ops"}, http.StatusOK, &renamed)
	if renamed.Conversation.LastSeq != 4 {
		t.Errorf("renaming to the same title wrote a message: %+v", renamed.Conversation)
	}
	bob.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: "Bob's"}, http.StatusForbidden, "forbidden")
	alice.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: ""}, http.StatusBadRequest, "invalid")
	alice.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), `{"name":"Ops"}`, http.StatusBadRequest, "invalid")
	alice.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d", direct), wire.RenameRequest{Title: "Us"}, http.StatusBadRequest, "invalid")
	if got := bob.conversations(); got[0].Title != "Ops" || got[0].UnreadCount != 1 {
		t.Errorf("bob's row after the rename: %+v", got[0])
	}

	// Add: admins only; a new member sees the whole history, nothing unread.
	var added wire.MemberResponse
	alice.call("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: dave.user.ID}, http.StatusCreated, &added)
	if added.Member.User.ID != dave.user.ID || added.Member.Role != "member" || added.Member.LastReadSeq != 5 || added.Member.Online {
		t.Errorf("added %+v", added.Member)
	}
	if h := dave.messages(g.ID, ""); len(h.Messages) != 5 {
		t.Errorf("dave sees %d messages, want the whole history", len(h.Messages))
	}
	if rows := dave.conversations(); len(rows) != 1 || rows[0].UnreadCount != 0 || rows[0].MemberCount != 4 {
		t.Errorf("dave's list: %+v", rows)
	}
	alice.wantError("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: dave.user.ID}, http.StatusConflict, "conflict")
	alice.wantError("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: erin.user.ID}, http.StatusConflict, "conflict") // the cap of 4
	bob.wantError("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: erin.user.ID}, http.StatusForbidden, "forbidden")
	alice.wantError("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: 0}, http.StatusBadRequest, "invalid")
	alice.wantError("POST", membersPath(direct), wire.AddMemberRequest{UserID: erin.user.ID}, http.StatusBadRequest, "invalid")

	// Roles: admins only; the only admin cannot step down.
	var role wire.MemberResponse
	alice.call("PATCH", memberPath(g.ID, bob), wire.RoleRequest{Role: "admin"}, http.StatusOK, &role)
	if role.Member.User.ID != bob.user.ID || role.Member.Role != "admin" {
		t.Errorf("role change: %+v", role.Member)
	}
	carol.wantError("PATCH", memberPath(g.ID, carol), wire.RoleRequest{Role: "admin"}, http.StatusForbidden, "forbidden")
	alice.wantError("PATCH", memberPath(g.ID, carol), wire.RoleRequest{Role: "owner"}, http.StatusBadRequest, "invalid")
	alice.wantError("PATCH", memberPath(g.ID, erin), wire.RoleRequest{Role: "admin"}, http.StatusNotFound, "not_found")
	alice.wantError("PATCH", memberPath(direct, bob), wire.RoleRequest{Role: "admin"}, http.StatusBadRequest, "invalid")
	bob.call("PATCH", memberPath(g.ID, alice), wire.RoleRequest{Role: "member"}, http.StatusOK, nil)
	bob.wantError("PATCH", memberPath(g.ID, bob), wire.RoleRequest{Role: "member"}, http.StatusConflict, "conflict")
	alice.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d/members/x", g.ID), wire.RoleRequest{Role: "admin"}, http.StatusBadRequest, "invalid")

	// Removal: admins remove anyone, anyone leaves; then the group is 404.
	alice.wantError("DELETE", memberPath(g.ID, carol), nil, http.StatusForbidden, "forbidden")
	bob.call("DELETE", memberPath(g.ID, carol), nil, http.StatusNoContent, nil)
	carol.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d", g.ID), nil, http.StatusNotFound, "not_found")
	carol.wantError("GET", membersPath(g.ID), nil, http.StatusNotFound, "not_found")
	carol.wantError("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", g.ID), wire.SendRequest{Body: "still here?"}, http.StatusNotFound, "not_found")
	if rows := carol.conversations(); len(rows) != 0 {
		t.Errorf("carol still lists %+v", rows)
	}
	alice.wantError("DELETE", memberPath(direct, bob), nil, http.StatusBadRequest, "invalid")
	bob.wantError("DELETE", memberPath(g.ID, carol), nil, http.StatusNotFound, "not_found")
	// The only admin leaves: the longest-standing member becomes admin.
	bob.call("DELETE", memberPath(g.ID, bob), nil, http.StatusNoContent, nil)
	if got := roles(alice.members(g.ID)); !maps(got, map[int64]string{alice.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("after the only admin left: %v, want alice (a member since the start) admin", got)
	}
	history = alice.messages(g.ID, "after_seq=5").Messages
	want := []wire.SystemEvent{
		{Action: "removed", ActorID: bob.user.ID, UserID: carol.user.ID},
		{Action: "left", ActorID: bob.user.ID, UserID: bob.user.ID},
	}
	if len(history) != len(want) {
		t.Fatalf("history after the removals: %+v", history)
	}
	for i, m := range history {
		if m.Kind != "system" || m.System != want[i] || m.Body != "" || m.ClientID != "" {
			t.Errorf("message %d: %+v, want %+v", m.Seq, m, want[i])
		}
	}
}

// maps reports whether two maps hold the same pairs.
func maps(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestGroupRealTime runs the group's live scenario on one node (SQLite).
// TestTwoNodesGroups runs it over two nodes.
func TestGroupRealTime(t *testing.T) {
	t.Parallel()
	groupRealTime(t, []*server{startServer(t, nil)})
}

// TestTwoNodesGroups: the group's live scenario with people and tabs
// spread over two nodes of one cluster (PostgreSQL and Redis).
func TestTwoNodesGroups(t *testing.T) {
	t.Parallel()
	groupRealTime(t, startCluster(t, 2, nil, nil))
}

// groupRealTime: sends reach every member's connections once; typing and
// read receipts reach the other members; a rename brings its system message
// and a conversation frame; adds and removals a member frame to every
// member, the added or removed one included; after a removal is answered
// the removed member's tabs, on every node, get nothing more of the group;
// closing an account leaves the group with frames for those who stay. With
// two nodes, people and tabs are spread over both, and requests go through
// either.
func groupRealTime(t *testing.T, nodes []*server) {
	node := func(i int) *server { return nodes[i%len(nodes)] }
	alice := register(t, node(0), "alice")
	bob := register(t, node(1), "bob")
	carol := register(t, node(0), "carol")
	dave := register(t, node(1), "dave")
	marker := register(t, node(0), "marker")
	markerConv, _ := marker.startConversation(bob)

	a := alice.openTab("alice on node 1")
	b1 := bob.on(node(1)).openTab("bob on node 2")
	b2 := bob.on(node(0)).openTab("bob's second tab, on node 1")
	c := carol.on(node(1)).openTab("carol on node 2")
	d := dave.on(node(1)).openTab("dave on node 2")
	members := []*tab{a, b1, b2, c}

	// Creation: a conversation frame to every member's tabs.
	g := alice.createGroup("Team", bob, carol)
	for _, tb := range members {
		if f := tb.expectPast("conversation"); f.Conversation == nil || f.Conversation.ID != g.ID || f.Conversation.Title != "Team" ||
			f.Conversation.Kind != "group" || f.Conversation.MemberCount != 3 {
			t.Fatalf("%s: conversation frame %+v, want the new group", tb.name, f.Conversation)
		}
	}

	// A send reaches each of the other members' tabs once; the sender's
	// tab gets the ack.
	a.send(sendFrame(g.ID, "g-1", "hello group"))
	first := a.message(a.expectPast("ack"))
	carol.on(node(1)).send(g.ID, "hello from carol", "")
	for _, tb := range []*tab{b1, b2, c} {
		if m := tb.message(tb.expectPast("message")); !reflect.DeepEqual(m, first) {
			t.Errorf("%s: %+v, want %+v", tb.name, m, first)
		}
	}
	for _, tb := range members {
		// Each tab's next message is carol's: none got the first twice.
		if m := tb.message(tb.expectPast("message")); m.Seq != first.Seq+1 || m.Body != "hello from carol" {
			t.Errorf("%s: %+v, want carol's message at seq %d", tb.name, m, first.Seq+1)
		}
	}

	// Typing reaches the other members; a read receipt every member.
	c.send(frame("typing", g.ID))
	for _, tb := range []*tab{a, b1, b2} {
		if f := tb.expectPast("typing"); f.ConversationID != g.ID || f.UserID != carol.user.ID {
			t.Errorf("%s: typing %+v", tb.name, f)
		}
	}
	b1.send(frame("read", g.ID, "seq", first.Seq+1))
	for _, tb := range members {
		if f := tb.expectPast("read"); f.ConversationID != g.ID || f.UserID != bob.user.ID || f.Seq != first.Seq+1 {
			t.Errorf("%s: read %+v", tb.name, f)
		}
	}

	// A rename: the system message, then a conversation frame.
	bob.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: "Bob's"}, http.StatusForbidden, "forbidden")
	alice.on(node(1)).call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g.ID), wire.RenameRequest{Title: "Team two"}, http.StatusOK, nil)
	for _, tb := range members {
		wantSystemMessage(tb, tb.expectPast("message"), g.ID, "title", alice, nil, "Team two")
		if f := tb.expectPast("conversation"); f.Conversation == nil || f.Conversation.Title != "Team two" || f.Conversation.ID != g.ID {
			t.Errorf("%s: conversation frame %+v after the rename", tb.name, f.Conversation)
		}
	}

	// An add: the system message and a member frame, to the new member too.
	alice.on(node(1)).call("POST", membersPath(g.ID), wire.AddMemberRequest{UserID: dave.user.ID}, http.StatusCreated, nil)
	members = append(members, d)
	for _, tb := range members {
		wantSystemMessage(tb, tb.expectPast("message"), g.ID, "added", alice, dave, "")
		wantMemberFrame(tb, tb.expectPast("member"), g.ID, dave, "member", "added")
	}
	// A role change: a member frame.
	alice.call("PATCH", memberPath(g.ID, carol), wire.RoleRequest{Role: "admin"}, http.StatusOK, nil)
	for _, tb := range members {
		wantMemberFrame(tb, tb.expectPast("member"), g.ID, carol, "admin", "role")
	}

	// Bob says something, by a client ID he will resend after his removal.
	bob.send(g.ID, "bob before", "bob-1")
	for _, tb := range members {
		if m := tb.message(tb.expectPast("message")); m.Body != "bob before" || m.SenderID != bob.user.ID {
			t.Errorf("%s: %+v, want bob's message", tb.name, m)
		}
	}

	// A removal: every member's tabs and the removed member's, on both
	// nodes, get the system message and a member frame.
	carol.on(node(1)).call("DELETE", memberPath(g.ID, bob), nil, http.StatusNoContent, nil)
	for _, tb := range members {
		wantSystemMessage(tb, tb.expectPast("message"), g.ID, "removed", carol, bob, "")
		wantMemberFrame(tb, tb.expectPast("member"), g.ID, bob, "member", "removed")
	}
	// From the answer on, nothing of the group reaches bob's tabs: a
	// message, typing and a read receipt go to the others, and once they
	// have arrived (so were published), the marker's message, published
	// after them, is the next frame bob's tabs get.
	a.send(sendFrame(g.ID, "g-2", "after bob left"))
	after := a.message(a.expectPast("ack"))
	d.send(frame("typing", g.ID))
	d.send(frame("read", g.ID, "seq", after.Seq))
	for _, tb := range []*tab{c, d} {
		if m := tb.message(tb.expectPast("message")); !reflect.DeepEqual(m, after) {
			t.Errorf("%s: %+v, want %+v", tb.name, m, after)
		}
	}
	for _, tb := range []*tab{a, c, d} {
		if tb != d {
			if f := tb.expectPast("typing"); f.UserID != dave.user.ID {
				t.Errorf("%s: typing %+v", tb.name, f)
			}
		}
		if f := tb.expectPast("read"); f.UserID != dave.user.ID || f.Seq != after.Seq {
			t.Errorf("%s: read %+v", tb.name, f)
		}
	}
	marker.send(markerConv, "marker", "")
	for _, tb := range []*tab{b1, b2} {
		if f := tb.expectPast("message"); tb.message(f).ConversationID != markerConv {
			t.Errorf("%s: got %+v after the removal, want only the marker's message", tb.name, tb.message(f))
		}
	}
	b1.send(frame("typing", g.ID))
	if f := b1.expectPast("error"); f.Code != "not_found" {
		t.Errorf("bob typing in the group he left: %+v", f)
	}
	// A resend of his own message is no way back in: not_found too.
	b2.send(sendFrame(g.ID, "bob-1", "bob before"))
	if f := b2.expectPast("error"); f.Code != "not_found" || f.ClientID != "bob-1" {
		t.Errorf("bob resending into the group he left: %+v", f)
	}

	// Alice closes her account: she leaves the group; carol is admin
	// already, so nobody is promoted. Carol and dave see her go and her
	// name change.
	alice.on(node(1)).call("DELETE", "/api/v1/me", wire.CloseAccountRequest{Password: "password-alice"}, http.StatusNoContent, nil)
	wantSessionEnded(t, a)
	for _, tb := range []*tab{c, d} {
		wantSystemMessage(tb, tb.expectPast("message"), g.ID, "left", alice, alice, "")
		wantMemberFrame(tb, tb.expectPast("member"), g.ID, alice, "admin", "removed")
		if f := tb.expectPast("user"); f.User == nil || f.User.ID != alice.user.ID || !f.User.Closed {
			t.Errorf("%s: user frame %+v, want alice closed", tb.name, f.User)
		}
	}
	if got := roles(dave.members(g.ID)); !maps(got, map[int64]string{carol.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("members after alice's closure: %v", got)
	}
	// Carol, the last admin, closes hers: dave is promoted.
	carol.call("DELETE", "/api/v1/me", wire.CloseAccountRequest{Password: "password-carol"}, http.StatusNoContent, nil)
	wantSystemMessage(d, d.expectPast("message"), g.ID, "left", carol, carol, "")
	wantMemberFrame(d, d.expectPast("member"), g.ID, carol, "admin", "removed")
	wantMemberFrame(d, d.expectPast("member"), g.ID, dave, "admin", "role")
	if got := dave.members(g.ID); len(got) != 1 || got[0].Role != "admin" || !got[0].Online {
		t.Errorf("members after carol's closure: %+v", got)
	}
	rows := dave.conversations()
	if i := slices.IndexFunc(rows, func(r wire.ConversationRow) bool { return r.ID == g.ID }); i < 0 || rows[i].MemberCount != 1 {
		t.Errorf("dave's row of the group: %+v", rows)
	}
}

// TestMaxGroupMembersFlag: a group cap below two people is refused at
// start, with a message that names the flag.
func TestMaxGroupMembersFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"parley", "-max-group-members", "1"}, {"parley", "-max-group-members=0"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, func(string) string { return "" }, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-max-group-members must be at least 2") {
			t.Errorf("%q: %v, want the flag refused", args, err)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"parley", "-h"}, func(string) string { return "" }, &stdout, &stderr); exitCode(err, &stderr) != 0 ||
		!strings.Contains(stdout.String(), "-max-group-members int") || !strings.Contains(stdout.String(), "(default 1000)") ||
		!strings.Contains(stdout.String(), "PARLEY_MAX_GROUP_MEMBERS") {
		t.Errorf("parley -h does not describe -max-group-members:\n%s", stdout.String())
	}
}
