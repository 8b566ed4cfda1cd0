package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// upload stores a pending attachment of uploader's to conv, uploaded at
// at, and checks that it comes back as given, with an ID and no seq.
func upload(t *testing.T, s chat.Store, conv chat.ConversationID, uploader chat.UserID, name string, at time.Time) chat.Attachment {
	t.Helper()
	in := chat.Attachment{
		ConversationID: conv, UploaderID: uploader, Name: name, ContentType: "text/plain; charset=utf-8",
		Size: int64(len(name)), SHA256: strings.Repeat("ab", 32), Blob: fmt.Sprintf("%032x", len(name)*7919+int(at.UnixMicro()%1000003)),
		CreatedAt: at,
	}
	if strings.HasSuffix(name, ".png") {
		in.ContentType, in.Width, in.Height = "image/png", 640, 480
		in.Thumbnail, in.ThumbnailType, in.ThumbnailWidth, in.ThumbnailHeight = strings.Repeat("7", 32), "image/jpeg", 320, 240
	}
	a, err := s.CreateAttachment(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateAttachment(%q to conv %d by %d): %v", name, conv, uploader, err)
	}
	in.ID = a.ID
	if a.ID <= 0 || !equalAttachment(a, in) {
		t.Fatalf("CreateAttachment returned %+v, want %+v with an ID", a, in)
	}
	return a
}

// equalAttachment compares attachments field by field, times as instants.
func equalAttachment(a, b chat.Attachment) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

// sentAs returns the attachments as a message with seq carries them.
func sentAs(seq int64, as ...chat.Attachment) []chat.Attachment {
	out := make([]chat.Attachment, len(as))
	for i, a := range as {
		a.Seq = seq
		out[i] = a
	}
	return out
}

// refs returns the attachments as a send names them: by ID alone.
func refs(ids ...chat.AttachmentID) []chat.Attachment {
	out := make([]chat.Attachment, len(ids))
	for i, id := range ids {
		out[i] = chat.Attachment{ID: id}
	}
	return out
}

// checkCarries checks that message m carries want, in order.
func checkCarries(t *testing.T, what string, m chat.Message, want []chat.Attachment) {
	t.Helper()
	if !slices.EqualFunc(m.Attachments, want, equalAttachment) {
		t.Errorf("%s: message %d/%d carries %+v, want %+v", what, m.ConversationID, m.Seq, m.Attachments, want)
	}
}

// visible returns attachment id as viewer may see it, or the error.
func visible(t *testing.T, s chat.Store, viewer chat.UserID, id chat.AttachmentID) (chat.Attachment, error) {
	t.Helper()
	return s.Attachment(t.Context(), viewer, id)
}

// wantHidden checks that viewer may not see attachment id.
func wantHidden(t *testing.T, s chat.Store, viewer chat.UserID, id chat.AttachmentID, why string) {
	t.Helper()
	a, err := visible(t, s, viewer, id)
	if chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("Attachment(viewer %d, %d) = %+v, %v; want ENOTFOUND (%s)", viewer, id, a, err, why)
	}
}

// wantVisible checks that viewer sees attachment id as want.
func wantVisible(t *testing.T, s chat.Store, viewer chat.UserID, want chat.Attachment, why string) {
	t.Helper()
	a, err := visible(t, s, viewer, want.ID)
	if err != nil || !equalAttachment(a, want) {
		t.Errorf("Attachment(viewer %d, %d) = %+v, %v; want %+v (%s)", viewer, want.ID, a, err, want, why)
	}
}

// sendWith stores a message carrying the attachments ids and fails the
// test unless it is stored.
func sendWith(t *testing.T, s chat.Store, conv chat.ConversationID, sender chat.UserID, body, clientID string, ids ...chat.AttachmentID) chat.Message {
	t.Helper()
	st, err := s.CreateMessage(t.Context(), chat.Message{ConversationID: conv, SenderID: sender, Body: body, ClientID: clientID,
		CreatedAt: chat.Now(), Attachments: refs(ids...)})
	if err != nil || !st.Changed {
		t.Fatalf("CreateMessage(conv %d, sender %d, attachments %v) = %+v, %v; want stored", conv, sender, ids, st, err)
	}
	return st.Message
}

