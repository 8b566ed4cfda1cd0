package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// lastSeqOf returns the conversation's LastSeq and LastMessage as the
// user's conversation list shows them.
func lastSeqOf(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID) (int64, *chat.Message) {
	t.Helper()
	for _, r := range conversations(t, s, chat.ConversationQuery{UserID: user, Limit: 100}) {
		if r.ID == conv {
			return r.LastSeq, r.LastMessage
		}
	}
	t.Fatalf("conversation %d is not in user %d's list", conv, user)
	return 0, nil
}

func testSendConcurrentSeq(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	conv := direct(t, s, a.ID, b.ID, chat.Now())

	// Both members send at once; the seqs must still be dense and each
	// message must get its own.
	type result struct {
		in, out chat.Message
		created bool
		err     error
	}
	results := make([]result, 200)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		sender := a.ID
		if i%2 == 1 {
			sender = b.ID
		}
		in := chat.Message{ConversationID: conv.ID, SenderID: sender, Body: fmt.Sprintf("message %d", i), CreatedAt: chat.Now()}
		if i%4 < 2 { // half of them idempotent
			in.ClientID = fmt.Sprintf("client-%d", i)
		}
		wg.Go(func() {
			<-start
			out, created, err := storedMessage(s.CreateMessage(ctx, in))
			results[i] = result{in, out, created, err}
		})
	}
	close(start)
	wg.Wait()

	bySeq := make([]chat.Message, len(results)+1)
	lastSent := map[chat.UserID]int64{}
	for i, r := range results {
		if r.err != nil || !r.created {
			t.Errorf("send %d: CreateMessage = created %v, %v; want created", i, r.created, r.err)
			continue
		}
		// The store may move a message's time later (so that times follow
		// seq), never earlier.
		want := r.in
		want.Seq = r.out.Seq
		want.CreatedAt = r.out.CreatedAt
		if r.out.CreatedAt.Before(r.in.CreatedAt) {
			t.Errorf("send %d: stored time %v is before the send's %v", i, r.out.CreatedAt, r.in.CreatedAt)
		}
		if !equalMessage(r.out, want) {
			t.Errorf("send %d: CreateMessage returned %+v, want %+v", i, r.out, want)
		}
		if r.out.Seq < 1 || r.out.Seq > int64(len(results)) {
			t.Errorf("send %d: seq %d, want 1..%d", i, r.out.Seq, len(results))
			continue
		}
		if prev := bySeq[r.out.Seq]; prev.Seq != 0 {
			t.Errorf("seq %d given to %q and %q", r.out.Seq, prev.Body, r.out.Body)
		}
		bySeq[r.out.Seq] = r.out
		lastSent[r.in.SenderID] = max(lastSent[r.in.SenderID], r.out.Seq)
	}
	if t.Failed() {
		t.FailNow()
	}
	// Every seq 1..200 was given once (200 results, no duplicates, in range)
	// and the stored history is what the senders were told.
	stored := append(messages(t, s, conv.ID, chat.MessageQuery{BeforeSeq: 101, Limit: 100}),
		messages(t, s, conv.ID, chat.MessageQuery{AfterSeq: 100, After: true, Limit: 100})...)
	checkMessages(t, "stored history", stored, bySeq[1:])

	lastSeq, lastMsg := lastSeqOf(t, s, conv.ID, a.ID)
	if lastSeq != 200 || lastMsg == nil || !equalMessage(*lastMsg, bySeq[200]) {
		t.Errorf("conversation list shows LastSeq %d, LastMessage %+v; want 200, %+v", lastSeq, lastMsg, bySeq[200])
	}
	// Each sender's cursor is at their newest message: it only moves forward.
	for _, u := range []chat.UserID{a.ID, b.ID} {
		if got := readCursor(t, s, conv.ID, u); got != lastSent[u] {
			t.Errorf("user %d's read cursor = %d, want %d, the seq of their last message", u, got, lastSent[u])
		}
	}
}

