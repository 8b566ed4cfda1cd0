package storetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Group helpers

func userIDs(users ...chat.User) []chat.UserID {
	ids := make([]chat.UserID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

func newUsers(t *testing.T, s chat.Store, prefix string, n int) []chat.User {
	t.Helper()
	users := make([]chat.User, n)
	for i := range users {
		users[i] = NewUser(t, s, fmt.Sprintf("%s%03d", prefix, i))
	}
	return users
}

// newGroup creates a group of creator (its admin) and members, with no
// cap, and fails the test on error.
func newGroup(t *testing.T, s chat.Store, title string, creator chat.User, members ...chat.User) chat.Conversation {
	t.Helper()
	c, _, err := s.CreateGroup(t.Context(), chat.NewGroup{Title: title, Creator: creator.ID, Members: userIDs(members...), At: chat.Now()})
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", title, err)
	}
	return c
}

// change returns a function that fails the test when a group change
// failed, and returns the change: change(t, what)(s.AddMember(…)).
func change(t *testing.T, what string) func(chat.GroupChange, error) chat.GroupChange {
	t.Helper()
	return func(ch chat.GroupChange, err error) chat.GroupChange {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ch
	}
}

// history returns every message of the conversation in seq order, and
// checks that the seqs run densely from 1.
func history(t *testing.T, s chat.Store, conv chat.ConversationID) []chat.Message {
	t.Helper()
	var all []chat.Message
	after := int64(0)
	for {
		page := messages(t, s, conv, chat.MessageQuery{AfterSeq: after, After: true, Limit: 100})
		all = append(all, page...)
		if len(page) < 100 {
			break
		}
		after = page[len(page)-1].Seq
	}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("history of conversation %d is not dense from 1: seqs %v", conv, seqs(all))
		}
	}
	return all
}

// allMembers returns every member of the conversation, page by page.
func allMembers(t *testing.T, s chat.Store, conv chat.ConversationID) []chat.MemberInfo {
	t.Helper()
	var all []chat.MemberInfo
	q := chat.MemberQuery{Limit: 7}
	for {
		page, err := s.ListMembers(t.Context(), conv, q)
		if err != nil {
			t.Fatalf("ListMembers(%d, %+v): %v", conv, q, err)
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all
		}
		q.After = page[len(page)-1].UserID
	}
}

// replay returns the members a group's history says it has: the creator
// (the sender of its first message) and everyone added since, but those
// removed or gone.
func replay(msgs []chat.Message) map[chat.UserID]bool {
	members := map[chat.UserID]bool{}
	for _, m := range msgs {
		if m.System == nil {
			continue
		}
		switch {
		case m.Seq == 1:
			members[m.SenderID] = true
		case m.System.Action == chat.SystemAdded:
			members[m.System.UserID] = true
		case m.System.Action == chat.SystemRemoved, m.System.Action == chat.SystemLeft:
			delete(members, m.System.UserID)
		}
	}
	return members
}

// checkGroup checks what must hold of a group whatever happened to it:
// its history is dense, its members are each listed once, in user ID
// order, and are those its history says; the stored member count is
// theirs; a group with members has an admin. It returns the members.
func checkGroup(t *testing.T, s chat.Store, conv chat.ConversationID) []chat.MemberInfo {
	t.Helper()
	msgs := history(t, s, conv)
	members := allMembers(t, s, conv)
	ids := make([]chat.UserID, len(members))
	admins := 0
	for i, m := range members {
		ids[i] = m.UserID
		if m.Role == chat.RoleAdmin {
			admins++
		}
		if m.ConversationID != conv || m.User.ID != m.UserID {
			t.Errorf("member row %+v is not of conversation %d", m, conv)
		}
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("members %v are not distinct and in user ID order", ids)
	}
	if len(members) > 0 && admins == 0 {
		t.Errorf("group %d has %d members and no admin", conv, len(members))
	}
	want := replay(msgs)
	if len(want) != len(ids) {
		t.Errorf("group %d: members %v, but its history says %v", conv, ids, want)
	} else {
		for _, id := range ids {
			if !want[id] {
				t.Errorf("group %d: members %v, but its history says %v", conv, ids, want)
				break
			}
		}
	}
	plain, err := s.Members(t.Context(), conv)
	if err != nil {
		t.Fatalf("Members(%d): %v", conv, err)
	}
	slices.Sort(plain)
	if !slices.Equal(plain, ids) {
		t.Errorf("Members(%d) = %v, ListMembers %v", conv, plain, ids)
	}
	if len(members) > 0 {
		row, err := s.Conversation(t.Context(), members[0].UserID, conv)
		if err != nil {
			t.Fatalf("Conversation(%d, %d): %v", members[0].UserID, conv, err)
		}
		if row.MemberCount != len(members) || row.LastSeq != int64(len(msgs)) {
			t.Errorf("group %d row: MemberCount %d, LastSeq %d; want %d, %d", conv, row.MemberCount, row.LastSeq, len(members), len(msgs))
		}
	}
	return members
}

// wantSystem checks that m is a system message by actor recording action
// (on user, or with title).
func wantSystem(t *testing.T, what string, m *chat.Message, conv chat.ConversationID, action chat.SystemAction, actor, user chat.UserID, title string) {
	t.Helper()
	want := chat.SystemEvent{Action: action, ActorID: actor, UserID: user, Title: title}
	switch {
	case m == nil:
		t.Errorf("%s: no system message, want %+v", what, want)
	case m.ConversationID != conv || m.Kind != chat.MessageSystem || m.SenderID != actor || m.Body != "" || m.ClientID != "" ||
		m.Seq < 1 || m.CreatedAt.IsZero() || m.System == nil || *m.System != want:
		t.Errorf("%s: message %+v (system %+v), want a system message in conversation %d by %d recording %+v", what, *m, m.System, conv, actor, want)
	}
}

func roleOf(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID) chat.Role {
	t.Helper()
	m, err := s.Member(t.Context(), conv, user)
	if err != nil {
		t.Fatalf("Member(%d, %d): %v", conv, user, err)
	}
	return m.Role
}

// unread returns the user's unread count in the conversation, as their
// list shows it.
func unread(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID) int64 {
	t.Helper()
	row, err := s.Conversation(t.Context(), user, conv)
	if err != nil {
		t.Fatalf("Conversation(%d, %d): %v", user, conv, err)
	}
	return row.UnreadCount()
}

