package postgres

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// rowsSource is an ImportSource of rows in memory.
type rowsSource struct {
	users         []chat.StoredUser
	conversations []chat.StoredConversation
	members       []chat.Member
	messages      []chat.StoredMessage
	sessions      []chat.StoredSession
	userSessions  []chat.StoredUserSession
	invitations   []chat.Invitation
	attachments   []chat.StoredAttachment
	// failMessages, when set, ends the messages with it.
	failMessages error
}

func seqOf[T any](rows []T, fail error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
		if fail != nil {
			var zero T
			yield(zero, fail)
		}
	}
}

func (s rowsSource) Users(context.Context) iter.Seq2[chat.StoredUser, error] {
	return seqOf(s.users, nil)
}
func (s rowsSource) Conversations(context.Context) iter.Seq2[chat.StoredConversation, error] {
	return seqOf(s.conversations, nil)
}
func (s rowsSource) Members(context.Context) iter.Seq2[chat.Member, error] {
	return seqOf(s.members, nil)
}
func (s rowsSource) Messages(context.Context) iter.Seq2[chat.StoredMessage, error] {
	return seqOf(s.messages, s.failMessages)
}
func (s rowsSource) Sessions(context.Context) iter.Seq2[chat.StoredSession, error] {
	return seqOf(s.sessions, nil)
}
func (s rowsSource) UserSessions(context.Context) iter.Seq2[chat.StoredUserSession, error] {
	return seqOf(s.userSessions, nil)
}
func (s rowsSource) Invitations(context.Context) iter.Seq2[chat.Invitation, error] {
	return seqOf(s.invitations, nil)
}
func (s rowsSource) Attachments(context.Context) iter.Seq2[chat.StoredAttachment, error] {
	return seqOf(s.attachments, nil)
}