// deletedIDs returns the IDs DeletedAttachments names, at most limit.
func deletedIDs(t *testing.T, s chat.Store, limit int) []chat.AttachmentID {
	t.Helper()
	gone, err := s.DeletedAttachments(t.Context(), limit)
	if err != nil {
		t.Fatalf("DeletedAttachments(%d): %v", limit, err)
	}
	ids := make([]chat.AttachmentID, len(gone))
	for i, a := range gone {
		ids[i] = a.ID
	}
	return ids
}

// sameIDs reports whether a and b hold the same IDs, in any order.
func sameIDs(a, b []chat.AttachmentID) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// testAttachmentsVisibility checks who may upload to a conversation and
// who may read an attachment: a pending upload its uploader alone, a sent
// one the conversation's members now, a deleted one nobody.
func testAttachmentsVisibility(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	g := newGroup(t, s, "Team", a, b, c)

	_, err := s.CreateAttachment(ctx, chat.Attachment{ConversationID: d.ID, UploaderID: c.ID, Name: "x.txt", ContentType: "text/plain",
		SHA256: strings.Repeat("0", 64), Blob: strings.Repeat("1", 32), CreatedAt: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "CreateAttachment by a non-member")
	_, err = s.CreateAttachment(ctx, chat.Attachment{ConversationID: d.ID + g.ID + 100, UploaderID: a.ID, Name: "x.txt",
		ContentType: "text/plain", SHA256: strings.Repeat("0", 64), Blob: strings.Repeat("1", 32), CreatedAt: chat.Now()})
	wantCode(t, err, chat.ENOTFOUND, "CreateAttachment to a conversation that does not exist")

	pending := upload(t, s, d.ID, a.ID, "draft.txt", chat.Now())
	wantVisible(t, s, a.ID, pending, "a pending upload, to its uploader")
	wantHidden(t, s, b.ID, pending.ID, "another member's pending upload")
	wantHidden(t, s, c.ID, pending.ID, "a non-member")
	wantHidden(t, s, a.ID, pending.ID+1000, "an ID never given")

	photo := upload(t, s, g.ID, c.ID, "cat.png", chat.Now())
	m := sendWith(t, s, g.ID, c.ID, "look", "", photo.ID)
	sent := sentAs(m.Seq, photo)[0]
	for _, u := range []chat.User{a, b, c} {
		wantVisible(t, s, u.ID, sent, "a sent attachment, to a member")
	}
	wantHidden(t, s, a.ID, pending.ID+1000, "an ID never given")
	change(t, "RemoveMember")(s.RemoveMember(ctx, g.ID, a.ID, b.ID, chat.Now()))
	wantHidden(t, s, b.ID, photo.ID, "a member removed since")
	wantVisible(t, s, a.ID, sent, "a member still")

	remove(t, s, g.ID, m.Seq, c.ID)
	wantHidden(t, s, c.ID, photo.ID, "its message is deleted, even to its uploader")
	wantHidden(t, s, a.ID, photo.ID, "its message is deleted")
}

// testAttachmentsSend checks that a message carries its attachments whole,
// in the order given, on every path that reads it, and that they are no
// longer pending; and that a resend returns the first message and claims
// nothing.
func testAttachmentsSend(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	notes := upload(t, s, d.ID, a.ID, "notes.txt", chat.Now())
	photo := upload(t, s, d.ID, a.ID, "zebra.png", chat.Now())
	spare := upload(t, s, d.ID, a.ID, "spare.txt", chat.Now())

	m := sendWith(t, s, d.ID, a.ID, "zebra pictures", "with-files", photo.ID, notes.ID)
	want := sentAs(m.Seq, photo, notes)
	checkCarries(t, "CreateMessage", m, want)
	wantVisible(t, s, b.ID, want[0], "sent, to the other member")
	wantVisible(t, s, a.ID, want[1], "sent, to its uploader")
	wantHidden(t, s, b.ID, spare.ID, "still pending")
	plain := send(t, s, d.ID, b.ID, "no files", "", chat.Now())
	if len(plain.Attachments) != 0 {
		t.Errorf("a message without attachments carries %+v", plain.Attachments)
	}

	find := func(what string, msgs []chat.Message) {
		t.Helper()
		found := false
		for _, got := range msgs {
			if got.Seq == m.Seq {
				checkCarries(t, what, got, want)
				found = true
			} else if len(got.Attachments) != 0 {
				t.Errorf("%s: message %d carries %+v, want none", what, got.Seq, got.Attachments)
			}
		}
		if !found {
			t.Errorf("%s: message %d missing", what, m.Seq)
		}
	}
	find("Messages", messages(t, s, d.ID, chat.MessageQuery{Limit: 10}))
	find("MessageChanges", changes(t, s, d.ID, 0, 10))
	byClient, err := s.MessageByClientID(ctx, a.ID, "with-files")
	if err != nil {
		t.Fatalf("MessageByClientID: %v", err)
	}
	checkCarries(t, "MessageByClientID", byClient, want)
	hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: b.ID, Terms: []chat.SearchTerm{{Words: []string{"zebra"}}}, Limit: 10})
	if err != nil || len(hits) != 1 {
		t.Fatalf("SearchMessages = %+v, %v; want one hit", hits, err)
	}
	checkCarries(t, "SearchMessages", hits[0].Message, want)

	// The conversation's newest message, as its row shows it.
	last := sendWith(t, s, d.ID, a.ID, "", "", spare.ID)
	row, err := s.Conversation(ctx, b.ID, d.ID)
	if err != nil || row.LastMessage == nil {
		t.Fatalf("Conversation = %+v, %v; want a last message", row, err)
	}
	checkCarries(t, "Conversation's LastMessage", *row.LastMessage, sentAs(last.Seq, spare))
	list := conversations(t, s, chat.ConversationQuery{UserID: a.ID, Limit: 10})
	if len(list) != 1 || list[0].LastMessage == nil {
		t.Fatalf("Conversations = %+v; want one with a last message", list)
	}
	checkCarries(t, "Conversations' LastMessage", *list[0].LastMessage, sentAs(last.Seq, spare))

	edited := edit(t, s, d.ID, m.Seq, a.ID, "zebra pictures, edited")
	checkCarries(t, "EditMessage", edited, want)

	// A resend answers with the first message, whatever it names, and
	// claims nothing.
	later := upload(t, s, d.ID, a.ID, "later.txt", chat.Now())
	st, err := s.CreateMessage(ctx, chat.Message{ConversationID: d.ID, SenderID: a.ID, Body: "again", ClientID: "with-files",
		CreatedAt: chat.Now(), Attachments: refs(later.ID)})
	if err != nil || st.Changed || st.Message.Seq != m.Seq {
		t.Fatalf("resend = %+v, %v; want the first message, unchanged", st, err)
	}
	checkCarries(t, "a resend", st.Message, want)
	wantVisible(t, s, a.ID, later, "named by a resend: still pending")
	m2 := sendWith(t, s, d.ID, a.ID, "now", "", later.ID)
	checkCarries(t, "a send of the upload the resend named", m2, sentAs(m2.Seq, later))
}

