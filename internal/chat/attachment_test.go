package chat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// uploadStore knows conversation 5, whose members are 1 and 2, and keeps
// attachment rows in memory.
type uploadStore struct {
	Store
	mu   sync.Mutex
	rows map[AttachmentID]Attachment
	gone map[AttachmentID]bool // marked deleted
}

func newUploadStore() *uploadStore {
	return &uploadStore{rows: map[AttachmentID]Attachment{}, gone: map[AttachmentID]bool{}}
}

func (s *uploadStore) Conversation(_ context.Context, user UserID, id ConversationID) (ConversationRow, error) {
	if id != 5 || (user != 1 && user != 2) {
		return ConversationRow{}, NotFound("conversation")
	}
	return ConversationRow{Conversation: Conversation{ID: 5, Kind: KindDirect}}, nil
}

func (s *uploadStore) CreateAttachment(_ context.Context, a Attachment) (Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.ID = AttachmentID(len(s.rows) + 1)
	s.rows[a.ID] = a
	return a, nil
}

func (s *uploadStore) Attachment(_ context.Context, viewer UserID, id AttachmentID) (Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.rows[id]
	if !ok || s.gone[id] || viewer != a.UploaderID {
		return Attachment{}, NotFound("attachment")
	}
	return a, nil
}

func (s *uploadStore) DropPendingAttachments(_ context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, a := range s.rows {
		if n < limit && a.Seq == 0 && a.CreatedAt.Before(before) && !s.gone[id] {
			s.gone[id] = true
			n++
		}
	}
	return n, nil
}

func (s *uploadStore) DeletedAttachments(_ context.Context, limit int) ([]Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Attachment
	for id := range s.gone {
		if len(out) < limit {
			out = append(out, s.rows[id])
		}
	}
	return out, nil
}

func (s *uploadStore) PurgeAttachments(_ context.Context, ids []AttachmentID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.gone[id] {
			delete(s.rows, id)
			delete(s.gone, id)
		}
	}
	return nil
}

// memBlobs is a BlobStore in memory.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (m *memBlobs) Put(ctx context.Context, r io.Reader, limit int64) (BlobInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return BlobInfo{}, err
	}
	if int64(len(data)) > limit {
		return BlobInfo{}, Errorf(ETOOLARGE, "too large")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := NewBlobKey()
	m.blobs[key] = data
	sum := sha256.Sum256(data)
	return BlobInfo{Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

type memBlob struct {
	*bytes.Reader
	info BlobInfo
}

func (b memBlob) Info() BlobInfo { return b.info }
func (memBlob) Close() error     { return nil }

func (m *memBlobs) Open(_ context.Context, key string) (Blob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.blobs[key]
	if !ok {
		return nil, NotFound("blob")
	}
	return memBlob{Reader: bytes.NewReader(data), info: BlobInfo{Key: key, Size: int64(len(data))}}, nil
}

func (m *memBlobs) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, key)
	return nil
}

func (m *memBlobs) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// fakeImages takes files starting "IMG" as images: their metadata is the
// text between "<meta>" and "</meta>", their size is 640×480, and a file
// holding "BOMB" is past the pixel limit.
type fakeImages struct{}

func (fakeImages) Sniff(head []byte) string {
	if bytes.HasPrefix(head, []byte("IMG")) {
		return "image/png"
	}
	return "application/octet-stream"
}

func (fakeImages) Inline(ct string) bool { return ct == "image/png" }

func (fakeImages) StripMetadata(r io.Reader, _ string) io.Reader {
	data, err := io.ReadAll(r)
	if err != nil {
		return iotestErr{err}
	}
	s := string(data)
	if i, j := strings.Index(s, "<meta>"), strings.Index(s, "</meta>"); i >= 0 && j > i {
		s = s[:i] + s[j+len("</meta>"):]
	}
	return strings.NewReader(s)
}

