package chat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AttachmentID identifies an uploaded file.
type AttachmentID int64

// Attachment limits.
const (
	// DefaultMaxUpload is the largest file accepted when
	// ServiceConfig.MaxUpload is 0: 25 MiB.
	DefaultMaxUpload = 25 << 20
	// MaxAttachments is the most files one message carries.
	MaxAttachments = 10
	// MaxFileName is the longest file name kept, in bytes of UTF-8.
	MaxFileName = 255
	// PendingUploadLifetime is how long an uploaded file waits to be sent
	// with a message before it is removed.
	PendingUploadLifetime = 24 * time.Hour
)

// Attachment is a file uploaded to a conversation: pending (Seq 0) until a
// message of its uploader carries it, then part of that message.
type Attachment struct {
	ID             AttachmentID
	ConversationID ConversationID
	UploaderID     UserID
	// Name is the file's name as shown and offered for download, made
	// safe by CleanFileName.
	Name string
	// ContentType is the media type sniffed from the bytes (never the
	// client's word), without parameters but a text type's charset.
	ContentType string
	// Size is the stored file's length in bytes (after its metadata was
	// stripped, for an image).
	Size int64
	// SHA256 is the stored bytes' SHA-256, lower-case hex.
	SHA256 string
	// Blob is the key of the bytes in the BlobStore.
	Blob string
	// Width and Height are an image's size in pixels; 0 for other files.
	Width, Height int
	// Thumbnail is the key of a scaled-down copy of an image in the
	// BlobStore; "" when there is none.
	Thumbnail string
	// ThumbnailType is the thumbnail's media type (image/jpeg or
	// image/png).
	ThumbnailType string
	// ThumbnailWidth and ThumbnailHeight are the thumbnail's size in
	// pixels.
	ThumbnailWidth, ThumbnailHeight int
	CreatedAt                       time.Time
	// Seq is the seq of the message that carries it; 0 while pending.
	Seq int64
}

// Inline reports whether the attachment is shown in the page: a raster
// image with a thumbnail. Anything else (SVG, HTML, PDF, …) is offered as
// a download only.
func (a Attachment) Inline() bool { return a.Width > 0 && a.Thumbnail != "" }

// AttachmentStore is what a Store keeps of attachments: their rows, not
// their bytes (those are a BlobStore's).
type AttachmentStore interface {
	// CreateAttachment stores a's row as pending (Seq 0) and returns it
	// with its ID, after checking in the same transaction that
	// a.UploaderID is a member of a.ConversationID: ENOTFOUND otherwise.
	CreateAttachment(ctx context.Context, a Attachment) (Attachment, error)
	// Attachment returns attachment id as viewer may see it: ENOTFOUND
	// unless viewer is a member of its conversation now and the
	// attachment is sent with a message not deleted, or is viewer's own
	// upload still pending.
	Attachment(ctx context.Context, viewer UserID, id AttachmentID) (Attachment, error)
	// DropPendingAttachments marks deleted at most limit attachments
	// still pending that were uploaded before before, and returns how
	// many it marked.
	DropPendingAttachments(ctx context.Context, before time.Time, limit int) (int, error)
	// DeletedAttachments returns at most limit attachments marked deleted
	// (their message deleted or erased, or never sent) whose bytes may
	// still be stored, oldest first.
	DeletedAttachments(ctx context.Context, limit int) ([]Attachment, error)
	// PurgeAttachments removes the rows of deleted attachments once their
	// bytes are gone. IDs of attachments not marked deleted are ignored.
	PurgeAttachments(ctx context.Context, ids []AttachmentID) error
}

// Images is what the service needs to know of image formats: it sniffs
// every upload, strips the metadata of images and makes their thumbnails.
type Images interface {
	// Sniff returns the media type of a file from its first bytes (at
	// most 512).
	Sniff(head []byte) string
	// Inline reports whether contentType is a raster image a browser may
	// show inline (never SVG).
	Inline(contentType string) bool
	// StripMetadata returns r's bytes without their metadata (EXIF with
	// GPS, XMP, comments) for an inline type; other types pass through. A
	// malformed image fails Read with EINVALID.
	StripMetadata(r io.Reader, contentType string) io.Reader
	// Inspect reads an image's header and returns its size in pixels:
	// EINVALID when it cannot, ETOOLARGE past the pixel limit.
	Inspect(r io.Reader, contentType string) (width, height int, err error)
	// Thumbnail decodes an image within the pixel limit and returns it
	// scaled down, encoded, with its type and size in pixels; data nil
	// (and no error) for a valid image it cannot preview. An image that
	// cannot be decoded is EINVALID.
	Thumbnail(r io.Reader, contentType string) (data []byte, thumbType string, width, height int, err error)
}

