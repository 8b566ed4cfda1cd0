package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// ExpiredMessages returns the oldest text messages sent before before and
// not deleted, walking the partial index messages_expiry (which holds
// only those): a retention pass reads no tombstone twice.
func (s *Store) ExpiredMessages(ctx context.Context, before time.Time, limit int) ([]chat.MessageRef, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT conversation_id, seq FROM messages INDEXED BY messages_expiry
		WHERE created_at < ? AND deleted_at IS NULL AND kind = 'text'
		ORDER BY created_at LIMIT ?`, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("select expired messages: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var refs []chat.MessageRef
	for rows.Next() {
		var r chat.MessageRef
		if err := rows.Scan(&r.ConversationID, &r.Seq); err != nil {
			return nil, fmt.Errorf("scan expired message: %w", err)
		}
		refs = append(refs, r)
	}
	return refs, rows.Err()
}

// EraseMessages makes tombstones of messages of one conversation, each
// under a new version, out of the search index and with its attachments
// marked deleted, in one transaction on the write connection that also
// reads the recipients.
func (s *Store) EraseMessages(ctx context.Context, conv chat.ConversationID, seqs []int64, at time.Time) ([]chat.Stored, error) {
	var stored []chat.Stored
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stored = stored[:0]
		var recipients []chat.UserID
		for _, seq := range seqs {
			old, err := scanMessage(tx.QueryRowContext(ctx, `
				SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND seq = ?`, int64(conv), seq))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("select message: %w", err)
			}
			if old.Deleted() {
				continue
			}
			c := chat.MessageChange{ConversationID: conv, Seq: seq, At: at}
			m, err := changeMessage(ctx, tx, c, `body = '', deleted_at = ?, attachments = NULL`, micros(at))
			if err != nil {
				return err
			}
			if err := deleteMessageAttachments(ctx, tx, conv, seq, at); err != nil {
				return err
			}
			if err := reindex(ctx, tx, conv, seq, old.Body, ""); err != nil {
				return err
			}
			if recipients == nil {
				if recipients, err = membersOf(ctx, tx, conv); err != nil {
					return err
				}
			}
			stored = append(stored, chat.Stored{Message: m, Changed: true, Recipients: recipients})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}
