package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// TestAuthorizationMatrix tries every route that names a conversation —
// API, pages and WebSocket frames — as mallory, who is signed in but not a
// member of alice and bob's conversation, and every route signed out. Mallory
// must get exactly what a conversation that does not exist gets (not_found),
// a signed-out client 401 or a redirect to /login; and afterwards nothing may
// have changed: the history, last_seq, both read cursors, and alice's,
// bob's and mallory's open tabs received no frame.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	// Every attempt is followed by a look at everyone's conversation list
	// (unchanged): more list pages than the default budget allows.
	s := startServer(t, map[string]string{"PARLEY_LIST_BURST": "100000", "PARLEY_LIST_RATE": "100000"})
	alice, bob, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "mallory")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "for bob only", "a-1")
	bob.send(conv, "for alice only", "b-1")
	photo := alice.attach(conv, "private.png", photoPNG(t, 20, 20))
	alice.sendFiles(conv, "still private", "", photo)
	pending := alice.attach(conv, "unsent.txt", []byte("alice's draft"))
	bob.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), wire.ReadRequest{Seq: 2}, http.StatusNoContent, nil)
	const missing = 987654321 // a conversation that does not exist
	anon := newClient(t, s)
	// The marker has a conversation of its own with each of the three, to
	// show that a tab got nothing (see quiet). It never opens a tab, so
	// its presence tells no one anything.
	marker := register(t, s, "marker")
	markerConv := map[*client]int64{}
	for _, c := range []*client{alice, bob, mallory} {
		markerConv[c], _ = marker.startConversation(c)
	}

	aliceTab := alice.openTab("alice's tab")
	bobTab := bob.openTab("bob's tab")
	malloryTab := mallory.openTab("mallory's tab")
	tabs := []*tab{aliceTab, bobTab, malloryTab}
	tabOf := map[*tab]*client{aliceTab: alice, bobTab: bob, malloryTab: mallory}
	// Each tab is registered, its user's coming online published, before
	// the next opens: alice's came when no one who could hear it had a tab,
	// bob's reaches alice's tab, and mallory shares no conversation with
	// alice or bob: no one hears of her and she hears of no one.
	if f := aliceTab.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Fatalf("alice's tab: %+v, want bob online", f)
	}

	// quiet checks that the tabs got no frame since the last check. The
	// marker sends each a message, which must be the tab's next frame.
	// Whatever an attempt published, it published before it was answered
	// (the service publishes before it returns; a frame is answered once
	// carried out), so before the marker's message; and this node's broker
	// hands events to the hub in the order they were published, which
	// queues them for each connection in that order. Anything that leaked
	// would arrive first.
	markers := 0
	quiet := func(what string, which ...*tab) {
		t.Helper()
		markers++
		body := fmt.Sprintf("marker %d", markers)
		for _, tb := range which {
			marker.send(markerConv[tabOf[tb]], body, "")
		}
		for _, tb := range which {
			for f := tb.next(); f.Type != "message" || tb.message(f).Body != body; f = tb.next() {
				t.Errorf("%s: %s received a %s frame %+v (%s)", what, tb.name, f.Type, f, f.Message)
			}
		}
	}

	// state is everything mallory must not be able to change or see change.
	type state struct {
		History    []wire.Message       // as alice reads it
		AliceRow   wire.ConversationRow // last_seq, alice's cursor, bob's as alice sees it
		BobRow     wire.ConversationRow // bob's cursor
		MalloryHas int                  // conversations in mallory's list
	}
	row := func(c *client) wire.ConversationRow {
		t.Helper()
		for _, r := range c.conversations() {
			if r.ID == conv {
				return r
			}
		}
		t.Fatalf("%s no longer lists conversation %d", c.user.Username, conv)
		return wire.ConversationRow{}
	}
	snapshot := func() state {
		t.Helper()
		return state{
			History:    alice.messages(conv, "limit=100").Messages,
			AliceRow:   row(alice),
			BobRow:     row(bob),
			MalloryHas: len(mallory.conversations()),
		}
	}
	before := snapshot()
	// Mallory's one conversation is the marker's.
	if len(before.History) != 3 || before.AliceRow.LastSeq != 3 || before.AliceRow.LastReadSeq != 3 || before.BobRow.LastReadSeq != 2 || before.MalloryHas != 1 {
		t.Fatalf("unexpected starting state: %+v", before)
	}

	// unchanged checks, after an attempt, that no tab got a frame and the
	// conversation is as it was.
	unchanged := func(what string) {
		t.Helper()
		quiet(what, tabs...)
		if after := snapshot(); !reflect.DeepEqual(after, before) {
			t.Errorf("%s changed the conversation:\nbefore %+v\nafter  %+v", what, before, after)
		}
	}

	const (
		api  = "api"
		page = "page"
		ws   = "ws"
	)
	for _, r := range []struct {
		name   string
		kind   string // api, page or ws
		method string
		path   string             // %d stands for the conversation's ID
		body   any                // JSON body (api) or form values (page)
		frame  func(id int64) any // the frame (ws)
		// scoped routes name a conversation: mallory tries them on alice and
		// bob's. Every route is tried signed out.
		scoped bool
	}{
		{name: "GET conversation", kind: api, method: "GET", path: "/api/v1/conversations/%d", scoped: true},
		{name: "GET messages", kind: api, method: "GET", path: "/api/v1/conversations/%d/messages", scoped: true},
		{name: "GET messages after_seq", kind: api, method: "GET", path: "/api/v1/conversations/%d/messages?after_seq=0&limit=100", scoped: true},
		{name: "GET messages before_seq", kind: api, method: "GET", path: "/api/v1/conversations/%d/messages?before_seq=3", scoped: true},
		{name: "GET messages after_version", kind: api, method: "GET", path: "/api/v1/conversations/%d/messages?after_version=0", scoped: true},
		{name: "PATCH message", kind: api, method: "PATCH", path: "/api/v1/conversations/%d/messages/1", body: wire.EditRequest{Body: "mallory was here"}, scoped: true},
		{name: "DELETE message", kind: api, method: "DELETE", path: "/api/v1/conversations/%d/messages/2", scoped: true},
		{name: "POST messages", kind: api, method: "POST", path: "/api/v1/conversations/%d/messages", body: wire.SendRequest{Body: "mallory was here"}, scoped: true},
		{name: "POST messages with client_id", kind: api, method: "POST", path: "/api/v1/conversations/%d/messages", body: wire.SendRequest{Body: "mallory was here", ClientID: "m-1"}, scoped: true},
		{name: "POST read", kind: api, method: "POST", path: "/api/v1/conversations/%d/read", body: wire.ReadRequest{Seq: 3}, scoped: true},
		{name: "POST read beyond the end", kind: api, method: "POST", path: "/api/v1/conversations/%d/read", body: wire.ReadRequest{Seq: 1000}, scoped: true},
		{name: "PATCH conversation", kind: api, method: "PATCH", path: "/api/v1/conversations/%d", body: wire.RenameRequest{Title: "mallory's"}, scoped: true},
		{name: "GET members", kind: api, method: "GET", path: "/api/v1/conversations/%d/members", scoped: true},
		{name: "POST members", kind: api, method: "POST", path: "/api/v1/conversations/%d/members", body: wire.AddMemberRequest{UserID: mallory.user.ID}, scoped: true},
		{name: "PATCH member", kind: api, method: "PATCH", path: fmt.Sprintf("/api/v1/conversations/%%d/members/%d", bob.user.ID), body: wire.RoleRequest{Role: "admin"}, scoped: true},
		{name: "DELETE member", kind: api, method: "DELETE", path: fmt.Sprintf("/api/v1/conversations/%%d/members/%d", bob.user.ID), scoped: true},
		{name: "DELETE member (leave)", kind: api, method: "DELETE", path: fmt.Sprintf("/api/v1/conversations/%%d/members/%d", mallory.user.ID), scoped: true},
		{name: "POST attachments", kind: api, method: "POST", path: "/api/v1/conversations/%d/attachments?name=x.txt", body: "mallory's file", scoped: true},
		{name: "GET attachment", kind: api, method: "GET", path: fmt.Sprintf("/api/v1/conversations/%%d/attachments/%d", photo.ID), scoped: true},
		{name: "GET attachment thumbnail", kind: api, method: "GET", path: fmt.Sprintf("/api/v1/conversations/%%d/attachments/%d/thumbnail", photo.ID), scoped: true},
		{name: "GET pending attachment", kind: api, method: "GET", path: fmt.Sprintf("/api/v1/conversations/%%d/attachments/%d", pending.ID), scoped: true},
		{name: "POST messages with alice's upload", kind: api, method: "POST", path: "/api/v1/conversations/%d/messages", body: wire.SendRequest{Body: "mallory was here", AttachmentIDs: []int64{pending.ID}}, scoped: true},
		{name: "GET search in a conversation", kind: api, method: "GET", path: "/api/v1/search?q=private&conversation_id=%d", scoped: true},
		{name: "GET search", kind: api, method: "GET", path: "/api/v1/search?q=private"},
		{name: "GET me", kind: api, method: "GET", path: "/api/v1/me"},
		{name: "PATCH me", kind: api, method: "PATCH", path: "/api/v1/me", body: wire.ProfileRequest{DisplayName: "Mallory"}},
		{name: "POST me/password", kind: api, method: "POST", path: "/api/v1/me/password", body: wire.PasswordRequest{CurrentPassword: "password-alice", NewPassword: "mallory's password"}},
		{name: "POST auth/logout-all", kind: api, method: "POST", path: "/api/v1/auth/logout-all"},
		{name: "DELETE me", kind: api, method: "DELETE", path: "/api/v1/me", body: wire.CloseAccountRequest{Password: "password-alice"}},
		{name: "GET users", kind: api, method: "GET", path: "/api/v1/users"},
		{name: "GET conversations", kind: api, method: "GET", path: "/api/v1/conversations"},
		{name: "POST conversations", kind: api, method: "POST", path: "/api/v1/conversations", body: wire.StartConversationRequest{UserID: alice.user.ID}},
		{name: "POST conversations (group)", kind: api, method: "POST", path: "/api/v1/conversations", body: wire.CreateGroupRequest{Title: "Mallory's", UserIDs: []int64{alice.user.ID, bob.user.ID}}},
		// Site admin routes: TestAdminAuthorizationMatrix tries them as
		// each kind of caller.
		{name: "POST admin/invitations", kind: api, method: "POST", path: "/api/v1/admin/invitations", body: wire.CreateInvitationRequest{MaxUses: 1}},
		{name: "GET admin/invitations", kind: api, method: "GET", path: "/api/v1/admin/invitations"},
		{name: "DELETE admin/invitations/{id}", kind: api, method: "DELETE", path: "/api/v1/admin/invitations/1"},
		{name: "GET admin/users", kind: api, method: "GET", path: "/api/v1/admin/users"},
		{name: "POST admin/users/{id}/deactivate", kind: api, method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/deactivate", bob.user.ID)},
		{name: "POST admin/users/{id}/reactivate", kind: api, method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/reactivate", bob.user.ID)},

		{name: "page GET /c/{id}", kind: page, method: "GET", path: "/c/%d", scoped: true},
		{name: "page POST /c/{id}/messages", kind: page, method: "POST", path: "/c/%d/messages", body: url.Values{"body": {"mallory was here"}}, scoped: true},
		{name: "page GET /", kind: page, method: "GET", path: "/"},
		{name: "page GET /people", kind: page, method: "GET", path: "/people"},
		{name: "page GET /search", kind: page, method: "GET", path: "/search?q=private"},
		{name: "page GET /settings", kind: page, method: "GET", path: "/settings"},
		{name: "page POST /settings/name", kind: page, method: "POST", path: "/settings/name", body: url.Values{"display_name": {"Mallory"}}},
		{name: "page POST /settings/password", kind: page, method: "POST", path: "/settings/password", body: url.Values{"current_password": {"password-alice"}, "new_password": {"mallory's password"}}},
		{name: "page POST /settings/logout-all", kind: page, method: "POST", path: "/settings/logout-all"},
		{name: "page POST /settings/close", kind: page, method: "POST", path: "/settings/close", body: url.Values{"password": {"password-alice"}}},
		{name: "page POST /people/{id}/message", kind: page, method: "POST", path: fmt.Sprintf("/people/%d/message", alice.user.ID)},
		{name: "page GET /groups/new", kind: page, method: "GET", path: "/groups/new"},
		{name: "page POST /groups", kind: page, method: "POST", path: "/groups", body: url.Values{"title": {"Mallory's"}, "user_id": {fmt.Sprint(alice.user.ID), fmt.Sprint(bob.user.ID)}}},
		{name: "page GET /c/{id}/members", kind: page, method: "GET", path: "/c/%d/members", scoped: true},
		{name: "page POST /c/{id}/title", kind: page, method: "POST", path: "/c/%d/title", body: url.Values{"title": {"mallory's"}}, scoped: true},
		{name: "page POST /c/{id}/members", kind: page, method: "POST", path: "/c/%d/members", body: url.Values{"user_id": {fmt.Sprint(mallory.user.ID)}}, scoped: true},
		{name: "page POST /c/{id}/members/{user_id}/role", kind: page, method: "POST", path: fmt.Sprintf("/c/%%d/members/%d/role", bob.user.ID), body: url.Values{"role": {"admin"}}, scoped: true},
		{name: "page POST /c/{id}/members/{user_id}/remove", kind: page, method: "POST", path: fmt.Sprintf("/c/%%d/members/%d/remove", bob.user.ID), body: url.Values{}, scoped: true},
		{name: "page POST /c/{id}/leave", kind: page, method: "POST", path: "/c/%d/leave", body: url.Values{}, scoped: true},
		{name: "page GET /admin", kind: page, method: "GET", path: "/admin"},
		{name: "page POST /admin/invitations", kind: page, method: "POST", path: "/admin/invitations", body: url.Values{"max_uses": {"1"}, "expires_hours": {"1"}}},
		{name: "page POST /admin/invitations/{id}/revoke", kind: page, method: "POST", path: "/admin/invitations/1/revoke", body: url.Values{}},
		{name: "page POST /admin/users/{id}/deactivate", kind: page, method: "POST", path: fmt.Sprintf("/admin/users/%d/deactivate", bob.user.ID), body: url.Values{}},
		{name: "page POST /admin/users/{id}/reactivate", kind: page, method: "POST", path: fmt.Sprintf("/admin/users/%d/reactivate", bob.user.ID), body: url.Values{}},

		{name: "ws send", kind: ws, frame: func(id int64) any { return sendFrame(id, "m-ws", "mallory was here") }, scoped: true},
		{name: "ws send with alice's upload", kind: ws, frame: func(id int64) any {
			return map[string]any{"type": "send", "conversation_id": id, "client_id": "m-ws-file", "attachment_ids": []int64{pending.ID}}
		}, scoped: true},
		{name: "ws typing", kind: ws, frame: func(id int64) any { return frame("typing", id) }, scoped: true},
		{name: "ws read", kind: ws, frame: func(id int64) any { return frame("read", id, "seq", 3) }, scoped: true},
		{name: "ws read beyond the end", kind: ws, frame: func(id int64) any { return frame("read", id, "seq", 1000) }, scoped: true},
	} {
		path := func(id int64) string {
			if strings.Contains(r.path, "%d") {
				return fmt.Sprintf(r.path, id)
			}
			return r.path
		}

		if r.scoped {
			// Mallory tries it on alice and bob's conversation and on one
			// that does not exist: the answers must be the same not_found.
			answers := make(map[int64]string)
			for _, id := range []int64{conv, missing} {
				what := fmt.Sprintf("%s as mallory on conversation %d", r.name, id)
				switch r.kind {
				case api:
					status, raw := mallory.do(r.method, path(id), r.body)
					var e wire.Error
					if err := json.Unmarshal(raw, &e); err != nil || status != http.StatusNotFound || e.Error.Code != "not_found" || e.Error.Message == "" {
						t.Errorf("%s: %d %s, want 404 not_found", what, status, raw)
					}
					answers[id] = fmt.Sprintf("%d %s", status, raw)
				case page:
					var (
						status int
						loc    string
						body   string
					)
					if r.method == "GET" {
						var h http.Header
						status, h, body = mallory.page(path(id))
						loc = h.Get("Location")
					} else {
						status, loc, body = mallory.form(path(id), r.body.(url.Values))
					}
					if status != http.StatusNotFound || loc != "" {
						t.Errorf("%s: %d (Location %q) %q, want 404", what, status, loc, body)
					}
					answers[id] = fmt.Sprintf("%d %s", status, body)
				case ws:
					f := r.frame(id)
					malloryTab.send(f)
					e := malloryTab.expect("error")
					wantClientID := ""
					if m, ok := f.(map[string]any); ok && m["type"] == "send" {
						wantClientID, _ = m["client_id"].(string)
					}
					if e.Code != "not_found" || e.ClientID != wantClientID || e.ErrorText() == "" {
						t.Errorf("%s: error frame %+v %q, want not_found with client_id %q", what, e, e.ErrorText(), wantClientID)
					}
					answers[id] = fmt.Sprintf("%s %s %q", e.Code, e.ClientID, e.ErrorText())
				}
			}
			if answers[conv] != answers[missing] {
				t.Errorf("%s as mallory: alice and bob's conversation answers %s, one that does not exist %s", r.name, answers[conv], answers[missing])
			}
			unchanged(r.name + " as mallory")
		}

		// Signed out.
		what := r.name + " signed out"
		switch r.kind {
		case api:
			anon.wantError(r.method, path(conv), r.body, http.StatusUnauthorized, "unauthorized")
		case page:
			var (
				status int
				loc    string
			)
			if r.method == "GET" {
				var h http.Header
				status, h, _ = anon.page(path(conv))
				loc = h.Get("Location")
			} else {
				values, _ := r.body.(url.Values)
				status, loc, _ = anon.form(path(conv), values)
			}
			if status != http.StatusSeeOther || loc != "/login" {
				t.Errorf("%s: %d Location %q, want 303 to /login", what, status, loc)
			}
		case ws:
			// No session, no socket: the frame cannot even be sent.
			if tb, resp, err := anon.dial("anonymous tab", dialOptions{}); err == nil {
				tb.conn.Close()
				t.Errorf("%s: the WebSocket opened without a session", what)
			} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: handshake %v (%v), want 401", what, err, resp)
			}
		}
		unchanged(what)
	}

	// The tabs were listening all along: what members do still reaches them.
	bobTab.send(frame("typing", conv))
	if f := aliceTab.expect("typing"); f.ConversationID != conv || f.UserID != bob.user.ID {
		t.Errorf("alice's tab: %+v, want bob typing", f)
	}
	// Mallory's tries left alice's upload hers to send.
	alice.sendFiles(conv, "are you still there?", "", pending)
	for _, tb := range []*tab{aliceTab, bobTab} {
		if m := tb.message(tb.expect("message")); m.Seq != 4 || m.Body != "are you still there?" || len(m.Attachments) != 1 || m.Attachments[0].ID != pending.ID {
			t.Errorf("%s: %+v, want the message at seq 4 with alice's file", tb.name, m)
		}
	}
	quiet("alice and bob talking", tabs...)
}

