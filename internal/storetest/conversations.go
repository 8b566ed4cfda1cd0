package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

func testDirectConcurrent(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	now := chat.Now()

	// Both people start the conversation at the same instant, many times:
	// the direct key must make it one conversation, created once.
	type result struct {
		conv    chat.Conversation
		created bool
		err     error
	}
	results := make([]result, 50)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			x, y := a.ID, b.ID
			if i%2 == 1 {
				x, y = y, x
			}
			c, created, err := s.DirectConversation(ctx, x, y, now)
			results[i] = result{c, created, err}
		})
	}
	close(start)
	wg.Wait()

	created := 0
	var id chat.ConversationID
	for i, r := range results {
		if r.err != nil {
			t.Errorf("call %d: DirectConversation: %v", i, r.err)
			continue
		}
		if r.created {
			created++
		}
		if id == 0 {
			id = r.conv.ID
		}
		want := chat.Conversation{ID: id, Kind: chat.KindDirect, Title: r.conv.Title, CreatedAt: now}
		if r.conv.ID <= 0 || r.conv.ID != id || r.conv.Kind != want.Kind || r.conv.LastSeq != 0 ||
			!r.conv.LastMessageAt.IsZero() || !r.conv.CreatedAt.Equal(now) {
			t.Errorf("call %d: DirectConversation = %+v, want %+v", i, r.conv, want)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent calls reported created, want exactly 1", created, len(results))
	}

	// A later call finds the same conversation and keeps its creation time.
	c, isNew, err := s.DirectConversation(ctx, b.ID, a.ID, now.Add(time.Hour))
	if err != nil || isNew || c.ID != id || !c.CreatedAt.Equal(now) {
		t.Errorf("later DirectConversation = %+v, %v, %v; want ID %d created at %v, not new", c, isNew, err, id, now)
	}
	members, err := s.Members(ctx, id)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	slices.Sort(members)
	if want := []chat.UserID{min(a.ID, b.ID), max(a.ID, b.ID)}; !slices.Equal(members, want) {
		t.Errorf("Members = %v, want %v", members, want)
	}
}

func testDirectMembers(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	if ab.Kind != chat.KindDirect {
		t.Errorf("Kind = %q, want %q", ab.Kind, chat.KindDirect)
	}
	// Another pair is another conversation, with its own members.
	ca := direct(t, s, c.ID, a.ID, chat.Now())
	if ca.ID == ab.ID {
		t.Fatalf("conversations of alice–bob and carol–alice share ID %d", ab.ID)
	}

	for _, tc := range []struct {
		conv chat.Conversation
		want []chat.UserID
	}{
		{ab, []chat.UserID{a.ID, b.ID}},
		{ca, []chat.UserID{a.ID, c.ID}},
	} {
		got, err := s.Members(ctx, tc.conv.ID)
		if err != nil {
			t.Fatalf("Members(%d): %v", tc.conv.ID, err)
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Members(%d) = %v, want %v", tc.conv.ID, got, tc.want)
		}
		for _, u := range tc.want {
			m, err := s.Member(ctx, tc.conv.ID, u)
			if err != nil {
				t.Errorf("Member(%d, %d): %v", tc.conv.ID, u, err)
				continue
			}
			if m.ConversationID != tc.conv.ID || m.UserID != u || m.LastReadSeq != 0 {
				t.Errorf("Member(%d, %d) = %+v, want that member with LastReadSeq 0", tc.conv.ID, u, m)
			}
		}
	}

	_, err := s.Member(ctx, ab.ID, c.ID)
	wantCode(t, err, chat.ENOTFOUND, "Member(alice–bob, carol)")
	_, err = s.Member(ctx, max(ab.ID, ca.ID)+1_000_000, a.ID)
	wantCode(t, err, chat.ENOTFOUND, "Member(unknown conversation, alice)")
}