// Tests

func testGroupCreate(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	at := chat.Now()
	g, msgs, err := s.CreateGroup(ctx, chat.NewGroup{Title: "Café <team> 🎉", Creator: a.ID, Members: []chat.UserID{c.ID, b.ID}, MaxMembers: 3, At: at})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if g.ID <= 0 || g.Kind != chat.KindGroup || g.Title != "Café <team> 🎉" || g.LastSeq != 3 || g.MemberCount != 3 ||
		!g.CreatedAt.Equal(at) || !g.LastMessageAt.Equal(at) {
		t.Errorf("CreateGroup = %+v, want a group titled as given with 3 members, LastSeq 3, created at %v", g, at)
	}
	// Its history: the creation (a title message by the creator), then
	// one added message per member, in the order given.
	if len(msgs) != 3 {
		t.Fatalf("CreateGroup returned %d messages, want 3", len(msgs))
	}
	wantSystem(t, "message 1", &msgs[0], g.ID, chat.SystemTitle, a.ID, 0, g.Title)
	wantSystem(t, "message 2", &msgs[1], g.ID, chat.SystemAdded, a.ID, c.ID, "")
	wantSystem(t, "message 3", &msgs[2], g.ID, chat.SystemAdded, a.ID, b.ID, "")
	for i, m := range msgs {
		if m.Seq != int64(i+1) || !m.CreatedAt.Equal(at) {
			t.Errorf("message %d: seq %d at %v, want %d at %v", i, m.Seq, m.CreatedAt, i+1, at)
		}
	}
	checkMessages(t, "stored history", history(t, s, g.ID), msgs)

	members := checkGroup(t, s, g.ID)
	if len(members) != 3 {
		t.Fatalf("ListMembers = %+v, want alice, bob and carol", members)
	}
	for _, m := range members {
		wantRole := chat.RoleMember
		if m.UserID == a.ID {
			wantRole = chat.RoleAdmin
		}
		user := map[chat.UserID]chat.User{a.ID: a, b.ID: b, c.ID: c}[m.UserID]
		if m.Role != wantRole || m.LastReadSeq != 3 || !m.JoinedAt.Equal(at) || !equalUser(m.User, user) || m.User.Closed {
			t.Errorf("member %+v, want role %s, LastReadSeq 3, joined at %v, user %+v", m, wantRole, at, user)
		}
		if got := roleOf(t, s, g.ID, m.UserID); got != wantRole {
			t.Errorf("Member(%d).Role = %q, want %q", m.UserID, got, wantRole)
		}
		// Everyone sees it in their list, with nothing unread.
		row, err := s.Conversation(ctx, m.UserID, g.ID)
		if err != nil {
			t.Fatalf("Conversation(%d, %d): %v", m.UserID, g.ID, err)
		}
		if row.Kind != chat.KindGroup || row.Title != g.Title || row.MemberCount != 3 || row.OtherUser != nil ||
			row.LastMessage == nil || !equalMessage(*row.LastMessage, msgs[2]) || row.UnreadCount() != 0 {
			t.Errorf("%d's row %+v (last message %+v), want the group with its last message and nothing unread", m.UserID, row, row.LastMessage)
		}
		if list := conversations(t, s, chat.ConversationQuery{UserID: m.UserID, Limit: 10}); len(list) != 1 || list[0].ID != g.ID {
			t.Errorf("%d's list = %s, want the group", m.UserID, describeRows(list))
		}
	}
	if _, err := s.Conversation(ctx, d.ID, g.ID); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("an outsider's Conversation: %v, want not found", err)
	}
	contacts, err := s.Contacts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(contacts); !slices.Equal(contacts, []chat.UserID{a.ID, c.ID}) {
		t.Errorf("Contacts(bob) = %v, want alice and carol", contacts)
	}

	// The same people may make another group: groups have no key.
	if g2 := newGroup(t, s, "Café <team> 🎉", b, a, c); g2.ID == g.ID {
		t.Errorf("a second group has the first one's ID")
	}
}

func testGroupCreateRefused(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, e := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "erin")
	if _, err := s.CloseUser(ctx, e.ID, chat.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what    string
		members []chat.UserID
		max     int
		code    string
	}{
		{"a closed account", []chat.UserID{b.ID, e.ID}, 0, chat.ENOTFOUND},
		{"an unknown user", []chat.UserID{b.ID, c.ID + 1_000_000}, 0, chat.ENOTFOUND},
		{"no member", nil, 0, chat.EINVALID},
		{"a member twice", []chat.UserID{b.ID, b.ID}, 0, chat.EINVALID},
		{"the creator among the members", []chat.UserID{b.ID, a.ID}, 0, chat.EINVALID},
		{"more people than the cap", []chat.UserID{b.ID, c.ID}, 2, chat.EINVALID},
	} {
		_, _, err := s.CreateGroup(ctx, chat.NewGroup{Title: "no", Creator: a.ID, Members: tc.members, MaxMembers: tc.max, At: chat.Now()})
		wantCode(t, err, tc.code, "CreateGroup with "+tc.what)
	}
	for _, u := range []chat.User{a, b, c} {
		if list := conversations(t, s, chat.ConversationQuery{UserID: u.ID, Limit: 10}); len(list) != 0 {
			t.Errorf("after refused creations, %s's list = %s, want empty", u.Username, describeRows(list))
		}
	}
	// As many people as the cap is fine.
	g, _, err := s.CreateGroup(ctx, chat.NewGroup{Title: "ok", Creator: a.ID, Members: []chat.UserID{b.ID, c.ID}, MaxMembers: 3, At: chat.Now()})
	if err != nil || g.MemberCount != 3 {
		t.Errorf("CreateGroup of exactly the cap = %+v, %v", g, err)
	}
}