// testAttachmentsRefused checks that a message naming an attachment that
// is not its sender's pending upload to its conversation is refused with
// EINVALID naming it, alone in its batch, and changes no attachment; and
// that a refused message claims nothing.
func testAttachmentsRefused(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	g := newGroup(t, s, "Team", a, b)
	now := chat.Now()

	bobs := upload(t, s, d.ID, b.ID, "bobs.txt", now)
	elsewhere := upload(t, s, g.ID, a.ID, "elsewhere.txt", now)
	sentOne := upload(t, s, d.ID, a.ID, "sent.txt", now)
	carrier := sendWith(t, s, d.ID, a.ID, "", "", sentOne.ID)
	old := upload(t, s, d.ID, a.ID, "old.txt", now.Add(-48*time.Hour))
	if n, err := s.DropPendingAttachments(ctx, now.Add(-24*time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("DropPendingAttachments = %d, %v; want 1", n, err)
	}
	x := upload(t, s, d.ID, a.ID, "x.txt", now)
	y := upload(t, s, d.ID, a.ID, "y.txt", now)
	z := upload(t, s, d.ID, a.ID, "z.txt", now)
	const unknown = chat.AttachmentID(1 << 40)

	msg := func(body string, ids ...chat.AttachmentID) chat.Message {
		return chat.Message{ConversationID: d.ID, SenderID: a.ID, Body: body, CreatedAt: chat.Now(), Attachments: refs(ids...)}
	}
	batch := []chat.Message{
		msg("another user's upload", bobs.ID),
		msg("another conversation's upload", elsewhere.ID),
		msg("sent already", sentOne.ID),
		msg("x", x.ID),
		msg("x claimed by the message before", x.ID),
		msg("unknown", unknown),
		msg("dropped", old.ID),
		msg("y with a bad one", y.ID, bobs.ID),
		msg("y, which the refused message did not claim", y.ID),
		msg("z twice", z.ID, z.ID),
		msg("plain"),
	}
	refused := map[int]chat.AttachmentID{0: bobs.ID, 1: elsewhere.ID, 2: sentOne.ID, 4: x.ID, 5: unknown, 6: old.ID, 7: bobs.ID, 9: z.ID}
	rs, err := s.CreateMessages(ctx, batch)
	if err != nil {
		t.Fatalf("CreateMessages: %v", err)
	}
	seq := carrier.Seq
	for i, r := range rs {
		if id, ok := refused[i]; ok {
			wantCode(t, r.Err, chat.EINVALID, fmt.Sprintf("message %d (%s)", i, batch[i].Body))
			if r.Err != nil && !strings.Contains(r.Err.Error(), fmt.Sprintf("attachment %d", id)) {
				t.Errorf("message %d (%s): error %q does not name attachment %d", i, batch[i].Body, r.Err, id)
			}
			continue
		}
		seq++
		if r.Err != nil || !r.Stored.Changed || r.Stored.Message.Seq != seq {
			t.Errorf("message %d (%s) = %+v, %v; want stored with seq %d", i, batch[i].Body, r.Stored, r.Err, seq)
		}
	}
	checkCarries(t, "the message with x", rs[3].Stored.Message, sentAs(seq-2, x))
	checkCarries(t, "the message with y", rs[8].Stored.Message, sentAs(seq-1, y))
	checkCarries(t, "the plain message", rs[10].Stored.Message, nil)
	if got := messages(t, s, d.ID, chat.MessageQuery{Limit: 100}); len(got) != int(seq) {
		t.Errorf("history holds %d messages, want %d (refused ones store nothing)", len(got), seq)
	}

	// The refused messages changed no attachment.
	wantVisible(t, s, b.ID, bobs, "bob's upload, named by alice: still pending")
	wantVisible(t, s, a.ID, elsewhere, "named in another conversation: still pending")
	wantVisible(t, s, a.ID, sentAs(carrier.Seq, sentOne)[0], "sent already: still its first message's")
	wantVisible(t, s, a.ID, z, "named twice: still pending")
	wantHidden(t, s, a.ID, old.ID, "dropped: still deleted")
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{old.ID}) {
		t.Errorf("DeletedAttachments = %v, want only %d", got, old.ID)
	}
	// A refusal alone in its batch (a CreateMessage) too.
	_, err = s.CreateMessage(ctx, msg("bob's again", bobs.ID))
	wantCode(t, err, chat.EINVALID, "CreateMessage with another user's upload")
}