func (fakeImages) Inspect(r io.Reader, _ string) (int, int, error) {
	data, _ := io.ReadAll(r)
	if bytes.Contains(data, []byte("BOMB")) {
		return 0, 0, Errorf(ETOOLARGE, "the image is larger than 40 million pixels")
	}
	return 640, 480, nil
}

func (fakeImages) Thumbnail(io.Reader, string) ([]byte, string, int, int, error) {
	return []byte("thumb"), "image/jpeg", 400, 300, nil
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func newUploadService(t *testing.T, maxUpload int64) (*Service, *uploadStore, *memBlobs) {
	t.Helper()
	store, blobs := newUploadStore(), &memBlobs{blobs: map[string][]byte{}}
	svc, err := NewService(ServiceConfig{Store: store, Hasher: plainHasher{}, Logger: slog.New(slog.DiscardHandler),
		Blobs: blobs, Images: fakeImages{}, MaxUpload: maxUpload})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, blobs
}

// TestUploadRules: a member's file is stored pending under a safe name
// and a sniffed type; an image loses its metadata and gets its size and
// a thumbnail; a non-member, a file past the limit and an image past the
// pixel limit are refused and leave no bytes behind.
func TestUploadRules(t *testing.T) {
	svc, store, blobs := newUploadService(t, 100)
	ctx := t.Context()

	a, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: " page\u202e.html", Body: strings.NewReader("<html><script>")})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "page.html" || a.ContentType != "application/octet-stream" || a.Size != 14 || a.Seq != 0 || a.Inline() || a.UploaderID != 1 {
		t.Errorf("uploaded %+v: want a pending download named page.html, typed by its bytes", a)
	}

	img, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "shot.png", Body: strings.NewReader("IMG<meta>GPS 48.85N 2.35E</meta>pixels")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := blobs.Open(ctx, img.Blob)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(b)
	if string(stored) != "IMGpixels" || img.Size != 9 || img.Width != 640 || img.Height != 480 || !img.Inline() ||
		img.ThumbnailType != "image/jpeg" || img.ThumbnailWidth != 400 {
		t.Errorf("image stored as %q, %+v: want its metadata stripped, its size and thumbnail recorded", stored, img)
	}

	before := blobs.count()
	for _, tc := range []struct {
		name   string
		caller UserID
		conv   ConversationID
		body   string
		code   string
	}{
		{"non-member", 3, 5, "hello", ENOTFOUND},
		{"a path for a name", 1, 5, "name:../../etc/passwd", EINVALID},
		{"a name with a control character", 1, 5, "name:a\nb.txt", EINVALID},
		{"no such conversation", 1, 6, "hello", ENOTFOUND},
		{"one byte past the limit", 1, 5, strings.Repeat("x", 101), ETOOLARGE},
		{"an image past the limit", 1, 5, "IMG" + strings.Repeat("x", 98), ETOOLARGE},
		{"a decompression bomb", 1, 5, "IMG BOMB", ETOOLARGE},
	} {
		name, body := "f", tc.body
		if n, ok := strings.CutPrefix(body, "name:"); ok {
			name, body = n, "hello"
		}
		_, err := svc.Upload(ctx, tc.caller, Upload{ConversationID: tc.conv, Name: name, Body: strings.NewReader(body)})
		if ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "x", Body: strings.NewReader(strings.Repeat("x", 100))}); err != nil {
		t.Errorf("a file of exactly the limit: %v", err)
	}
	if got := blobs.count(); got != before+1 {
		t.Errorf("%d blobs after the refusals and one upload at the limit, want %d: a refused upload left bytes", got, before+1)
	}
	if len(store.rows) != 3 {
		t.Errorf("%d attachment rows, want 3", len(store.rows))
	}
}