// TestGroupAuthorizationMatrix tries every route and frame that acts on a
// group as each kind of caller: bob, a member, gets 403 forbidden for what
// only admins may do; mallory, not a member, exactly what a group that does
// not exist gets (404 not_found); alice on her direct conversation with
// bob, 400 invalid for member changes; a signed-out client 401; a request
// from a foreign origin 403. None of them changes the group (history,
// members, roles) or sends anyone's tab a frame. Then alice, the admin,
// does each and succeeds.
func TestGroupAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	// Every attempt is followed by a look at the group's members
	// (unchanged): more list pages than the default budget allows.
	s := startServer(t, map[string]string{"PARLEY_LIST_BURST": "100000", "PARLEY_LIST_RATE": "100000"})
	alice, bob, carol, dave, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave"), register(t, s, "mallory")
	g := alice.createGroup("Team", bob, carol).ID
	alice.send(g, "group talk", "a-1") // seq 4, after the creation's three system messages
	bob.send(g, "bob's words", "b-1")  // seq 5
	dm, _ := alice.startConversation(bob)
	const missing = 987654321
	anon := newClient(t, s)
	marker := register(t, s, "marker")
	markerConv := map[*client]int64{}
	for _, c := range []*client{alice, bob, carol, mallory} {
		markerConv[c], _ = marker.startConversation(c)
	}
	tabs := map[*tab]*client{}
	for _, c := range []*client{alice, bob, carol, mallory} {
		tabs[c.openTab(c.user.Username+"'s tab")] = c
	}
	var malloryTab *tab
	for tb, c := range tabs {
		if c == mallory {
			malloryTab = tb
		}
	}
	// Tabs opening tell those already open who came online: drain that.
	markers := 0
	quiet := func(what string, strict bool) {
		t.Helper()
		markers++
		body := fmt.Sprintf("marker %d", markers)
		for _, c := range tabs {
			marker.send(markerConv[c], body, "")
		}
		for tb := range tabs {
			for f := tb.next(); f.Type != "message" || tb.message(f).Body != body; f = tb.next() {
				if strict {
					t.Errorf("%s: %s received a %s frame %+v (%s)", what, tb.name, f.Type, f, f.Message)
				}
			}
		}
	}
	quiet("opening tabs", false)

	type state struct {
		History []wire.Message
		Members []wire.Member
		DM      []wire.Message
	}
	snapshot := func() state {
		t.Helper()
		return state{History: alice.messages(g, "limit=100").Messages, Members: alice.members(g), DM: alice.messages(dm, "limit=100").Messages}
	}
	before := snapshot()
	unchanged := func(what string) {
		t.Helper()
		quiet(what, true)
		if after := snapshot(); !reflect.DeepEqual(after, before) {
			t.Errorf("%s changed something:\nbefore %+v\nafter  %+v", what, before, after)
		}
	}
	answer := func(c *client, method, path string, body any, header ...string) (int, wire.Error, string) {
		t.Helper()
		status, raw := c.do(method, path, body, header...)
		var e wire.Error
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &e)
		}
		return status, e, string(raw)
	}

	convPath := func(id int64) string { return fmt.Sprintf("/api/v1/conversations/%d", id) }
	memberOf := func(id int64, c *client) string {
		return fmt.Sprintf("/api/v1/conversations/%d/members/%d", id, c.user.ID)
	}
	for _, r := range []struct {
		name   string
		method string
		path   func(id int64) string
		body   any
		// member is bob's answer on the group: 0 for a success that must
		// not be tried here (it changes the group), else the refusal.
		member int
		// direct is alice's answer on her direct conversation with bob: 0
		// when the route is not a member change.
		direct int
		// admin is alice's answer on the group, tried at the end.
		admin int
	}{
		{name: "rename", method: "PATCH", path: convPath, body: wire.RenameRequest{Title: "Renamed"}, member: 403, direct: 400, admin: 200},
		{name: "add member", method: "POST", path: func(id int64) string { return convPath(id) + "/members" }, body: wire.AddMemberRequest{UserID: dave.user.ID}, member: 403, direct: 400, admin: 201},
		{name: "make admin", method: "PATCH", path: func(id int64) string { return memberOf(id, bob) }, body: wire.RoleRequest{Role: "admin"}, member: 403, direct: 400, admin: 200},
		{name: "remove member", method: "DELETE", path: func(id int64) string { return memberOf(id, carol) }, member: 403, direct: 400, admin: 204},
		{name: "leave", method: "DELETE", path: func(id int64) string { return memberOf(id, mallory) }, direct: 400},
		{name: "list members", method: "GET", path: func(id int64) string { return convPath(id) + "/members" }},
		{name: "conversation", method: "GET", path: convPath},
		{name: "messages", method: "GET", path: func(id int64) string { return convPath(id) + "/messages" }},
		{name: "send", method: "POST", path: func(id int64) string { return convPath(id) + "/messages" }, body: wire.SendRequest{Body: "mallory was here", ClientID: "m-1"}},
		{name: "read", method: "POST", path: func(id int64) string { return convPath(id) + "/read" }, body: wire.ReadRequest{Seq: 1}},
		{name: "changes", method: "GET", path: func(id int64) string { return convPath(id) + "/messages?after_version=0" }},
		// Only the sender edits, even an admin's message is the admin's
		// own; a member deletes only their own.
		{name: "edit message", method: "PATCH", path: func(id int64) string { return convPath(id) + "/messages/4" }, body: wire.EditRequest{Body: "edited"}, member: 403},
		{name: "delete message", method: "DELETE", path: func(id int64) string { return convPath(id) + "/messages/4" }, member: 403},
	} {
		// Mallory: the group and a missing conversation answer alike.
		sg, eg, rawG := answer(mallory, r.method, r.path(g), r.body)
		sm, _, rawM := answer(mallory, r.method, r.path(missing), r.body)
		if sg != http.StatusNotFound || eg.Error.Code != "not_found" || rawG != rawM || sm != sg {
			t.Errorf("%s as mallory: the group answers %d %s, a missing one %d %s; want the same 404 not_found", r.name, sg, rawG, sm, rawM)
		}
		unchanged(r.name + " as mallory")

		if r.member != 0 {
			status, e, raw := answer(bob, r.method, r.path(g), r.body)
			if status != r.member || e.Error.Code != "forbidden" || e.Error.Message == "" {
				t.Errorf("%s as bob, a member: %d %s, want %d forbidden", r.name, status, raw, r.member)
			}
			unchanged(r.name + " as a member")
		}
		if r.direct != 0 {
			path := r.path(dm)
			if r.name == "leave" {
				path = memberOf(dm, alice)
			}
			status, e, raw := answer(alice, r.method, path, r.body)
			if status != r.direct || e.Error.Code != "invalid" {
				t.Errorf("%s on a direct conversation: %d %s, want %d invalid", r.name, status, raw, r.direct)
			}
			unchanged(r.name + " on a direct conversation")
		}
		if status, e, raw := answer(anon, r.method, r.path(g), r.body); status != http.StatusUnauthorized || e.Error.Code != "unauthorized" {
			t.Errorf("%s signed out: %d %s, want 401", r.name, status, raw)
		}
		if r.method != "GET" {
			status, e, raw := answer(alice, r.method, r.path(g), r.body, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
			if status != http.StatusForbidden || e.Error.Code != "forbidden" {
				t.Errorf("%s from a foreign origin: %d %s, want 403 forbidden", r.name, status, raw)
			}
		}
		unchanged(r.name + " signed out and cross-origin")
	}

	// Frames: mallory's on the group answer as on a missing conversation.
	for _, f := range []func(id int64) any{
		func(id int64) any { return sendFrame(id, "m-ws", "mallory was here") },
		func(id int64) any { return frame("typing", id) },
		func(id int64) any { return frame("read", id, "seq", 1) },
	} {
		var answers []string
		for _, id := range []int64{g, missing} {
			malloryTab.send(f(id))
			e := malloryTab.expect("error")
			if e.Code != "not_found" {
				t.Errorf("frame %v as mallory: %+v, want not_found", f(id), e)
			}
			answers = append(answers, fmt.Sprintf("%s %s %q", e.Code, e.ClientID, e.ErrorText()))
		}
		if answers[0] != answers[1] {
			t.Errorf("frame as mallory: the group answers %s, a missing one %s", answers[0], answers[1])
		}
		unchanged("a frame as mallory")
	}

	// The group pages' forms: mallory gets what a missing group gets (the
	// 404 page), bob, a member, the 403 page for admins' work, alice on
	// her direct conversation the 404 page (a direct conversation has no
	// members page), a signed-out browser the log-in page, a foreign
	// origin 403; nothing changes.
	pagePath := func(format string, id int64) string { return fmt.Sprintf(format, id) }
	for _, r := range []struct {
		name, method, path string // path: %d stands for the conversation's ID
		form               url.Values
		member             int // bob's answer; 0 when it would succeed (not tried here)
	}{
		{"members page", "GET", "/c/%d/members", nil, 0},
		{"page rename", "POST", "/c/%d/title", url.Values{"title": {"Renamed"}}, 403},
		{"page add", "POST", "/c/%d/members", url.Values{"user_id": {fmt.Sprint(dave.user.ID)}}, 403},
		{"page make admin", "POST", fmt.Sprintf("/c/%%d/members/%d/role", bob.user.ID), url.Values{"role": {"admin"}}, 403},
		{"page remove", "POST", fmt.Sprintf("/c/%%d/members/%d/remove", carol.user.ID), nil, 403},
		{"page leave", "POST", "/c/%d/leave", nil, 0},
	} {
		try := func(c *client, id int64) (int, string, string) {
			t.Helper()
			if r.method == "GET" {
				status, h, body := c.page(pagePath(r.path, id))
				return status, h.Get("Location"), body
			}
			return c.form(pagePath(r.path, id), r.form)
		}
		sg, lg, bg := try(mallory, g)
		sm, _, bm := try(mallory, missing)
		if sg != http.StatusNotFound || lg != "" || bg != bm || sm != sg {
			t.Errorf("%s as mallory: the group answers %d %q, a missing one %d; want the same 404 page", r.name, sg, lg, sm)
		}
		unchanged(r.name + " as mallory")
		if r.member != 0 {
			if status, loc, body := try(bob, g); status != r.member || loc != "" || !strings.Contains(body, "Only the group&#39;s admins may do that.") {
				t.Errorf("%s as bob, a member: %d %q, want the %d page", r.name, status, loc, r.member)
			}
			unchanged(r.name + " as a member")
		}
		if status, loc, _ := try(alice, dm); status != http.StatusNotFound || loc != "" {
			t.Errorf("%s on a direct conversation: %d %q, want the 404 page", r.name, status, loc)
		}
		unchanged(r.name + " on a direct conversation")
		if status, loc, _ := try(anon, g); status != http.StatusSeeOther || loc != "/login" {
			t.Errorf("%s signed out: %d %q, want 303 to /login", r.name, status, loc)
		}
		if r.method != "GET" {
			status, raw := alice.do("POST", pagePath(r.path, g), r.form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
			if status != http.StatusForbidden || !strings.Contains(string(raw), "<h1>Refused</h1>") {
				t.Errorf("%s from a foreign origin: %d %s, want the 403 page", r.name, status, raw)
			}
		}
		unchanged(r.name + " signed out and cross-origin")
	}
	// ... and the admin does each through the pages, on a group of its own.
	g2 := alice.createGroup("Pages", bob, carol).ID
	for _, r := range []struct {
		path string
		form url.Values
	}{
		{fmt.Sprintf("/c/%d/title", g2), url.Values{"title": {"Renamed"}}},
		{fmt.Sprintf("/c/%d/members", g2), url.Values{"user_id": {fmt.Sprint(dave.user.ID)}}},
		{fmt.Sprintf("/c/%d/members/%d/role", g2, bob.user.ID), url.Values{"role": {"admin"}}},
		{fmt.Sprintf("/c/%d/members/%d/remove", g2, carol.user.ID), nil},
	} {
		if status, loc, body := alice.form(r.path, r.form); status != http.StatusSeeOther || !strings.HasPrefix(loc, fmt.Sprintf("/c/%d/members?done=", g2)) {
			t.Errorf("alice POST %s: %d %q, want 303 back to the members page\n%s", r.path, status, loc, body)
		}
	}
	if status, _, _ := alice.page(fmt.Sprintf("/c/%d/members", g2)); status != http.StatusOK {
		t.Errorf("alice's members page: %d", status)
	}
	if status, loc, _ := bob.form(fmt.Sprintf("/c/%d/leave", g2), nil); status != http.StatusSeeOther || loc != "/" {
		t.Errorf("bob leaves through the page: %d %q", status, loc)
	}
	if got := roles(alice.members(g2)); !maps(got, map[int64]string{alice.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("members after the admin's page changes: %v", got)
	}
	quiet("the admin's page changes", false)

	// The admin may do each.
	for _, r := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"PATCH", convPath(g), wire.RenameRequest{Title: "Renamed"}, http.StatusOK},
		{"PATCH", convPath(g) + "/messages/4", wire.EditRequest{Body: "edited"}, http.StatusOK},
		{"DELETE", convPath(g) + "/messages/5", nil, http.StatusNoContent}, // bob's: an admin deletes anyone's
		{"POST", convPath(g) + "/members", wire.AddMemberRequest{UserID: dave.user.ID}, http.StatusCreated},
		{"PATCH", memberOf(g, bob), wire.RoleRequest{Role: "admin"}, http.StatusOK},
		{"DELETE", memberOf(g, carol), nil, http.StatusNoContent},
	} {
		alice.call(r.method, r.path, r.body, r.want, nil)
	}
	// A member leaves.
	bob.call("DELETE", memberOf(g, bob), nil, http.StatusNoContent, nil)
	if got := roles(alice.members(g)); !maps(got, map[int64]string{alice.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("members after the admin's changes: %v", got)
	}
}

// TestAdminAuthorizationMatrix tries every site admin route, API and page,
// as each kind of caller: signed out (401, or a redirect to /login), an
// ordinary user (403 forbidden), an admin whose account was deactivated
// (their session ended with it: 401 or /login) and an admin (it works).
// No refused attempt changes the invitations or the accounts.
func TestAdminAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	s := startServer(t, map[string]string{"PARLEY_DB": db})
	admin, user, carol := register(t, s, "admin"), register(t, s, "user"), register(t, s, "carol")
	if _, err := adminCLI(t, db, "create-user", "-username", "formeradmin", "-admin", "-password-file", passwordFile(t, "password-formeradmin")); err != nil {
		t.Fatal(err)
	}
	former := login(t, s, "formeradmin", "password-formeradmin")
	admin.call("POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", former.user.ID), nil, http.StatusOK, nil)
	anon := newClient(t, s)
	inv := admin.createInvitation(2)

	type state struct {
		Invitations wire.InvitationsResponse
		Accounts    wire.AccountsResponse
	}
	snapshot := func() state {
		t.Helper()
		var st state
		admin.call("GET", "/api/v1/admin/invitations", nil, http.StatusOK, &st.Invitations)
		admin.call("GET", "/api/v1/admin/users", nil, http.StatusOK, &st.Accounts)
		return st
	}
	before := snapshot()
	if len(before.Invitations.Invitations) != 1 || len(before.Accounts.Users) != 4 {
		t.Fatalf("unexpected starting state: %+v", before)
	}

	for _, r := range []struct {
		name   string
		page   bool
		method string
		path   string
		body   any // JSON body (API) or form values (page)
		ok     int // the admin's status
	}{
		{"POST invitations", false, "POST", "/api/v1/admin/invitations", wire.CreateInvitationRequest{MaxUses: 1}, http.StatusCreated},
		{"GET invitations", false, "GET", "/api/v1/admin/invitations", nil, http.StatusOK},
		{"DELETE invitation", false, "DELETE", fmt.Sprintf("/api/v1/admin/invitations/%d", inv.ID), nil, http.StatusNoContent},
		{"GET users", false, "GET", "/api/v1/admin/users", nil, http.StatusOK},
		{"POST deactivate", false, "POST", fmt.Sprintf("/api/v1/admin/users/%d/deactivate", carol.user.ID), nil, http.StatusOK},
		{"POST reactivate", false, "POST", fmt.Sprintf("/api/v1/admin/users/%d/reactivate", carol.user.ID), nil, http.StatusOK},
		{"page GET /admin", true, "GET", "/admin", nil, http.StatusOK},
		{"page POST invitation", true, "POST", "/admin/invitations", url.Values{"max_uses": {"1"}, "expires_hours": {"1"}}, http.StatusOK},
		{"page POST revoke", true, "POST", fmt.Sprintf("/admin/invitations/%d/revoke", inv.ID), url.Values{}, http.StatusOK},
		{"page POST deactivate", true, "POST", fmt.Sprintf("/admin/users/%d/deactivate", carol.user.ID), url.Values{}, http.StatusOK},
		{"page POST reactivate", true, "POST", fmt.Sprintf("/admin/users/%d/reactivate", carol.user.ID), url.Values{}, http.StatusOK},
	} {
		try := func(c *client) (int, string, string) {
			t.Helper()
			if !r.page {
				status, raw := c.do(r.method, r.path, r.body)
				var e wire.Error
				jsonUnmarshal(raw, &e)
				return status, e.Error.Code, ""
			}
			if r.method == "GET" {
				status, h, _ := c.page(r.path)
				return status, "", h.Get("Location")
			}
			status, loc, _ := c.form(r.path, r.body.(url.Values))
			return status, "", loc
		}
		for _, c := range []struct {
			who    *client
			name   string
			status int
			code   string // API
			loc    string // pages
		}{
			{anon, "signed out", http.StatusUnauthorized, "unauthorized", "/login"},
			{user, "an ordinary user", http.StatusForbidden, "forbidden", ""},
			{former, "a deactivated admin", http.StatusUnauthorized, "unauthorized", "/login"},
		} {
			status, code, loc := try(c.who)
			want := c.status
			if r.page && c.loc != "" {
				want = http.StatusSeeOther
			}
			if status != want || (!r.page && code != c.code) || (r.page && loc != c.loc) {
				t.Errorf("%s as %s: %d %q (Location %q), want %d %q (Location %q)", r.name, c.name, status, code, loc, want, c.code, c.loc)
			}
			if after := snapshot(); !reflect.DeepEqual(after, before) {
				t.Fatalf("%s as %s changed something:\nbefore %+v\nafter  %+v", r.name, c.name, before, after)
			}
		}
		if status, _, _ := try(admin); status != r.ok {
			t.Errorf("%s as the admin: %d, want %d", r.name, status, r.ok)
		}
		before = snapshot()
	}
}
