package postgres

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
	"github.com/parleychat/parley/internal/storetest"
)

func TestSearchVector(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string
	}{
		{"", ""},
		{"?!", ""},
		{"Café au lait, café!", "'cafe':1,4 'au':2 'lait':3"},
		{"deploy-now", "'deploy':1 'now':2"},
	} {
		got := searchVector(tc.body)
		if (got == nil) != (tc.want == "") || (got != nil && *got != tc.want) {
			t.Errorf("searchVector(%q) = %v, want %q", tc.body, got, tc.want)
		}
	}
	// PostgreSQL keeps 256 positions of a lexeme: the rest are not written.
	v := *searchVector(strings.Repeat("a ", 300) + "b")
	if n := strings.Count(v, ","); n != maxLexemePositions-1 || !strings.HasSuffix(v, ",256 'b':301") {
		t.Errorf("a word 300 times: %d positions, %q…", n+1, v[len(v)-20:])
	}
	terms, err := searchtext.Parse(`deplo "now" "deploy it now" x`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := searchQuery(terms), `'deplo':* & ('now') & ('deploy' <-> 'it' <-> 'now') & 'x':*`; got != want {
		t.Errorf("searchQuery = %s, want %s", got, want)
	}
	var b strings.Builder
	quoteLexeme(&b, `it's a\b`)
	if got, want := b.String(), `'it''s a\\b'`; got != want {
		t.Errorf("quoteLexeme = %s, want %s", got, want)
	}
}

// TestSearchCasts: the tsvector and tsquery texts are read by PostgreSQL
// as written, lexeme for lexeme, with no normalization.
func TestSearchCasts(t *testing.T) {
	s := openTest(t, newSchema(t), nil)
	var (
		vector  string
		matches bool
	)
	// Upper case, a quote, a backslash, a space and words that
	// PostgreSQL's parser would drop as stop words.
	if err := s.pool.QueryRow(t.Context(), `SELECT $1::tsvector::text, $1::tsvector @@ $2::tsquery`,
		`'it''s a\\b':1 'ÉTÉ':2 'the':3 'and':4`,
		`('it''s a\\b' <-> 'ÉTÉ' <-> 'the') & 'an':*`).Scan(&vector, &matches); err != nil {
		t.Fatal(err)
	}
	if want := `'and':4 'it''s a\\b':1 'the':3 'ÉTÉ':2`; vector != want {
		t.Errorf("tsvector read back as %s, want %s", vector, want)
	}
	if !matches {
		t.Error("the tsquery did not match")
	}
}

// TestSearchIsTwoStatements: a page of hits costs the same statements
// whatever its size and however many conversations it spans (the
// transaction's BEGIN and COMMIT, the hits, their conversations).
func TestSearchIsTwoStatements(t *testing.T) {
	var statements atomic.Int64
	s := openTest(t, newSchema(t), func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = countingTracer{n: &statements}
	})
	ctx := t.Context()
	me := storetest.NewUser(t, s, "me")
	for i := range 30 {
		other := storetest.NewUser(t, s, fmt.Sprintf("other%02d", i))
		c, _, err := s.DirectConversation(ctx, me.ID, other.ID, chat.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: c.ID, SenderID: other.ID, Body: fmt.Sprintf("hello %d", i), CreatedAt: chat.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		q    string
		hits int
	}{{"hello 7", 1}, {"hello", 30}, {"nothing", 0}} {
		terms, err := searchtext.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		statements.Store(0)
		hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: me.ID, Terms: terms, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != tc.hits {
			t.Fatalf("search %q: %d hits, want %d", tc.q, len(hits), tc.hits)
		}
		for _, h := range hits {
			if h.Conversation.ID != h.Message.ConversationID || h.Conversation.OtherUser == nil {
				t.Fatalf("search %q: hit without its conversation: %+v", tc.q, h)
			}
		}
		want := int64(4)
		if tc.hits == 0 {
			want = 3 // no conversations to read
		}
		if n := statements.Load(); n != want {
			t.Errorf("search %q with %d hits took %d statements, want %d", tc.q, tc.hits, n, want)
		}
	}
}