// checkSummary compares a conversation list row with what it should hold.
func checkSummary(t *testing.T, what string, got chat.ConversationRow, conv chat.Conversation, other chat.User, last *chat.Message, lastRead int64) {
	t.Helper()
	if got.ID != conv.ID || got.Kind != chat.KindDirect || !got.CreatedAt.Equal(conv.CreatedAt) {
		t.Errorf("%s: conversation %+v, want ID %d, kind %q, created at %v", what, got.Conversation, conv.ID, chat.KindDirect, conv.CreatedAt)
	}
	if o := got.OtherUser; o == nil || o.ID != other.ID || o.Username != other.Username || o.DisplayName != other.DisplayName {
		t.Errorf("%s: OtherUser = %+v, want %+v", what, o, other)
	}
	switch {
	case last == nil:
		if got.LastMessage != nil || got.LastSeq != 0 || !got.LastMessageAt.IsZero() {
			t.Errorf("%s: LastMessage %+v, LastSeq %d, LastMessageAt %v; want none, 0, zero", what, got.LastMessage, got.LastSeq, got.LastMessageAt)
		}
	default:
		if got.LastMessage == nil || !equalMessage(*got.LastMessage, *last) {
			t.Errorf("%s: LastMessage = %+v, want %+v", what, got.LastMessage, *last)
		}
		if got.LastSeq != last.Seq || !got.LastMessageAt.Equal(last.CreatedAt) {
			t.Errorf("%s: LastSeq %d, LastMessageAt %v; want %d, %v", what, got.LastSeq, got.LastMessageAt, last.Seq, last.CreatedAt)
		}
	}
	if got.LastReadSeq != lastRead || got.UnreadCount() != got.LastSeq-lastRead {
		t.Errorf("%s: LastReadSeq %d, unread %d; want %d, %d", what, got.LastReadSeq, got.UnreadCount(), lastRead, got.LastSeq-lastRead)
	}
}