func testGroupRename(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	g := newGroup(t, s, "Old", a, b, c)
	talk := send(t, s, g.ID, b.ID, "hello", "", chat.Now()) // seq 4

	ch := change(t, "RenameGroup")(s.RenameGroup(ctx, g.ID, a.ID, "New", chat.Now()))
	wantSystem(t, "rename", ch.Message, g.ID, chat.SystemTitle, a.ID, 0, "New")
	if !ch.Changed || ch.Message == nil || ch.Message.Seq != 5 || ch.Conversation.Title != "New" || ch.Conversation.LastSeq != 5 ||
		ch.Conversation.MemberCount != 3 || !ch.Conversation.LastMessageAt.Equal(ch.Message.CreatedAt) {
		t.Errorf("RenameGroup = %+v, want the group titled New with LastSeq 5 from its seq-5 message", ch)
	}
	if ch.Message != nil && ch.Message.CreatedAt.Before(talk.CreatedAt) {
		t.Errorf("the rename at %v is older than the message before it at %v", ch.Message.CreatedAt, talk.CreatedAt)
	}
	// Not unread for its actor; unread for the others.
	for user, want := range map[chat.UserID]int64{a.ID: 0, b.ID: 1, c.ID: 2} {
		if got := unread(t, s, g.ID, user); got != want {
			t.Errorf("user %d has %d unread after the rename, want %d", user, got, want)
		}
	}
	row, err := s.Conversation(ctx, c.ID, g.ID)
	if err != nil || row.Title != "New" || row.LastMessage == nil || row.LastMessage.System == nil || row.LastMessage.System.Title != "New" {
		t.Errorf("carol's row after the rename: %+v, %v", row, err)
	}

	// The same title again changes nothing.
	ch = change(t, "RenameGroup to the same title")(s.RenameGroup(ctx, g.ID, a.ID, "New", chat.Now()))
	if ch.Changed || ch.Message != nil || ch.Conversation.LastSeq != 5 || ch.Conversation.Title != "New" {
		t.Errorf("RenameGroup to the same title = %+v, want no change", ch)
	}
	msgs := history(t, s, g.ID)
	var kinds []chat.MessageKind
	for _, m := range msgs {
		kinds = append(kinds, m.Kind)
	}
	sys, text := chat.MessageSystem, chat.MessageText
	if !slices.Equal(kinds, []chat.MessageKind{sys, sys, sys, text, sys}) {
		t.Errorf("history kinds %v, want the creation's three, the talk, the rename", kinds)
	}
	checkGroup(t, s, g.ID)
}