func testSendReadCursor(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())

	check := func(what string, conv chat.ConversationID, cursors map[chat.UserID]int64) {
		t.Helper()
		for u, want := range cursors {
			if got := readCursor(t, s, conv, u); got != want {
				t.Errorf("%s: user %d's read cursor = %d, want %d", what, u, got, want)
			}
		}
	}
	m1 := send(t, s, ab.ID, a.ID, "one", "c1", chat.Now())
	if m1.Seq != 1 {
		t.Errorf("first message has seq %d, want 1", m1.Seq)
	}
	check("alice sent 1", ab.ID, map[chat.UserID]int64{a.ID: 1, b.ID: 0})
	m2 := send(t, s, ab.ID, b.ID, "two", "", chat.Now())
	check("bob sent 2", ab.ID, map[chat.UserID]int64{a.ID: 1, b.ID: 2})
	m3 := send(t, s, ab.ID, a.ID, "three", "", chat.Now())
	check("alice sent 3", ab.ID, map[chat.UserID]int64{a.ID: 3, b.ID: 2})
	if m2.Seq != 2 || m3.Seq != 3 {
		t.Errorf("seqs %d, %d; want 2, 3", m2.Seq, m3.Seq)
	}

	// Seqs are per conversation: another one starts at 1 and moves only
	// its own cursors.
	n1 := send(t, s, ac.ID, c.ID, "elsewhere", "", chat.Now())
	if n1.Seq != 1 {
		t.Errorf("first message of another conversation has seq %d, want 1", n1.Seq)
	}
	check("carol sent 1 elsewhere", ac.ID, map[chat.UserID]int64{a.ID: 0, c.ID: 1})
	check("carol sent 1 elsewhere", ab.ID, map[chat.UserID]int64{a.ID: 3, b.ID: 2})

	// Bob sends 4; alice's retry of her message 1 stores nothing, so her
	// cursor stays at 3: not back to 1, not on to 4.
	send(t, s, ab.ID, b.ID, "four", "", chat.Now())
	retry, created, err := storedMessage(s.CreateMessage(t.Context(), chat.Message{ConversationID: ab.ID, SenderID: a.ID, Body: "one", ClientID: "c1", CreatedAt: chat.Now()}))
	if err != nil || created || !equalMessage(retry, m1) {
		t.Errorf("retry = %+v, created %v, %v; want %+v, not created", retry, created, err, m1)
	}
	check("alice retried 1", ab.ID, map[chat.UserID]int64{a.ID: 3, b.ID: 4})
	if seq, last := lastSeqOf(t, s, ab.ID, a.ID); seq != 4 || last == nil || last.Body != "four" {
		t.Errorf("after the retry, LastSeq %d, LastMessage %+v; want 4, \"four\"", seq, last)
	}
}

