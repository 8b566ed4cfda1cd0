package storetest

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// edit edits a message and fails the test on error.
func edit(t *testing.T, s chat.Store, conv chat.ConversationID, seq int64, actor chat.UserID, body string) chat.Message {
	t.Helper()
	st, err := s.EditMessage(t.Context(), chat.MessageChange{ConversationID: conv, Seq: seq, Actor: actor, Body: body, At: chat.Now()})
	if err != nil {
		t.Fatalf("EditMessage(conv %d, seq %d, actor %d): %v", conv, seq, actor, err)
	}
	checkRecipients(t, s, "EditMessage", conv, st.Recipients)
	m := st.Message
	if !st.Changed || m.Seq != seq || m.Body != body || m.EditedAt.IsZero() || m.Deleted() {
		t.Fatalf("EditMessage(conv %d, seq %d) = %+v, want seq %d, body %q, EditedAt set, not deleted", conv, seq, m, seq, body)
	}
	return m
}

// remove deletes a message, which must not be deleted yet, and fails the
// test on error.
func remove(t *testing.T, s chat.Store, conv chat.ConversationID, seq int64, actor chat.UserID) chat.Message {
	t.Helper()
	st, err := s.DeleteMessage(t.Context(), chat.MessageChange{ConversationID: conv, Seq: seq, Actor: actor, At: chat.Now()})
	if err != nil {
		t.Fatalf("DeleteMessage(conv %d, seq %d, actor %d): %v", conv, seq, actor, err)
	}
	checkRecipients(t, s, "DeleteMessage", conv, st.Recipients)
	m, changed := st.Message, st.Changed
	if !changed || m.Seq != seq || m.Body != "" || !m.Deleted() {
		t.Fatalf("DeleteMessage(conv %d, seq %d) = %+v, changed %v; want a tombstone with seq %d, changed", conv, seq, m, changed, seq)
	}
	return m
}