func testGroupAdd(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d, e := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave"), NewUser(t, s, "erin")
	g := newGroup(t, s, "Team", a, b)
	send(t, s, g.ID, b.ID, "one", "", chat.Now())
	send(t, s, g.ID, b.ID, "two", "", chat.Now()) // seq 4

	at := chat.Now()
	ch := change(t, "AddMember")(s.AddMember(ctx, g.ID, a.ID, c.ID, 3, at))
	wantSystem(t, "add", ch.Message, g.ID, chat.SystemAdded, a.ID, c.ID, "")
	if ch.Message == nil || ch.Message.Seq != 5 || !ch.Changed {
		t.Fatalf("AddMember = %+v, want its message at seq 5", ch)
	}
	want := chat.MemberInfo{
		Member: chat.Member{ConversationID: g.ID, UserID: c.ID, Role: chat.RoleMember, LastReadSeq: 5, JoinedAt: ch.Message.CreatedAt},
		User:   c,
	}
	if m := ch.Member; !equalMember(m.Member, want.Member) || !equalUser(m.User, c) || ch.Promoted != nil {
		t.Errorf("AddMember's member = %+v, want %+v", ch.Member, want)
	}
	if ch.Conversation.MemberCount != 3 || ch.Conversation.LastSeq != 5 {
		t.Errorf("AddMember's group = %+v, want 3 members, LastSeq 5", ch.Conversation)
	}
	// The new member sees the whole history and has nothing unread; the
	// actor has nothing unread; bob has the add unread.
	if m, err := s.Member(ctx, g.ID, c.ID); err != nil || !equalMember(m, want.Member) {
		t.Errorf("Member(carol) = %+v, %v; want %+v", m, err, want.Member)
	}
	for user, n := range map[chat.UserID]int64{a.ID: 0, b.ID: 1, c.ID: 0} {
		if got := unread(t, s, g.ID, user); got != n {
			t.Errorf("user %d has %d unread after the add, want %d", user, got, n)
		}
	}
	if msgs := history(t, s, g.ID); len(msgs) != 5 {
		t.Errorf("history after the add has %d messages, want 5", len(msgs))
	}

	_, err := s.AddMember(ctx, g.ID, a.ID, c.ID, 0, chat.Now())
	wantCode(t, err, chat.ECONFLICT, "AddMember of a member")
	_, err = s.AddMember(ctx, g.ID, a.ID, d.ID, 3, chat.Now())
	wantCode(t, err, chat.ECONFLICT, "AddMember to a full group")
	_, err = s.AddMember(ctx, g.ID, a.ID, e.ID+1_000_000, 0, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "AddMember of an unknown user")
	if _, err := s.CloseUser(ctx, e.ID, chat.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddMember(ctx, g.ID, a.ID, e.ID, 0, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "AddMember of a closed account")
	if got := checkGroup(t, s, g.ID); len(got) != 3 {
		t.Errorf("refused adds changed the group: %+v", got)
	}

	ch = change(t, "AddMember under a larger cap")(s.AddMember(ctx, g.ID, a.ID, d.ID, 4, chat.Now()))
	if ch.Conversation.MemberCount != 4 || ch.Message == nil || ch.Message.Seq != 6 {
		t.Errorf("AddMember under a larger cap = %+v", ch)
	}
	contacts, err := s.Contacts(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(contacts); !slices.Equal(contacts, []chat.UserID{a.ID, b.ID, c.ID}) {
		t.Errorf("Contacts of the new member = %v, want the group's others", contacts)
	}
	checkGroup(t, s, g.ID)
}

func testGroupRemove(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	g := newGroup(t, s, "Team", a, b, c, d)
	send(t, s, g.ID, c.ID, "bye?", "", chat.Now()) // seq 5

	ch := change(t, "RemoveMember")(s.RemoveMember(ctx, g.ID, a.ID, c.ID, chat.Now()))
	wantSystem(t, "remove", ch.Message, g.ID, chat.SystemRemoved, a.ID, c.ID, "")
	if ch.Message == nil || ch.Message.Seq != 6 || ch.Member.UserID != c.ID || ch.Member.Role != chat.RoleMember ||
		!equalUser(ch.Member.User, c) || ch.Promoted != nil || ch.Conversation.MemberCount != 3 || ch.Conversation.LastSeq != 6 {
		t.Errorf("RemoveMember = %+v, want carol removed by the seq-6 message, 3 members left", ch)
	}
	if got := readCursor(t, s, g.ID, a.ID); got != 6 {
		t.Errorf("the remover's read cursor = %d, want 6", got)
	}
	// Carol is out, at once.
	wantOut(t, s, g.ID, c.ID, "a removed member")

	ch = change(t, "leave")(s.RemoveMember(ctx, g.ID, d.ID, d.ID, chat.Now()))
	wantSystem(t, "leave", ch.Message, g.ID, chat.SystemLeft, d.ID, d.ID, "")
	if ch.Message == nil || ch.Message.Seq != 7 || ch.Conversation.MemberCount != 2 || ch.Promoted != nil {
		t.Errorf("leave = %+v, want the seq-7 message, 2 members left", ch)
	}
	wantOut(t, s, g.ID, d.ID, "a member who left")

	_, err := s.RemoveMember(ctx, g.ID, a.ID, c.ID, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "RemoveMember of a removed member")
	_, err = s.RemoveMember(ctx, g.ID, d.ID, d.ID, chat.Now())
	wantCode(t, err, chat.ENOTFOUND, "leaving twice")

	// A removed member may be added again: a new membership, with nothing
	// unread.
	ch = change(t, "AddMember again")(s.AddMember(ctx, g.ID, a.ID, c.ID, 0, chat.Now()))
	if ch.Message == nil || ch.Member.LastReadSeq != ch.Message.Seq || ch.Member.Role != chat.RoleMember {
		t.Errorf("AddMember again = %+v", ch)
	}
	if got := unread(t, s, g.ID, c.ID); got != 0 {
		t.Errorf("carol back has %d unread, want 0", got)
	}
	members := checkGroup(t, s, g.ID)
	if !slices.Equal(memberIDs(members), []chat.UserID{a.ID, b.ID, c.ID}) {
		t.Errorf("members at the end: %v", memberIDs(members))
	}
}

func equalMember(a, b chat.Member) bool {
	return a.ConversationID == b.ConversationID && a.UserID == b.UserID && a.Role == b.Role &&
		a.LastReadSeq == b.LastReadSeq && a.JoinedAt.Equal(b.JoinedAt)
}

func memberIDs(members []chat.MemberInfo) []chat.UserID {
	ids := make([]chat.UserID, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	return ids
}

// wantOut checks that user has no access to the conversation: every
// member-only read and write is ENOTFOUND, and it is out of their list.
func wantOut(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID, who string) {
	t.Helper()
	ctx := t.Context()
	_, err := s.Member(ctx, conv, user)
	wantCode(t, err, chat.ENOTFOUND, "Member of "+who)
	_, err = s.Conversation(ctx, user, conv)
	wantCode(t, err, chat.ENOTFOUND, "Conversation of "+who)
	_, err = s.CreateMessage(ctx, chat.Message{ConversationID: conv, SenderID: user, Body: "still here?", CreatedAt: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "CreateMessage by "+who)
	_, err = s.MarkRead(ctx, conv, user, 1)
	wantCode(t, err, chat.ENOTFOUND, "MarkRead by "+who)
	for _, r := range conversations(t, s, chat.ConversationQuery{UserID: user, Limit: 100}) {
		if r.ID == conv {
			t.Errorf("the conversation is still in the list of %s", who)
		}
	}
	members, err := s.Members(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(members, user) {
		t.Errorf("Members still holds %s", who)
	}
}

func testGroupSetRole(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	g := newGroup(t, s, "Team", a, b, c)

	ch := change(t, "SetRole admin")(s.SetRole(ctx, g.ID, a.ID, b.ID, chat.RoleAdmin))
	if !ch.Changed || ch.Member.UserID != b.ID || ch.Member.Role != chat.RoleAdmin || ch.Message != nil || ch.Conversation.LastSeq != 3 {
		t.Errorf("SetRole = %+v, want bob admin and no message", ch)
	}
	if roleOf(t, s, g.ID, b.ID) != chat.RoleAdmin {
		t.Errorf("bob is not admin after SetRole")
	}
	if msgs := history(t, s, g.ID); len(msgs) != 3 {
		t.Errorf("a role change wrote a message: %d messages", len(msgs))
	}
	ch = change(t, "SetRole admin again")(s.SetRole(ctx, g.ID, a.ID, b.ID, chat.RoleAdmin))
	if ch.Changed || ch.Member.Role != chat.RoleAdmin {
		t.Errorf("SetRole to the role held = %+v, want no change", ch)
	}
	// Two admins: one may step down, or demote the other.
	change(t, "bob demotes alice")(s.SetRole(ctx, g.ID, b.ID, a.ID, chat.RoleMember))
	// Now bob is the only admin: he cannot step down.
	_, err := s.SetRole(ctx, g.ID, b.ID, b.ID, chat.RoleMember)
	wantCode(t, err, chat.ECONFLICT, "the only admin stepping down")
	if roleOf(t, s, g.ID, b.ID) != chat.RoleAdmin {
		t.Errorf("bob stepped down although he was the only admin")
	}
	_, err = s.SetRole(ctx, g.ID, a.ID, c.ID, chat.RoleAdmin)
	wantCode(t, err, chat.EFORBIDDEN, "SetRole by a demoted admin")
	_, err = s.SetRole(ctx, g.ID, b.ID, d.ID, chat.RoleAdmin)
	wantCode(t, err, chat.ENOTFOUND, "SetRole of a non-member")
	change(t, "bob promotes carol")(s.SetRole(ctx, g.ID, b.ID, c.ID, chat.RoleAdmin))
	change(t, "bob steps down")(s.SetRole(ctx, g.ID, b.ID, b.ID, chat.RoleMember))
	for user, want := range map[chat.UserID]chat.Role{a.ID: chat.RoleMember, b.ID: chat.RoleMember, c.ID: chat.RoleAdmin} {
		if got := roleOf(t, s, g.ID, user); got != want {
			t.Errorf("user %d is %q, want %q", user, got, want)
		}
	}
	checkGroup(t, s, g.ID)
}

func testGroupPromotion(t *testing.T, s chat.Store) {
	ctx := t.Context()
	// dave has the lowest user ID but joins last; bob and carol join with
	// the group, at one instant, bob with the lower ID.
	d, a, b, c := NewUser(t, s, "dave"), NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	g := newGroup(t, s, "Team", a, c, b)
	change(t, "add dave")(s.AddMember(ctx, g.ID, a.ID, d.ID, 0, chat.Now()))

	ch := change(t, "the only admin leaves")(s.RemoveMember(ctx, g.ID, a.ID, a.ID, chat.Now()))
	wantSystem(t, "leave", ch.Message, g.ID, chat.SystemLeft, a.ID, a.ID, "")
	if ch.Member.Role != chat.RoleAdmin {
		t.Errorf("the leaver was %q, want admin", ch.Member.Role)
	}
	if p := ch.Promoted; p == nil || p.UserID != b.ID || p.Role != chat.RoleAdmin || !equalUser(p.User, b) || p.ConversationID != g.ID {
		t.Fatalf("Promoted = %+v, want bob (joined first, lower ID than carol) as admin", p)
	}
	for user, want := range map[chat.UserID]chat.Role{b.ID: chat.RoleAdmin, c.ID: chat.RoleMember, d.ID: chat.RoleMember} {
		if got := roleOf(t, s, g.ID, user); got != want {
			t.Errorf("user %d is %q after the promotion, want %q", user, got, want)
		}
	}

	// With another admin left, leaving promotes nobody.
	change(t, "bob makes dave admin")(s.SetRole(ctx, g.ID, b.ID, d.ID, chat.RoleAdmin))
	ch = change(t, "bob leaves")(s.RemoveMember(ctx, g.ID, b.ID, b.ID, chat.Now()))
	if ch.Promoted != nil || roleOf(t, s, g.ID, c.ID) != chat.RoleMember {
		t.Errorf("leaving beside another admin promoted %+v", ch.Promoted)
	}
	// The last admin goes again: carol, the only member left, takes over.
	ch = change(t, "dave leaves")(s.RemoveMember(ctx, g.ID, d.ID, d.ID, chat.Now()))
	if ch.Promoted == nil || ch.Promoted.UserID != c.ID || roleOf(t, s, g.ID, c.ID) != chat.RoleAdmin {
		t.Errorf("Promoted = %+v, want carol", ch.Promoted)
	}
	checkGroup(t, s, g.ID)
	// The last member leaves: an empty group, nobody to promote.
	ch = change(t, "carol leaves")(s.RemoveMember(ctx, g.ID, c.ID, c.ID, chat.Now()))
	if ch.Promoted != nil || ch.Conversation.MemberCount != 0 {
		t.Errorf("the last member leaving = %+v, want an empty group", ch)
	}
	if got := checkGroup(t, s, g.ID); len(got) != 0 {
		t.Errorf("members after everyone left: %+v", got)
	}
}

// testGroupAuthorization checks who may do what, and what everyone else
// is told: ENOTFOUND for a conversation one is not in (as for a missing
// one), EINVALID for a direct conversation, EFORBIDDEN for a member doing
// an admin's work. A refused change changes nothing.
func testGroupAuthorization(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, o := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "oscar")
	g := newGroup(t, s, "Team", a, b, c)
	dm := direct(t, s, a.ID, b.ID, chat.Now())
	missing := max(g.ID, dm.ID) + 1_000_000

	type call func(conv chat.ConversationID, actor chat.UserID) error
	calls := map[string]call{
		"rename": func(conv chat.ConversationID, actor chat.UserID) error {
			_, err := s.RenameGroup(ctx, conv, actor, "Renamed", chat.Now())
			return err
		},
		"add": func(conv chat.ConversationID, actor chat.UserID) error {
			_, err := s.AddMember(ctx, conv, actor, o.ID, 0, chat.Now())
			return err
		},
		"remove": func(conv chat.ConversationID, actor chat.UserID) error {
			target := c.ID
			if conv == dm.ID {
				target = a.ID
			}
			_, err := s.RemoveMember(ctx, conv, actor, target, chat.Now())
			return err
		},
		"leave": func(conv chat.ConversationID, actor chat.UserID) error {
			_, err := s.RemoveMember(ctx, conv, actor, actor, chat.Now())
			return err
		},
		"set role": func(conv chat.ConversationID, actor chat.UserID) error {
			_, err := s.SetRole(ctx, conv, actor, c.ID, chat.RoleAdmin)
			return err
		},
	}
	for name, fn := range calls {
		wantCode(t, fn(missing, a.ID), chat.ENOTFOUND, name+" of a missing conversation")
		wantCode(t, fn(g.ID, o.ID), chat.ENOTFOUND, name+" by an outsider")
		wantCode(t, fn(dm.ID, b.ID), chat.EINVALID, name+" of a direct conversation by its member")
		wantCode(t, fn(dm.ID, c.ID), chat.ENOTFOUND, name+" of someone else's direct conversation")
		if name != "leave" {
			wantCode(t, fn(g.ID, b.ID), chat.EFORBIDDEN, name+" by a member")
		}
	}
	if msgs := history(t, s, g.ID); len(msgs) != 3 {
		t.Errorf("refused changes wrote messages: seqs %v", seqs(msgs))
	}
	if msgs := history(t, s, dm.ID); len(msgs) != 0 {
		t.Errorf("refused changes wrote to the direct conversation: seqs %v", seqs(msgs))
	}
	if got := memberIDs(checkGroup(t, s, g.ID)); !slices.Equal(got, []chat.UserID{a.ID, b.ID, c.ID}) {
		t.Errorf("refused changes changed the members: %v", got)
	}
	if row, err := s.Conversation(ctx, a.ID, g.ID); err != nil || row.Title != "Team" {
		t.Errorf("refused changes changed the group: %+v, %v", row, err)
	}
	if roleOf(t, s, g.ID, c.ID) != chat.RoleMember {
		t.Errorf("a refused SetRole changed carol's role")
	}
}

func testGroupListMembers(t *testing.T, s chat.Store) {
	a := NewUser(t, s, "alice")
	others := newUsers(t, s, "member", 24)
	g := newGroup(t, s, "Big", a, others...)
	var all []chat.MemberInfo
	q := chat.MemberQuery{Limit: 10}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging did not end")
		}
		rows, err := s.ListMembers(t.Context(), g.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(10, 25-10*page); len(rows) != want {
			t.Errorf("page %d has %d rows, want %d", page, len(rows), want)
		}
		all = append(all, rows...)
		if len(rows) < q.Limit {
			break
		}
		q.After = rows[len(rows)-1].UserID
	}
	want := append([]chat.UserID{a.ID}, userIDs(others...)...)
	slices.Sort(want)
	if got := memberIDs(all); !slices.Equal(got, want) {
		t.Errorf("pages hold %v, want %v", got, want)
	}
	for _, m := range all {
		if (m.UserID == a.ID) != (m.Role == chat.RoleAdmin) {
			t.Errorf("member %d has role %q", m.UserID, m.Role)
		}
	}
	// Another conversation's members stay out.
	direct(t, s, others[0].ID, others[1].ID, chat.Now())
	if got := allMembers(t, s, g.ID); len(got) != 25 {
		t.Errorf("the group lists %d members, want 25", len(got))
	}
}

// testGroupRemovedAccess removes a member while they send as fast as the
// store takes it: every send that began after the removal returned is
// refused, and none of their messages follows the removal in history.
func testGroupRemovedAccess(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	g := newGroup(t, s, "Team", a, b, c)

	// Bob sends until he is refused; the removal starts once he has sent
	// a few.
	var removed atomic.Bool
	sending := make(chan struct{})
	var started sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer started.Do(func() { close(sending) })
		for i := 0; ; i++ {
			after := removed.Load()
			_, err := s.CreateMessage(ctx, chat.Message{ConversationID: g.ID, SenderID: b.ID, Body: fmt.Sprint("m", i), ClientID: fmt.Sprint("c", i), CreatedAt: chat.Now()})
			if i == 3 {
				started.Do(func() { close(sending) })
			}
			switch {
			case err == nil && after:
				t.Errorf("send %d, begun after the removal returned, was stored", i)
				return
			case chat.ErrorCode(err) == chat.ENOTFOUND:
				return
			case err != nil:
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	}()
	<-sending
	ch := change(t, "RemoveMember")(s.RemoveMember(ctx, g.ID, a.ID, b.ID, chat.Now()))
	removed.Store(true)
	wantOut(t, s, g.ID, b.ID, "a member removed while sending")
	<-done

	for _, m := range history(t, s, g.ID) {
		if m.SenderID == b.ID && m.Kind == chat.MessageText && m.Seq > ch.Message.Seq {
			t.Errorf("bob's message %d follows his removal at seq %d", m.Seq, ch.Message.Seq)
		}
	}
	// The others go on.
	send(t, s, g.ID, c.ID, "still here", "", chat.Now())
	checkGroup(t, s, g.ID)
}

// groupResult is what one of many concurrent changes answered.
type groupResult struct {
	what string
	ch   chat.GroupChange
	err  error
}

// testGroupConcurrentChanges runs adds, removes, leaves, role changes and
// renames at once, over and over: whatever order they take, the group
// never lacks an admin (checked by a reader all along, too), never holds
// anyone twice, and its history tells exactly who is in it.
func testGroupConcurrentChanges(t *testing.T, s chat.Store) {
	ctx := t.Context()
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			admins := newUsers(t, s, fmt.Sprintf("r%dadmin", round), 3)
			initial := newUsers(t, s, fmt.Sprintf("r%dmember", round), 12)
			joiners := newUsers(t, s, fmt.Sprintf("r%djoiner", round), 18)
			g := newGroup(t, s, "Storm", admins[0], append(slices.Clone(admins[1:]), initial...)...)
			for _, u := range admins[1:] {
				change(t, "make admin")(s.SetRole(ctx, g.ID, admins[0].ID, u.ID, chat.RoleAdmin))
			}

			var ops []func() groupResult
			for i, u := range joiners {
				actor := admins[i%3].ID
				ops = append(ops, func() groupResult {
					ch, err := s.AddMember(ctx, g.ID, actor, u.ID, 0, chat.Now())
					return groupResult{fmt.Sprintf("%d adds %d", actor, u.ID), ch, err}
				})
				if i < 6 { // the same person added by two admins at once
					other := admins[(i+1)%3].ID
					ops = append(ops, func() groupResult {
						ch, err := s.AddMember(ctx, g.ID, other, u.ID, 0, chat.Now())
						return groupResult{fmt.Sprintf("%d adds %d too", other, u.ID), ch, err}
					})
				}
			}
			for i, u := range initial {
				actor := u.ID // leaves
				if i%2 == 0 {
					actor = admins[i%3].ID
				}
				ops = append(ops, func() groupResult {
					ch, err := s.RemoveMember(ctx, g.ID, actor, u.ID, chat.Now())
					return groupResult{fmt.Sprintf("%d removes %d", actor, u.ID), ch, err}
				})
				if i%4 == 1 {
					ops = append(ops, func() groupResult {
						ch, err := s.SetRole(ctx, g.ID, admins[2].ID, u.ID, chat.RoleAdmin)
						return groupResult{fmt.Sprintf("%d promotes %d", admins[2].ID, u.ID), ch, err}
					})
				}
			}
			for i, u := range admins {
				ops = append(ops, func() groupResult {
					ch, err := s.RemoveMember(ctx, g.ID, u.ID, u.ID, chat.Now())
					return groupResult{fmt.Sprintf("admin %d leaves", u.ID), ch, err}
				})
				ops = append(ops, func() groupResult {
					ch, err := s.RenameGroup(ctx, g.ID, u.ID, fmt.Sprint("Storm ", i), chat.Now())
					return groupResult{fmt.Sprintf("admin %d renames", u.ID), ch, err}
				})
			}

			// A reader checks all along that the group has an admin.
			stop := make(chan struct{})
			var watched sync.WaitGroup
			watched.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					rows, err := s.ListMembers(ctx, g.ID, chat.MemberQuery{Limit: 1000})
					if err != nil {
						t.Errorf("ListMembers while changing: %v", err)
						return
					}
					if len(rows) > 0 && !slices.ContainsFunc(rows, func(m chat.MemberInfo) bool { return m.Role == chat.RoleAdmin }) {
						t.Errorf("the group had %d members and no admin", len(rows))
						return
					}
				}
			})

			results := make([]groupResult, len(ops))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, op := range ops {
				wg.Go(func() {
					<-start
					results[i] = op()
				})
			}
			close(start)
			wg.Wait()
			close(stop)
			watched.Wait()

			seen := map[int64]string{}
			for _, r := range results {
				switch code := chat.ErrorCode(r.err); code {
				case "":
					if r.ch.Message != nil {
						if prev, dup := seen[r.ch.Message.Seq]; dup {
							t.Errorf("%q and %q both got seq %d", prev, r.what, r.ch.Message.Seq)
						}
						seen[r.ch.Message.Seq] = r.what
					}
				case chat.ENOTFOUND, chat.ECONFLICT:
					// The actor or the target had gone, or the target had
					// been added already: refusals that one order or
					// another of the changes explains.
				default:
					t.Errorf("%s: %v", r.what, r.err)
				}
			}
			msgs := history(t, s, g.ID)
			for seq, what := range seen {
				if seq > int64(len(msgs)) || msgs[seq-1].Kind != chat.MessageSystem {
					t.Errorf("%s reported seq %d, which history does not hold as a system message", what, seq)
				}
			}
			checkGroup(t, s, g.ID)
		})
	}
}