// CheckFileName refuses (EINVALID) a file name no browser sends for a
// file a person picked: one that is not UTF-8, names a path ("/" or
// "\\", as "../../etc/passwd" does) or holds control characters. Other
// names are shown once CleanFileName has made them safe.
func CheckFileName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "the file name must be valid UTF-8")
	case strings.ContainsAny(name, `/\`):
		return Errorf(EINVALID, "the file name may not contain / or \\: send the file's own name, not a path")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return Errorf(EINVALID, "the file name may not contain control characters")
	}
	return nil
}

// CleanFileName makes a client's file name safe to show and to offer in a
// Content-Disposition header: the last element of a path ("/" or "\"),
// without control characters or bidirectional overrides (which can make
// "evil‮fdp.exe" read as "evilexe.pdf"), trimmed of spaces and dots,
// at most MaxFileName bytes on a character boundary, keeping the
// extension when it can. What is left of nothing is "file".
func CleanFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .\t")
	if len(name) > MaxFileName {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
			ext = name[i:]
		}
		cut := MaxFileName - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimRight(name[:cut], " .") + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// Upload is one file a member uploads to a conversation.
type Upload struct {
	ConversationID ConversationID
	// Name is the client's file name; CleanFileName makes it safe.
	Name string
	// Body is the file's bytes, read once, streaming.
	Body io.Reader
}

// errNoBlobs refuses uploads on a server without a blob store.
func errNoBlobs() error {
	return Errorf(EINVALID, "this server takes no attachments")
}

// Upload stores a file for the caller to send in conversation
// u.ConversationID, and returns it pending: a message of the caller's
// carries it by ID (SendRequest.Attachments) within
// PendingUploadLifetime, or it is removed. The caller must be a member
// (ENOTFOUND otherwise) within the upload budgets of files and of bytes
// (ERATELIMITED: the bytes are charged once stored, and a file past the
// budget is not kept), and the
// name one a browser sends (CheckFileName: EINVALID otherwise). The type
// is sniffed from the bytes; an image's metadata is stripped before it is
// stored, its size read and its thumbnail made. Bytes past the size limit
// (ServiceConfig.MaxUpload) are refused with ETOOLARGE, an image that
// cannot be read or is larger than the pixel limit with EINVALID or
// ETOOLARGE; a refused upload stores nothing.
func (s *Service) Upload(ctx context.Context, caller UserID, u Upload) (Attachment, error) {
	if s.blobs == nil || s.images == nil {
		return Attachment{}, errNoBlobs()
	}
	// Membership first, so that a non-member's bytes are never read.
	if _, err := s.store.Conversation(ctx, caller, u.ConversationID); err != nil {
		return Attachment{}, err
	}
	if err := CheckFileName(u.Name); err != nil {
		return Attachment{}, err
	}
	if err := s.allow(ctx, s.limits.Uploads, s.local().Uploads, userKey(caller), ActionUpload); err != nil {
		return Attachment{}, err
	}
	br := bufio.NewReaderSize(u.Body, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return Attachment{}, fmt.Errorf("read upload: %w", err)
	}
	a := Attachment{
		ConversationID: u.ConversationID,
		UploaderID:     caller,
		Name:           CleanFileName(u.Name),
		ContentType:    s.images.Sniff(head),
		CreatedAt:      Now(),
	}
	// The limit is the client's bytes', counted before stripping: one
	// more than it is read to tell "at the limit" from "past it".
	in := &countingReader{r: io.LimitReader(br, s.maxUpload+1)}
	var body io.Reader = in
	image := s.images.Inline(a.ContentType)
	if image {
		body = s.images.StripMetadata(in, a.ContentType)
	}
	info, err := s.blobs.Put(ctx, body, s.maxUpload)
	if in.n > s.maxUpload {
		if err == nil {
			s.deleteBlob(ctx, info.Key)
		}
		return Attachment{}, Errorf(ETOOLARGE, "the file is larger than %s", byteSize(s.maxUpload))
	}
	if err != nil {
		return Attachment{}, err
	}
	a.Blob, a.Size, a.SHA256 = info.Key, info.Size, info.SHA256
	// Its bytes are charged once known: a MiB, or part of one, a token.
	if err := s.allowN(ctx, s.limits.UploadBytes, s.local().UploadBytes, userKey(caller), ActionUploadBytes, int(max(1, (info.Size+1<<20-1)>>20))); err != nil {
		s.deleteBlob(ctx, a.Blob)
		return Attachment{}, err
	}
	if image {
		if err := s.thumbnail(ctx, &a); err != nil {
			s.deleteBlob(ctx, a.Blob)
			return Attachment{}, err
		}
	}
	stored, err := s.store.CreateAttachment(ctx, a)
	if err != nil {
		s.deleteBlob(ctx, a.Blob)
		s.deleteBlob(ctx, a.Thumbnail)
		return Attachment{}, err
	}
	return stored, nil
}

// thumbnail reads the stored image's size and stores its thumbnail; a
// valid image Images cannot preview is kept without one (not inline), one
// it cannot decode is refused. The
// decode is bounded by the pixel limit Images enforces, and made by at
// most ServiceConfig.MaxImageDecodes uploads at once, so that memory does
// not grow with the number of uploads.
func (s *Service) thumbnail(ctx context.Context, a *Attachment) error {
	b, err := s.blobs.Open(ctx, a.Blob)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }() // read-only: closing cannot lose data
	if a.Width, a.Height, err = s.images.Inspect(b, a.ContentType); err != nil {
		return err
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind image: %w", err)
	}
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return Unavailable("the server", context.Cause(ctx))
	}
	data, thumbType, w, h, err := s.images.Thumbnail(b, a.ContentType)
	<-s.decodes
	if err != nil {
		return err
	}
	if data == nil {
		// A valid image with no preview (an animated WebP): kept, as
		// a download.
		return nil
	}
	info, err := s.blobs.Put(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	a.Thumbnail, a.ThumbnailType, a.ThumbnailWidth, a.ThumbnailHeight = info.Key, thumbType, w, h
	return nil
}

// OpenAttachment returns attachment id of conversation conv as the caller
// may see it (Store.Attachment's rule: ENOTFOUND otherwise, as for a
// conversation they are not in) with its bytes, or its thumbnail's when
// thumbnail is set (ENOTFOUND when it has none). The caller closes the
// Blob.
func (s *Service) OpenAttachment(ctx context.Context, caller UserID, conv ConversationID, id AttachmentID, thumbnail bool) (Attachment, Blob, error) {
	if s.blobs == nil {
		return Attachment{}, nil, NotFound("attachment")
	}
	a, err := s.store.Attachment(ctx, caller, id)
	if err != nil {
		return Attachment{}, nil, err
	}
	if a.ConversationID != conv {
		return Attachment{}, nil, NotFound("attachment")
	}
	key := a.Blob
	if thumbnail {
		if key = a.Thumbnail; key == "" {
			return Attachment{}, nil, NotFound("thumbnail")
		}
	}
	b, err := s.blobs.Open(ctx, key)
	if err != nil {
		return Attachment{}, nil, err
	}
	return a, b, nil
}

// deleteBlob removes a blob the service gave up on; a failure is logged,
// and leaves bytes no row names.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if key == "" {
		return
	}
	if err := s.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.logger.WarnContext(ctx, "delete blob", "err", err, "blob", key)
	}
}

// SweepAttachments removes, a batch of at most limit at a time, the bytes
// of attachments whose message was deleted or erased and of uploads never
// sent within PendingUploadLifetime, then their rows. It returns how many
// it removed.
func (s *Service) SweepAttachments(ctx context.Context, limit int) (int, error) {
	if s.blobs == nil {
		return 0, nil
	}
	if _, err := s.store.DropPendingAttachments(ctx, Now().Add(-PendingUploadLifetime), limit); err != nil {
		return 0, err
	}
	gone, err := s.store.DeletedAttachments(ctx, limit)
	if err != nil {
		return 0, err
	}
	ids := make([]AttachmentID, 0, len(gone))
	for _, a := range gone {
		if err := s.blobs.Delete(ctx, a.Blob); err != nil {
			return 0, err
		}
		if a.Thumbnail != "" {
			if err := s.blobs.Delete(ctx, a.Thumbnail); err != nil {
				return 0, err
			}
		}
		ids = append(ids, a.ID)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.store.PurgeAttachments(ctx, ids)
}

// RunAttachmentSweep sweeps attachments (SweepAttachments) once a minute,
// and at once after a message with attachments is deleted, until ctx
// ends.
func (s *Service) RunAttachmentSweep(ctx context.Context) {
	if s.blobs == nil {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.sweep:
		}
		for {
			n, err := s.SweepAttachments(ctx, 100)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.ErrorContext(ctx, "attachment sweep failed", "err", err)
				}
				break
			}
			if n > 0 {
				s.logger.DebugContext(ctx, "attachments removed", "count", n)
			}
			if n < 100 {
				break
			}
		}
	}
}

// sweepSoon asks RunAttachmentSweep to sweep now: the bytes of a deleted
// message's attachments go at once, not within the minute.
func (s *Service) sweepSoon() {
	select {
	case s.sweep <- struct{}{}:
	default: // a sweep is due already
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// byteSize writes n bytes for people: "25 MiB", "512 KiB", "100 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// attachmentRefs checks a send's attachment IDs (at most MaxAttachments,
// positive, each once) and returns them as the attachments a store is
// handed.
func attachmentRefs(ids []AttachmentID) ([]Attachment, error) {
	if len(ids) > MaxAttachments {
		return nil, Errorf(EINVALID, "a message carries at most %d files", MaxAttachments)
	}
	refs := make([]Attachment, 0, len(ids))
	for i, id := range ids {
		if id <= 0 {
			return nil, Errorf(EINVALID, "attachment_ids must be positive")
		}
		if slices.Contains(ids[:i], id) {
			return nil, Errorf(EINVALID, "attachment %d is named twice", id)
		}
		refs = append(refs, Attachment{ID: id})
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return refs, nil
}