// changes returns every message of conv changed after version, read in
// pages of limit.
func changes(t *testing.T, s chat.Store, conv chat.ConversationID, after int64, limit int) []chat.Message {
	t.Helper()
	var all []chat.Message
	for {
		page, err := s.MessageChanges(t.Context(), conv, after, limit)
		if err != nil {
			t.Fatalf("MessageChanges(%d, %d, %d): %v", conv, after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("MessageChanges(%d, %d, %d) returned %d messages", conv, after, limit, len(page))
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		after = page[len(page)-1].Version
	}
}

func versions(msgs []chat.Message) []int64 {
	v := make([]int64, len(msgs))
	for i, m := range msgs {
		v[i] = m.Version
	}
	return v
}

// lastVersion returns the conversation's LastVersion as user's list shows
// it.
func lastVersion(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID) int64 {
	t.Helper()
	row, err := s.Conversation(t.Context(), user, conv)
	if err != nil {
		t.Fatalf("Conversation(%d, %d): %v", user, conv, err)
	}
	return row.LastVersion
}

func testEditVersionsDense(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	if v := lastVersion(t, s, ab.ID, a.ID); v != 0 {
		t.Errorf("a new conversation has LastVersion %d, want 0", v)
	}
	var got []int64
	for _, body := range []string{"one", "two", "three"} {
		got = append(got, send(t, s, ab.ID, a.ID, body, "", chat.Now()).Version)
	}
	got = append(got, edit(t, s, ab.ID, 2, a.ID, "two, fixed").Version)
	got = append(got, remove(t, s, ab.ID, 1, a.ID).Version)
	got = append(got, send(t, s, ab.ID, b.ID, "four", "", chat.Now()).Version)
	got = append(got, edit(t, s, ab.ID, 2, a.ID, "two, fixed again").Version)
	if want := []int64{1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("versions taken by send, send, send, edit, delete, send, edit = %v, want %v", got, want)
	}
	if v := lastVersion(t, s, ab.ID, b.ID); v != 7 {
		t.Errorf("LastVersion = %d, want 7", v)
	}
	// Every message holds the version of its latest change.
	all := messages(t, s, ab.ID, chat.MessageQuery{Limit: 50})
	if want := []int64{5, 7, 3, 6}; !slices.Equal(versions(all), want) {
		t.Errorf("versions of seqs %v = %v, want %v", seqs(all), versions(all), want)
	}

	// A group's system messages take versions too, in one counter with
	// the talk.
	g, msgs, err := s.CreateGroup(ctx, chat.NewGroup{Title: "Ops", Creator: a.ID, Members: []chat.UserID{b.ID}, At: chat.Now()})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if want := []int64{1, 2}; !slices.Equal(versions(msgs), want) || g.LastVersion != 2 {
		t.Errorf("CreateGroup: message versions %v, LastVersion %d; want %v, 2", versions(msgs), g.LastVersion, want)
	}
	m := send(t, s, g.ID, b.ID, "hi", "", chat.Now())
	ch := change(t, "AddMember")(s.AddMember(ctx, g.ID, a.ID, c.ID, 0, chat.Now()))
	d := remove(t, s, g.ID, m.Seq, a.ID) // an admin deletes another's message
	if m.Version != 3 || ch.Message.Version != 4 || d.Version != 5 {
		t.Errorf("versions of send, add, delete = %d, %d, %d; want 3, 4, 5", m.Version, ch.Message.Version, d.Version)
	}
	if got := versions(changes(t, s, g.ID, 0, 100)); !slices.Equal(got, []int64{1, 2, 4, 5}) {
		t.Errorf("group changes after 0 have versions %v, want [1 2 4 5]", got)
	}
}

func testEditAfterVersionPaging(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	// Twelve messages, then edits and deletions scattered over them,
	// interleaved with more sends.
	for i := range 12 {
		send(t, s, ab.ID, []chat.UserID{a.ID, b.ID}[i%2], "m", "", chat.Now())
	}
	checkpoint := lastVersion(t, s, ab.ID, a.ID)
	edit(t, s, ab.ID, 3, a.ID, "third, edited")
	remove(t, s, ab.ID, 4, b.ID)
	send(t, s, ab.ID, a.ID, "thirteenth", "", chat.Now())
	edit(t, s, ab.ID, 3, a.ID, "third, edited twice")
	remove(t, s, ab.ID, 1, a.ID)
	edit(t, s, ab.ID, 12, b.ID, "twelfth, edited")

	for _, limit := range []int{1, 2, 3, 5, 100} {
		all := changes(t, s, ab.ID, 0, limit)
		if len(all) != 13 {
			t.Errorf("limit %d: %d messages after version 0, want 13 (each once)", limit, len(all))
		}
		seen := map[int64]bool{}
		for i, m := range all {
			if seen[m.Seq] {
				t.Errorf("limit %d: seq %d twice", limit, m.Seq)
			}
			seen[m.Seq] = true
			if i > 0 && m.Version <= all[i-1].Version {
				t.Errorf("limit %d: versions not ascending: %v", limit, versions(all))
				break
			}
		}
		// From the checkpoint: exactly what changed since, latest state.
		since := changes(t, s, ab.ID, checkpoint, limit)
		if got, want := seqs(since), []int64{4, 13, 3, 1, 12}; !slices.Equal(got, want) {
			t.Errorf("limit %d: seqs changed after version %d = %v, want %v", limit, checkpoint, got, want)
			continue
		}
		if since[2].Body != "third, edited twice" || !since[0].Deleted() || since[0].Body != "" || since[4].Body != "twelfth, edited" {
			t.Errorf("limit %d: changes after %d = %+v, want the latest state of each", limit, checkpoint, since)
		}
	}
	if rest := changes(t, s, ab.ID, lastVersion(t, s, ab.ID, a.ID), 10); len(rest) != 0 {
		t.Errorf("changes after LastVersion = %+v, want none", rest)
	}
}

func testEditDeletedErased(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	send(t, s, ab.ID, a.ID, "keep", "", chat.Now())
	secret := send(t, s, ab.ID, a.ID, "my password is hunter2", "c-secret", chat.Now())

	// The conversation list's last message follows an edit, then the
	// deletion.
	edit(t, s, ab.ID, secret.Seq, a.ID, "my password is hunter3")
	if _, last := lastSeqOf(t, s, ab.ID, b.ID); last == nil || last.Body != "my password is hunter3" || last.EditedAt.IsZero() || last.Version != 3 {
		t.Errorf("after the edit, the list's last message is %+v, want the edited one, version 3", last)
	}
	d := remove(t, s, ab.ID, secret.Seq, a.ID)
	if d.ClientID != "c-secret" || d.SenderID != a.ID || !d.CreatedAt.Equal(secret.CreatedAt) {
		t.Errorf("tombstone %+v lost its seq, sender, client ID or time", d)
	}
	if _, last := lastSeqOf(t, s, ab.ID, b.ID); last == nil || last.Body != "" || !last.Deleted() || last.Seq != secret.Seq {
		t.Errorf("after the deletion, the list's last message is %+v, want the tombstone", last)
	}
	// Every way of reading it gives the tombstone, body erased.
	all := messages(t, s, ab.ID, chat.MessageQuery{Limit: 50})
	if len(all) != 2 || all[1].Body != "" || !all[1].Deleted() || all[1].Version != d.Version {
		t.Errorf("history after the deletion = %+v, want seq 2 a tombstone", all)
	}
	if m, err := s.MessageByClientID(ctx, a.ID, "c-secret"); err != nil || m.Body != "" || !m.Deleted() {
		t.Errorf("MessageByClientID after the deletion = %+v, %v; want the tombstone", m, err)
	}
	// Deleting again changes nothing; editing a tombstone is refused.
	again, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: ab.ID, Seq: secret.Seq, Actor: a.ID, At: chat.Now()})
	if err != nil || again.Changed || again.Recipients != nil || again.Message.Version != d.Version || !again.Message.Deleted() {
		t.Errorf("second DeleteMessage = %+v, %v; want the same tombstone, unchanged, no recipients", again, err)
	}
	_, err = s.EditMessage(ctx, chat.MessageChange{ConversationID: ab.ID, Seq: secret.Seq, Actor: a.ID, Body: "back", At: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "EditMessage of a deleted message")
	if v := lastVersion(t, s, ab.ID, a.ID); v != d.Version {
		t.Errorf("refused changes moved LastVersion to %d, want %d", v, d.Version)
	}
}

func testEditRules(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	m := send(t, s, ab.ID, a.ID, "hello", "", chat.Now())
	g := newGroup(t, s, "Ops", a, b, c) // a admin; b, c members
	gm := send(t, s, g.ID, b.ID, "from bob", "", chat.Now())
	before := lastVersion(t, s, g.ID, a.ID)

	editBy := func(conv chat.ConversationID, seq int64, actor chat.UserID) error {
		_, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: conv, Seq: seq, Actor: actor, Body: "x", At: chat.Now()})
		return err
	}
	deleteBy := func(conv chat.ConversationID, seq int64, actor chat.UserID) error {
		_, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: conv, Seq: seq, Actor: actor, At: chat.Now()})
		return err
	}
	// Non-members and unknown conversations: not found, whatever the seq.
	wantCode(t, editBy(ab.ID, m.Seq, c.ID), chat.ENOTFOUND, "edit by a non-member")
	wantCode(t, deleteBy(ab.ID, m.Seq, d.ID), chat.ENOTFOUND, "delete by a non-member")
	wantCode(t, editBy(ab.ID+1_000_000, 1, a.ID), chat.ENOTFOUND, "edit in an unknown conversation")
	wantCode(t, deleteBy(g.ID, gm.Seq, d.ID), chat.ENOTFOUND, "delete in a group by a non-member")
	// Unknown seqs.
	wantCode(t, editBy(ab.ID, 99, a.ID), chat.ENOTFOUND, "edit of an unknown seq")
	wantCode(t, deleteBy(ab.ID, 99, a.ID), chat.ENOTFOUND, "delete of an unknown seq")
	// System messages never change, not even for an admin.
	wantCode(t, editBy(g.ID, 1, a.ID), chat.EINVALID, "edit of a system message")
	wantCode(t, deleteBy(g.ID, 1, a.ID), chat.EINVALID, "delete of a system message")
	// Only the sender edits; the sender or a group admin deletes.
	wantCode(t, editBy(ab.ID, m.Seq, b.ID), chat.EFORBIDDEN, "edit by the other participant")
	wantCode(t, deleteBy(ab.ID, m.Seq, b.ID), chat.EFORBIDDEN, "delete by the other participant of a direct conversation")
	wantCode(t, editBy(g.ID, gm.Seq, a.ID), chat.EFORBIDDEN, "edit by a group admin")
	wantCode(t, deleteBy(g.ID, gm.Seq, c.ID), chat.EFORBIDDEN, "delete by a group member not the sender")
	if v := lastVersion(t, s, g.ID, a.ID); v != before {
		t.Errorf("refused changes moved the group's LastVersion from %d to %d", before, v)
	}
	if got := messages(t, s, g.ID, chat.MessageQuery{Limit: 50}); got[len(got)-1].Body != "from bob" {
		t.Errorf("refused changes changed the message: %+v", got[len(got)-1])
	}
	remove(t, s, g.ID, gm.Seq, a.ID)

	// A member removed from the group can no longer change their messages.
	cm := send(t, s, g.ID, c.ID, "from carol", "", chat.Now())
	change(t, "RemoveMember")(s.RemoveMember(ctx, g.ID, a.ID, c.ID, chat.Now()))
	wantCode(t, editBy(g.ID, cm.Seq, c.ID), chat.ENOTFOUND, "edit by a removed member")
	wantCode(t, deleteBy(g.ID, cm.Seq, c.ID), chat.ENOTFOUND, "delete by a removed member")
}
