package postgres

import (
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/parleychat/parley/internal/chat"
)

// TestGroupsMigrationKeepsDirectConversations upgrades a database made
// before groups: its direct conversations get their member count (2) and
// their members the role member, and work as before.
func TestGroupsMigrationKeepsDirectConversations(t *testing.T) {
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
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	var ids [2]int64
	if err := pool.QueryRow(ctx, `
		INSERT INTO users (username, display_name, search_name, password_hash, created_at)
		VALUES ('alice', 'alice', 'alice', 'h', now()) RETURNING id`).Scan(&ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `
		INSERT INTO users (username, display_name, search_name, password_hash, created_at)
		VALUES ('bob', 'bob', 'bob', 'h', now()) RETURNING id`).Scan(&ids[1]); err != nil {
		t.Fatal(err)
	}
	var conv int64
	if err := pool.QueryRow(ctx, `
		INSERT INTO conversations (kind, direct_key, last_seq, last_message_at, created_at)
		VALUES ('direct', 'k', 1, now(), now()) RETURNING id`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES ($1, $2, 1, now()), ($1, $3, 0, now())`,
		conv, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES ($1, 1, $2, 'hello', now())`,
		conv, ids[0]); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, schema, nil)
	id := chat.ConversationID(conv)
	row, err := s.Conversation(ctx, chat.UserID(ids[1]), id)
	if err != nil || row.MemberCount != 2 || row.UnreadCount() != 1 || row.LastMessage == nil ||
		row.LastMessage.Kind != chat.MessageText || row.LastMessage.Body != "hello" {
		t.Errorf("the direct conversation after the upgrade: %+v, %v", row, err)
	}
	for _, u := range ids {
		if m, err := s.Member(ctx, id, chat.UserID(u)); err != nil || m.Role != chat.RoleMember {
			t.Errorf("Member(%d, %d) after the upgrade: %+v, %v", conv, u, m, err)
		}
	}
	if st, err := s.CreateMessage(ctx, chat.Message{ConversationID: id, SenderID: chat.UserID(ids[1]), Body: "hi", CreatedAt: chat.Now()}); err != nil || st.Message.Seq != 2 {
		t.Errorf("a send after the upgrade: %+v, %v", st, err)
	}
}
