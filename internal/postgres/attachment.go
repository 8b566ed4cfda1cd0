package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// attachmentCols are the columns scanAttachment reads, in its order.
const attachmentCols = `id, conversation_id, uploader_id, name, content_type, size, sha256, blob, width, height,
	thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, created_at, seq`

func scanAttachment(r pgx.Row, more ...any) (chat.Attachment, error) {
	var (
		a             chat.Attachment
		thumb, thType *string
		seq           *int64
	)
	err := r.Scan(append([]any{&a.ID, &a.ConversationID, &a.UploaderID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &a.Blob,
		&a.Width, &a.Height, &thumb, &thType, &a.ThumbnailWidth, &a.ThumbnailHeight, &a.CreatedAt, &seq}, more...)...)
	a.Thumbnail, a.ThumbnailType = deref(thumb), deref(thType)
	if seq != nil {
		a.Seq = *seq
	}
	return a, err
}

// CreateAttachment stores a pending upload with one statement that
// inserts it only when the uploader is a member.
func (s *Store) CreateAttachment(ctx context.Context, a chat.Attachment) (chat.Attachment, error) {
	a.Seq = 0
	a.CreatedAt = a.CreatedAt.Truncate(time.Microsecond)
	err := s.pool.QueryRow(ctx, `
		INSERT INTO attachments (conversation_id, uploader_id, name, content_type, size, sha256, blob, width, height,
			thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
		WHERE EXISTS (SELECT FROM members WHERE conversation_id = $1 AND user_id = $2)
		RETURNING id`,
		int64(a.ConversationID), int64(a.UploaderID), a.Name, a.ContentType, a.Size, a.SHA256, a.Blob, a.Width, a.Height,
		nullString(a.Thumbnail), nullString(a.ThumbnailType), a.ThumbnailWidth, a.ThumbnailHeight, a.CreatedAt,
	).Scan(&a.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Attachment{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Attachment{}, fmt.Errorf("insert attachment: %w", err)
	}
	return a, nil
}

// Attachment returns an attachment the viewer may see: in a conversation
// they are a member of now, sent and not deleted, or their own pending
// upload.
func (s *Store) Attachment(ctx context.Context, viewer chat.UserID, id chat.AttachmentID) (chat.Attachment, error) {
	a, err := scanAttachment(s.pool.QueryRow(ctx, `
		SELECT `+attachmentCols+` FROM attachments a
		WHERE id = $2 AND deleted_at IS NULL AND (seq IS NOT NULL OR uploader_id = $1)
		  AND EXISTS (SELECT FROM members m WHERE m.conversation_id = a.conversation_id AND m.user_id = $1)`,
		int64(viewer), int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Attachment{}, chat.NotFound("attachment")
	}
	if err != nil {
		return chat.Attachment{}, fmt.Errorf("select attachment: %w", err)
	}
	return a, nil
}

// DropPendingAttachments marks deleted the oldest uploads never sent,
// walking the index of pending ones. Rows a send has locked to carry them
// are skipped: that send decides.
func (s *Store) DropPendingAttachments(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE attachments SET deleted_at = $1 WHERE id IN (
			SELECT id FROM attachments
			WHERE seq IS NULL AND deleted_at IS NULL AND created_at < $2
			ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)`, chat.Now(), before, limit)
	if err != nil {
		return 0, fmt.Errorf("drop pending attachments: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeletedAttachments returns attachments marked deleted, the longest
// deleted first, walking their partial index.
func (s *Store) DeletedAttachments(ctx context.Context, limit int) ([]chat.Attachment, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+attachmentCols+` FROM attachments
		WHERE deleted_at IS NOT NULL ORDER BY deleted_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("select deleted attachments: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Attachment, error) { return scanAttachment(r) })
	if err != nil {
		return nil, fmt.Errorf("select deleted attachments: %w", err)
	}
	return list, nil
}

// PurgeAttachments deletes the rows of deleted attachments.
func (s *Store) PurgeAttachments(ctx context.Context, ids []chat.AttachmentID) error {
	if len(ids) == 0 {
		return nil
	}
	list := make([]int64, len(ids))
	for i, id := range ids {
		list[i] = int64(id)
	}
	if _, err := s.pool.Exec(ctx, `
		DELETE FROM attachments WHERE id = ANY($1::bigint[]) AND deleted_at IS NOT NULL`, list); err != nil {
		return fmt.Errorf("purge attachments: %w", err)
	}
	return nil
}

// deleteMessageAttachments marks deleted the attachments of message seq
// of conversation conv, as its body is erased.
func deleteMessageAttachments(ctx context.Context, tx pgx.Tx, conv chat.ConversationID, seq int64, at time.Time) error {
	if _, err := tx.Exec(ctx, `
		UPDATE attachments SET deleted_at = $1 WHERE conversation_id = $2 AND seq = $3 AND deleted_at IS NULL`,
		at, int64(conv), seq); err != nil {
		return fmt.Errorf("delete attachments: %w", err)
	}
	return nil
}

// attachmentJSON is an attachment as a message's attachments column holds
// it. The conversation, uploader and seq are the message's own, so they
// are not repeated.
type attachmentJSON struct {
	ID              chat.AttachmentID `json:"id"`
	Name            string            `json:"name"`
	ContentType     string            `json:"content_type"`
	Size            int64             `json:"size"`
	SHA256          string            `json:"sha256"`
	Blob            string            `json:"blob"`
	Width           int               `json:"width,omitempty"`
	Height          int               `json:"height,omitempty"`
	Thumbnail       string            `json:"thumbnail,omitempty"`
	ThumbnailType   string            `json:"thumbnail_type,omitempty"`
	ThumbnailWidth  int               `json:"thumbnail_width,omitempty"`
	ThumbnailHeight int               `json:"thumbnail_height,omitempty"`
	CreatedAt       int64             `json:"created_at"` // microseconds
}

// encodeAttachments returns the attachments column of a message carrying
// as: NULL (nil) when it carries none.
func encodeAttachments(as []chat.Attachment) (*string, error) {
	if len(as) == 0 {
		return nil, nil
	}
	list := make([]attachmentJSON, len(as))
	for i, a := range as {
		list[i] = attachmentJSON{
			ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Blob: a.Blob,
			Width: a.Width, Height: a.Height, Thumbnail: a.Thumbnail, ThumbnailType: a.ThumbnailType,
			ThumbnailWidth: a.ThumbnailWidth, ThumbnailHeight: a.ThumbnailHeight, CreatedAt: a.CreatedAt.UnixMicro(),
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode attachments: %w", err)
	}
	text := string(b)
	return &text, nil
}

// decodeAttachments sets m.Attachments from its attachments column.
func decodeAttachments(m *chat.Message, col *string) error {
	if col == nil || *col == "" {
		return nil
	}
	var list []attachmentJSON
	if err := json.Unmarshal([]byte(*col), &list); err != nil {
		return fmt.Errorf("decode attachments of message %d/%d: %w", m.ConversationID, m.Seq, err)
	}
	m.Attachments = make([]chat.Attachment, len(list))
	for i, j := range list {
		m.Attachments[i] = chat.Attachment{
			ID: j.ID, ConversationID: m.ConversationID, UploaderID: m.SenderID, Name: j.Name, ContentType: j.ContentType,
			Size: j.Size, SHA256: j.SHA256, Blob: j.Blob, Width: j.Width, Height: j.Height, Thumbnail: j.Thumbnail,
			ThumbnailType: j.ThumbnailType, ThumbnailWidth: j.ThumbnailWidth, ThumbnailHeight: j.ThumbnailHeight,
			CreatedAt: time.UnixMicro(j.CreatedAt), Seq: m.Seq,
		}
	}
	return nil
}