func testSendNonMember(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())

	_, err := s.CreateMessage(ctx, chat.Message{ConversationID: ab.ID, SenderID: c.ID, Body: "let me in", ClientID: "k", CreatedAt: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "CreateMessage by a non-member")
	_, err = s.CreateMessage(ctx, chat.Message{ConversationID: ab.ID + 1_000_000, SenderID: a.ID, Body: "anyone?", CreatedAt: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "CreateMessage to an unknown conversation")

	if msgs := messages(t, s, ab.ID, chat.MessageQuery{Limit: 50}); len(msgs) != 0 {
		t.Errorf("after refused sends, messages = %+v, want none", msgs)
	}
	if seq, last := lastSeqOf(t, s, ab.ID, a.ID); seq != 0 || last != nil {
		t.Errorf("after refused sends, LastSeq %d, LastMessage %+v; want 0, none", seq, last)
	}
	// The refused send did not use up carol's client ID either.
	ac := direct(t, s, a.ID, c.ID, chat.Now())
	if m := send(t, s, ac.ID, c.ID, "hello alice", "k", chat.Now()); m.Seq != 1 {
		t.Errorf("carol's first message has seq %d, want 1", m.Seq)
	}
}

func testSendIdempotent(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())

	first := send(t, s, ab.ID, a.ID, "first", "x1", chat.Now())
	// A retry returns the first message as it was, whatever the retry says.
	again, created, err := storedMessage(s.CreateMessage(ctx, chat.Message{ConversationID: ab.ID, SenderID: a.ID, Body: "second", ClientID: "x1", CreatedAt: chat.Now().Add(time.Minute)}))
	if err != nil || created || !equalMessage(again, first) {
		t.Errorf("retry = %+v, created %v, %v; want %+v, not created", again, created, err, first)
	}
	checkMessages(t, "after the retry", messages(t, s, ab.ID, chat.MessageQuery{Limit: 50}), []chat.Message{first})

	// Client IDs are per sender: bob's "x1" is his own message.
	fromBob := send(t, s, ab.ID, b.ID, "from bob", "x1", chat.Now())
	// An empty client ID is never a retry.
	e1 := send(t, s, ab.ID, a.ID, "same", "", chat.Now())
	e2 := send(t, s, ab.ID, a.ID, "same", "", chat.Now())
	e3 := send(t, s, ab.ID, b.ID, "same", "", chat.Now())

	// Alice's "x1" lives in alice–bob: using it in alice–carol is a conflict
	// that stores nothing there.
	_, err = s.CreateMessage(ctx, chat.Message{ConversationID: ac.ID, SenderID: a.ID, Body: "elsewhere", ClientID: "x1", CreatedAt: chat.Now()})
	wantCode(t, err, chat.ECONFLICT, "CreateMessage with a client ID used in another conversation")
	if msgs := messages(t, s, ac.ID, chat.MessageQuery{Limit: 50}); len(msgs) != 0 {
		t.Errorf("after the conflict, alice–carol holds %+v, want nothing", msgs)
	}
	if seq, last := lastSeqOf(t, s, ac.ID, a.ID); seq != 0 || last != nil {
		t.Errorf("after the conflict, alice–carol has LastSeq %d, LastMessage %+v; want 0, none", seq, last)
	}
	// Carol's "x1" there is hers, and new.
	send(t, s, ac.ID, c.ID, "carol's", "x1", chat.Now())

	again, created, err = storedMessage(s.CreateMessage(ctx, chat.Message{ConversationID: ab.ID, SenderID: a.ID, Body: "third try", ClientID: "x1", CreatedAt: chat.Now()}))
	if err != nil || created || !equalMessage(again, first) {
		t.Errorf("later retry = %+v, created %v, %v; want %+v, not created", again, created, err, first)
	}
	checkMessages(t, "alice–bob at the end", messages(t, s, ab.ID, chat.MessageQuery{Limit: 50}), []chat.Message{first, fromBob, e1, e2, e3})
	for i, m := range []chat.Message{fromBob, e1, e2, e3} {
		if m.Seq != int64(i+2) {
			t.Errorf("message %q has seq %d, want %d", m.Body, m.Seq, i+2)
		}
	}

	// MessageByClientID finds each sender's own message, in whichever
	// conversation, and nothing for an unused or empty client ID.
	for _, tc := range []struct {
		sender chat.UserID
		id     string
		want   chat.Message
	}{{a.ID, "x1", first}, {b.ID, "x1", fromBob}} {
		if got, err := s.MessageByClientID(ctx, tc.sender, tc.id); err != nil || !equalMessage(got, tc.want) {
			t.Errorf("MessageByClientID(%d, %q) = %+v, %v; want %+v", tc.sender, tc.id, got, err, tc.want)
		}
	}
	for _, id := range []string{"x2", ""} {
		_, err := s.MessageByClientID(ctx, a.ID, id)
		wantCode(t, err, chat.ENOTFOUND, "MessageByClientID of client ID "+id)
	}
}

