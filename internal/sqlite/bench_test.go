package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
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
	b.Cleanup(func() { s.Close() })
	return s
}

func seed(b *testing.B, s *Store, query string, args ...any) {
	b.Helper()
	if _, err := s.write.ExecContext(b.Context(), query, args...); err != nil {
		b.Fatalf("seed: %v", err)
	}
}

// BenchmarkSend stores batches of 1, 16, 64 and 256 messages, each of a
// batch in a conversation of its own (the group commit's batches), and
// reports the time per message: one transaction (and fsync) per batch.
func BenchmarkSend(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := benchStore(b)
			ctx := b.Context()
			ms := make([]chat.Message, batch)
			peer := storetest.NewUser(b, s, "peer")
			for i := range ms {
				u := storetest.NewUser(b, s, fmt.Sprintf("sender%03d", i))
				c, _, err := s.DirectConversation(ctx, u.ID, peer.ID, chat.Now())
				if err != nil {
					b.Fatal(err)
				}
				ms[i] = chat.Message{ConversationID: c.ID, SenderID: u.ID, Body: "hello there, how is it going"}
			}
			n := 0
			for b.Loop() {
				for i := range ms {
					n++
					ms[i].CreatedAt, ms[i].ClientID = chat.Now(), fmt.Sprint("c", n)
				}
				rs, err := s.CreateMessages(ctx, ms)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rs {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
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
		INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at)
		SELECT ?, x, x, CASE x % 2 WHEN 0 THEN ? ELSE ? END, 'message number ' || x, x FROM i`, n, int64(conv.ID), int64(a.ID), int64(p.ID))
	seed(b, s, `UPDATE conversations SET last_seq = ?, last_version = ?, last_message_at = ? WHERE id = ?`, n, n, n, int64(conv.ID))
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

// Message search over a million messages in 1,000 groups of three, the
// searcher in 100 of them, bodies of 4 to 20 words drawn from a vocabulary
// of 50,000 with a Zipf distribution (a few words in most messages, most
// words in a few: the head English, the tail made up). Seeding takes about a minute, so the database is kept
// in the temporary directory under a name that changes with the schema
// and the seed, and later runs reuse it.
const (
	searchBenchMessages = 1_000_000
	searchBenchConvs    = 1_000
	searchBenchVocab    = 50_000
	searchBenchSeed     = 2 // change to reseed when the generated data changes
)

// benchEnglish are the most frequent words of the benchmark's
// vocabulary, most frequent first: the words of a team's talk.
var benchEnglish = strings.Fields(`the to and a i you it of is that in for this on have be with we just so
but not my at are was can do what me if all get like no will your about know up out one there how think
good now time they go see then yes ok really thanks deploy meeting tomorrow today work day people back
going want need make also would could should right well here new some more when any from by or an he she
his her their them our us which who year take into other than only come its over after use two way
even because these give most release server build test review merge branch lunch coffee yesterday week
friday monday ticket issue bug fix customer report design launch budget plan team project deadline update
status call please sorry great sure okay`)

// benchWord returns the word of rank k of the benchmark's vocabulary:
// after the English words, syllables spelling k, so that rare words
// share beginnings with many others.
func benchWord(k int) string {
	if k < len(benchEnglish) {
		return benchEnglish[k]
	}
	syllables := []string{"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "di", "po", "ga", "be", "fu", "zo", "hi", "ja"}
	var b strings.Builder
	for k += len(syllables); k > 0; k /= len(syllables) {
		b.WriteString(syllables[k%len(syllables)])
	}
	return b.String()
}

// searchBenchDB returns the path of the benchmark's database, seeding it
// first if no earlier run has.
func searchBenchDB(b *testing.B) string {
	b.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "seed %d, %d messages, %d go migrations\n", searchBenchSeed, searchBenchMessages, len(goMigrations()))
	if err := fs.WalkDir(migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := migrations.ReadFile(path)
		h.Write(data)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), "parley-bench-search-"+hex.EncodeToString(h.Sum(nil))[:16]+".db")
	if _, err := os.Stat(path); err == nil {
		return path
	} else if !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	b.Logf("seeding %s (later runs reuse it)", path)
	start := time.Now()
	tmp := path + ".seeding"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(tmp + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	}
	s, err := open(b.Context(), tmp, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := seedSearch(b.Context(), s); err != nil {
		s.Close()
		b.Fatalf("seed: %v", err)
	}
	// Closing the last connection checkpoints the WAL into the file and
	// removes it, so the file alone is the database.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(tmp + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		b.Fatalf("the seeded database's WAL is still there: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded in %v", time.Since(start).Round(time.Second))
	return path
}

// seedSearch fills the benchmark's database in one transaction, a few
// thousand rows a statement.
func seedSearch(ctx context.Context, s *Store) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit a no-op
	for _, q := range []string{
		// User 1 searches; 2 to 1001 fill the groups.
		`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 1001)
		 INSERT INTO users (id, username, display_name, search_name, password_hash, created_at)
		 SELECT x, 'user' || x, 'User ' || x, 'user ' || x, 'hash', x FROM i`,
		`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 1000)
		 INSERT INTO conversations (id, kind, title, last_seq, last_version, last_message_at, member_count, created_at)
		 SELECT x, 'group', 'Group ' || x, 1000, 1000, 1000000 + x, 3, x FROM i`,
		// Members: the searcher in every tenth group, others in the rest.
		`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 1000)
		 INSERT INTO members (conversation_id, user_id, joined_at, role)
		 SELECT x, CASE WHEN x % 10 = 0 THEN 1 ELSE 2 + (x + 500) % 1000 END, x, 'admin' FROM i
		 UNION ALL SELECT x, 2 + x % 1000, x, 'member' FROM i
		 UNION ALL SELECT x, 2 + (x + 1) % 1000, x, 'member' FROM i`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	r := rand.New(rand.NewPCG(searchBenchSeed, 0))
	zipf := rand.NewZipf(r, 1.07, 2, searchBenchVocab-1)
	const batch = 5000
	var (
		rows    [][4]any // conversation, seq, sender, body
		entries indexEntries
		words   []string
	)
	for n := 1; n <= searchBenchMessages; n++ {
		conv := 1 + (n-1)%searchBenchConvs
		words = words[:0]
		for range 4 + r.IntN(17) {
			words = append(words, benchWord(int(zipf.Uint64())))
		}
		body := strings.Join(words, " ")
		rows = append(rows, [4]any{conv, 1 + (n-1)/searchBenchConvs, 2 + (conv+n)%1000, body})
		entries.add(int64(n), body)
		if len(rows) < batch && n < searchBenchMessages {
			continue
		}
		arg, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		// Positions and times follow the order of creation: n.
		first := n - len(rows) + 1
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at, position)
			SELECT value ->> 0, value ->> 1, value ->> 1, value ->> 2, value ->> 3, ?2 + key, ?2 + key FROM json_each(?1)`,
			arg, first); err != nil {
			return err
		}
		if err := entries.insert(ctx, tx); err != nil {
			return err
		}
		rows, entries = rows[:0], entries[:0]
	}
	return tx.Commit()
}

