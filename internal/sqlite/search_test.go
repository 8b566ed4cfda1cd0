package sqlite

import (
	"bytes"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
	"github.com/parleychat/parley/internal/storetest"
)

// checkIndex fails the test unless the search index holds exactly the
// words of the text messages, each under its message's position at its
// place in the message, and every text message, and no other, has a
// position.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	var wrong int
	if err := s.write.QueryRowContext(ctx, `
		SELECT count(*) FROM messages WHERE (kind = 'text') != (position IS NOT NULL)`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("%d messages with a position but not text, or text without one", wrong)
	}
	var want []string
	rows, err := s.write.QueryContext(ctx, `SELECT position, body FROM messages WHERE position IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			pos  int64
			body string
		)
		if err := rows.Scan(&pos, &body); err != nil {
			t.Fatal(err)
		}
		for i, w := range searchtext.Words(body) {
			want = append(want, fmt.Sprintf("%d:%d:%s", pos, i, w))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// fts5vocab lists what the index holds, term by term, even though the
	// table keeps no content.
	if _, err := s.write.ExecContext(ctx, `
		CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_instances USING fts5vocab(main, message_search, instance)`); err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, err = s.write.QueryContext(ctx, `SELECT doc, offset, term FROM temp.search_instances`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			pos, offset int64
			term        string
		)
		if err := rows.Scan(&pos, &offset, &term); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d:%s", pos, offset, term))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the index holds (position:offset:word)\n%v\nwant\n%v", got, want)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO message_search (message_search) VALUES ('integrity-check')`); err != nil {
		t.Errorf("integrity-check: %v", err)
	}
}

