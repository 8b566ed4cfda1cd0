package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// Benchmarks of the store's hot paths. Run them with
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/sqlite/
//
// Seeding uses SQL directly (a recursive CTE for a million rows), so that
// the setup takes seconds, not minutes; it is not timed.

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done; s.Close() })
	return s
}

func seed(b *testing.B, s *Store, query string, args ...any) {
	b.Helper()
	if _, err := s.write.ExecContext(b.Context(), query, args...); err != nil {
		b.Fatalf("seed: %v", err)
	}
}

// BenchmarkSend stores messages from 1 and from 64 concurrent senders, each
// in a conversation of its own; with 64, group commit shares the fsyncs.
func BenchmarkSend(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			s := benchStore(b)
			ctx := b.Context()
			convs := make([]chat.Conversation, senders)
			users := make([]chat.User, senders)
			peer := storetest.NewUser(b, s, "peer")
			for i := range convs {
				users[i] = storetest.NewUser(b, s, fmt.Sprintf("sender%03d", i))
				c, _, err := s.DirectConversation(ctx, users[i].ID, peer.ID, chat.Now())
				if err != nil {
					b.Fatal(err)
				}
				convs[i] = c
			}
			var next atomic.Int64
			b.ResetTimer()
			if senders == 1 {
				for b.Loop() {
					if _, _, err := s.CreateMessage(ctx, chat.Message{ConversationID: convs[0].ID, SenderID: users[0].ID, Body: "hello", CreatedAt: chat.Now()}); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			// 64 goroutines whatever GOMAXPROCS is.
			b.SetParallelism((senders + 1) / 2)
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % senders
				for pb.Next() {
					if _, _, err := s.CreateMessage(ctx, chat.Message{ConversationID: convs[i].ID, SenderID: users[i].ID, Body: "hello", CreatedAt: chat.Now()}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkConversationList reads the first page of the list of a user with
// 10,000 conversations, each with a message.
func BenchmarkConversationList(b *testing.B) {
	s := benchStore(b)
	me := storetest.NewUser(b, s, "me")
	const n = 10_000
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO users (id, username, display_name, search_name, password_hash, created_at)
		SELECT 1000 + x, 'friend' || x, 'Friend ' || x, 'friend ' || x, 'hash', x FROM i`, n)
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO conversations (id, kind, direct_key, last_seq, last_message_at, created_at)
		SELECT x, 'direct', ? || ':' || (1000 + x), 1, 1000000 + x, x FROM i`, n, int64(me.ID))
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at)
		SELECT x, ?, 0, x FROM i UNION ALL SELECT x, 1000 + x, 1, x FROM i`, n, int64(me.ID))
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO messages (conversation_id, seq, sender_id, body, created_at)
		SELECT x, 1, 1000 + x, 'hello from ' || x, 1000000 + x FROM i`, n)
	ctx := b.Context()
	for b.Loop() {
		rows, err := s.Conversations(ctx, chat.ConversationQuery{UserID: me.ID, Limit: chat.DefaultConvPage + 1})
		if err != nil || len(rows) != chat.DefaultConvPage+1 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}

// BenchmarkHistory reads a page of 50 at the newest end of a conversation
// of a million messages and a million messages deep: keyset paging costs
// the same at any depth.
func BenchmarkHistory(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	a, p := storetest.NewUser(b, s, "alice"), storetest.NewUser(b, s, "bob")
	conv, _, err := s.DirectConversation(ctx, a.ID, p.ID, chat.Now())
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO messages (conversation_id, seq, sender_id, body, created_at)
		SELECT ?, x, CASE x % 2 WHEN 0 THEN ? ELSE ? END, 'message number ' || x, x FROM i`, n, int64(conv.ID), int64(a.ID), int64(p.ID))
	seed(b, s, `UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?`, n, n, int64(conv.ID))
	for _, tc := range []struct {
		name string
		q    chat.MessageQuery
	}{
		{"depth=0", chat.MessageQuery{Limit: 51}},
		{"depth=1000000", chat.MessageQuery{BeforeSeq: 100, Limit: 51}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				msgs, err := s.Messages(ctx, conv.ID, tc.q)
				if err != nil || len(msgs) == 0 {
					b.Fatalf("%d messages, %v", len(msgs), err)
				}
			}
		})
	}
}

// BenchmarkSearchUsers searches the directory of 100,000 people.
func BenchmarkSearchUsers(b *testing.B) {
	s := benchStore(b)
	const n = 100_000
	seed(b, s, `
		WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO users (username, display_name, search_name, password_hash, created_at)
		SELECT printf('user%06d', x), 'Person ' || x, 'person ' || x, 'hash', x FROM i`, n)
	ctx := b.Context()
	for _, tc := range []struct{ name, search string }{
		{"all", ""},
		{"common", "99"},   // matches many: the first page fills quickly
		{"rare", "099999"}, // matches one: the whole table is read
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SearchUsers(ctx, chat.UserQuery{Search: tc.search, Limit: chat.DefaultUserPage + 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