func rowIDs(rows []chat.ConversationRow) []chat.ConversationID {
	ids := make([]chat.ConversationID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func testConversationsList(t *testing.T, s chat.Store) {
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), newUser(t, s, "dave", "Dave Ü")
	// Whole seconds plus offsets: the times differ in their fractional
	// digits, which orders them wrongly if they are compared as text.
	base := chat.Now().Truncate(time.Second)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	list := func(u chat.User) []chat.ConversationRow {
		t.Helper()
		return conversations(t, s, chat.ConversationQuery{UserID: u.ID, Limit: 10})
	}
	wantOrder := func(what string, rows []chat.ConversationRow, want ...chat.Conversation) bool {
		t.Helper()
		var ids []chat.ConversationID
		for _, c := range want {
			ids = append(ids, c.ID)
		}
		if got := rowIDs(rows); !slices.Equal(got, ids) {
			t.Errorf("%s: conversations %v (%s), want %v", what, got, describeRows(rows), ids)
			return false
		}
		return true
	}

	if rows := list(a); len(rows) != 0 {
		t.Errorf("alice's list before any conversation = %s, want empty", describeRows(rows))
	}

	ab := direct(t, s, a.ID, b.ID, at(0))
	ac := direct(t, s, c.ID, a.ID, at(100*time.Millisecond))
	ad := direct(t, s, a.ID, d.ID, at(120*time.Millisecond))
	bc := direct(t, s, b.ID, c.ID, at(time.Second)) // not alice's

	// No messages yet: newest creation first.
	if rows := list(a); wantOrder("alice, no messages", rows, ad, ac, ab) {
		checkSummary(t, "alice–dave", rows[0], ad, d, nil, 0)
		checkSummary(t, "alice–carol", rows[1], ac, c, nil, 0)
		checkSummary(t, "alice–bob", rows[2], ab, b, nil, 0)
	}

	// Bob sends three: his conversation with alice moves to the top, with
	// three unread for her and none for him.
	var fromBob []chat.Message
	for i := range 3 {
		fromBob = append(fromBob, send(t, s, ab.ID, b.ID, fmt.Sprintf("hi %d", i), "", at(2*time.Second+time.Duration(i)*time.Microsecond)))
	}
	rows := list(a)
	if wantOrder("alice, after bob sent", rows, ab, ad, ac) {
		checkSummary(t, "alice's alice–bob", rows[0], ab, b, &fromBob[2], 0)
		if rows[0].UnreadCount() != 3 {
			t.Errorf("alice's unread count with bob = %d, want 3", rows[0].UnreadCount())
		}
		checkSummary(t, "alice–dave", rows[1], ad, d, nil, 0)
		checkSummary(t, "alice–carol", rows[2], ac, c, nil, 0)
	}
	rows = list(b)
	if wantOrder("bob, after he sent", rows, ab, bc) {
		checkSummary(t, "bob's alice–bob", rows[0], ab, a, &fromBob[2], 3)
		if rows[0].UnreadCount() != 0 {
			t.Errorf("bob's unread count with alice = %d, want 0", rows[0].UnreadCount())
		}
		checkSummary(t, "bob–carol", rows[1], bc, c, nil, 0)
	}

	// Alice answers carol: that one moves to the top, read by her.
	toCarol := send(t, s, ac.ID, a.ID, "hello carol", "", at(3*time.Second))
	rows = list(a)
	if wantOrder("alice, after she sent to carol", rows, ac, ab, ad) {
		checkSummary(t, "alice's alice–carol", rows[0], ac, c, &toCarol, 1)
		checkSummary(t, "alice's alice–bob", rows[1], ab, b, &fromBob[2], 0)
	}

	// Reading moves no conversation and clears the unread count.
	if r, err := s.MarkRead(t.Context(), ab.ID, a.ID, fromBob[2].Seq); err != nil || !r.Moved || r.Seq != 3 {
		t.Errorf("MarkRead = %+v, %v; want 3, moved", r, err)
	}
	// Others' activity stays out of alice's list.
	fromCarol := send(t, s, bc.ID, c.ID, "psst bob", "", at(4*time.Second))
	rows = list(a)
	if wantOrder("alice, after reading bob", rows, ac, ab, ad) {
		checkSummary(t, "alice's alice–bob after reading", rows[1], ab, b, &fromBob[2], 3)
		if rows[1].UnreadCount() != 0 {
			t.Errorf("alice's unread count with bob after reading = %d, want 0", rows[1].UnreadCount())
		}
	}
	rows = list(b)
	if wantOrder("bob, after carol sent", rows, bc, ab) {
		checkSummary(t, "bob's bob–carol", rows[0], bc, c, &fromCarol, 0)
		checkSummary(t, "bob's alice–bob", rows[1], ab, a, &fromBob[2], 3)
	}
	rows = list(d)
	if wantOrder("dave", rows, ad) {
		checkSummary(t, "dave's alice–dave", rows[0], ad, a, nil, 0)
	}
	// Limit caps the page.
	if rows := conversations(t, s, chat.ConversationQuery{UserID: a.ID, Limit: 2}); !slices.Equal(rowIDs(rows), []chat.ConversationID{ac.ID, ab.ID}) {
		t.Errorf("alice's list with limit 2 = %s, want [%d %d]", describeRows(rows), ac.ID, ab.ID)
	}
}

func testConversationsPaging(t *testing.T, s chat.Store) {
	a := NewUser(t, s, "alice")
	base := chat.Now().Truncate(time.Second)
	// Few distinct times, so that many conversations tie and pages end
	// inside a tie: only the ID then tells where the next page starts.
	// The offsets differ in their count of fractional digits.
	offsets := []time.Duration{0, time.Microsecond, 100 * time.Millisecond, 120 * time.Millisecond, 120*time.Millisecond + time.Microsecond, time.Second}
	type want struct {
		id       chat.ConversationID
		activity time.Time
	}
	var wants []want
	var others []chat.User
	for i := range 35 {
		o := NewUser(t, s, fmt.Sprintf("user%02d", i))
		others = append(others, o)
		created := base.Add(offsets[i/6])
		c := direct(t, s, o.ID, a.ID, created)
		w := want{c.ID, created}
		// Some have a message, timed like other conversations' creation.
		if i%5 == 2 {
			m := send(t, s, c.ID, o.ID, "hello", "", base.Add(offsets[min(i/6+2, len(offsets)-1)]))
			w.activity = m.CreatedAt
		}
		wants = append(wants, w)
	}
	// A conversation without alice, with the newest activity of all.
	direct(t, s, others[0].ID, others[1].ID, base.Add(time.Hour))

	slices.SortFunc(wants, func(x, y want) int {
		if c := y.activity.Compare(x.activity); c != 0 {
			return c
		}
		return cmp.Compare(y.id, x.id)
	})

	var got []chat.ConversationRow
	q := chat.ConversationQuery{UserID: a.ID, Limit: 10}
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("paging did not end")
		}
		rows := conversations(t, s, q)
		if len(rows) > q.Limit {
			t.Fatalf("page %d has %d rows, more than the limit %d", page, len(rows), q.Limit)
		}
		// 35 in pages of 10: three full pages, then a short one.
		if wantLen := min(10, 35-10*page); len(rows) != wantLen {
			t.Errorf("page %d has %d rows, want %d", page, len(rows), wantLen)
		}
		got = append(got, rows...)
		if len(rows) < q.Limit {
			break
		}
		last := rows[len(rows)-1]
		q.Before = chat.ConversationCursor{ActivityAt: last.ActivityAt(), ID: last.ID}
	}
	if len(got) != len(wants) {
		t.Fatalf("paging returned %d conversations, want %d: %s", len(got), len(wants), describeRows(got))
	}
	for i, w := range wants {
		if got[i].ID != w.id || !got[i].ActivityAt().Equal(w.activity) {
			t.Fatalf("paging returned %s\nwant, by activity then ID descending, conversation %d at %v in place %d",
				describeRows(got), w.id, w.activity.Format(time.RFC3339Nano), i)
		}
	}
	// Nothing lies beyond the last row.
	last := got[len(got)-1]
	q.Before = chat.ConversationCursor{ActivityAt: last.ActivityAt(), ID: last.ID}
	if rows := conversations(t, s, q); len(rows) != 0 {
		t.Errorf("page after the last conversation = %s, want empty", describeRows(rows))
	}
}