// TestUploadReadFailure: a body that fails part-way is not stored.
func TestUploadReadFailure(t *testing.T) {
	svc, _, blobs := newUploadService(t, 0)
	body := io.MultiReader(strings.NewReader("some bytes"), iotestErr{errors.New("connection reset by peer")})
	if _, err := svc.Upload(t.Context(), 1, Upload{ConversationID: 5, Name: "f", Body: body}); err == nil {
		t.Fatal("an upload cut part-way was accepted")
	}
	if n := blobs.count(); n != 0 {
		t.Errorf("%d blobs left by a failed upload", n)
	}
}

// TestOpenAttachment: the uploader opens their pending file and its
// thumbnail; under another conversation's path it is not found, and so
// is the thumbnail of a file that has none.
func TestOpenAttachment(t *testing.T) {
	svc, _, _ := newUploadService(t, 0)
	ctx := t.Context()
	img, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "a.png", Body: strings.NewReader("IMGxyz")})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "a.txt", Body: strings.NewReader("text")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller UserID
		conv   ConversationID
		id     AttachmentID
		thumb  bool
		want   string // the bytes, or "" for not found
	}{
		{1, 5, img.ID, false, "IMGxyz"},
		{1, 5, img.ID, true, "thumb"},
		{1, 5, doc.ID, false, "text"},
		{1, 5, doc.ID, true, ""},
		{1, 6, img.ID, false, ""},
		{2, 5, img.ID, false, ""}, // pending: the uploader's alone (the store's rule)
		{1, 5, 99, false, ""},
	} {
		_, b, err := svc.OpenAttachment(ctx, tc.caller, tc.conv, tc.id, tc.thumb)
		if tc.want == "" {
			if ErrorCode(err) != ENOTFOUND {
				t.Errorf("user %d opening %d/%d (thumbnail %v): %v, want not found", tc.caller, tc.conv, tc.id, tc.thumb, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("user %d opening %d/%d: %v", tc.caller, tc.conv, tc.id, err)
			continue
		}
		got, _ := io.ReadAll(b)
		if string(got) != tc.want {
			t.Errorf("user %d opening %d/%d (thumbnail %v) read %q, want %q", tc.caller, tc.conv, tc.id, tc.thumb, got, tc.want)
		}
	}
}

// TestSweepRemovesBytes: uploads never sent are removed after
// PendingUploadLifetime, bytes and thumbnail first, then their rows.
func TestSweepRemovesBytes(t *testing.T) {
	svc, store, blobs := newUploadService(t, 0)
	ctx := t.Context()
	old, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "old.png", Body: strings.NewReader("IMGold")})
	if err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	a := store.rows[old.ID]
	a.CreatedAt = a.CreatedAt.Add(-PendingUploadLifetime - time.Minute)
	store.rows[old.ID] = a
	store.mu.Unlock()
	fresh, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "new.txt", Body: strings.NewReader("new")})
	if err != nil {
		t.Fatal(err)
	}
	n, err := svc.SweepAttachments(ctx, 10)
	if err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v; want the old upload alone", n, err)
	}
	if blobs.count() != 1 {
		t.Errorf("%d blobs left, want the fresh upload's alone (the old one's bytes and thumbnail gone)", blobs.count())
	}
	if _, ok := store.rows[old.ID]; ok {
		t.Error("the old upload's row is still there")
	}
	if _, ok := store.rows[fresh.ID]; !ok {
		t.Error("the fresh upload's row is gone")
	}
}