// BenchmarkSearch runs message searches over a million messages and
// reports, besides the mean, the median and the 99th percentile of a
// search.
func BenchmarkSearch(b *testing.B) {
	path := searchBenchDB(b)
	s, err := open(b.Context(), path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	for _, tc := range []struct{ name, q string }{
		// Rank 30,000: a few dozen messages, a few of them the searcher's;
		// every match is read.
		{"rare", benchWord(30_000)},
		{"common", "the"},         // in most messages: the page fills at once
		{"phrase", `"the to"`},    // the two most common words in a row
		{"prefix", "t"},           // begins a tenth of the words
		{"long", "tomorrow"},      // longer than the prefix indexes
		{"two-words", "the plan"}, // a common and a less common word
	} {
		b.Run(tc.name, func(b *testing.B) {
			terms, err := searchtext.Parse(tc.q)
			if err != nil {
				b.Fatal(err)
			}
			q := chat.SearchQuery{User: 1, Terms: terms, Limit: chat.DefaultSearchPage + 1}
			hits, err := s.SearchMessages(ctx, q)
			if err != nil || len(hits) == 0 {
				b.Fatalf("search %q: %d hits, %v", tc.q, len(hits), err)
			}
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := s.SearchMessages(ctx, q); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(len(hits)), "hits")
		})
	}
}
