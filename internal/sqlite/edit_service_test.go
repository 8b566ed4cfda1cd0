package sqlite

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// tokens is a chat.Limiter with a fixed number of tokens per key, none
// coming back with time: it counts what was charged and not refunded.
type tokens struct {
	mu    sync.Mutex
	left  int
	taken map[string]int
}

func (l *tokens) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, 1)
}

func (l *tokens) AllowN(_ context.Context, key string, n int) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.taken[key]+n > l.left {
		return false, time.Hour, nil
	}
	l.taken[key] += n
	return true, 0, nil
}

func (l *tokens) Refund(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.taken[key]--
	return nil
}

func (l *tokens) charged(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.taken[key]
}

// TestEditDeleteService runs edits and deletions through the Service on a
// real store: each publishes one message_updated to every member with the
// message as stored, is charged to the message budget, and refusals
// publish nothing; the erased body is gone from the table itself.
func TestEditDeleteService(t *testing.T) {
	ctx := t.Context()
	store := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	broker := &eventLog{}
	budget := &tokens{left: 4, taken: map[string]int{}}
	svc, err := chat.NewService(chat.ServiceConfig{
		Store: store, Hasher: plainHasher{}, Broker: broker, Logger: slog.New(slog.DiscardHandler),
		Limits: chat.Limits{Messages: budget},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, o := storetest.NewUser(t, store, "alice"), storetest.NewUser(t, store, "bob"),
		storetest.NewUser(t, store, "carol"), storetest.NewUser(t, store, "oscar")
	g, err := svc.CreateGroup(ctx, a.ID, "Team", []chat.UserID{b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := svc.Send(ctx, b.ID, chat.SendRequest{ConversationID: g.ID, Body: "secret stuff"})
	if err != nil {
		t.Fatal(err)
	}
	broker.take()
	bobKey := "user:" + strconv.FormatInt(int64(b.ID), 10)

	wantUpdate := func(what string, want chat.Message) {
		t.Helper()
		evs := broker.take()
		if len(evs) != 1 || evs[0].Type != chat.EventMessageUpdated || evs[0].Message == nil ||
			!slices.Equal(evs[0].To, []chat.UserID{a.ID, b.ID, c.ID}) || evs[0].SkipConn != "" {
			t.Fatalf("%s published %+v; want one message_updated to every member", what, evs)
		}
		if got := *evs[0].Message; got.Seq != want.Seq || got.Version != want.Version || got.Body != want.Body || got.Deleted() != want.Deleted() {
			t.Errorf("%s published %+v, want %+v", what, got, want)
		}
	}

	e, err := svc.EditMessage(ctx, b.ID, g.ID, m.Seq, "  less secret  ")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := chat.NormalizeBody("  less secret  "); e.Body != want || e.EditedAt.IsZero() {
		t.Errorf("edited %+v, want body %q as a send stores it, edited_at set", e, want)
	}
	wantUpdate("an edit", e)
	if n := budget.charged(bobKey); n != 2 {
		t.Errorf("after a send and an edit, %d tokens charged, want 2", n)
	}

	// Refusals: nothing published, nothing stored.
	for _, tc := range []struct {
		what string
		err  error
		code string
	}{
		{"an empty body", errOf(svc.EditMessage(ctx, b.ID, g.ID, m.Seq, "\u200b")), chat.EINVALID},
		{"an edit by an admin", errOf(svc.EditMessage(ctx, a.ID, g.ID, m.Seq, "x")), chat.EFORBIDDEN},
		{"an edit by an outsider", errOf(svc.EditMessage(ctx, o.ID, g.ID, m.Seq, "x")), chat.ENOTFOUND},
		{"a deletion by a member", errOf(svc.DeleteMessage(ctx, c.ID, g.ID, m.Seq)), chat.EFORBIDDEN},
		{"a system message", errOf(svc.DeleteMessage(ctx, a.ID, g.ID, 1)), chat.EINVALID},
		{"seq 0", errOf(svc.DeleteMessage(ctx, a.ID, g.ID, 0)), chat.ENOTFOUND},
		{"after_version with after_seq", errOf(svc.Messages(ctx, a.ID, g.ID, chat.MessageQuery{ByVersion: true, After: true})), chat.EINVALID},
	} {
		if chat.ErrorCode(tc.err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.what, tc.err, tc.code)
		}
	}
	if evs := broker.take(); len(evs) != 0 {
		t.Errorf("refusals published %+v", evs)
	}

	// An admin deletes bob's message; a second deletion changes nothing.
	d, err := svc.DeleteMessage(ctx, a.ID, g.ID, m.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Deleted() || d.Body != "" || d.Version != e.Version+1 {
		t.Errorf("deletion returned %+v, want a tombstone at version %d", d, e.Version+1)
	}
	wantUpdate("a deletion", d)
	again, err := svc.DeleteMessage(ctx, b.ID, g.ID, m.Seq)
	if err != nil || again.Version != d.Version {
		t.Errorf("second deletion: %+v, %v; want the same tombstone", again, err)
	}
	if evs := broker.take(); len(evs) != 0 {
		t.Errorf("a second deletion published %+v", evs)
	}
	// The body is erased in the table, not hidden by the queries.
	var body string
	var deleted bool
	if err := store.read.QueryRowContext(ctx, `SELECT body, deleted_at IS NOT NULL FROM messages WHERE conversation_id = ? AND seq = ?`,
		int64(g.ID), m.Seq).Scan(&body, &deleted); err != nil {
		t.Fatal(err)
	}
	if body != "" || !deleted {
		t.Errorf("stored row: body %q, deleted %v; want the body erased", body, deleted)
	}

	// Catch-up by version through the Service pages with has_more.
	// The edit's version was taken over by the deletion: after m.Version
	// only the tombstone is left.
	page, err := svc.Messages(ctx, c.ID, g.ID, chat.MessageQuery{ByVersion: true, AfterVersion: m.Version, Limit: 1})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].Version != d.Version || page.HasMore {
		t.Errorf("after_version %d limit 1: %+v, %v; want the tombstone alone", m.Version, page, err)
	}
	page, err = svc.Messages(ctx, c.ID, g.ID, chat.MessageQuery{ByVersion: true, Limit: 1})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].Version != 1 || !page.HasMore {
		t.Errorf("after_version 0 limit 1: %+v, %v; want version 1 and has_more", page, err)
	}

	// The budget runs out: the refusal is rate_limited and nothing changes.
	m2, _, err := svc.Send(ctx, b.ID, chat.SendRequest{ConversationID: g.ID, Body: "one more"})
	if err != nil {
		t.Fatal(err)
	}
	broker.take()
	_, err = svc.EditMessage(ctx, b.ID, g.ID, m2.Seq, "edited")
	if chat.ErrorCode(err) != chat.ERATELIMITED {
		t.Errorf("an edit past the budget: %v, want rate_limited", err)
	}
	if evs := broker.take(); len(evs) != 0 {
		t.Errorf("a refused edit published %+v", evs)
	}
}

func errOf[T any](_ T, err error) error { return err }