// testContacts checks who a user's presence is shown to: everyone who
// shares a conversation with them, each once, and nobody else.
func testContacts(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	direct(t, s, a.ID, b.ID, chat.Now())
	direct(t, s, c.ID, a.ID, chat.Now())
	direct(t, s, b.ID, c.ID, chat.Now())
	for user, want := range map[chat.UserID][]chat.UserID{
		a.ID: {b.ID, c.ID},
		b.ID: {a.ID, c.ID},
		d.ID: nil,
	} {
		got, err := s.Contacts(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("contacts of %d = %v, want %v", user, got, want)
		}
	}
}

// testConversationOne checks the single-row view of a conversation: the same
// row the list shows, with both read cursors, and not found for outsiders.
func testConversationOne(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	conv := direct(t, s, a.ID, b.ID, chat.Now())
	for i := range 3 {
		if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: conv.ID, SenderID: a.ID, Body: fmt.Sprint("m", i), CreatedAt: chat.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkRead(ctx, conv.ID, b.ID, 2); err != nil {
		t.Fatal(err)
	}
	row, err := s.Conversation(ctx, a.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.ID != conv.ID || row.OtherUser == nil || row.OtherUser.ID != b.ID || row.LastSeq != 3 ||
		row.LastReadSeq != 3 || row.OtherReadSeq != 2 || row.LastMessage == nil || row.LastMessage.Body != "m2" {
		t.Errorf("alice's view: %+v", row)
	}
	list := conversations(t, s, chat.ConversationQuery{UserID: a.ID, Limit: 10})
	if len(list) != 1 || list[0].OtherReadSeq != 2 {
		t.Errorf("the list row does not carry bob's read cursor: %+v", list)
	}
	bobs, err := s.Conversation(ctx, b.ID, conv.ID)
	if err != nil || bobs.LastReadSeq != 2 || bobs.OtherReadSeq != 3 || bobs.UnreadCount() != 1 {
		t.Errorf("bob's view: %+v, %v", bobs, err)
	}
	for _, who := range []chat.UserID{c.ID} {
		if _, err := s.Conversation(ctx, who, conv.ID); chat.ErrorCode(err) != chat.ENOTFOUND {
			t.Errorf("an outsider's view: %v", err)
		}
	}
	if _, err := s.Conversation(ctx, a.ID, conv.ID+1000); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("a missing conversation: %v", err)
	}
}
