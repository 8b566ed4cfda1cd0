package chat

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckGroupChange(t *testing.T) {
	admin := &Member{Role: RoleAdmin}
	member := &Member{Role: RoleMember}
	all := []GroupAction{GroupRename, GroupAdd, GroupRemove, GroupLeave, GroupSetRole}
	for _, action := range all {
		for _, tc := range []struct {
			what  string
			kind  Kind
			actor *Member
			want  string
		}{
			{"an outsider", KindGroup, nil, ENOTFOUND},
			{"an outsider of a direct conversation", KindDirect, nil, ENOTFOUND},
			{"a missing conversation", "", nil, ENOTFOUND},
			{"a member of a direct conversation", KindDirect, member, EINVALID},
			{"an admin", KindGroup, admin, ""},
			{"a member", KindGroup, member, map[bool]string{true: "", false: EFORBIDDEN}[action == GroupLeave]},
		} {
			if got := ErrorCode(CheckGroupChange(tc.kind, tc.actor, action)); got != tc.want {
				t.Errorf("action %d by %s: code %q, want %q", action, tc.what, got, tc.want)
			}
		}
	}
	// A conversation one is not in looks exactly like a missing one.
	if a, b := CheckGroupChange(KindGroup, nil, GroupAdd), NotFound("conversation"); ErrorMessage(a) != ErrorMessage(b) {
		t.Errorf("an outsider is told %q, a missing conversation %q", ErrorMessage(a), ErrorMessage(b))
	}
}

