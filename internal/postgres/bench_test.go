package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
	"github.com/parleychat/parley/internal/storetest"
)

// Benchmarks of the store's hot paths. Run them with
//
//	PARLEY_TEST_POSTGRES=postgres://… go test -run '^$' -bench . ./internal/postgres/
//
// BenchmarkSearch seeds a database of its own, benchSearchDB, once (about
// a minute) and reuses it on later runs; drop it by hand to seed afresh.

// benchSearchDB is the database BenchmarkSearch keeps between runs. Its
// name carries a version: change it when the seeded data changes.
const benchSearchDB = "parley_bench_search_v2"

// The seeded data: benchMessages messages in benchConvs groups of
// benchMembers members each, out of benchUsers users. The searcher is a
// member of every tenth group (a tenth of the messages); their bodies are
// benchMinWords to benchMaxWords words drawn from a vocabulary of
// benchVocab words with a Zipf distribution, so that the first words are
// in a large share of the messages and words far down the list in a few.
const (
	benchMessages = 1_000_000
	benchUsers    = 1_000
	benchConvs    = 2_000
	benchMembers  = 5
	benchVocab    = 50_000
	benchMinWords = 3
	benchMaxWords = 20
)

// benchVocabulary returns the vocabulary, most frequent word first: made
// up words of 3 to 10 letters, the same on every run.
func benchVocabulary() []string {
	r := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]bool, benchVocab)
	words := make([]string, 0, benchVocab)
	for len(words) < benchVocab {
		b := make([]byte, 3+r.IntN(8))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

// benchSearchStore opens the benchmark database, creating and seeding it
// first when it is not seeded yet.
func benchSearchStore(b *testing.B) *Store {
	b.Helper()
	dsn := testDSN(b)
	ctx := b.Context()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, benchSearchDB).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+benchSearchDB); err != nil {
			b.Fatal(err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatalf("PARLEY_TEST_POSTGRES must be a URL for the benchmarks: %v", err)
	}
	u.Path = "/" + benchSearchDB
	s, err := open(ctx, u.String(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	// A seed that did not finish leaves no marker, and is started over.
	var seeded bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('bench_seeded') IS NOT NULL`).Scan(&seeded); err != nil {
		b.Fatal(err)
	}
	if !seeded {
		start := time.Now()
		seedSearch(b, s)
		b.Logf("seeded %s with %d messages in %v", benchSearchDB, benchMessages, time.Since(start).Round(time.Second))
	}
	return s
}

func seedSearch(b *testing.B, s *Store) {
	ctx := b.Context()
	exec := func(sql string, args ...any) {
		b.Helper()
		if _, err := s.pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	exec(`TRUNCATE users, conversations, members, messages, sessions, user_sessions RESTART IDENTITY CASCADE`)
	exec(`ALTER SEQUENCE messages_position_seq RESTART`)
	// User 1 is the searcher. Group g has the members g, g+1, … (modulo
	// the users), and the searcher too when g is a multiple of 10.
	exec(`INSERT INTO users (username, display_name, search_name, password_hash, created_at)
		SELECT 'user' || i, 'User ' || i, 'user ' || i, 'h', '2026-01-01Z' FROM generate_series(1, $1::int) i`, benchUsers)
	exec(`INSERT INTO conversations (kind, title, member_count, created_at)
		SELECT 'group', 'Group ' || g, 0, '2026-01-01Z' FROM generate_series(1, $1::int) g`, benchConvs)
	exec(`INSERT INTO members (conversation_id, user_id, joined_at)
		SELECT DISTINCT g, u, '2026-01-01Z'::timestamptz FROM generate_series(1, $1::int) g,
		LATERAL (SELECT 2 + (g + k) % ($2::int - 1) AS u FROM generate_series(0, $3::int - 1) k
		         UNION SELECT 1 WHERE g % 10 = 0) m`, benchConvs, benchUsers, benchMembers)

	vocab := benchVocabulary()
	r := rand.New(rand.NewPCG(3, 4))
	zipf := rand.NewZipf(r, 1.1, 1, benchVocab-1)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seqs := make([]int64, benchConvs+1)
	var (
		i     int
		words []string
	)
	// Messages in the order they were sent, a second apart, to random
	// groups, so that positions (the column's default) follow time.
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"messages"},
		[]string{"conversation_id", "seq", "version", "sender_id", "body", "created_at", "search"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == benchMessages {
				return nil, nil
			}
			i++
			conv := 1 + r.IntN(benchConvs)
			seqs[conv]++
			words = words[:0]
			for range benchMinWords + r.IntN(benchMaxWords-benchMinWords+1) {
				words = append(words, vocab[zipf.Uint64()])
			}
			body := strings.Join(words, " ")
			sender := 2 + (conv+r.IntN(benchMembers))%(benchUsers-1)
			return []any{int64(conv), seqs[conv], seqs[conv], int64(sender), body, start.Add(time.Duration(i) * time.Second), searchVector(body)}, nil
		}))
	if err != nil {
		b.Fatalf("seed messages: %v", err)
	}
	if n != benchMessages {
		b.Fatalf("seeded %d messages, want %d", n, benchMessages)
	}
	exec(`UPDATE conversations c SET last_seq = s.seq, last_version = s.seq, last_message_at = s.at,
		member_count = (SELECT count(*) FROM members m WHERE m.conversation_id = c.id)
		FROM (SELECT conversation_id, max(seq) AS seq, max(created_at) AS at FROM messages GROUP BY conversation_id) s
		WHERE s.conversation_id = c.id`)
	exec(`VACUUM ANALYZE users`)
	exec(`VACUUM ANALYZE conversations`)
	exec(`VACUUM ANALYZE members`)
	exec(`VACUUM ANALYZE messages`)
	exec(`CREATE TABLE bench_seeded ()`)
}

// BenchmarkSearch searches a million messages for a page of 20 (and one
// more, as the Service asks): a rare word (about a hundred messages in
// all), the most common word (in about half of them), a phrase of the two
// most common words, and a two-letter prefix (which begins dozens of the
// vocabulary's words); as user 1, a member of a tenth of the groups (a
// tenth of the messages), and as user 2, a member of 10 groups (one
// message in 200).
func BenchmarkSearch(b *testing.B) {
	s := benchSearchStore(b)
	vocab := benchVocabulary()
	for _, searcher := range []struct {
		name string
		id   chat.UserID
	}{{"tenth", 1}, {"few", 2}} {
		b.Run(searcher.name, func(b *testing.B) {
			for _, bc := range []struct{ name, q string }{
				{"rare", vocab[5000]},
				{"common", vocab[0]},
				{"phrase", `"` + vocab[0] + " " + vocab[1] + `"`},
				{"prefix", vocab[300][:2]},
			} {
				b.Run(bc.name, func(b *testing.B) {
					terms, err := searchtext.Parse(bc.q)
					if err != nil {
						b.Fatal(err)
					}
					q := chat.SearchQuery{User: searcher.id, Terms: terms, Limit: chat.DefaultSearchPage + 1}
					var took []time.Duration
					hits := 0
					for b.Loop() {
						start := time.Now()
						h, err := s.SearchMessages(b.Context(), q)
						if err != nil {
							b.Fatal(err)
						}
						took = append(took, time.Since(start))
						hits = len(h)
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(hits), "hits")
				})
			}
		})
	}
}

// BenchmarkSend stores messages of 12 words from 1 and from 16 concurrent
// senders, each in a conversation of its own, in a fresh schema.
func BenchmarkSend(b *testing.B) {
	body := "the deploy of the new search index went out this morning, thanks all"
	for _, senders := range []int{1, 16} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			s := openTest(b, newSchema(b), nil)
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
			if senders == 1 {
				for b.Loop() {
					if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: convs[0].ID, SenderID: users[0].ID, Body: body, CreatedAt: chat.Now()}); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			var next atomic.Int64
			b.SetParallelism((senders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % senders
				for pb.Next() {
					if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: convs[i].ID, SenderID: users[i].ID, Body: body, CreatedAt: chat.Now()}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSearchVector is the Go side of indexing a send: the words of a
// body of 12 words, and of one of chat.MaxBody characters.
func BenchmarkSearchVector(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"12words", "the deploy of the new search index went out this morning, thanks all"},
		{"maxbody", strings.Repeat("Déployé naïve 123 ", chat.MaxBody/18)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				searchVector(bc.body)
			}
		})
	}
}

// BenchmarkSendBatch stores batches of messages of 12 words with
// CreateMessages, as a node's group commit does: batch messages spread
// over 64 direct conversations (each with its own sender), from one
// writer and from two at once on the same conversations (two nodes
// sending to one database). It reports the messages stored per second.
func BenchmarkSendBatch(b *testing.B) {
	const convCount = 64
	body := "the deploy of the new search index went out this morning, thanks all"
	for _, size := range []int{1, 64, 256} {
		for _, writers := range []int{1, 2} {
			b.Run(fmt.Sprintf("batch=%d/writers=%d", size, writers), func(b *testing.B) {
				s := openTest(b, newSchema(b), nil)
				ctx := b.Context()
				peer := storetest.NewUser(b, s, "peer")
				convs := make([]chat.Conversation, convCount)
				users := make([]chat.User, convCount)
				for i := range convs {
					users[i] = storetest.NewUser(b, s, fmt.Sprintf("sender%03d", i))
					c, _, err := s.DirectConversation(ctx, users[i].ID, peer.ID, chat.Now())
					if err != nil {
						b.Fatal(err)
					}
					convs[i] = c
				}
				batch := func(next int) []chat.Message {
					ms := make([]chat.Message, size)
					for j := range ms {
						k := (next + j) % convCount
						ms[j] = chat.Message{ConversationID: convs[k].ID, SenderID: users[k].ID, Body: body, CreatedAt: chat.Now()}
					}
					return ms
				}
				var stored atomic.Int64
				start := time.Now()
				if writers == 1 {
					for b.Loop() {
						sendBatch(b, s, batch(int(stored.Load())), &stored)
					}
				} else {
					b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							sendBatch(b, s, batch(int(stored.Load())), &stored)
						}
					})
				}
				b.ReportMetric(float64(stored.Load())/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// sendBatch stores ms with CreateMessages, failing b on any error, and
// adds the number stored to stored.
func sendBatch(b *testing.B, s *Store, ms []chat.Message, stored *atomic.Int64) {
	rs, err := s.CreateMessages(b.Context(), ms)
	if err != nil {
		b.Error(err)
		return
	}
	for _, r := range rs {
		if r.Err != nil || !r.Stored.Changed {
			b.Errorf("CreateMessages: %+v", r)
			return
		}
	}
	stored.Add(int64(len(ms)))
}
