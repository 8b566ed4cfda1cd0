package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// createMessages stores the batch and fails the test when the whole batch
// fails or the results do not match it one for one.
func createMessages(t *testing.T, s chat.Store, ms []chat.Message) []chat.SendResult {
	t.Helper()
	rs, err := s.CreateMessages(t.Context(), ms)
	if err != nil {
		t.Fatalf("CreateMessages of %d messages: %v", len(ms), err)
	}
	if len(rs) != len(ms) {
		t.Fatalf("CreateMessages of %d messages returned %d results", len(ms), len(rs))
	}
	return rs
}

// testBatchMixed sends one batch to three conversations with, among the
// messages stored, refused ones (a non-member, an unknown conversation),
// resends (of a message stored before the batch and of one stored earlier
// in it) and client IDs used in another conversation, and times that go
// backwards: each is answered as a CreateMessage of its own in the batch's
// order would be.
func testBatchMixed(t *testing.T, s chat.Store) {
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())
	g := newGroup(t, s, "Team", a, b, c) // seqs 1 to 3: the title and two added
	base := chat.Now()
	before := send(t, s, ab.ID, a.ID, "before the batch", "used", base.Add(time.Hour))

	msg := func(conv chat.ConversationID, sender chat.UserID, body, clientID string, at time.Time) chat.Message {
		return chat.Message{ConversationID: conv, SenderID: sender, Body: body, ClientID: clientID, CreatedAt: at}
	}
	batch := []chat.Message{
		0:  msg(ab.ID, b.ID, "b1", "", base),
		1:  msg(g.ID, a.ID, "g1", "ga", base),
		2:  msg(ab.ID, d.ID, "intruder", "d1", base),
		3:  msg(ac.ID, c.ID, "c1", "cc", base.Add(2*time.Hour)),
		4:  msg(ab.ID, a.ID, "resent", "used", base),
		5:  msg(ac.ID, a.ID, "used elsewhere", "used", base),
		6:  msg(g.ID, a.ID, "g1 resent", "ga", base),
		7:  msg(ac.ID, a.ID, "batch's client ID elsewhere", "ga", base),
		8:  msg(ab.ID, a.ID, "a2", "", base.Add(30*time.Minute)),
		9:  msg(ac.ID, c.ID, "c2", "", base.Add(time.Hour)),
		10: msg(g.ID, b.ID, "g2", "gb", base.Add(3*time.Hour)),
		11: msg(ab.ID, b.ID, "b2", "", base.Add(4*time.Hour)),
		12: msg(ac.ID, d.ID, "intruder again", "", base),
		13: msg(max(ab.ID, ac.ID, g.ID)+1_000_000, a.ID, "nowhere", "", base),
	}
	rs := createMessages(t, s, batch)

	// The stored messages take their conversations' next seqs in the
	// batch's order.
	wantSeq := map[int]int64{0: 2, 8: 3, 11: 4, 3: 1, 9: 2, 1: 4, 10: 5}
	stored := map[int]chat.Message{}
	for i, seq := range wantSeq {
		r := rs[i]
		if r.Err != nil || !r.Stored.Changed {
			t.Errorf("message %d (%q): %v, changed %v; want stored", i, batch[i].Body, r.Err, r.Stored.Changed)
			continue
		}
		got, want := r.Stored.Message, batch[i]
		want.Seq, want.CreatedAt = seq, got.CreatedAt
		if !equalMessage(got, want) {
			t.Errorf("message %d stored as %+v, want %+v", i, got, want)
		}
		if got.CreatedAt.Before(batch[i].CreatedAt) {
			t.Errorf("message %d stored at %v, before its send's time %v", i, got.CreatedAt, batch[i].CreatedAt)
		}
		checkRecipients(t, s, fmt.Sprintf("message %d", i), batch[i].ConversationID, r.Stored.Recipients)
		stored[i] = got
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, i := range []int{2, 12, 13} {
		wantCode(t, rs[i].Err, chat.ENOTFOUND, fmt.Sprintf("message %d (%q)", i, batch[i].Body))
	}
	for _, i := range []int{5, 7} {
		wantCode(t, rs[i].Err, chat.ECONFLICT, fmt.Sprintf("message %d (%q)", i, batch[i].Body))
	}
	for i, first := range map[int]chat.Message{4: before, 6: stored[1]} {
		r := rs[i]
		if r.Err != nil || r.Stored.Changed || !equalMessage(r.Stored.Message, first) || r.Stored.Recipients != nil {
			t.Errorf("message %d (%q), a resend: %+v, %v; want %+v unchanged, no recipients", i, batch[i].Body, r.Stored, r.Err, first)
		}
	}

	// The history holds what the senders were told, times never going
	// back along seq.
	for _, conv := range []struct {
		name  string
		id    chat.ConversationID
		after int64
		want  []chat.Message
	}{
		{"alice–bob", ab.ID, 0, []chat.Message{before, stored[0], stored[8], stored[11]}},
		{"alice–carol", ac.ID, 0, []chat.Message{stored[3], stored[9]}},
		{"group", g.ID, 3, []chat.Message{stored[1], stored[10]}},
	} {
		got := messages(t, s, conv.id, chat.MessageQuery{AfterSeq: conv.after, After: true, Limit: 50})
		checkMessages(t, conv.name, got, conv.want)
		for i := 1; i < len(got); i++ {
			if got[i].CreatedAt.Before(got[i-1].CreatedAt) {
				t.Errorf("%s: seq %d at %v is older than seq %d at %v", conv.name, got[i].Seq, got[i].CreatedAt, got[i-1].Seq, got[i-1].CreatedAt)
			}
		}
		last := conv.want[len(conv.want)-1]
		if seq, lastMsg := lastSeqOf(t, s, conv.id, a.ID); seq != last.Seq || lastMsg == nil || !equalMessage(*lastMsg, last) {
			t.Errorf("%s: list shows LastSeq %d, LastMessage %+v; want %d, %+v", conv.name, seq, lastMsg, last.Seq, last)
		}
	}

	// Each sender's read cursor is at their last message stored; a
	// resend or a refusal moves nothing.
	for _, tc := range []struct {
		conv chat.ConversationID
		user chat.UserID
		want int64
	}{
		{ab.ID, a.ID, 3}, {ab.ID, b.ID, 4},
		{ac.ID, a.ID, 0}, {ac.ID, c.ID, 2},
		{g.ID, a.ID, 4}, {g.ID, b.ID, 5}, {g.ID, c.ID, 3},
	} {
		if got := readCursor(t, s, tc.conv, tc.user); got != tc.want {
			t.Errorf("user %d's read cursor in conversation %d = %d, want %d", tc.user, tc.conv, got, tc.want)
		}
	}
	// The refused send did not use up its client ID; the one stored in
	// the batch is found.
	_, err := s.MessageByClientID(t.Context(), d.ID, "d1")
	wantCode(t, err, chat.ENOTFOUND, "MessageByClientID of a refused send")
	if got, err := s.MessageByClientID(t.Context(), a.ID, "ga"); err != nil || !equalMessage(got, stored[1]) {
		t.Errorf("MessageByClientID(alice, ga) = %+v, %v; want %+v", got, err, stored[1])
	}
}