func TestNormalizeGroupTitle(t *testing.T) {
	for in, want := range map[string]string{
		"  Team  ":                     "Team",
		"Café ☕ & <b>friends</b>":      "Café ☕ & <b>friends</b>",
		"❤️ emoji with a selector":     "❤️ emoji with a selector",
		strings.Repeat("é", 100):       strings.Repeat("é", 100),
		"مرحبا":                        "مرحبا",
		"Ada\u00a0and\u00a0Grace  ":    "Ada\u00a0and\u00a0Grace",
		"\u3164 filler then text":      "",
		"":                             "",
		"   ":                          "",
		strings.Repeat("a", 101):       "",
		"zero\u200bwidth":              "",
		"bidi \u202eevil":              "",
		"new\nline":                    "",
		"\u2800":                       "",
		"\u0301":                       "",
		"tab\there":                    "",
		string([]byte{'b', 'a', 0xff}): "",
	} {
		got, err := NormalizeGroupTitle(in)
		if want == "" {
			if ErrorCode(err) != EINVALID {
				t.Errorf("NormalizeGroupTitle(%q) = %q, %v; want invalid", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeGroupTitle(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNewGroupCheck(t *testing.T) {
	for _, tc := range []struct {
		g    NewGroup
		want string
	}{
		{NewGroup{Creator: 1, Members: []UserID{2, 3}}, ""},
		{NewGroup{Creator: 1, Members: []UserID{2, 3}, MaxMembers: 3}, ""},
		{NewGroup{Creator: 1, Members: []UserID{2, 3}, MaxMembers: 2}, EINVALID},
		{NewGroup{Creator: 1}, EINVALID},
		{NewGroup{Creator: 1, Members: []UserID{2, 2}}, EINVALID},
		{NewGroup{Creator: 1, Members: []UserID{2, 1}}, EINVALID},
	} {
		if got := ErrorCode(tc.g.Check()); got != tc.want {
			t.Errorf("%+v.Check() code %q, want %q", tc.g, got, tc.want)
		}
	}
}

// groupStore is a fake store for the Service's part of group changes:
// it records what it is asked, answers with canned changes, and knows
// the members of each conversation.
type groupStore struct {
	Store
	members map[ConversationID][]UserID
	change  GroupChange
	err     error
	calls   []string
	created NewGroup
	listed  MemberQuery
}

func (s *groupStore) Members(_ context.Context, id ConversationID) ([]UserID, error) {
	return s.members[id], nil
}

func (s *groupStore) Member(_ context.Context, id ConversationID, user UserID) (Member, error) {
	if slices.Contains(s.members[id], user) {
		return Member{ConversationID: id, UserID: user}, nil
	}
	return Member{}, NotFound("conversation")
}

func (s *groupStore) CreateGroup(_ context.Context, g NewGroup) (Conversation, []Message, error) {
	s.calls = append(s.calls, "create")
	s.created = g
	if s.err != nil {
		return Conversation{}, nil, s.err
	}
	return Conversation{ID: 7, Kind: KindGroup, Title: g.Title, MemberCount: 1 + len(g.Members)}, nil, nil
}

func (s *groupStore) RenameGroup(context.Context, ConversationID, UserID, string, time.Time) (GroupChange, error) {
	s.calls = append(s.calls, "rename")
	return s.change, s.err
}

func (s *groupStore) AddMember(_ context.Context, _ ConversationID, _, _ UserID, most int, _ time.Time) (GroupChange, error) {
	s.calls = append(s.calls, "add")
	if most != 5 {
		s.calls = append(s.calls, "wrong cap")
	}
	return s.change, s.err
}

func (s *groupStore) RemoveMember(context.Context, ConversationID, UserID, UserID, time.Time) (GroupChange, error) {
	s.calls = append(s.calls, "remove")
	return s.change, s.err
}

func (s *groupStore) SetRole(context.Context, ConversationID, UserID, UserID, Role) (GroupChange, error) {
	s.calls = append(s.calls, "role")
	return s.change, s.err
}

func (s *groupStore) ListMembers(_ context.Context, id ConversationID, q MemberQuery) ([]MemberInfo, error) {
	s.listed = q
	var rows []MemberInfo
	for _, u := range s.members[id] {
		if u > q.After && len(rows) < q.Limit {
			rows = append(rows, MemberInfo{Member: Member{ConversationID: id, UserID: u}})
		}
	}
	return rows, nil
}

// countingLimiter allows the first n calls per key, and counts them all.
type countingLimiter struct {
	n     int
	calls map[string]int
}

func (l *countingLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, 1)
}

func (l *countingLimiter) AllowN(_ context.Context, key string, n int) (bool, time.Duration, error) {
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[key] += n
	return l.calls[key] <= l.n, time.Second, nil
}

func (l *countingLimiter) Refund(_ context.Context, key string) error {
	l.calls[key]--
	return nil
}

func newGroupService(t *testing.T, store *groupStore, limits Limits) (*Service, *recordingBroker) {
	t.Helper()
	broker := &recordingBroker{}
	svc, err := NewService(ServiceConfig{
		Store: store, Hasher: plainHasher{}, Broker: broker, Logger: slog.New(slog.DiscardHandler),
		Limits: limits, MaxGroupMembers: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, broker
}

func TestCreateGroupChecksInputAndChargesTheConversationBudget(t *testing.T) {
	ctx := t.Context()
	convs, msgs := &countingLimiter{n: 1}, &countingLimiter{n: 100}
	store := &groupStore{}
	svc, broker := newGroupService(t, store, Limits{Conversations: convs, Messages: msgs})

	// Refused before anything is charged or stored.
	for _, tc := range []struct {
		what    string
		title   string
		members []UserID
	}{
		{"a blank title", " \u200b ", []UserID{2}},
		{"a title too long", strings.Repeat("x", MaxGroupTitle+1), []UserID{2}},
		{"nobody but the caller", "Team", []UserID{1, 1}},
		{"no one", "Team", nil},
		{"more people than the cap", "Team", []UserID{2, 3, 4, 5, 6}},
	} {
		_, err := svc.CreateGroup(ctx, 1, tc.title, tc.members)
		if ErrorCode(err) != EINVALID {
			t.Errorf("CreateGroup with %s: %v, want invalid", tc.what, err)
		}
	}
	if len(store.calls) != 0 || convs.calls[userKey(1)] != 0 {
		t.Fatalf("refused creations reached the store (%v) or the budget (%v)", store.calls, convs.calls)
	}

	// The caller and repeats are dropped; as many people as the cap is fine.
	c, err := svc.CreateGroup(ctx, 1, "  Team ", []UserID{3, 1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	g := store.created
	if g.Title != "Team" || g.Creator != 1 || !slices.Equal(g.Members, []UserID{3, 2, 4, 5}) || g.MaxMembers != 5 || g.At.IsZero() {
		t.Errorf("the store was asked for %+v", g)
	}
	if convs.calls[userKey(1)] != 1 || msgs.calls[userKey(1)] != 0 {
		t.Errorf("budgets charged: conversations %v, messages %v; want one conversation", convs.calls, msgs.calls)
	}
	if len(broker.events) != 1 {
		t.Fatalf("published %+v, want one conversation event", broker.events)
	}
	if ev := broker.events[0]; ev.Type != EventConversation || ev.Conversation == nil || ev.Conversation.ID != c.ID ||
		ev.ConversationID != c.ID || !slices.Equal(ev.To, []UserID{1, 3, 2, 4, 5}) {
		t.Errorf("published %+v, want the new group to all five", ev)
	}

	// Past the budget: refused, nothing stored.
	_, err = svc.CreateGroup(ctx, 1, "Again", []UserID{2})
	if ErrorCode(err) != ERATELIMITED || len(store.calls) != 1 {
		t.Errorf("CreateGroup past the budget: %v, store calls %v", err, store.calls)
	}
}

func TestGroupChangesPublish(t *testing.T) {
	ctx := t.Context()
	const conv ConversationID = 9
	sys := &Message{ConversationID: conv, Seq: 12, Kind: MessageSystem, SenderID: 1}
	member := func(u UserID, r Role) MemberInfo {
		return MemberInfo{Member: Member{ConversationID: conv, UserID: u, Role: r}, User: User{ID: u}}
	}
	group := Conversation{ID: conv, Kind: KindGroup, Title: "T", MemberCount: 3}
	promoted := member(2, RoleAdmin)

	for _, tc := range []struct {
		what    string
		members []UserID // after the change
		change  GroupChange
		do      func(*Service) error
		want    []Event
	}{{
		what: "rename", members: []UserID{1, 2, 3},
		change: GroupChange{Conversation: group, Message: sys, Changed: true},
		do: func(s *Service) error {
			_, err := s.RenameGroup(ctx, 1, conv, "T")
			return err
		},
		want: []Event{
			{Type: EventMessage, To: []UserID{1, 2, 3}, Message: sys},
			{Type: EventConversation, To: []UserID{1, 2, 3}, ConversationID: conv, Conversation: &group},
		},
	}, {
		what: "rename to the same title", members: []UserID{1, 2, 3},
		change: GroupChange{Conversation: group},
		do: func(s *Service) error {
			_, err := s.RenameGroup(ctx, 1, conv, "T")
			return err
		},
	}, {
		what: "add", members: []UserID{1, 2, 3, 4},
		change: GroupChange{Conversation: group, Message: sys, Member: member(4, RoleMember), Changed: true},
		do: func(s *Service) error {
			m, err := s.AddMember(ctx, 1, conv, 4)
			if err == nil && m.UserID != 4 {
				t.Errorf("AddMember returned %+v", m)
			}
			return err
		},
		want: []Event{
			{Type: EventMessage, To: []UserID{1, 2, 3, 4}, Message: sys},
			{Type: EventMember, To: []UserID{1, 2, 3, 4}, ConversationID: conv, UserID: 4, Role: RoleMember, Change: MemberAdded},
		},
	}, {
		what: "remove", members: []UserID{1, 2},
		change: GroupChange{Conversation: group, Message: sys, Member: member(3, RoleMember), Changed: true},
		do:     func(s *Service) error { return s.RemoveMember(ctx, 1, conv, 3) },
		want: []Event{ // the removed member hears of it too
			{Type: EventMessage, To: []UserID{1, 2, 3}, Message: sys},
			{Type: EventMember, To: []UserID{1, 2, 3}, ConversationID: conv, UserID: 3, Role: RoleMember, Change: MemberRemoved},
		},
	}, {
		what: "the last admin leaves", members: []UserID{2, 3},
		change: GroupChange{Conversation: group, Message: sys, Member: member(1, RoleAdmin), Promoted: &promoted, Changed: true},
		do:     func(s *Service) error { return s.RemoveMember(ctx, 1, conv, 1) },
		want: []Event{
			{Type: EventMessage, To: []UserID{2, 3, 1}, Message: sys},
			{Type: EventMember, To: []UserID{2, 3, 1}, ConversationID: conv, UserID: 1, Role: RoleAdmin, Change: MemberRemoved},
			{Type: EventMember, To: []UserID{2, 3}, ConversationID: conv, UserID: 2, Role: RoleAdmin, Change: MemberRole},
		},
	}, {
		what: "set role", members: []UserID{1, 2, 3},
		change: GroupChange{Conversation: group, Member: member(3, RoleAdmin), Changed: true},
		do: func(s *Service) error {
			_, err := s.SetRole(ctx, 1, conv, 3, RoleAdmin)
			return err
		},
		want: []Event{
			{Type: EventMember, To: []UserID{1, 2, 3}, ConversationID: conv, UserID: 3, Role: RoleAdmin, Change: MemberRole},
		},
	}, {
		what: "set the role held", members: []UserID{1, 2, 3},
		change: GroupChange{Conversation: group, Member: member(3, RoleAdmin)},
		do: func(s *Service) error {
			_, err := s.SetRole(ctx, 1, conv, 3, RoleAdmin)
			return err
		},
	}} {
		t.Run(tc.what, func(t *testing.T) {
			// The members come with the change, from its transaction.
			if tc.change.Changed {
				tc.change.Members = tc.members
			}
			store := &groupStore{members: map[ConversationID][]UserID{conv: tc.members}, change: tc.change}
			svc, broker := newGroupService(t, store, Limits{})
			if err := tc.do(svc); err != nil {
				t.Fatal(err)
			}
			if len(broker.events) != len(tc.want) {
				t.Fatalf("published %d events %+v, want %d", len(broker.events), broker.events, len(tc.want))
			}
			for i, want := range tc.want {
				got := broker.events[i]
				if got.Type != want.Type || !slices.Equal(got.To, want.To) || got.Message != want.Message ||
					got.ConversationID != want.ConversationID || got.UserID != want.UserID || got.Role != want.Role ||
					got.Change != want.Change || (got.Conversation == nil) != (want.Conversation == nil) ||
					got.Conversation != nil && *got.Conversation != *want.Conversation {
					t.Errorf("event %d: %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestGroupChangesRefused(t *testing.T) {
	ctx := t.Context()
	msgs := &countingLimiter{n: 1}
	store := &groupStore{err: Errorf(EFORBIDDEN, "only admins")}
	svc, broker := newGroupService(t, store, Limits{Messages: msgs})

	// The store's refusal is the answer, and nothing is published.
	if _, err := svc.AddMember(ctx, 1, 9, 4); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("AddMember refused by the store: %v", err)
	}
	// Past the message budget: refused before the store.
	if err := svc.RemoveMember(ctx, 1, 9, 1); ErrorCode(err) != ERATELIMITED {
		t.Errorf("RemoveMember past the budget: %v", err)
	}
	if _, err := svc.RenameGroup(ctx, 1, 9, "T"); ErrorCode(err) != ERATELIMITED {
		t.Errorf("RenameGroup past the budget: %v", err)
	}
	// A role that is not one: refused before the store.
	if _, err := svc.SetRole(ctx, 1, 9, 4, "owner"); ErrorCode(err) != EINVALID {
		t.Errorf("SetRole to owner: %v", err)
	}
	if _, err := svc.RenameGroup(ctx, 1, 9, "\u202e"); ErrorCode(err) != EINVALID {
		t.Errorf("RenameGroup to an invisible title: %v", err)
	}
	if !slices.Equal(store.calls, []string{"add"}) || len(broker.events) != 0 {
		t.Errorf("store calls %v, events %+v; want one add and nothing published", store.calls, broker.events)
	}
}

func TestMembersPages(t *testing.T) {
	ctx := t.Context()
	store := &groupStore{members: map[ConversationID][]UserID{9: {1, 2, 3, 4, 5}}}
	svc, _ := newGroupService(t, store, Limits{})
	var got []UserID
	after := ""
	for page := 0; page < 5; page++ {
		p, err := svc.Members(ctx, 1, 9, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Members {
			got = append(got, m.UserID)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if !slices.Equal(got, []UserID{1, 2, 3, 4, 5}) {
		t.Errorf("pages held %v", got)
	}
	if p, err := svc.Members(ctx, 1, 9, "", 0); err != nil || len(p.Members) != 5 || p.Next != "" || store.listed.Limit != DefaultMemberPage+1 {
		t.Errorf("default page: %+v, %v (asked the store for %+v)", p, err, store.listed)
	}
	for _, tc := range []struct {
		caller UserID
		after  string
		limit  int
		want   string
	}{
		{6, "", 0, ENOTFOUND},
		{1, "x", 0, EINVALID},
		{1, "-1", 0, EINVALID},
		{1, "", MaxPage + 1, EINVALID},
		{1, "", -1, EINVALID},
	} {
		if _, err := svc.Members(ctx, tc.caller, 9, tc.after, tc.limit); ErrorCode(err) != tc.want {
			t.Errorf("Members(caller %d, after %q, limit %d): %v, want %s", tc.caller, tc.after, tc.limit, err, tc.want)
		}
	}
}

func TestMembership(t *testing.T) {
	ctx := t.Context()
	store := &groupStore{members: map[ConversationID][]UserID{9: {1, 2}}}
	svc, _ := newGroupService(t, store, Limits{})
	if m, err := svc.Membership(ctx, 2, 9); err != nil || m.UserID != 2 || m.ConversationID != 9 {
		t.Errorf("a member's membership: %+v, %v", m, err)
	}
	// Someone else's group and a missing one look the same.
	for _, tc := range []struct{ caller, conv int64 }{{3, 9}, {1, 8}} {
		if _, err := svc.Membership(ctx, UserID(tc.caller), ConversationID(tc.conv)); ErrorCode(err) != ENOTFOUND {
			t.Errorf("Membership(caller %d, conversation %d): %v, want not found", tc.caller, tc.conv, err)
		}
	}
}