// schemaDSN is the test database's DSN with schema as its search path.
func schemaDSN(t *testing.T, schema string) string {
	t.Helper()
	u, err := url.Parse(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// sampleSource is a group of two with a title message, a live text
// message carrying two attachments, an edited one and a deleted one
// (positions 7, 9 and 12, as a database where other messages came and went
// would have them) whose attachment is marked deleted, an upload still
// pending, and a session.
func sampleSource() rowsSource {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	system := func(seq int64, ev chat.SystemEvent) chat.StoredMessage {
		return chat.StoredMessage{Message: chat.Message{ConversationID: 40, Seq: seq, Version: seq, Kind: chat.MessageSystem, SenderID: 10,
			CreatedAt: at, System: &ev}}
	}
	text := func(seq, version, position int64, body string) chat.StoredMessage {
		return chat.StoredMessage{Message: chat.Message{ConversationID: 40, Seq: seq, Version: version, Kind: chat.MessageText, SenderID: 11,
			Body: body, ClientID: "c" + string(rune('0'+seq)), CreatedAt: at.Add(time.Duration(seq) * time.Second)}, Position: position}
	}
	edited, deleted := text(4, 6, 9, "zebra stripes, edited"), text(5, 7, 12, "")
	edited.EditedAt, deleted.DeletedAt = at.Add(time.Minute), at.Add(2*time.Minute)
	file := func(id chat.AttachmentID, seq int64, name string) chat.Attachment {
		return chat.Attachment{ID: id, ConversationID: 40, UploaderID: 11, Name: name, ContentType: "text/plain; charset=utf-8",
			Size: int64(id) * 100, SHA256: strings.Repeat("ab", 32), Blob: strings.Repeat(string(rune('a'+id)), 32), CreatedAt: at, Seq: seq}
	}
	photo := file(21, 3, "zebra.png")
	photo.ContentType, photo.Width, photo.Height = "image/png", 640, 480
	photo.Thumbnail, photo.ThumbnailType, photo.ThumbnailWidth, photo.ThumbnailHeight = strings.Repeat("f", 32), "image/png", 320, 240
	live := text(3, 3, 7, "a zebra")
	live.Attachments = []chat.Attachment{photo, file(20, 3, "notes.txt")}
	return rowsSource{
		users: []chat.StoredUser{
			{User: chat.User{ID: 10, Username: "alice", DisplayName: "Alice", CreatedAt: at, Admin: true, Deactivated: true}, PasswordHash: "hash-a", SearchName: "alice",
				DeactivatedAt: at.Add(time.Minute)},
			{User: chat.User{ID: 11, Username: "bob", DisplayName: chat.ClosedDisplayName, CreatedAt: at, Closed: true}, SearchName: "", ClosedAt: at.Add(time.Hour)},
		},
		conversations: []chat.StoredConversation{{Conversation: chat.Conversation{ID: 40, Kind: chat.KindGroup, Title: "Zoo", LastSeq: 5, LastVersion: 7,
			LastMessageAt: at.Add(5 * time.Second), CreatedAt: at, MemberCount: 2}}},
		members: []chat.Member{
			{ConversationID: 40, UserID: 10, Role: chat.RoleAdmin, LastReadSeq: 5, JoinedAt: at},
			{ConversationID: 40, UserID: 11, Role: chat.RoleMember, LastReadSeq: 3, JoinedAt: at},
		},
		messages: []chat.StoredMessage{
			system(1, chat.SystemEvent{Action: chat.SystemTitle, ActorID: 10, Title: "Zoo"}),
			system(2, chat.SystemEvent{Action: chat.SystemAdded, ActorID: 10, UserID: 11}),
			live,
			edited,
			deleted,
		},
		sessions:     []chat.StoredSession{{Token: "tok", Data: []byte{1, 2, 3}, Expiry: at.Add(24 * time.Hour)}},
		userSessions: []chat.StoredUserSession{{Token: "tok", UserID: 10, Deadline: at.Add(48 * time.Hour)}},
		invitations: []chat.Invitation{
			{ID: 3, TokenHash: chat.InvitationTokenHash("open"), CreatedBy: 10, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour), MaxUses: 5, Uses: 2},
			{ID: 5, TokenHash: chat.InvitationTokenHash("revoked"), CreatedAt: at, ExpiresAt: at.Add(time.Hour), MaxUses: 1, RevokedAt: at.Add(time.Minute)},
		},
		attachments: []chat.StoredAttachment{
			{Attachment: file(20, 3, "notes.txt")},
			{Attachment: photo},
			{Attachment: file(22, 5, "gone.txt"), DeletedAt: deleted.DeletedAt},
			{Attachment: file(23, 0, "pending.txt")},
		},
	}
}

// TestImport: every column arrives; system messages take positions past
// the copied ones; the search column holds the words of live text
// messages only; the sequences continue past the copied values.
func TestImport(t *testing.T) {
	schema := newSchema(t)
	src := sampleSource()
	n, err := Import(t.Context(), schemaDSN(t, schema), src)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if n != (ImportCounts{Users: 2, Conversations: 1, Members: 2, Messages: 5, Sessions: 1, UserSessions: 1, Invitations: 2, Attachments: 4}) {
		t.Errorf("counts %+v", n)
	}
	s := openTest(t, schema, nil)
	ctx := t.Context()

	var (
		hash, searchName string
		closedAt         time.Time
	)
	if err := s.pool.QueryRow(ctx, `SELECT password_hash, search_name, closed_at FROM users WHERE id = 11`).Scan(&hash, &searchName, &closedAt); err != nil {
		t.Fatal(err)
	}
	if hash != "" || searchName != "" || !closedAt.Equal(src.users[1].ClosedAt) {
		t.Errorf("the closed account: %q %q %v", hash, searchName, closedAt)
	}
	if u, err := s.UserByID(ctx, 10); err != nil || !u.Admin || !u.Deactivated {
		t.Errorf("the admin, deactivated: %+v, %v; want both carried over", u, err)
	}
	if u, err := s.UserByID(ctx, 11); err != nil || u.Admin || u.Deactivated {
		t.Errorf("the closed account: %+v, %v; want no admin, not deactivated", u, err)
	}
	for i, want := range src.messages {
		got, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageCols+` FROM messages WHERE conversation_id = 40 AND seq = $1`, want.Seq))
		if err != nil {
			t.Fatal(err)
		}
		if !equalMessages(got, want.Message) || !slices.EqualFunc(got.Attachments, want.Attachments, equalAttachments) {
			t.Errorf("message %d: %+v, want %+v", i, got, want.Message)
		}
	}
	// The attachments' rows: sent ones for members, the pending one for
	// its uploader only, the deleted one for nobody but the sweep.
	for _, a := range src.attachments[:2] {
		if got, err := s.Attachment(ctx, 10, a.ID); err != nil || !equalAttachments(got, a.Attachment) {
			t.Errorf("attachment %d: %+v, %v; want %+v", a.ID, got, err, a.Attachment)
		}
	}
	if got, err := s.Attachment(ctx, 11, 23); err != nil || !equalAttachments(got, src.attachments[3].Attachment) {
		t.Errorf("the pending upload to its uploader: %+v, %v", got, err)
	}
	if _, err := s.Attachment(ctx, 10, 23); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("the pending upload to another member: %v, want ENOTFOUND", err)
	}
	if gone, err := s.DeletedAttachments(ctx, 10); err != nil || len(gone) != 1 || !equalAttachments(gone[0], src.attachments[2].Attachment) {
		t.Errorf("deleted attachments %+v, %v; want attachment 22", gone, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, position, search::text FROM messages ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	type indexed struct {
		seq, position int64
		search        *string
	}
	var got []indexed
	for rows.Next() {
		var r indexed
		if err := rows.Scan(&r.seq, &r.position, &r.search); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	words := func(s string) *string { return &s }
	want := []indexed{{1, 13, nil}, {2, 14, nil}, {3, 7, words("'a':1 'zebra':2")}, {4, 9, words("'edited':3 'stripes':2 'zebra':1")}, {5, 12, nil}}
	if !slices.EqualFunc(got, want, func(a, b indexed) bool {
		return a.seq == b.seq && a.position == b.position && (a.search == nil) == (b.search == nil) && (a.search == nil || *a.search == *b.search)
	}) {
		t.Errorf("positions and search words: %+v, want %+v", got, want)
	}
	hits, err := s.SearchMessages(ctx, chat.SearchQuery{User: 10, Terms: []chat.SearchTerm{{Words: []string{"zeb"}}}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].Message.Seq != 4 || hits[1].Message.Seq != 3 {
		t.Errorf("search hits %+v", hits)
	}

	invs, err := s.Invitations(ctx, chat.InvitationQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(invs, src.invitations, func(a, b chat.Invitation) bool {
		return a.ID == b.ID && a.TokenHash == b.TokenHash && a.CreatedBy == b.CreatedBy && a.CreatedAt.Equal(b.CreatedAt) &&
			a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxUses == b.MaxUses && a.Uses == b.Uses && a.RevokedAt.Equal(b.RevokedAt)
	}) {
		t.Errorf("invitations %+v, want %+v", invs, src.invitations)
	}
	if inv, err := s.CreateInvitation(ctx, chat.Invitation{TokenHash: chat.InvitationTokenHash("new"), CreatedAt: chat.Now(),
		ExpiresAt: chat.Now().Add(time.Hour), MaxUses: 1}); err != nil || inv.ID != 6 {
		t.Errorf("a new invitation: %+v, %v; want ID 6", inv, err)
	}

	carol, err := s.CreateUser(ctx, chat.User{Username: "carol", DisplayName: "Carol", CreatedAt: chat.Now()}, "hash-c")
	if err != nil || carol.ID != 12 {
		t.Errorf("a new user: %+v, %v; want ID 12", carol, err)
	}
	stored, err := s.CreateMessage(ctx, chat.Message{ConversationID: 40, SenderID: 10, Body: "zebra again", CreatedAt: chat.Now()})
	if err != nil || stored.Message.Seq != 6 || stored.Message.Version != 8 {
		t.Errorf("a new message: %+v, %v; want seq 6, version 8", stored.Message, err)
	}
	if a, err := s.CreateAttachment(ctx, chat.Attachment{ConversationID: 40, UploaderID: 10, Name: "new.txt", ContentType: "text/plain",
		SHA256: strings.Repeat("0", 64), Blob: strings.Repeat("9", 32), CreatedAt: chat.Now()}); err != nil || a.ID != 24 {
		t.Errorf("a new attachment: %+v, %v; want ID 24", a, err)
	}
	var position int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM messages WHERE conversation_id = 40 AND seq = 6`).Scan(&position); err != nil || position != 15 {
		t.Errorf("the new message's position: %d, %v; want 15", position, err)
	}
}

// equalMessages reports whether two messages are the same, times compared
// as instants.
func equalMessages(a, b chat.Message) bool {
	return a.ConversationID == b.ConversationID && a.Seq == b.Seq && a.Version == b.Version && a.Kind == b.Kind &&
		a.SenderID == b.SenderID && a.Body == b.Body && a.ClientID == b.ClientID && a.CreatedAt.Equal(b.CreatedAt) &&
		a.EditedAt.Equal(b.EditedAt) && a.DeletedAt.Equal(b.DeletedAt) &&
		(a.System == nil) == (b.System == nil) && (a.System == nil || *a.System == *b.System)
}

// equalAttachments reports whether two attachments are the same, times
// compared as instants.
func equalAttachments(a, b chat.Attachment) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

// TestImportRefused: into a database that holds rows, Import copies
// nothing; a source that fails part way leaves the database empty.
func TestImportRefused(t *testing.T) {
	schema := newSchema(t)
	dsn := schemaDSN(t, schema)
	failing := sampleSource()
	failing.failMessages = errors.New("disk on fire")
	if _, err := Import(t.Context(), dsn, failing); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Import of a failing source: %v", err)
	}
	s := openTest(t, schema, nil)
	count := func() (n int64) {
		t.Helper()
		if err := s.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM conversations)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("a failed Import left %d rows", n)
	}

	if _, err := s.CreateUser(t.Context(), chat.User{Username: "zed", DisplayName: "Zed", CreatedAt: chat.Now()}, "hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(t.Context(), dsn, sampleSource()); err == nil || !strings.Contains(err.Error(), "users") {
		t.Fatalf("Import into a database with a user: %v, want a refusal naming users", err)
	}
	if n := count(); n != 1 {
		t.Errorf("a refused Import changed the database: %d rows, want 1", n)
	}
}
