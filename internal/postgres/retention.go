package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// ExpiredMessages returns the oldest text messages sent before before and
// not deleted, walking the partial index messages_expiry (which holds
// only those): a retention pass reads no tombstone twice.
func (s *Store) ExpiredMessages(ctx context.Context, before time.Time, limit int) ([]chat.MessageRef, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT conversation_id, seq FROM messages
		WHERE created_at < $1 AND deleted_at IS NULL AND kind = 'text'
		ORDER BY created_at LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("select expired messages: %w", err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.MessageRef, error) {
		var ref chat.MessageRef
		err := r.Scan(&ref.ConversationID, &ref.Seq)
		return ref, err
	})
	if err != nil {
		return nil, fmt.Errorf("select expired messages: %w", err)
	}
	return refs, nil
}

// EraseMessages makes tombstones of messages of one conversation, each
// under a new version, out of the search index and with its attachments
// marked deleted, in one transaction
// that holds the conversation's row (as a send or an edit does) and also
// reads the recipients.
func (s *Store) EraseMessages(ctx context.Context, conv chat.ConversationID, seqs []int64, at time.Time) ([]chat.Stored, error) {
	var stored []chat.Stored
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored = stored[:0]
		if _, err := selectConversation(ctx, tx, `WHERE id = $1 FOR UPDATE`, int64(conv)); err != nil {
			if chat.ErrorCode(err) == chat.ENOTFOUND {
				return nil // gone with everything in it
			}
			return err
		}
		var recipients []chat.UserID
		for _, seq := range seqs {
			old, err := scanMessage(tx.QueryRow(ctx, `
				SELECT `+messageCols+` FROM messages WHERE conversation_id = $1 AND seq = $2`, int64(conv), seq))
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("select message: %w", err)
			}
			if old.Deleted() {
				continue
			}
			c := chat.MessageChange{ConversationID: conv, Seq: seq, At: at}
			m, err := changeMessage(ctx, tx, c, `body = '', search = NULL, deleted_at = $4::timestamptz, attachments = NULL`, at)
			if err != nil {
				return err
			}
			if err := deleteMessageAttachments(ctx, tx, conv, seq, at); err != nil {
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