// indexPagesHold reports whether the pages of the search index hold word.
func indexPagesHold(t *testing.T, s *Store, word string) bool {
	t.Helper()
	rows, err := s.write.QueryContext(t.Context(), `SELECT block FROM message_search_data`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	found := false
	for rows.Next() {
		var block []byte
		if err := rows.Scan(&block); err != nil {
			t.Fatal(err)
		}
		found = found || bytes.Contains(block, []byte(word))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return found
}

// TestSearchIndexFollowsChanges: sends (together, in group-commit
// batches), edits, deletions and group changes keep the index exactly the
// words of the messages as they are, and a deletion or an edit takes the
// words it removes out of the index's pages, not just out of the results.
func TestSearchIndexFollowsChanges(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	ctx := t.Context()
	a, b, c := storetest.NewUser(t, s, "alice"), storetest.NewUser(t, s, "bob"), storetest.NewUser(t, s, "carol")
	ab, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := s.CreateGroup(ctx, chat.NewGroup{Title: "Launch team", Creator: a.ID, Members: []chat.UserID{b.ID, c.ID}, At: chat.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent []chat.Message
	)
	for i := range 40 {
		wg.Go(func() {
			conv := []chat.ConversationID{ab.ID, g.ID}[i%2]
			body := fmt.Sprintf("Message %d: café déjà vu, v2.%d", i, i)
			switch i % 10 {
			case 3:
				body = "🎉!!" // no words
			case 7:
				body = "the zzsecret plan " + fmt.Sprint(i)
			}
			stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: conv, SenderID: a.ID, Body: body, CreatedAt: chat.Now()})
			m := stored.Message
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			sent = append(sent, m)
			mu.Unlock()
		})
	}
	wg.Wait()
	checkIndex(t, s)
	if !indexPagesHold(t, s, "zzsecret") {
		t.Fatal("the index's pages do not hold a word of a message: the test cannot see words leave them")
	}

	for _, m := range sent {
		switch {
		case strings.HasPrefix(m.Body, "the zzsecret"):
			if _, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: m.ConversationID, Seq: m.Seq, Actor: a.ID, At: chat.Now()}); err != nil {
				t.Fatal(err)
			}
		case m.Seq%3 == 0:
			if _, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: m.ConversationID, Seq: m.Seq, Actor: a.ID, Body: "edited: " + m.Body, At: chat.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An edit to no words, and back, of the last message sent that is
	// still there (the sends raced: the last may be one deleted above).
	var last chat.Message
	for _, m := range sent {
		if !strings.HasPrefix(m.Body, "the zzsecret") {
			last = m
		}
	}
	for _, body := range []string{"…", "words again"} {
		if _, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: last.ConversationID, Seq: last.Seq, Actor: a.ID, Body: body, At: chat.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RemoveMember(ctx, g.ID, a.ID, c.ID, chat.Now()); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s)
	if indexPagesHold(t, s, "zzsecret") {
		t.Error("the words of deleted messages are still in the index's pages")
	}
}

// TestSearchMigration upgrades a database of migration 5 with messages:
// text messages take positions in the order they were created, system
// messages none, the index holds the words of the messages as they are
// (edited by their new text, deleted ones not at all), and sends, edits
// and deletions after the upgrade keep it so.
func TestSearchMigration(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 5)
	// Times are out of seq and conversation order on purpose.
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, search_name, password_hash, created_at) VALUES
			(1, 'alice', 'alice', 'alice', 'h', 1), (2, 'bob', 'bob', 'bob', 'h', 1), (3, 'carol', 'carol', 'carol', 'h', 1)`,
		`INSERT INTO conversations (id, kind, title, direct_key, last_seq, last_version, last_message_at, member_count, created_at) VALUES
			(1, 'direct', '', '1:2', 3, 5, 50, 2, 1), (2, 'group', 'Team', NULL, 3, 3, 40, 3, 1)`,
		`INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at, role) VALUES
			(1, 1, 3, 1, 'member'), (1, 2, 0, 1, 'member'), (2, 1, 3, 1, 'admin'), (2, 2, 0, 1, 'member'), (2, 3, 0, 1, 'member')`,
		`INSERT INTO messages (conversation_id, seq, version, sender_id, body, created_at, kind, action, target_id, edited_at, deleted_at) VALUES
			(1, 1, 1, 1, 'hello alpha', 10, 'text', NULL, NULL, NULL, NULL),
			(1, 2, 4, 2, '', 30, 'text', NULL, NULL, NULL, 60),
			(1, 3, 5, 1, 'edited new words alpha', 50, 'text', NULL, NULL, 70, NULL),
			(2, 1, 1, 1, '', 5, 'system', 'added', 2, NULL, NULL),
			(2, 2, 2, 2, 'group alpha', 20, 'text', NULL, NULL, NULL, NULL),
			(2, 3, 3, 3, 'late alpha', 40, 'text', NULL, NULL, NULL, NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, nil)
	checkIndex(t, s)
	hits := func(user chat.UserID, q string) []string {
		t.Helper()
		terms, err := searchtext.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: user, Terms: terms, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, fmt.Sprintf("%d/%d@%d", h.Message.ConversationID, h.Message.Seq, h.Position))
		}
		return got
	}
	// Positions in created order: 1/1 at 10, 2/2 at 20, 1/2 at 30 (deleted),
	// 2/3 at 40, 1/3 at 50.
	if got, want := hits(1, "alpha"), []string{"1/3@5", "2/3@4", "2/2@2", "1/1@1"}; !slices.Equal(got, want) {
		t.Errorf("after the upgrade, alpha found %v, want %v", got, want)
	}
	if got, want := hits(3, "alpha"), []string{"2/3@4", "2/2@2"}; !slices.Equal(got, want) {
		t.Errorf("after the upgrade, carol's search found %v, want %v", got, want)
	}
	if got := hits(1, "added team"); got != nil {
		t.Errorf("a system message was found: %v", got)
	}

	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: 2, SenderID: 2, Body: "alpha after", CreatedAt: chat.Now()})
	m := stored.Message
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: 1, Seq: 1, Actor: 1, Body: "hello beta", At: chat.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: 2, Seq: 3, Actor: 3, At: chat.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, want := hits(1, "alpha"), []string{fmt.Sprintf("2/%d@6", m.Seq), "1/3@5", "2/2@2"}; !slices.Equal(got, want) {
		t.Errorf("after a send, an edit and a deletion, alpha found %v, want %v", got, want)
	}
	checkIndex(t, s)

	// Down and up again.
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	checkIndex(t, s)
}