// TestSendAttachmentRefs: a send names at most MaxAttachments uploads,
// each once, by positive IDs; with them the body may be empty, but not
// blank with invisible characters.
func TestSendAttachmentRefs(t *testing.T) {
	svc, _, _ := newUploadService(t, 0)
	ids := func(n int) []AttachmentID {
		out := make([]AttachmentID, n)
		for i := range out {
			out[i] = AttachmentID(i + 1)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		req  SendRequest
	}{
		{"too many", SendRequest{ConversationID: 5, Body: "hi", Attachments: ids(MaxAttachments + 1)}},
		{"twice", SendRequest{ConversationID: 5, Body: "hi", Attachments: []AttachmentID{3, 3}}},
		{"zero", SendRequest{ConversationID: 5, Body: "hi", Attachments: []AttachmentID{0}}},
		{"negative", SendRequest{ConversationID: 5, Attachments: []AttachmentID{-1}}},
		{"invisible body", SendRequest{ConversationID: 5, Body: "\u200b", Attachments: []AttachmentID{1}}},
		{"no body, no files", SendRequest{ConversationID: 5}},
	} {
		if _, _, err := svc.Send(t.Context(), 1, tc.req); ErrorCode(err) != EINVALID {
			t.Errorf("%s: %v, want invalid", tc.name, err)
		}
	}
	refs, err := attachmentRefs(ids(MaxAttachments))
	if err != nil || len(refs) != MaxAttachments || !slices.EqualFunc(refs, ids(MaxAttachments), func(a Attachment, id AttachmentID) bool { return a.ID == id }) {
		t.Errorf("attachmentRefs of %d IDs = %v, %v; want them in order", MaxAttachments, refs, err)
	}
}

// TestCleanFileName: paths, control characters, bidirectional overrides
// and over-long names are made safe; ordinary names are kept.
func TestCleanFileName(t *testing.T) {
	long := strings.Repeat("é", 200) + ".pdf"
	for in, want := range map[string]string{
		"report.pdf":              "report.pdf",
		"../../etc/passwd":        "passwd",
		`C:\Users\me\photo.jpg`:   "photo.jpg",
		"a\x00b\nc\r\td.txt":      "abcd.txt",
		"evil\u202efdp.exe":       "evilfdp.exe",
		"\u2066x\u2069.png":       "x.png",
		"  .hidden.  ":            "hidden",
		"":                        "file",
		"../":                     "file",
		"...":                     "file",
		"\xff\xfename.txt":        "name.txt",
		"Résumé – final (2).docx": "Résumé – final (2).docx",
	} {
		if got := CleanFileName(in); got != want {
			t.Errorf("CleanFileName(%q) = %q, want %q", in, got, want)
		}
	}
	got := CleanFileName(long)
	if len(got) > MaxFileName || !strings.HasSuffix(got, ".pdf") || !strings.HasPrefix(got, "ééé") || !utf8Valid(got) {
		t.Errorf("CleanFileName(400-byte name) = %q (%d bytes): want at most %d bytes, valid UTF-8, the extension kept", got, len(got), MaxFileName)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\ufffd") == s }

// TestUploadBytesBudget: the bytes of uploads are charged a token a MiB
// (or part of one); an upload past the budget is refused and its bytes
// are not kept.
func TestUploadBytesBudget(t *testing.T) {
	store, blobs := newUploadStore(), &memBlobs{blobs: map[string][]byte{}}
	budget := &countingLimiter{n: 2}
	svc, err := NewService(ServiceConfig{Store: store, Hasher: plainHasher{}, Logger: slog.New(slog.DiscardHandler),
		Blobs: blobs, Images: fakeImages{}, Limits: Limits{UploadBytes: budget}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "a.bin", Body: strings.NewReader(strings.Repeat("x", 3<<19))}); err != nil {
		t.Fatalf("1.5 MiB within a budget of 2 MiB: %v", err)
	}
	if budget.calls[userKey(1)] != 2 {
		t.Errorf("1.5 MiB cost %d tokens, want 2", budget.calls[userKey(1)])
	}
	_, err = svc.Upload(ctx, 1, Upload{ConversationID: 5, Name: "b.bin", Body: strings.NewReader("ten bytes!")})
	var e *Error
	if !errors.As(err, &e) || e.Code != ERATELIMITED || e.RetryAfter <= 0 || !strings.Contains(e.Message, "bytes uploaded") {
		t.Fatalf("an upload past the budget: %v, want rate_limited naming the bytes, with a wait", err)
	}
	if n := blobs.count(); n != 1 {
		t.Errorf("%d blobs stored, want the first upload's alone", n)
	}
}
