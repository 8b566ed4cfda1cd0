package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// TestSnapshotAttachments: a snapshot carries every attachment row
// (pending, sent and deleted, with its deletion time) and each message's
// attachments, so that a copied server still knows them.
func TestSnapshotAttachments(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")
	s := openTest(t, path, nil)
	a, err := s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Alice", CreatedAt: chat.Now()}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateUser(ctx, chat.User{Username: "bob", DisplayName: "Bob", CreatedAt: chat.Now()}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := s.DirectConversation(ctx, a.ID, b.ID, chat.Now())
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) chat.Attachment {
		t.Helper()
		at, err := s.CreateAttachment(ctx, chat.Attachment{ConversationID: d.ID, UploaderID: a.ID, Name: name, ContentType: "image/png",
			Size: 10, SHA256: strings.Repeat("c", 64), Blob: strings.Repeat(name[:1], 32), Width: 4, Height: 3,
			Thumbnail: strings.Repeat("e", 32), ThumbnailType: "image/jpeg", ThumbnailWidth: 2, ThumbnailHeight: 1, CreatedAt: chat.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	kept, gone, pending := create("kept.png"), create("gone.png"), create("pending.png")
	send := func(id chat.AttachmentID) chat.Message {
		t.Helper()
		st, err := s.CreateMessage(ctx, chat.Message{ConversationID: d.ID, SenderID: a.ID, CreatedAt: chat.Now(),
			Attachments: []chat.Attachment{{ID: id}}})
		if err != nil {
			t.Fatal(err)
		}
		return st.Message
	}
	m1, m2 := send(kept.ID), send(gone.ID)
	deletedAt := chat.Now().Add(time.Second)
	if _, err := s.DeleteMessage(ctx, chat.MessageChange{ConversationID: d.ID, Seq: m2.Seq, Actor: a.ID, At: deletedAt}); err != nil {
		t.Fatal(err)
	}

	snap, err := OpenSnapshot(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = snap.Close() }()
	kept.Seq, gone.Seq = m1.Seq, m2.Seq
	want := []chat.StoredAttachment{{Attachment: kept}, {Attachment: gone, DeletedAt: deletedAt}, {Attachment: pending}}
	var got []chat.StoredAttachment
	for a, err := range snap.Attachments(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if len(got) != len(want) {
		t.Fatalf("Attachments = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("attachment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var carried [][]chat.Attachment
	for m, err := range snap.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		carried = append(carried, m.Attachments)
	}
	if len(carried) != 2 || len(carried[0]) != 1 || carried[0][0] != kept || len(carried[1]) != 0 {
		t.Errorf("the messages carry %+v, want [%+v] then none (deleted)", carried, kept)
	}
}