func testSendConcurrentRetries(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	conv := direct(t, s, a.ID, b.ID, chat.Now())

	// A browser resending over several connections at once: one message is
	// stored and every send answers with it, none with an error.
	type result struct {
		m       chat.Message
		created bool
		err     error
	}
	results := make([]result, 20)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			m, created, err := storedMessage(s.CreateMessage(ctx, chat.Message{ConversationID: conv.ID, SenderID: a.ID, Body: "once", ClientID: "dup", CreatedAt: chat.Now()}))
			results[i] = result{m, created, err}
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("send %d: %v", i, r.err)
			continue
		}
		if r.created {
			created++
		}
		if r.m.Seq != 1 || r.m.Body != "once" || r.m.ClientID != "dup" || r.m.SenderID != a.ID {
			t.Errorf("send %d returned %+v, want the one message with seq 1", i, r.m)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent retries reported created, want exactly 1", created, len(results))
	}
	if msgs := messages(t, s, conv.ID, chat.MessageQuery{Limit: 50}); len(msgs) != 1 {
		t.Errorf("stored %d messages (seqs %v), want 1", len(msgs), seqs(msgs))
	}
}

func testMessagesPaging(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())

	// Bodies are stored as typed: markup, quotes, whitespace, emoji and the
	// longest body the Service allows, in multi-byte characters.
	special := map[int]string{
		1:    `<script>alert(1)</script> & "quotes"`,
		2:    "line one\n\tindented line\n\nemoji 🎉👩‍💻 and ünïcödé",
		500:  `it's 'single' \ backslash, 100% _wild_ \n not a newline`,
		999:  strings.Repeat("ab€", (chat.MaxBody-1)/3) + "x",
		1000: "tab\tinside, \"quoted\" & <b>bold</b> at the end",
	}
	const n = 1000
	var sent []chat.Message // sent[i] has seq i+1
	for i := 1; i <= n; i++ {
		body, ok := special[i]
		if !ok {
			body = fmt.Sprintf("message %d", i)
		}
		sender := a.ID
		if i%3 == 0 {
			sender = b.ID
		}
		clientID := ""
		if i%2 == 0 {
			clientID = fmt.Sprintf("cid-%d", i)
		}
		m := send(t, s, ab.ID, sender, body, clientID, chat.Now())
		if m.Seq != int64(i) {
			t.Fatalf("message %d got seq %d", i, m.Seq)
		}
		sent = append(sent, m)
	}
	// Another conversation's messages stay out of this one's pages.
	send(t, s, ac.ID, a.ID, "other conversation", "", chat.Now())
	send(t, s, ac.ID, c.ID, "other conversation too", "", chat.Now())

	// The newest page, ascending.
	page := messages(t, s, ab.ID, chat.MessageQuery{Limit: 50})
	checkMessages(t, "newest page", page, sent[950:1000])

	// Back to the first message, each page just before the previous one.
	all := slices.Clone(page)
	for range n {
		if len(page) == 0 {
			break
		}
		before := page[0].Seq
		page = messages(t, s, ab.ID, chat.MessageQuery{BeforeSeq: before, Limit: 50})
		checkMessages(t, fmt.Sprintf("page before seq %d", before), page, sent[max(0, before-1-50):before-1])
		if t.Failed() {
			t.FailNow()
		}
		all = append(slices.Clone(page), all...)
	}
	checkMessages(t, "all pages", all, sent)

	for _, tc := range []struct {
		q    chat.MessageQuery
		want []chat.Message
	}{
		{chat.MessageQuery{AfterSeq: 990, After: true, Limit: 5}, sent[990:995]},
		{chat.MessageQuery{AfterSeq: 0, After: true, Limit: 3}, sent[0:3]}, // from the very first
		{chat.MessageQuery{AfterSeq: 997, After: true, Limit: 5}, sent[997:1000]},
		{chat.MessageQuery{AfterSeq: 1000, After: true, Limit: 5}, nil},
		{chat.MessageQuery{AfterSeq: 5000, After: true, Limit: 5}, nil},
		{chat.MessageQuery{BeforeSeq: 4, Limit: 50}, sent[0:3]},
		{chat.MessageQuery{BeforeSeq: 5000, Limit: 3}, sent[997:1000]},
		{chat.MessageQuery{Limit: 1}, sent[999:1000]},
	} {
		checkMessages(t, fmt.Sprintf("Messages(%+v)", tc.q), messages(t, s, ab.ID, tc.q), tc.want)
	}
}