// TestSearchMigration upgrades a database made before search: the
// messages already there take positions in the order they were created
// and are found by their text as it is now (an edit's, never a deleted
// message's); messages sent after take positions above.
func TestSearchMigration(t *testing.T) {
	ctx := t.Context()
	schema := newSchema(t)
	cfg, err := pgxpool.ParseConfig(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO users (username, display_name, search_name, password_hash, created_at)
		VALUES ('alice', 'alice', 'alice', 'h', now()), ('bob', 'bob', 'bob', 'h', now())`)
	var alice, bob int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT id FROM users WHERE username = 'alice'), (SELECT id FROM users WHERE username = 'bob')`).Scan(&alice, &bob); err != nil {
		t.Fatal(err)
	}
	// Two conversations whose messages interleave in time: created order
	// is not primary key order. The group holds more messages than a
	// backfill batch.
	const bulk = searchBatch + 500
	var direct, group int64
	if err := pool.QueryRow(ctx, `
		INSERT INTO conversations (kind, direct_key, last_seq, last_version, last_message_at, member_count, created_at)
		VALUES ('direct', 'k', 4, 6, '2026-01-01 00:10:00Z', 2, '2026-01-01Z') RETURNING id`).Scan(&direct); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `
		INSERT INTO conversations (kind, title, last_seq, last_version, last_message_at, member_count, created_at)
		VALUES ('group', 'G', $1, $1, '2026-01-01 00:20:00Z', 2, '2026-01-01Z') RETURNING id`, bulk+2).Scan(&group); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO members (conversation_id, user_id, joined_at) VALUES ($1, $3, now()), ($1, $4, now()), ($2, $3, now()), ($2, $4, now())`,
		direct, group, alice, bob)
	exec(`INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at, edited_at, deleted_at) VALUES
		($1, 1, 1, $2, 'first deploy',            '2026-01-01 00:01:00Z', NULL, NULL),
		($1, 2, 5, $2, 'deploy edited text',      '2026-01-01 00:03:00Z', '2026-01-01 00:09:00Z', NULL),
		($1, 3, 6, $2, '',                        '2026-01-01 00:04:00Z', NULL, '2026-01-01 00:09:30Z'),
		($1, 4, 4, $2, 'last deploy',             '2026-01-01 00:10:00Z', NULL, NULL)`, direct, alice)
	exec(`INSERT INTO messages (conversation_id, seq, version, sender_id, body, kind, action, title, created_at)
		VALUES ($1, 1, 1, $2, '', 'system', 'title', 'deploy', '2026-01-01 00:00:00Z')`, group, alice)
	exec(`INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at) VALUES
		($1, 2, 2, $2, 'group deploy', '2026-01-01 00:02:00Z')`, group, bob)
	exec(`INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at)
		SELECT $1, 2 + i, 2 + i, $2, 'filler ' || i, '2026-01-01 00:20:00Z'::timestamptz FROM generate_series(1, $3::int) i`,
		group, bob, bulk)

	s := openTest(t, schema, nil)
	// Created order: direct 1, group 2, direct 2, direct 3, direct 4, then
	// the filler.
	type key struct{ conv, seq int64 }
	wantOrder := []key{{group, 1}, {direct, 1}, {group, 2}, {direct, 2}, {direct, 3}, {direct, 4}}
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, seq, position FROM messages ORDER BY position LIMIT 6`)
	if err != nil {
		t.Fatal(err)
	}
	var got []key
	for rows.Next() {
		var k key
		var pos int64
		if err := rows.Scan(&k.conv, &k.seq, &pos); err != nil {
			t.Fatal(err)
		}
		if pos != int64(len(got)+1) {
			t.Errorf("message %v has position %d, want %d", k, pos, len(got)+1)
		}
		got = append(got, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, wantOrder) {
		t.Errorf("positions in order %v, want %v", got, wantOrder)
	}
	var unindexed int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE kind = 'text' AND deleted_at IS NULL AND search IS NULL`).Scan(&unindexed); err != nil {
		t.Fatal(err)
	}
	if unindexed != 0 {
		t.Errorf("%d text messages left unindexed", unindexed)
	}

	find := func(q string) []string {
		t.Helper()
		terms, err := searchtext.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: chat.UserID(bob), Terms: terms, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, h := range hits {
			bodies = append(bodies, h.Message.Body)
		}
		return bodies
	}
	if got, want := find("deploy"), []string{"last deploy", "deploy edited text", "group deploy", "first deploy"}; !slices.Equal(got, want) {
		t.Errorf("search deploy after the upgrade found %q, want %q", got, want)
	}
	if got, want := find(fmt.Sprint("filler ", bulk)), []string{fmt.Sprint("filler ", bulk)}; !slices.Equal(got, want) {
		t.Errorf("the last message of the backfill: found %q, want %q", got, want)
	}
	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: chat.ConversationID(direct), SenderID: chat.UserID(bob), Body: "deploy again", CreatedAt: chat.Now()})
	m := stored.Message
	if err != nil {
		t.Fatal(err)
	}
	if got := find("deploy"); len(got) == 0 || got[0] != m.Body {
		t.Errorf("a message sent after the upgrade: search found %q, want it first", got)
	}
	var pos int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM messages WHERE conversation_id = $1 AND seq = $2`, direct, m.Seq).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if want := int64(len(wantOrder) + bulk + 1); pos != want {
		t.Errorf("a message sent after the upgrade has position %d, want %d", pos, want)
	}
}
