package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// testRecipients checks that every change the Service publishes comes
// back with its recipients, the conversation's members as the change's
// own transaction read them, in ascending order: messages, edits,
// deletions, read cursors and group changes, through joins and departures;
// a display name change and an account closure come back with the user's
// contacts as their transaction read them. A change that changed nothing
// has none.
func testRecipients(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	g := newGroup(t, s, "Ops", a, b, c)
	ids := func(us ...chat.User) []chat.UserID { return userIDs(us...) }
	want := func(what string, got []chat.UserID, us ...chat.User) {
		t.Helper()
		if w := ids(us...); !slices.Equal(got, w) {
			t.Errorf("%s: recipients %v, want %v", what, got, w)
		}
	}

	m := send(t, s, g.ID, b.ID, "hello", "k1", chat.Now()) // checks the members too
	st, err := s.CreateMessage(ctx, chat.Message{ConversationID: g.ID, SenderID: b.ID, Body: "hello", ClientID: "k1", CreatedAt: chat.Now()})
	if err != nil || st.Changed || st.Recipients != nil || st.Message.Seq != m.Seq {
		t.Errorf("a resend = %+v, %v; want the first message, unchanged, no recipients", st, err)
	}

	ch := change(t, "add dave")(s.AddMember(ctx, g.ID, a.ID, d.ID, 0, chat.Now()))
	want("AddMember", ch.Members, a, b, c, d)
	st, err = s.CreateMessage(ctx, chat.Message{ConversationID: g.ID, SenderID: d.ID, Body: "hi all", CreatedAt: chat.Now()})
	if err != nil {
		t.Fatal(err)
	}
	want("a send after the add", st.Recipients, a, b, c, d)

	ch = change(t, "remove carol")(s.RemoveMember(ctx, g.ID, a.ID, c.ID, chat.Now()))
	want("RemoveMember", ch.Members, a, b, d)
	edited, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: g.ID, Seq: m.Seq, Actor: b.ID, Body: "hello!", At: chat.Now()})
	if err != nil {
		t.Fatal(err)
	}
	want("an edit after the removal", edited.Recipients, a, b, d)

	ch = change(t, "rename")(s.RenameGroup(ctx, g.ID, a.ID, "Ops team", chat.Now()))
	want("RenameGroup", ch.Members, a, b, d)
	ch = change(t, "rename again")(s.RenameGroup(ctx, g.ID, a.ID, "Ops team", chat.Now()))
	if ch.Changed || ch.Members != nil {
		t.Errorf("a rename to the same title: changed %v, recipients %v; want neither", ch.Changed, ch.Members)
	}
	ch = change(t, "make dave admin")(s.SetRole(ctx, g.ID, a.ID, d.ID, chat.RoleAdmin))
	want("SetRole", ch.Members, a, b, d)
	ch = change(t, "make dave admin again")(s.SetRole(ctx, g.ID, a.ID, d.ID, chat.RoleAdmin))
	if ch.Changed || ch.Members != nil {
		t.Errorf("giving the role held: changed %v, recipients %v; want neither", ch.Changed, ch.Members)
	}

	ch = change(t, "alice leaves")(s.RemoveMember(ctx, g.ID, a.ID, a.ID, chat.Now()))
	want("leaving", ch.Members, b, d)
	r, err := s.MarkRead(ctx, g.ID, b.ID, 1_000)
	if err != nil || !r.Moved {
		t.Fatalf("MarkRead = %+v, %v; want moved", r, err)
	}
	want("MarkRead after the departure", r.Recipients, b, d)
	deleted, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: g.ID, Seq: m.Seq, Actor: b.ID, At: chat.Now()})
	if err != nil {
		t.Fatal(err)
	}
	want("a deletion", deleted.Recipients, b, d)

	// A user's contacts hear of their name and of their account closing:
	// alice (a direct conversation) and bob (the group), not carol, who
	// left, nor dave himself.
	direct(t, s, a.ID, d.ID, chat.Now())
	_, contacts, err := s.SetDisplayName(ctx, d.ID, "David")
	if err != nil {
		t.Fatal(err)
	}
	want("SetDisplayName", contacts, a, b)
	closed, err := s.CloseUser(ctx, d.ID, chat.Now())
	if err != nil || len(closed.Groups) != 1 {
		t.Fatalf("CloseUser = %+v, %v; want one group left", closed, err)
	}
	want("the group an account closure left", closed.Groups[0].Members, b)
	want("CloseUser", closed.Contacts, a, b)
}

// testRecipientsAcrossRemoval sends to a group from several goroutines
// while a member is removed: each message's recipients are the members as
// of its own seq, the removed one included before the removal's system
// message and never after it, whatever order the transactions ran in.
func testRecipientsAcrossRemoval(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	g := newGroup(t, s, "Busy", a, b, c, d)
	const senders, each = 3, 15
	type sent struct {
		st  chat.Stored
		err error
	}
	results := make([][]sent, senders)
	var removal chat.GroupChange
	var removalErr error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range []chat.User{a, b, c} {
		wg.Go(func() {
			<-start
			for k := range each {
				st, err := s.CreateMessage(ctx, chat.Message{ConversationID: g.ID, SenderID: u.ID, Body: fmt.Sprint(k), CreatedAt: chat.Now()})
				results[i] = append(results[i], sent{st, err})
			}
		})
	}
	wg.Go(func() {
		<-start
		removal, removalErr = s.RemoveMember(ctx, g.ID, a.ID, d.ID, chat.Now())
	})
	close(start)
	wg.Wait()
	if removalErr != nil {
		t.Fatalf("RemoveMember: %v", removalErr)
	}
	cut := removal.Message.Seq
	before, after := userIDs(a, b, c, d), userIDs(a, b, c)
	for i, rs := range results {
		for k, r := range rs {
			if r.err != nil {
				t.Errorf("sender %d, send %d: %v", i, k, r.err)
				continue
			}
			w := before
			if r.st.Message.Seq > cut {
				w = after
			}
			if !slices.Equal(r.st.Recipients, w) {
				t.Errorf("seq %d (the removal is seq %d): recipients %v, want %v", r.st.Message.Seq, cut, r.st.Recipients, w)
			}
		}
	}
}
