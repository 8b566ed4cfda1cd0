package sqlite

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// TestVersionsMigration upgrades a database made before versions: each
// message's version is its seq, each conversation's last_version its
// last_seq, and the next change takes the version after.
func TestVersionsMigration(t *testing.T) {
	ctx := t.Context()
	db, path := databaseAt(t, 4)
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, search_name, password_hash, created_at) VALUES (1, 'alice', 'alice', 'alice', 'h', 1), (2, 'bob', 'bob', 'bob', 'h', 1)`,
		`INSERT INTO conversations (id, kind, direct_key, last_seq, last_message_at, member_count, created_at) VALUES (1, 'direct', '1:2', 2, 3, 2, 1)`,
		`INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES (1, 1, 2, 1), (1, 2, 0, 1)`,
		`INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES (1, 1, 1, 'hello', 2), (1, 2, 1, 'again', 3)`,
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
	if err != nil || row.LastVersion != 2 || row.LastMessage == nil || row.LastMessage.Version != 2 {
		t.Errorf("the conversation after the upgrade: %+v (last %+v), %v; want last_version 2", row, row.LastMessage, err)
	}
	all, err := s.MessageChanges(ctx, 1, 0, 10)
	if err != nil || len(all) != 2 || all[0].Version != 1 || all[1].Version != 2 || !all[0].EditedAt.IsZero() || all[0].Deleted() {
		t.Errorf("changes after the upgrade: %+v, %v; want versions 1 and 2, unedited", all, err)
	}
	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: 1, SenderID: 2, Body: "hi", CreatedAt: chat.Now()})
	m := stored.Message
	if err != nil || m.Seq != 3 || m.Version != 3 {
		t.Errorf("a send after the upgrade: %+v, %v; want seq 3, version 3", m, err)
	}
	edited, err := s.EditMessage(ctx, chat.MessageChange{ConversationID: 1, Seq: 1, Actor: 1, Body: "hello!", At: chat.Now()})
	e := edited.Message
	if err != nil || e.Version != 4 {
		t.Errorf("an edit after the upgrade: %+v, %v; want version 4", e, err)
	}
	all, err = s.MessageChanges(ctx, 1, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, m := range all {
		got = append(got, m.Seq)
	}
	if !slices.Equal(got, []int64{3, 1}) {
		t.Errorf("seqs changed after version 2: %v, want [3 1]", got)
	}
}