// testAttachmentsDelete checks that deleting or erasing a message marks its
// attachments deleted and leaves a tombstone without them, and that
// DeletedAttachments and PurgeAttachments see only attachments marked
// deleted.
func testAttachmentsDelete(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	f1, f2 := upload(t, s, d.ID, a.ID, "one.txt", chat.Now()), upload(t, s, d.ID, a.ID, "two.png", chat.Now())
	f3 := upload(t, s, d.ID, b.ID, "three.txt", chat.Now())
	pending := upload(t, s, d.ID, a.ID, "pending.txt", chat.Now())
	kept := upload(t, s, d.ID, b.ID, "kept.txt", chat.Now())
	m1 := sendWith(t, s, d.ID, a.ID, "two files", "", f1.ID, f2.ID)
	m2 := sendWith(t, s, d.ID, b.ID, "one file", "", f3.ID)
	m3 := sendWith(t, s, d.ID, b.ID, "kept", "", kept.ID)
	if got := deletedIDs(t, s, 10); len(got) != 0 {
		t.Fatalf("DeletedAttachments before any deletion = %v", got)
	}

	tomb := remove(t, s, d.ID, m1.Seq, a.ID)
	checkCarries(t, "DeleteMessage", tomb, nil)
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{f1.ID, f2.ID}) {
		t.Errorf("DeletedAttachments after a deletion = %v, want %d and %d", got, f1.ID, f2.ID)
	}
	if got := deletedIDs(t, s, 1); len(got) != 1 {
		t.Errorf("DeletedAttachments(1) = %v, want one", got)
	}
	gone, err := s.DeletedAttachments(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gone {
		want := map[chat.AttachmentID]chat.Attachment{f1.ID: f1, f2.ID: f2}[g.ID]
		want.Seq = g.Seq // which message it was sent with no longer matters
		if !equalAttachment(g, want) {
			t.Errorf("DeletedAttachments holds %+v, want %+v: its blob keys are for removing its bytes", g, want)
		}
	}

	// Erasing, as retention does.
	erased, err := s.EraseMessages(ctx, d.ID, []int64{m2.Seq}, chat.Now())
	if err != nil || len(erased) != 1 {
		t.Fatalf("EraseMessages = %+v, %v; want one", erased, err)
	}
	checkCarries(t, "EraseMessages", erased[0].Message, nil)
	wantHidden(t, s, b.ID, f3.ID, "its message is erased")
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{f1.ID, f2.ID, f3.ID}) {
		t.Errorf("DeletedAttachments after an erasure = %v, want %d, %d and %d", got, f1.ID, f2.ID, f3.ID)
	}
	for _, what := range []struct {
		name string
		msgs []chat.Message
	}{
		{"Messages", messages(t, s, d.ID, chat.MessageQuery{Limit: 10})},
		{"MessageChanges", changes(t, s, d.ID, 0, 10)},
	} {
		for _, m := range what.msgs {
			if m.Seq == m3.Seq {
				checkCarries(t, what.name, m, sentAs(m3.Seq, kept))
			} else {
				checkCarries(t, what.name, m, nil)
			}
		}
	}

	// Purging takes the rows of deleted attachments only.
	if err := s.PurgeAttachments(ctx, []chat.AttachmentID{f1.ID, f3.ID, pending.ID, kept.ID, 1 << 40}); err != nil {
		t.Fatalf("PurgeAttachments: %v", err)
	}
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{f2.ID}) {
		t.Errorf("DeletedAttachments after a purge = %v, want %d", got, f2.ID)
	}
	wantVisible(t, s, a.ID, pending, "pending, named in a purge")
	wantVisible(t, s, a.ID, sentAs(m3.Seq, kept)[0], "sent and live, named in a purge")
	if err := s.PurgeAttachments(ctx, nil); err != nil {
		t.Errorf("PurgeAttachments(nil): %v", err)
	}
}