func testMarkRead(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())

	markRead := func(what string, conv chat.ConversationID, user chat.UserID, seq, wantSeq int64, wantMoved bool) {
		t.Helper()
		r, err := s.MarkRead(ctx, conv, user, seq)
		if err != nil || r.Seq != wantSeq || r.Moved != wantMoved {
			t.Errorf("%s: MarkRead(%d) = %d, %v, %v; want %d, %v, nil", what, seq, r.Seq, r.Moved, err, wantSeq, wantMoved)
		}
		if wantMoved {
			checkRecipients(t, s, what+": MarkRead", conv, r.Recipients)
		} else if r.Recipients != nil {
			t.Errorf("%s: MarkRead moved nothing, yet returned recipients %v", what, r.Recipients)
		}
		if cur := readCursor(t, s, conv, user); cur != wantSeq {
			t.Errorf("%s: read cursor is %d after MarkRead, want %d", what, cur, wantSeq)
		}
	}
	// Nothing to read yet: the cursor stays at 0.
	markRead("empty conversation", ab.ID, b.ID, 10, 0, false)

	for i := range 5 {
		send(t, s, ab.ID, a.ID, fmt.Sprintf("m%d", i+1), "", chat.Now())
	}
	markRead("forward", ab.ID, b.ID, 3, 3, true)
	markRead("backward", ab.ID, b.ID, 2, 3, false)
	markRead("same", ab.ID, b.ID, 3, 3, false)
	markRead("zero", ab.ID, b.ID, 0, 3, false)
	markRead("beyond the last", ab.ID, b.ID, 100, 5, true)
	markRead("beyond again", ab.ID, b.ID, 100, 5, false)
	if got := readCursor(t, s, ab.ID, a.ID); got != 5 {
		t.Errorf("alice's cursor = %d, want 5 (her last send), untouched by bob's reads", got)
	}
	if got := readCursor(t, s, ac.ID, a.ID); got != 0 {
		t.Errorf("alice's cursor in alice–carol = %d, want 0", got)
	}

	_, err := s.MarkRead(ctx, ab.ID, c.ID, 1)
	wantCode(t, err, chat.ENOTFOUND, "MarkRead by a non-member")
	_, err = s.MarkRead(ctx, max(ab.ID, ac.ID)+1_000_000, a.ID, 1)
	wantCode(t, err, chat.ENOTFOUND, "MarkRead in an unknown conversation")
	if got := readCursor(t, s, ac.ID, c.ID); got != 0 {
		t.Errorf("carol's cursor in alice–carol = %d after her refused MarkRead elsewhere, want 0", got)
	}
}

// testSendTimesFollowSeq checks that a message is never older than the one
// before it, even when its send was stamped earlier (clocks and concurrent
// senders disagree), and that the conversation's LastMessageAt is the newest
// message's time.
func testSendTimesFollowSeq(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	conv := direct(t, s, a.ID, b.ID, chat.Now())
	later := chat.Now().Add(time.Hour)
	first, _, err := storedMessage(s.CreateMessage(ctx, chat.Message{ConversationID: conv.ID, SenderID: a.ID, Body: "first", CreatedAt: later}))
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := storedMessage(s.CreateMessage(ctx, chat.Message{ConversationID: conv.ID, SenderID: b.ID, Body: "second", CreatedAt: later.Add(-time.Minute)}))
	if err != nil {
		t.Fatal(err)
	}
	if second.CreatedAt.Before(first.CreatedAt) {
		t.Errorf("seq %d at %v is older than seq %d at %v", second.Seq, second.CreatedAt, first.Seq, first.CreatedAt)
	}
	rows := conversations(t, s, chat.ConversationQuery{UserID: a.ID, Limit: 10})
	if len(rows) != 1 || !rows[0].LastMessageAt.Equal(second.CreatedAt) || !rows[0].LastMessage.CreatedAt.Equal(second.CreatedAt) {
		t.Errorf("list row %+v: want LastMessageAt %v", rows, second.CreatedAt)
	}
}
