package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

func messagePath(conv, seq int64) string {
	return fmt.Sprintf("/api/v1/conversations/%d/messages/%d", conv, seq)
}

// edit edits c's message seq of conv over HTTP and returns it as answered.
func (c *client) edit(conv, seq int64, body string) wire.Message {
	c.t.Helper()
	var resp wire.MessageResponse
	c.call("PATCH", messagePath(conv, seq), wire.EditRequest{Body: body}, http.StatusOK, &resp)
	return resp.Message
}

// sameMessage reports whether two answers describe the same message in the
// same state.
func sameMessage(a, b wire.Message) bool {
	editedSame := (a.EditedAt == nil) == (b.EditedAt == nil) && (a.EditedAt == nil || a.EditedAt.Equal(*b.EditedAt))
	return a.ConversationID == b.ConversationID && a.Seq == b.Seq && a.Version == b.Version && a.Body == b.Body &&
		a.SenderID == b.SenderID && a.Deleted == b.Deleted && a.CreatedAt.Equal(b.CreatedAt) && editedSame
}

// TestEditDelete: edits and deletions reach every member's tabs live as
// message_updated, and a catch-up by after_version returns them.
func TestEditDelete(t *testing.T) {
	t.Parallel()
	editDelete(t, []*server{startServer(t, nil)})
}

// TestTwoNodesEditDelete: the same with the members on two nodes of one
// cluster (PostgreSQL and Redis): message_updated crosses nodes.
func TestTwoNodesEditDelete(t *testing.T) {
	t.Parallel()
	editDelete(t, startCluster(t, 2, nil, nil))
}

func editDelete(t *testing.T, nodes []*server) {
	node := func(i int) *server { return nodes[i%len(nodes)] }
	alice := register(t, node(0), "alice")
	bob := register(t, node(1), "bob")
	carol := register(t, node(0), "carol")
	a := alice.openTab("alice on node 1")
	b := bob.openTab("bob on node 2")
	tabs := []*tab{a, b}

	g := alice.createGroup("Team", bob, carol)
	for _, tb := range tabs {
		tb.expectPast("conversation")
	}
	first := bob.send(g.ID, "helo", "")
	second := bob.send(g.ID, "something to take back", "")
	for _, want := range []wire.Message{first, second} {
		for _, tb := range tabs {
			if m := tb.message(tb.expectPast("message")); m.Seq != want.Seq || m.Version != want.Version {
				t.Fatalf("%s: message %+v, want seq %d version %d", tb.name, m, want.Seq, want.Version)
			}
		}
	}
	if first.Version == 0 || second.Version != first.Version+1 || first.EditedAt != nil || first.Deleted {
		t.Fatalf("new messages %+v, %+v: want consecutive versions, not edited, not deleted", first, second)
	}

	// The sender edits: the answer and every member's tabs, on every node,
	// show the new body, edited_at and the next version.
	edited := bob.on(node(0)).edit(g.ID, first.Seq, "hello")
	if edited.Body != "hello" || edited.EditedAt == nil || edited.Version != second.Version+1 || edited.Deleted ||
		edited.Seq != first.Seq || !edited.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("PATCH answered %+v; want body %q, edited_at set, version %d", edited, "hello", second.Version+1)
	}
	for _, tb := range tabs {
		if m := tb.message(tb.expectPast("message_updated")); !sameMessage(m, edited) {
			t.Errorf("%s: message_updated %+v, want %+v", tb.name, m, edited)
		}
	}

	// An admin deletes another member's message: a tombstone, body gone.
	alice.call("DELETE", messagePath(g.ID, second.Seq), nil, http.StatusNoContent, nil)
	var gone wire.Message
	for _, tb := range tabs {
		m := tb.message(tb.expectPast("message_updated"))
		if m.Seq != second.Seq || !m.Deleted || m.Body != "" || m.Version != edited.Version+1 {
			t.Errorf("%s: message_updated %+v, want seq %d deleted, empty, version %d", tb.name, m, second.Seq, edited.Version+1)
		}
		gone = m
	}
	// Deleting it again succeeds and changes nothing.
	bob.call("DELETE", messagePath(g.ID, second.Seq), nil, http.StatusNoContent, nil)

	// Catch-up: everything after what the tabs had before the edit is the
	// edit and the deletion, ascending by version; pages by limit.
	page := carol.on(node(1)).messages(g.ID, fmt.Sprintf("after_version=%d", second.Version))
	if page.HasMore || len(page.Messages) != 2 || !sameMessage(page.Messages[0], edited) || !sameMessage(page.Messages[1], gone) {
		t.Errorf("after_version=%d: %+v, want the edit then the deletion", second.Version, page)
	}
	page = carol.messages(g.ID, fmt.Sprintf("after_version=%d&limit=1", second.Version))
	if !page.HasMore || len(page.Messages) != 1 || page.Messages[0].Seq != first.Seq {
		t.Errorf("after_version=%d&limit=1: %+v, want the edit and has_more", second.Version, page)
	}
	if page = carol.messages(g.ID, fmt.Sprintf("after_version=%d", gone.Version)); page.HasMore || len(page.Messages) != 0 {
		t.Errorf("after the last version: %+v, want nothing", page)
	}
	// History keeps the tombstone in its place; the list shows it last.
	hist := carol.messages(g.ID, "")
	if last := hist.Messages[len(hist.Messages)-1]; !sameMessage(last, gone) {
		t.Errorf("history ends with %+v, want the tombstone %+v", last, gone)
	}
	for _, row := range carol.conversations() {
		if row.ID == g.ID && (row.LastMessage == nil || !sameMessage(*row.LastMessage, gone) || row.LastVersion != gone.Version) {
			t.Errorf("list row %+v (last %+v), want the tombstone last and last_version %d", row, row.LastMessage, gone.Version)
		}
	}
	for _, tb := range tabs {
		tb.sync() // nothing more came: the repeated DELETE published nothing
	}
}