// testAttachmentsDropPending checks that DropPendingAttachments marks
// deleted only uploads still pending from before the cutoff, oldest first,
// at most limit.
func testAttachmentsDropPending(t *testing.T, s chat.Store) {
	ctx := t.Context()
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	now := chat.Now()
	p4 := upload(t, s, d.ID, a.ID, "four-hours.txt", now.Add(-4*time.Hour))
	p3 := upload(t, s, d.ID, b.ID, "three-hours.txt", now.Add(-3*time.Hour))
	sent := upload(t, s, d.ID, a.ID, "sent.txt", now.Add(-5*time.Hour))
	p1 := upload(t, s, d.ID, a.ID, "one-hour.txt", now.Add(-1*time.Hour))
	fresh := upload(t, s, d.ID, a.ID, "fresh.txt", now)
	m := sendWith(t, s, d.ID, a.ID, "", "", sent.ID)
	cutoff := now.Add(-30 * time.Minute)

	if n, err := s.DropPendingAttachments(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("DropPendingAttachments(limit 2) = %d, %v; want 2", n, err)
	}
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{p4.ID, p3.ID}) {
		t.Errorf("dropped %v, want the two oldest pending, %d and %d", got, p4.ID, p3.ID)
	}
	wantHidden(t, s, b.ID, p3.ID, "dropped, to its uploader")
	wantVisible(t, s, a.ID, p1, "pending, past the limit")
	if n, err := s.DropPendingAttachments(ctx, cutoff, 10); err != nil || n != 1 {
		t.Fatalf("DropPendingAttachments again = %d, %v; want 1", n, err)
	}
	if got := deletedIDs(t, s, 10); !sameIDs(got, []chat.AttachmentID{p4.ID, p3.ID, p1.ID}) {
		t.Errorf("dropped %v, want %d, %d and %d", got, p4.ID, p3.ID, p1.ID)
	}
	if n, err := s.DropPendingAttachments(ctx, cutoff, 10); err != nil || n != 0 {
		t.Errorf("DropPendingAttachments with none left = %d, %v; want 0", n, err)
	}
	wantVisible(t, s, a.ID, fresh, "pending, newer than the cutoff")
	wantVisible(t, s, b.ID, sentAs(m.Seq, sent)[0], "sent before the cutoff")
	_, err := s.CreateMessage(ctx, chat.Message{ConversationID: d.ID, SenderID: a.ID, CreatedAt: chat.Now(), Attachments: refs(p1.ID)})
	wantCode(t, err, chat.EINVALID, "sending a dropped upload")
}

