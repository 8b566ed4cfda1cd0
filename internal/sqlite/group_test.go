package sqlite

import (
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// TestGroupsMigrationKeepsDirectConversations upgrades a database made
// before groups: its direct conversations get their member count (2) and
// their members the role member, and work as before.
func TestGroupsMigrationKeepsDirectConversations(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 3)
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, search_name, password_hash, created_at) VALUES (1, 'alice', 'alice', 'alice', 'h', 1), (2, 'bob', 'bob', 'bob', 'h', 1)`,
		`INSERT INTO conversations (id, kind, direct_key, last_seq, last_message_at, created_at) VALUES (1, 'direct', '1:2', 1, 2, 1)`,
		`INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES (1, 1, 1, 1), (1, 2, 0, 1)`,
		`INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES (1, 1, 1, 'hello', 2)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, nil)
	row, err := s.Conversation(ctx, 2, 1)
	if err != nil || row.MemberCount != 2 || row.UnreadCount() != 1 || row.LastMessage == nil ||
		row.LastMessage.Kind != chat.MessageText || row.LastMessage.Body != "hello" {
		t.Errorf("the direct conversation after the upgrade: %+v, %v", row, err)
	}
	for _, u := range []chat.UserID{1, 2} {
		if m, err := s.Member(ctx, 1, u); err != nil || m.Role != chat.RoleMember {
			t.Errorf("Member(1, %d) after the upgrade: %+v, %v", u, m, err)
		}
	}
	if st, err := s.CreateMessage(ctx, chat.Message{ConversationID: 1, SenderID: 2, Body: "hi", CreatedAt: chat.Now()}); err != nil || st.Message.Seq != 2 {
		t.Errorf("a send after the upgrade: %+v, %v", st, err)
	}
}
