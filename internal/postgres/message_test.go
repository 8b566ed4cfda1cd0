package postgres

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// TestCreateMessagesClientIDRace: a batch whose insert collides with a
// client ID that another node's transaction, not yet committed when the
// batch looked, stores in another conversation is run again once that
// transaction has committed, and answers that message as a conflict
// rather than failing the whole batch; the rest of the batch is stored.
func TestCreateMessagesClientIDRace(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, newSchema(t), nil)
	a, b, c := storetest.NewUser(t, s, "alice"), storetest.NewUser(t, s, "bob"), storetest.NewUser(t, s, "carol")
	ab, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	ac, _, err := s.DirectConversation(ctx, a.ID, c.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}

	// The other node's send, stored up to its commit.
	other, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(ctx) }() // a no-op after the commit below
	var xid string
	if err := other.QueryRow(ctx, `SELECT txid_current()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `UPDATE conversations SET last_seq = 1, last_version = 1, last_message_at = $2 WHERE id = $1`, int64(ab.ID), chat.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `
		INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at, version)
		VALUES ($1, 1, $2, 'first', 'x', $3, 1)`, int64(ab.ID), int64(a.ID), chat.Now()); err != nil {
		t.Fatal(err)
	}

	type result struct {
		rs  []chat.SendResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		rs, err := s.CreateMessages(ctx, []chat.Message{
			{ConversationID: ac.ID, SenderID: c.ID, Body: "before", CreatedAt: chat.Now()},
			{ConversationID: ac.ID, SenderID: a.ID, Body: "second", ClientID: "x", CreatedAt: chat.Now()},
			{ConversationID: ac.ID, SenderID: c.ID, Body: "after", CreatedAt: chat.Now()},
		})
		done <- result{rs, err}
	}()
	// The batch's insert waits for the other transaction's client ID.
	for waiting := false; !waiting; {
		if err := s.pool.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted)`,
			xid).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			t.Fatalf("the batch ended before the other transaction did: %+v, %v", r.rs, r.err)
		case <-time.After(10 * time.Millisecond): // poll interval
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.rs) != 3 {
		t.Fatalf("CreateMessages = %+v, %v; want 3 results", r.rs, r.err)
	}
	if code := chat.ErrorCode(r.rs[1].Err); code != chat.ECONFLICT {
		t.Errorf("the send with the client ID stored meanwhile in another conversation: %+v, %v; want %s", r.rs[1].Stored, r.rs[1].Err, chat.ECONFLICT)
	}
	for i, want := range map[int]int64{0: 1, 2: 2} {
		if st := r.rs[i].Stored; r.rs[i].Err != nil || !st.Changed || st.Message.Seq != want {
			t.Errorf("message %d: %+v, %v; want stored with seq %d", i, st, r.rs[i].Err, want)
		}
	}
	msgs, err := s.Messages(ctx, ac.ID, chat.MessageQuery{Limit: 10})
	if err != nil || len(msgs) != 2 || msgs[0].Body != "before" || msgs[1].Body != "after" {
		t.Errorf("alice–carol holds %+v, %v; want before, after", msgs, err)
	}
}
