package sqlite

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// eventLog is a chat.Broker that only records what is published.
type eventLog struct {
	chat.Broker
	mu     sync.Mutex
	events []chat.Event
}

func (b *eventLog) Publish(_ context.Context, ev chat.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
	return nil
}

// take returns the events published since the last take.
func (b *eventLog) take() []chat.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	evs := b.events
	b.events = nil
	return evs
}

type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)    { return p, nil }
func (plainHasher) Verify(h, p string) (bool, error) { return h == p, nil }

// newGroupService returns a Service on a fresh SQLite store, with no
// limits, and the log of what it publishes.
func newGroupService(t *testing.T) (*chat.Service, *Store, *eventLog) {
	t.Helper()
	store := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	broker := &eventLog{}
	svc, err := chat.NewService(chat.ServiceConfig{
		Store: store, Hasher: plainHasher{}, Broker: broker, Logger: slog.New(slog.DiscardHandler), MaxGroupMembers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, broker
}

// TestGroupAuthorization runs every group action through the Service on a
// real store: a member doing an admin's work is EFORBIDDEN; anyone outside
// the group gets the very answer a missing conversation gets (ENOTFOUND,
// the same message); member changes on a direct conversation are EINVALID.
func TestGroupAuthorization(t *testing.T) {
	ctx := t.Context()
	svc, store, _ := newGroupService(t)
	a, b, c, o := storetest.NewUser(t, store, "alice"), storetest.NewUser(t, store, "bob"),
		storetest.NewUser(t, store, "carol"), storetest.NewUser(t, store, "oscar")
	g, err := svc.CreateGroup(ctx, a.ID, "Team", []chat.UserID{b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	dm, _, err := svc.StartDirect(ctx, a.ID, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	missing := max(g.ID, dm.ID) + 1000

	type action struct {
		name      string
		adminOnly bool
		do        func(conv chat.ConversationID, caller chat.UserID) error
	}
	actions := []action{
		{"rename", true, func(conv chat.ConversationID, caller chat.UserID) error {
			_, err := svc.RenameGroup(ctx, caller, conv, "Renamed")
			return err
		}},
		{"add", true, func(conv chat.ConversationID, caller chat.UserID) error {
			_, err := svc.AddMember(ctx, caller, conv, o.ID)
			return err
		}},
		{"remove", true, func(conv chat.ConversationID, caller chat.UserID) error {
			target := c.ID
			if conv == dm.ID {
				target = a.ID
			}
			return svc.RemoveMember(ctx, caller, conv, target)
		}},
		{"set role", true, func(conv chat.ConversationID, caller chat.UserID) error {
			_, err := svc.SetRole(ctx, caller, conv, c.ID, chat.RoleAdmin)
			return err
		}},
		{"leave", false, func(conv chat.ConversationID, caller chat.UserID) error {
			return svc.RemoveMember(ctx, caller, conv, caller)
		}},
	}
	for _, act := range actions {
		gone := act.do(missing, a.ID)
		if chat.ErrorCode(gone) != chat.ENOTFOUND {
			t.Errorf("%s on a missing conversation: %v, want not_found", act.name, gone)
		}
		for _, tc := range []struct {
			what   string
			conv   chat.ConversationID
			caller chat.UserID
		}{
			{"by an outsider", g.ID, o.ID},
			{"on someone else's direct conversation", dm.ID, c.ID},
		} {
			err := act.do(tc.conv, tc.caller)
			if chat.ErrorCode(err) != chat.ENOTFOUND || chat.ErrorMessage(err) != chat.ErrorMessage(gone) {
				t.Errorf("%s %s: %v, want exactly what a missing conversation gets: %v", act.name, tc.what, err, gone)
			}
		}
		if err := act.do(dm.ID, b.ID); chat.ErrorCode(err) != chat.EINVALID {
			t.Errorf("%s on a direct conversation by its member: %v, want invalid", act.name, err)
		}
		if act.adminOnly {
			if err := act.do(g.ID, b.ID); chat.ErrorCode(err) != chat.EFORBIDDEN {
				t.Errorf("%s by a member: %v, want forbidden", act.name, err)
			}
		}
	}
	// Reading the members is for members only, of either kind.
	if _, err := svc.Members(ctx, o.ID, g.ID, "", 0); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("Members by an outsider: %v", err)
	}
	if p, err := svc.Members(ctx, b.ID, dm.ID, "", 0); err != nil || len(p.Members) != 2 {
		t.Errorf("Members of a direct conversation: %+v, %v", p, err)
	}
	// Nothing the refusals touched changed.
	if p, err := svc.Members(ctx, b.ID, g.ID, "", 0); err != nil || len(p.Members) != 3 {
		t.Errorf("members after the refusals: %+v, %v", p, err)
	}
	if row, err := svc.Conversation(ctx, b.ID, g.ID); err != nil || row.Title != "Team" || row.LastSeq != 3 {
		t.Errorf("the group after the refusals: %+v, %v", row, err)
	}

	// The cap: alice, bob, carol and one more.
	if _, err := svc.AddMember(ctx, a.ID, g.ID, o.ID); err != nil {
		t.Fatal(err)
	}
	d := storetest.NewUser(t, store, "dave")
	if _, err := svc.AddMember(ctx, a.ID, g.ID, d.ID); chat.ErrorCode(err) != chat.ECONFLICT {
		t.Errorf("AddMember past the cap: %v, want conflict", err)
	}
	if _, err := svc.CreateGroup(ctx, a.ID, "Too big", []chat.UserID{b.ID, c.ID, o.ID, d.ID}); chat.ErrorCode(err) != chat.EINVALID {
		t.Errorf("CreateGroup past the cap: %v, want invalid", err)
	}
}

// TestGroupRemovalThroughTheService checks that a removed member loses the
// group at once, through every Service method, hears of their removal, and
// hears nothing of the group after it; and that the last admin leaving
// announces the promoted member.
func TestGroupRemovalThroughTheService(t *testing.T) {
	ctx := t.Context()
	svc, store, broker := newGroupService(t)
	a, b, c := storetest.NewUser(t, store, "alice"), storetest.NewUser(t, store, "bob"), storetest.NewUser(t, store, "carol")
	g, err := svc.CreateGroup(ctx, a.ID, "Team", []chat.UserID{b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if evs := broker.take(); len(evs) != 1 || evs[0].Type != chat.EventConversation || len(evs[0].To) != 3 {
		t.Errorf("creation published %+v, want one conversation event to all three", evs)
	}
	if _, _, err := svc.Send(ctx, c.ID, chat.SendRequest{ConversationID: g.ID, Body: "hi all"}); err != nil {
		t.Fatal(err)
	}
	broker.take()

	if err := svc.RemoveMember(ctx, a.ID, g.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	evs := broker.take()
	if len(evs) != 2 || evs[0].Type != chat.EventMessage || evs[0].Message.Kind != chat.MessageSystem ||
		evs[0].Message.System.Action != chat.SystemRemoved || evs[1].Type != chat.EventMember || evs[1].Change != chat.MemberRemoved {
		t.Fatalf("removal published %+v, want its system message and a member event", evs)
	}
	for _, ev := range evs {
		if !slices.Contains(ev.To, c.ID) || !slices.Contains(ev.To, b.ID) || !slices.Contains(ev.To, a.ID) {
			t.Errorf("%s event went to %v, want everyone, carol included", ev.Type, ev.To)
		}
	}

	notFound := func(what string, err error) {
		t.Helper()
		if chat.ErrorCode(err) != chat.ENOTFOUND {
			t.Errorf("%s by the removed member: %v, want not_found", what, err)
		}
	}
	_, err = svc.Messages(ctx, c.ID, g.ID, chat.MessageQuery{})
	notFound("Messages", err)
	_, err = svc.Conversation(ctx, c.ID, g.ID)
	notFound("Conversation", err)
	_, _, err = svc.Send(ctx, c.ID, chat.SendRequest{ConversationID: g.ID, Body: "still here?"})
	notFound("Send", err)
	_, _, err = svc.MarkRead(ctx, c.ID, g.ID, 1)
	notFound("MarkRead", err)
	notFound("Typing", svc.Typing(ctx, c.ID, g.ID))
	_, err = svc.Members(ctx, c.ID, g.ID, "", 0)
	notFound("Members", err)
	notFound("leaving again", svc.RemoveMember(ctx, c.ID, g.ID, c.ID))
	if evs := broker.take(); len(evs) != 0 {
		t.Errorf("the removed member's attempts published %+v", evs)
	}

	// The group goes on without her.
	if _, _, err := svc.Send(ctx, b.ID, chat.SendRequest{ConversationID: g.ID, Body: "she's gone"}); err != nil {
		t.Fatal(err)
	}
	if evs := broker.take(); len(evs) != 1 || slices.Contains(evs[0].To, c.ID) {
		t.Errorf("a message after the removal went to %+v, want alice and bob only", evs)
	}

	// The only admin leaves: bob takes over, and everyone left hears it.
	if err := svc.RemoveMember(ctx, a.ID, g.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	evs = broker.take()
	if len(evs) != 3 || evs[0].Message.System.Action != chat.SystemLeft || evs[1].Change != chat.MemberRemoved ||
		evs[2].Type != chat.EventMember || evs[2].Change != chat.MemberRole || evs[2].UserID != b.ID ||
		evs[2].Role != chat.RoleAdmin || !slices.Equal(evs[2].To, []chat.UserID{b.ID}) {
		t.Errorf("the last admin leaving published %+v, want the left message, the removal and bob's promotion", evs)
	}
	if _, err := svc.RenameGroup(ctx, b.ID, g.ID, "Bob's"); err != nil {
		t.Errorf("the promoted member renames: %v", err)
	}
	page, err := svc.Messages(ctx, b.ID, g.ID, chat.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []chat.SystemAction
	for _, m := range page.Messages {
		if m.System != nil {
			actions = append(actions, m.System.Action)
		}
	}
	want := []chat.SystemAction{chat.SystemTitle, chat.SystemAdded, chat.SystemAdded, chat.SystemRemoved, chat.SystemLeft, chat.SystemTitle}
	if !slices.Equal(actions, want) {
		t.Errorf("system messages in history: %v, want %v", actions, want)
	}
	// His own rename is not unread for bob, and moved his cursor past
	// alice's leaving, as a send of his would have.
	if row, err := svc.Conversation(ctx, b.ID, g.ID); err != nil || row.UnreadCount() != 0 || row.LastReadSeq != 8 || row.MemberCount != 1 {
		t.Errorf("bob's row at the end: %+v, %v; want cursor 8, nothing unread, 1 member", row, err)
	}
}
