package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// attachmentCols are the columns scanAttachment reads, in its order.
const attachmentCols = `id, conversation_id, uploader_id, name, content_type, size, sha256, blob, width, height,
	thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, created_at, seq`

func scanAttachment(r scanner) (chat.Attachment, error) {
	var (
		a             chat.Attachment
		thumb, thType sql.NullString
		created       int64
		seq           sql.NullInt64
	)
	err := r.Scan(&a.ID, &a.ConversationID, &a.UploaderID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &a.Blob,
		&a.Width, &a.Height, &thumb, &thType, &a.ThumbnailWidth, &a.ThumbnailHeight, &created, &seq)
	a.Thumbnail, a.ThumbnailType, a.CreatedAt, a.Seq = thumb.String, thType.String, fromMicros(created), seq.Int64
	return a, err
}

// CreateAttachment stores a pending upload, in one transaction on the write
// connection that first checks the uploader is a member.
func (s *Store) CreateAttachment(ctx context.Context, a chat.Attachment) (chat.Attachment, error) {
	a.Seq = 0
	a.CreatedAt = fromMicros(micros(a.CreatedAt))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?`,
			int64(a.ConversationID), int64(a.UploaderID)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.NotFound("conversation")
		}
		if err != nil {
			return fmt.Errorf("select member: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO attachments (conversation_id, uploader_id, name, content_type, size, sha256, blob, width, height,
				thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			int64(a.ConversationID), int64(a.UploaderID), a.Name, a.ContentType, a.Size, a.SHA256, a.Blob, a.Width, a.Height,
			nullString(a.Thumbnail), nullString(a.ThumbnailType), a.ThumbnailWidth, a.ThumbnailHeight, micros(a.CreatedAt),
		).Scan(&a.ID); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
		return nil
	})
	if err != nil {
		return chat.Attachment{}, err
	}
	return a, nil
}

// Attachment returns an attachment the viewer may see: in a conversation
// they are a member of now, sent and not deleted, or their own pending
// upload.
func (s *Store) Attachment(ctx context.Context, viewer chat.UserID, id chat.AttachmentID) (chat.Attachment, error) {
	a, err := scanAttachment(s.read.QueryRowContext(ctx, `
		SELECT `+prefixed("a.", attachmentCols)+` FROM attachments a
		JOIN members m ON m.conversation_id = a.conversation_id AND m.user_id = ?1
		WHERE a.id = ?2 AND a.deleted_at IS NULL AND (a.seq IS NOT NULL OR a.uploader_id = ?1)`,
		int64(viewer), int64(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Attachment{}, chat.NotFound("attachment")
	}
	if err != nil {
		return chat.Attachment{}, fmt.Errorf("select attachment: %w", err)
	}
	return a, nil
}

// DropPendingAttachments marks deleted the oldest uploads never sent,
// walking the index of pending ones.
func (s *Store) DropPendingAttachments(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE attachments SET deleted_at = ? WHERE id IN (
				SELECT id FROM attachments INDEXED BY attachments_pending
				WHERE seq IS NULL AND deleted_at IS NULL AND created_at < ?
				ORDER BY created_at, id LIMIT ?)`, micros(chat.Now()), micros(before), limit)
		if err != nil {
			return fmt.Errorf("drop pending attachments: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// DeletedAttachments returns attachments marked deleted, the longest
// deleted first, walking their partial index.
func (s *Store) DeletedAttachments(ctx context.Context, limit int) ([]chat.Attachment, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+attachmentCols+` FROM attachments INDEXED BY attachments_deleted
		WHERE deleted_at IS NOT NULL ORDER BY deleted_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("select deleted attachments: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var list []chat.Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, fmt.Errorf("scan attachment: %w", err)
		}
		list = append(list, a)
	}
	return list, rows.Err()
}

// PurgeAttachments deletes the rows of deleted attachments.
func (s *Store) PurgeAttachments(ctx context.Context, ids []chat.AttachmentID) error {
	if len(ids) == 0 {
		return nil
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("purge attachments: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM attachments WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NOT NULL`,
			string(arg)); err != nil {
			return fmt.Errorf("purge attachments: %w", err)
		}
		return nil
	})
}

// deleteMessageAttachments marks deleted the attachments of message seq
// of conversation conv, as its body is erased.
func deleteMessageAttachments(ctx context.Context, tx *sql.Tx, conv chat.ConversationID, seq int64, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE attachments SET deleted_at = ? WHERE conversation_id = ? AND seq = ? AND deleted_at IS NULL`,
		micros(at), int64(conv), seq); err != nil {
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
// as: NULL when it carries none.
func encodeAttachments(as []chat.Attachment) (sql.NullString, error) {
	if len(as) == 0 {
		return sql.NullString{}, nil
	}
	list := make([]attachmentJSON, len(as))
	for i, a := range as {
		list[i] = attachmentJSON{
			ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Blob: a.Blob,
			Width: a.Width, Height: a.Height, Thumbnail: a.Thumbnail, ThumbnailType: a.ThumbnailType,
			ThumbnailWidth: a.ThumbnailWidth, ThumbnailHeight: a.ThumbnailHeight, CreatedAt: micros(a.CreatedAt),
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode attachments: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// decodeAttachments sets m.Attachments from its attachments column.
func decodeAttachments(m *chat.Message, col sql.NullString) error {
	if !col.Valid || col.String == "" {
		return nil
	}
	var list []attachmentJSON
	if err := json.Unmarshal([]byte(col.String), &list); err != nil {
		return fmt.Errorf("decode attachments of message %d/%d: %w", m.ConversationID, m.Seq, err)
	}
	m.Attachments = make([]chat.Attachment, len(list))
	for i, j := range list {
		m.Attachments[i] = chat.Attachment{
			ID: j.ID, ConversationID: m.ConversationID, UploaderID: m.SenderID, Name: j.Name, ContentType: j.ContentType,
			Size: j.Size, SHA256: j.SHA256, Blob: j.Blob, Width: j.Width, Height: j.Height, Thumbnail: j.Thumbnail,
			ThumbnailType: j.ThumbnailType, ThumbnailWidth: j.ThumbnailWidth, ThumbnailHeight: j.ThumbnailHeight,
			CreatedAt: fromMicros(j.CreatedAt), Seq: m.Seq,
		}
	}
	return nil
}
