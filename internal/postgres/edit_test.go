package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/storetest"
)

// TestDeleteErasesBody: a deleted message's body, and the words indexed
// from it, are gone from the table itself, not only from what the queries
// return.
func TestDeleteErasesBody(t *testing.T) {
	testDSN(t)
	s := openTest(t, newSchema(t), nil)
	ctx := t.Context()
	a, b := storetest.NewUser(t, s, "alice"), storetest.NewUser(t, s, "bob")
	c, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: c.ID, SenderID: a.ID, Body: "my password is hunter2", CreatedAt: chat.Now()})
	m := stored.Message
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: c.ID, Seq: m.Seq, Actor: a.ID, At: chat.Now()}); err != nil {
		t.Fatal(err)
	}
	var (
		body    string
		words   *string
		deleted bool
	)
	if err := s.pool.QueryRow(ctx, `SELECT body, search::text, deleted_at IS NOT NULL FROM messages WHERE conversation_id = $1 AND seq = $2`,
		int64(c.ID), m.Seq).Scan(&body, &words, &deleted); err != nil {
		t.Fatal(err)
	}
	if body != "" || words != nil || !deleted {
		t.Errorf("stored row: body %q, search %v, deleted %v; want the body and its indexed words erased", body, words, deleted)
	}
}

// TestVersionsMigration upgrades a database made before versions: each
// message's version is its seq, each conversation's last_version its
// last_seq, and the next change takes the version after.
func TestVersionsMigration(t *testing.T) {
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
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var ids [2]int64
	for i, name := range []string{"alice", "bob"} {
		if err := pool.QueryRow(ctx, `
			INSERT INTO users (username, display_name, search_name, password_hash, created_at)
			VALUES ($1, $1, $1, 'h', now()) RETURNING id`, name).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	var conv int64
	if err := pool.QueryRow(ctx, `
		INSERT INTO conversations (kind, direct_key, last_seq, last_message_at, member_count, created_at)
		VALUES ('direct', 'k', 2, now(), 2, now()) RETURNING id`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES ($1, $2, 2, now()), ($1, $3, 0, now())`,
		conv, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES ($1, 1, $2, 'hello', now()), ($1, 2, $2, 'again', now())`,
		conv, ids[0]); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, schema, nil)
	id := chat.ConversationID(conv)
	row, err := s.Conversation(ctx, chat.UserID(ids[1]), id)
	if err != nil || row.LastVersion != 2 || row.LastMessage == nil || row.LastMessage.Version != 2 {
		t.Errorf("the conversation after the upgrade: %+v (last %+v), %v; want last_version 2", row, row.LastMessage, err)
	}
	all, err := s.MessageChanges(ctx, id, 0, 10)
	if err != nil || len(all) != 2 || all[0].Version != 1 || all[1].Version != 2 || !all[0].EditedAt.IsZero() || all[0].Deleted() {
		t.Errorf("changes after the upgrade: %+v, %v; want versions 1 and 2, unedited", all, err)
	}
	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: id, SenderID: chat.UserID(ids[1]), Body: "hi", CreatedAt: chat.Now()})
	m := stored.Message
	if err != nil || m.Seq != 3 || m.Version != 3 {
		t.Errorf("a send after the upgrade: %+v, %v; want seq 3, version 3", m, err)
	}
	edited, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: id, Seq: 1, Actor: chat.UserID(ids[0]), Body: "hello!", At: chat.Now()})
	e := edited.Message
	if err != nil || e.Version != 4 {
		t.Errorf("an edit after the upgrade: %+v, %v; want version 4", e, err)
	}
}