// testBatchRefusedClientID: a client ID whose first send in the batch was
// refused is free for a later message of the batch, as it would be for a
// later CreateMessage; once stored, it answers the messages after it.
func testBatchRefusedClientID(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())
	batch := []chat.Message{
		{ConversationID: ab.ID, SenderID: c.ID, Body: "not mine", ClientID: "k", CreatedAt: chat.Now()},
		{ConversationID: ac.ID, SenderID: c.ID, Body: "mine", ClientID: "k", CreatedAt: chat.Now()},
		{ConversationID: ac.ID, SenderID: c.ID, Body: "mine, resent", ClientID: "k", CreatedAt: chat.Now()},
		{ConversationID: ab.ID, SenderID: c.ID, Body: "not mine again", ClientID: "k", CreatedAt: chat.Now()},
	}
	rs := createMessages(t, s, batch)
	wantCode(t, rs[0].Err, chat.ENOTFOUND, "a non-member's send")
	want := batch[1]
	want.Seq, want.CreatedAt = 1, rs[1].Stored.Message.CreatedAt
	if r := rs[1]; r.Err != nil || !r.Stored.Changed || !equalMessage(r.Stored.Message, want) {
		t.Fatalf("the member's send with the refused one's client ID: %+v, %v; want %+v stored", r.Stored, r.Err, want)
	}
	if r := rs[2]; r.Err != nil || r.Stored.Changed || !equalMessage(r.Stored.Message, rs[1].Stored.Message) {
		t.Errorf("its resend: %+v, %v; want %+v unchanged", r.Stored, r.Err, rs[1].Stored.Message)
	}
	wantCode(t, rs[3].Err, chat.ECONFLICT, "the client ID sent again to another conversation")
	checkMessages(t, "alice–carol", messages(t, s, ac.ID, chat.MessageQuery{Limit: 50}), []chat.Message{rs[1].Stored.Message})
	checkMessages(t, "alice–bob", messages(t, s, ab.ID, chat.MessageQuery{Limit: 50}), nil)
}