// testGroupCapConcurrent adds many people at once to a group with a cap,
// then adds and removes at once: the cap holds every time.
func testGroupCapConcurrent(t *testing.T, s chat.Store) {
	ctx := t.Context()
	const most = 10
	a := NewUser(t, s, "alice")
	first := NewUser(t, s, "bob")
	people := newUsers(t, s, "joiner", 40)
	g := newGroup(t, s, "Capped", a, first)

	run := func(ops []func() error) (ok, full int) {
		t.Helper()
		errs := make([]error, len(ops))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, op := range ops {
			wg.Go(func() {
				<-start
				errs[i] = op()
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			switch chat.ErrorCode(err) {
			case "":
				ok++
			case chat.ECONFLICT:
				full++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		return ok, full
	}
	add := func(u chat.User) func() error {
		return func() error {
			_, err := s.AddMember(ctx, g.ID, a.ID, u.ID, most, chat.Now())
			return err
		}
	}

	var ops []func() error
	for _, u := range people[:30] {
		ops = append(ops, add(u))
	}
	ok, full := run(ops)
	if ok != most-2 || full != 30-(most-2) {
		t.Errorf("30 concurrent adds to a group of 2 capped at %d: %d added, %d refused as full; want %d, %d", most, ok, full, most-2, 30-(most-2))
	}
	members := checkGroup(t, s, g.ID)
	if len(members) != most {
		t.Fatalf("the group has %d members, want %d", len(members), most)
	}

	// Four leave while ten more try to join: at most four get in.
	ops = nil
	leavers := 0
	for _, m := range members {
		if m.UserID != a.ID && leavers < 4 {
			leavers++
			ops = append(ops, func() error {
				_, err := s.RemoveMember(ctx, g.ID, m.UserID, m.UserID, chat.Now())
				return err
			})
		}
	}
	for _, u := range people[30:] {
		ops = append(ops, add(u))
	}
	ok, _ = run(ops)
	members = checkGroup(t, s, g.ID)
	if joined := ok - 4; len(members) != most-4+joined || len(members) > most {
		t.Errorf("after 4 left and %d joined the group has %d members; want %d, at most %d", joined, len(members), most-4+joined, most)
	}
}

// testGroupConcurrentSenders has 50 members of one group send at once
// while its admin renames it: every message and every rename gets its own
// seq, the seqs are dense with no gap or repeat, each sender's messages
// keep their order, and no rename is unread for its actor.
func testGroupConcurrentSenders(t *testing.T, s chat.Store) {
	ctx := t.Context()
	const senders, each, renames = 50, 4, 10
	people := newUsers(t, s, "sender", senders)
	admin := people[0]
	g := newGroup(t, s, "Busy", admin, people[1:]...)
	base := g.LastSeq // the creation's messages

	type sent struct {
		in, out chat.Message
		err     error
	}
	results := make([][]sent, senders)
	renamed := make([]groupResult, renames)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range people {
		wg.Go(func() {
			<-start
			for k := range each {
				in := chat.Message{ConversationID: g.ID, SenderID: u.ID, Body: fmt.Sprintf("%d says %d", u.ID, k), CreatedAt: chat.Now()}
				if k%2 == 0 {
					in.ClientID = fmt.Sprint("c", k)
				}
				out, created, err := storedMessage(s.CreateMessage(ctx, in))
				if err == nil && !created {
					err = fmt.Errorf("a new message reported as a retry")
				}
				results[i] = append(results[i], sent{in, out, err})
			}
		})
	}
	wg.Go(func() {
		<-start
		for k := range renames {
			ch, err := s.RenameGroup(ctx, g.ID, admin.ID, fmt.Sprint("Busy ", k), chat.Now())
			renamed[k] = groupResult{"rename", ch, err}
		}
	})
	close(start)
	wg.Wait()

	total := base + senders*each + renames
	msgs := history(t, s, g.ID)
	if int64(len(msgs)) != total {
		t.Fatalf("history holds %d messages, want %d", len(msgs), total)
	}
	lastOf := map[chat.UserID]int64{}
	for i, rs := range results {
		prev := int64(0)
		for k, r := range rs {
			if r.err != nil {
				t.Errorf("sender %d, message %d: %v", i, k, r.err)
				continue
			}
			if r.out.Seq <= base || r.out.Seq > total || r.out.Seq <= prev {
				t.Errorf("sender %d, message %d: seq %d after their previous %d, want in %d..%d and later", i, k, r.out.Seq, prev, base+1, total)
				continue
			}
			prev = r.out.Seq
			if !equalMessage(msgs[r.out.Seq-1], r.out) {
				t.Errorf("seq %d holds %+v, but the sender was told %+v", r.out.Seq, msgs[r.out.Seq-1], r.out)
			}
		}
		lastOf[people[i].ID] = prev
	}
	lastRename := int64(0)
	for k, r := range renamed {
		if r.err != nil || r.ch.Message == nil {
			t.Errorf("rename %d: %+v, %v", k, r.ch, r.err)
			continue
		}
		if r.ch.Message.Seq <= lastRename || !equalMessage(msgs[r.ch.Message.Seq-1], *r.ch.Message) {
			t.Errorf("rename %d: message %+v, history holds %+v", k, *r.ch.Message, msgs[r.ch.Message.Seq-1])
		}
		lastRename = r.ch.Message.Seq
	}
	var prevAt time.Time
	for _, m := range msgs {
		if m.CreatedAt.Before(prevAt) {
			t.Errorf("seq %d at %v is older than the message before it, at %v", m.Seq, m.CreatedAt, prevAt)
		}
		prevAt = m.CreatedAt
	}
	for _, u := range people {
		want := lastOf[u.ID]
		if u.ID == admin.ID {
			want = max(want, lastRename)
		}
		if got := readCursor(t, s, g.ID, u.ID); got != want {
			t.Errorf("user %d's read cursor = %d, want %d: their last message or rename", u.ID, got, want)
		}
	}
	if row, err := s.Conversation(ctx, admin.ID, g.ID); err != nil || row.LastSeq != total || row.Title != fmt.Sprint("Busy ", renames-1) {
		t.Errorf("the group's row at the end: %+v, %v", row, err)
	}
	checkGroup(t, s, g.ID)
}

// testGroupDirectUnchanged checks what groups add to direct
// conversations: two members, both RoleMember, text messages.
func testGroupDirectUnchanged(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	c := direct(t, s, a.ID, b.ID, chat.Now())
	if c.MemberCount != 2 {
		t.Errorf("DirectConversation's MemberCount = %d, want 2", c.MemberCount)
	}
	m := send(t, s, c.ID, a.ID, "hi", "k1", chat.Now())
	if m.Kind != chat.MessageText || m.System != nil {
		t.Errorf("CreateMessage returned kind %q, system %+v; want text", m.Kind, m.System)
	}
	got, err := s.MessageByClientID(ctx, a.ID, "k1")
	if err != nil || got.Kind != chat.MessageText || got.System != nil {
		t.Errorf("MessageByClientID = %+v, %v; want a text message", got, err)
	}
	if msgs := history(t, s, c.ID); len(msgs) != 1 || msgs[0].Kind != chat.MessageText {
		t.Errorf("history = %+v, want one text message", msgs)
	}
	row, err := s.Conversation(ctx, b.ID, c.ID)
	if err != nil || row.MemberCount != 2 || row.Kind != chat.KindDirect || row.LastMessage == nil || row.LastMessage.Kind != chat.MessageText {
		t.Errorf("bob's row = %+v, %v", row, err)
	}
	for _, u := range []chat.UserID{a.ID, b.ID} {
		if r := roleOf(t, s, c.ID, u); r != chat.RoleMember {
			t.Errorf("user %d's role in a direct conversation = %q, want member", u, r)
		}
	}
	if members := allMembers(t, s, c.ID); len(members) != 2 {
		t.Errorf("ListMembers of a direct conversation = %+v", members)
	}
}

// testGroupCloseAccount: closing an account leaves every group, each with
// its left message, the longest-standing member promoted where the last
// admin went; direct conversations stay.
func testGroupCloseAccount(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	led := newGroup(t, s, "Led by alice", a, b, c)   // alice is its only admin
	joined := newGroup(t, s, "Alice a member", b, a) // bob's group
	other := newGroup(t, s, "Without alice", c, d)   // alice is not in it
	dm := direct(t, s, a.ID, d.ID, chat.Now())
	send(t, s, led.ID, a.ID, "before closing", "", chat.Now())

	closed, err := s.CloseUser(ctx, a.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !closed.User.Closed || closed.User.DisplayName != chat.ClosedDisplayName {
		t.Errorf("CloseUser user = %+v", closed.User)
	}
	if len(closed.Groups) != 2 || closed.Groups[0].Conversation.ID != led.ID || closed.Groups[1].Conversation.ID != joined.ID {
		t.Fatalf("CloseUser left %+v, want the two groups alice was in, in ID order", closed.Groups)
	}
	for i, g := range []chat.Conversation{led, joined} {
		ch := closed.Groups[i]
		wantSystem(t, "closure in "+g.Title, ch.Message, g.ID, chat.SystemLeft, a.ID, a.ID, "")
		if !ch.Changed || ch.Member.UserID != a.ID || ch.Conversation.MemberCount != g.MemberCount-1 {
			t.Errorf("closure in %s = %+v", g.Title, ch)
		}
		wantOut(t, s, g.ID, a.ID, "alice in "+g.Title)
		checkGroup(t, s, g.ID)
	}
	if p := closed.Groups[0].Promoted; p == nil || p.UserID != b.ID || roleOf(t, s, led.ID, b.ID) != chat.RoleAdmin {
		t.Errorf("the only admin's closure promoted %+v, want bob", p)
	}
	if closed.Groups[1].Promoted != nil || closed.Groups[1].Member.Role != chat.RoleMember {
		t.Errorf("a member's closure in bob's group = %+v, want no promotion", closed.Groups[1])
	}
	if got := history(t, s, other.ID); len(got) != 2 {
		t.Errorf("a group alice was not in changed: %d messages", len(got))
	}
	// The left message counts as unread for those who stayed.
	if n := unread(t, s, led.ID, c.ID); n != 2 {
		t.Errorf("carol's unread in alice's group = %d, want 2 (the message and the closure)", n)
	}
	if _, err := s.Member(ctx, dm.ID, a.ID); err != nil {
		t.Errorf("the direct conversation lost alice: %v", err)
	}
}

// testGroupCloseAccountConcurrent: adds of a user racing their account's
// closure either happen before it, and the closure leaves the group too,
// or fail (the account is closed): the user ends in no group.
func testGroupCloseAccountConcurrent(t *testing.T, s chat.Store) {
	ctx := t.Context()
	admins := newUsers(t, s, "admin", 8)
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	groups := make([]chat.Conversation, len(admins))
	for i, admin := range admins {
		groups[i] = newGroup(t, s, fmt.Sprint("Group ", i), admin, b)
	}
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		closed  chat.ClosedAccount
		errs    = make([]error, len(groups))
		closeEr error
	)
	for i, g := range groups {
		wg.Go(func() {
			<-start
			_, errs[i] = s.AddMember(ctx, g.ID, admins[i].ID, a.ID, 0, chat.Now())
		})
	}
	wg.Go(func() {
		<-start
		closed, closeEr = s.CloseUser(ctx, a.ID, chat.Now())
	})
	close(start)
	wg.Wait()
	if closeEr != nil {
		t.Fatal(closeEr)
	}
	added := 0
	for i, err := range errs {
		switch {
		case err == nil:
			added++
		case chat.ErrorCode(err) != chat.ENOTFOUND:
			t.Errorf("AddMember to group %d racing the closure: %v, want success or not_found", i, err)
		}
	}
	if len(closed.Groups) != added {
		t.Errorf("%d adds succeeded, the closure left %d groups", added, len(closed.Groups))
	}
	for _, g := range groups {
		wantOut(t, s, g.ID, a.ID, "alice after her closure")
		checkGroup(t, s, g.ID)
	}
}