// TestEditDeleteErrors: who may edit and delete what, and the answers to
// everyone else.
func TestEditDeleteErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, carol, dave := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave")
	g := alice.createGroup("Team", bob, carol)
	m := bob.send(g.ID, "from bob", "")
	dm, _ := alice.startConversation(bob)
	d := alice.send(dm, "direct", "")
	path := messagePath(g.ID, m.Seq)
	body := wire.EditRequest{Body: "x"}

	// Not the sender: 403 for members, admins included, for an edit; for
	// a deletion in a direct conversation or by a plain member.
	alice.wantError("PATCH", path, body, http.StatusForbidden, "forbidden")
	carol.wantError("PATCH", path, body, http.StatusForbidden, "forbidden")
	carol.wantError("DELETE", path, nil, http.StatusForbidden, "forbidden")
	bob.wantError("PATCH", messagePath(dm, d.Seq), body, http.StatusForbidden, "forbidden")
	bob.wantError("DELETE", messagePath(dm, d.Seq), nil, http.StatusForbidden, "forbidden")
	// Not a member, or no such conversation: 404.
	dave.wantError("PATCH", path, body, http.StatusNotFound, "not_found")
	dave.wantError("DELETE", path, nil, http.StatusNotFound, "not_found")
	dave.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_version=0", g.ID), nil, http.StatusNotFound, "not_found")
	bob.wantError("PATCH", messagePath(g.ID+1000, 1), body, http.StatusNotFound, "not_found")
	// No such seq: 404; not a seq: 400.
	bob.wantError("PATCH", messagePath(g.ID, 999), body, http.StatusNotFound, "not_found")
	bob.wantError("DELETE", messagePath(g.ID, 999), nil, http.StatusNotFound, "not_found")
	for _, seq := range []string{"0", "-1", "abc", "1.5"} {
		bob.wantError("PATCH", fmt.Sprintf("/api/v1/conversations/%d/messages/%s", g.ID, seq), body, http.StatusBadRequest, "invalid")
		bob.wantError("DELETE", fmt.Sprintf("/api/v1/conversations/%d/messages/%s", g.ID, seq), nil, http.StatusBadRequest, "invalid")
	}
	// A system message (seq 1: the group's creation) never changes.
	alice.wantError("PATCH", messagePath(g.ID, 1), body, http.StatusBadRequest, "invalid")
	alice.wantError("DELETE", messagePath(g.ID, 1), nil, http.StatusBadRequest, "invalid")
	// Body rules as for a send; keys matched exactly.
	for _, bad := range []any{
		wire.EditRequest{Body: ""}, wire.EditRequest{Body: "\u200b\u2800"}, wire.EditRequest{Body: "bell\a"},
		map[string]any{"body": "x", "client_id": "c"}, map[string]any{"Body": "x"}, map[string]any{},
	} {
		bob.wantError("PATCH", path, bad, http.StatusBadRequest, "invalid")
	}
	if got := bob.messages(g.ID, ""); got.Messages[len(got.Messages)-1].Body != "from bob" {
		t.Errorf("refused edits changed the message: %+v", got.Messages[len(got.Messages)-1])
	}
	// A deleted message cannot be edited.
	bob.call("DELETE", path, nil, http.StatusNoContent, nil)
	bob.wantError("PATCH", path, body, http.StatusNotFound, "not_found")
	// after_version goes alone.
	for _, q := range []string{"after_version=1&after_seq=0", "after_version=1&before_seq=5", "after_version=-1", "after_version=x", "after_version=0&limit=101"} {
		bob.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?%s", g.ID, q), nil, http.StatusBadRequest, "invalid")
	}
}