// testBatchConcurrent runs batches from two writers at once (two nodes on
// one database) to the same conversations: seqs stay dense, each batch's
// messages to a conversation take consecutive seqs in its order, a
// message both send with one client ID is stored once, and one client ID
// sent to two conversations at once is stored in one of them and a
// conflict in the other, without failing either batch.
func testBatchConcurrent(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())
	g := newGroup(t, s, "Team", a, b, c)
	convs := []struct {
		id      chat.ConversationID
		senders []chat.UserID
		first   int64 // the seq of the first message sent
	}{
		{ab.ID, []chat.UserID{a.ID, b.ID}, 1},
		{ac.ID, []chat.UserID{a.ID, c.ID}, 1},
		{g.ID, []chat.UserID{a.ID, b.ID, c.ID}, 4},
	}
	const (
		writers = 2
		batches = 15
		perConv = 4
	)
	type sent struct {
		batch []chat.Message
		rs    []chat.SendResult
		err   error
	}
	results := make([][]sent, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		results[w] = make([]sent, batches)
		wg.Go(func() {
			<-start
			for k := range batches {
				var batch []chat.Message
				for j := range perConv {
					for ci, conv := range convs {
						sender := conv.senders[(j+k+w)%len(conv.senders)]
						batch = append(batch, chat.Message{ConversationID: conv.id, SenderID: sender,
							Body: fmt.Sprintf("writer %d batch %d message %d to %d", w, k, j, ci), CreatedAt: chat.Now()})
					}
				}
				// Both writers resend one message with the same client
				// ID; and alice uses one client ID in a conversation of
				// each writer's own.
				batch = append(batch,
					chat.Message{ConversationID: g.ID, SenderID: b.ID, Body: fmt.Sprintf("shared %d", k), ClientID: fmt.Sprintf("shared-%d", k), CreatedAt: chat.Now()},
					chat.Message{ConversationID: convs[w].id, SenderID: a.ID, Body: fmt.Sprintf("raced %d", k), ClientID: fmt.Sprintf("raced-%d", k), CreatedAt: chat.Now()})
				rs, err := s.CreateMessages(t.Context(), batch)
				results[w][k] = sent{batch, rs, err}
			}
		})
	}
	close(start)
	wg.Wait()

	sentTo := map[chat.ConversationID]int{}
	lastSent := map[[2]int64]int64{} // conversation, sender → seq
	shared := map[string]int{}       // client ID → times stored
	raced := map[string][]string{}   // client ID → outcomes
	for w := range writers {
		for k, r := range results[w] {
			if r.err != nil || len(r.rs) != len(r.batch) {
				t.Fatalf("writer %d batch %d: %d results, %v", w, k, len(r.rs), r.err)
			}
			prev := map[chat.ConversationID]int64{}
			for i, m := range r.batch {
				res := r.rs[i]
				switch {
				case m.ClientID == "":
				case res.Err == nil && res.Stored.Changed:
					if m.ConversationID == g.ID {
						shared[m.ClientID]++
					} else {
						raced[m.ClientID] = append(raced[m.ClientID], "stored")
					}
				case res.Err == nil && m.ConversationID == g.ID:
					if res.Stored.Message.Body != m.Body {
						t.Errorf("writer %d batch %d: resend of %q answered with %+v", w, k, m.ClientID, res.Stored.Message)
					}
					continue
				case chat.ErrorCode(res.Err) == chat.ECONFLICT && m.ConversationID != g.ID:
					raced[m.ClientID] = append(raced[m.ClientID], "conflict")
					continue
				default:
					t.Errorf("writer %d batch %d message %d (%q): %+v, %v", w, k, i, m.ClientID, res.Stored, res.Err)
					continue
				}
				if res.Err != nil || !res.Stored.Changed {
					t.Errorf("writer %d batch %d message %d: %+v, %v; want stored", w, k, i, res.Stored, res.Err)
					continue
				}
				seq := res.Stored.Message.Seq
				if p, ok := prev[m.ConversationID]; ok && seq != p+1 {
					t.Errorf("writer %d batch %d: message %d to conversation %d has seq %d after the batch's %d; want consecutive", w, k, i, m.ConversationID, seq, p)
				}
				prev[m.ConversationID] = seq
				sentTo[m.ConversationID]++
				key := [2]int64{int64(m.ConversationID), int64(m.SenderID)}
				lastSent[key] = max(lastSent[key], seq)
			}
		}
	}
	for id, n := range shared {
		if n != 1 {
			t.Errorf("client ID %s sent by both writers was stored %d times, want 1", id, n)
		}
	}
	for id, outcomes := range raced {
		if len(outcomes) != 2 || outcomes[0] == outcomes[1] {
			t.Errorf("client ID %s sent to two conversations at once: %v, want one stored and one conflict", id, outcomes)
		}
	}
	// Dense: the conversation holds every seq from the first sent up to
	// its last, and no more.
	for _, conv := range convs {
		got := messages(t, s, conv.id, chat.MessageQuery{AfterSeq: conv.first - 1, After: true, Limit: 1000})
		for i, m := range got {
			if m.Seq != conv.first+int64(i) {
				t.Fatalf("conversation %d: seqs %v, want %d onwards with no gap", conv.id, seqs(got), conv.first)
			}
		}
		if len(got) != sentTo[conv.id] {
			t.Errorf("conversation %d holds %d messages, the writers were told %d were stored", conv.id, len(got), sentTo[conv.id])
		}
		for _, u := range conv.senders {
			want := lastSent[[2]int64{int64(conv.id), int64(u)}]
			if conv.id == g.ID {
				want = max(want, conv.first-1) // the group starts read up to its creation
			}
			if cur := readCursor(t, s, conv.id, u); cur != want {
				t.Errorf("user %d's read cursor in conversation %d = %d, want %d", u, conv.id, cur, want)
			}
		}
	}
}