// testAttachmentsConcurrentClaims checks that of sends racing to carry the
// same upload, in batches of their own, exactly one carries it and the
// others are refused.
func testAttachmentsConcurrentClaims(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	d := direct(t, s, a.ID, b.ID, chat.Now())
	f := upload(t, s, d.ID, a.ID, "contested.txt", chat.Now())
	const senders = 8
	errs := make([]error, senders)
	stored := make([]chat.Stored, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			stored[i], errs[i] = s.CreateMessage(t.Context(), chat.Message{ConversationID: d.ID, SenderID: a.ID,
				Body: fmt.Sprintf("try %d", i), CreatedAt: chat.Now(), Attachments: refs(f.ID)})
		})
	}
	wg.Wait()
	var winners []chat.Message
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, stored[i].Message)
		case chat.ErrorCode(err) != chat.EINVALID:
			t.Errorf("send %d: %v, want stored or EINVALID", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d sends carried the upload, want exactly 1", len(winners))
	}
	checkCarries(t, "the winner", winners[0], sentAs(winners[0].Seq, f))
	wantVisible(t, s, b.ID, sentAs(winners[0].Seq, f)[0], "sent with the winner")
	if got := messages(t, s, d.ID, chat.MessageQuery{Limit: 100}); len(got) != 1 {
		t.Errorf("history holds %d messages, want 1", len(got))
	}
}