// TestSearchWalksTheIndexNewestFirst: the plan reads the index's matches
// in descending rowid order and sorts nothing, so a page stops at its
// limit however many messages match.
func TestSearchWalksTheIndexNewestFirst(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil)
	rows, err := s.read.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+hitsQuery(), 1, `"word" *`, 100, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 || !strings.HasPrefix(plan[0], "SCAN s VIRTUAL TABLE") {
		t.Errorf("the plan does not start with the index: %q", plan)
	}
	for _, step := range plan {
		if strings.Contains(step, "TEMP B-TREE") {
			t.Errorf("the plan sorts: %q", plan)
		}
	}
}

// TestSearchIsTwoStatements: a page of hits from several conversations
// costs two statements, whatever its size.
func TestSearchIsTwoStatements(t *testing.T) {
	var statements atomic.Int64
	s := openTest(t, filepath.Join(t.TempDir(), "parley.db"), func(c driver.Connector) driver.Connector {
		return countingConnector{Connector: c, n: &statements}
	})
	ctx := t.Context()
	me := storetest.NewUser(t, s, "me")
	for i := range 5 {
		other := storetest.NewUser(t, s, fmt.Sprintf("other%d", i))
		c, _, err := s.DirectConversation(ctx, me.ID, other.ID, chat.Now())
		if err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if _, err := s.CreateMessage(ctx, chat.Message{ConversationID: c.ID, SenderID: other.ID, Body: fmt.Sprint("ping ", j), CreatedAt: chat.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	terms, err := searchtext.Parse("ping")
	if err != nil {
		t.Fatal(err)
	}
	statements.Store(0)
	hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: me.ID, Terms: terms, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 15 {
		t.Fatalf("%d hits, want 15", len(hits))
	}
	for _, h := range hits {
		if h.Conversation.ID != h.Message.ConversationID || h.Conversation.OtherUser == nil {
			t.Fatalf("hit without its conversation: %+v", h)
		}
	}
	if n := statements.Load(); n != 2 {
		t.Errorf("a page of 15 hits in 5 conversations took %d statements, want 2", n)
	}
}

// TestDeletedBodyLeavesTheFile: once a deletion and an edit are
// checkpointed into the database file, neither the deleted body nor the
// edited message's old text is anywhere in its bytes.
func TestDeletedBodyLeavesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	a, b := storetest.NewUser(t, s, "alice"), storetest.NewUser(t, s, "bob")
	conv, _, err := s.DirectConversation(t.Context(), a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sent []chat.Message
	for _, body := range []string{"the launch code is quetzalcoatl", "meet at zanzibarplace tonight", "an ordinary message"} {
		stored, err := s.CreateMessage(t.Context(), chat.Message{ConversationID: conv.ID, SenderID: a.ID, Body: body, CreatedAt: chat.Now()})
		m := stored.Message
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}
	if _, err := s.DeleteMessage(t.Context(), chat.MessageChange{ConversationID: conv.ID, Seq: sent[0].Seq, Actor: a.ID, At: chat.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EditMessage(t.Context(), chat.MessageChange{ConversationID: conv.ID, Seq: sent[1].Seq, Actor: a.ID, Body: "meet somewhere else", At: chat.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("an ordinary message")) {
		t.Fatal("the file does not hold the message kept: the check reads the wrong file")
	}
	for _, gone := range []string{"quetzalcoatl", "zanzibarplace"} {
		if bytes.Contains(data, []byte(gone)) {
			t.Errorf("%q is still in the database file", gone)
		}
	}
}
