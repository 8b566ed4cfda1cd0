package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// EditMessage replaces a message's body, and its indexed words, under a
// new version, in one transaction that holds the conversation's row lock
// (so it is ordered with sends and membership changes) and reads the
// recipients.
func (s *Store) EditMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	var st chat.Stored
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := checkMessageChange(ctx, tx, c, chat.MessageEdit); err != nil {
			return err
		}
		var err error
		st.Message, err = changeMessage(ctx, tx, c, `body = $4::text, edited_at = $5::timestamptz, search = $6::tsvector`,
			c.Body, c.At, searchVector(c.Body))
		if err != nil {
			return err
		}
		st.Changed = true
		st.Recipients, err = membersOf(ctx, tx, c.ConversationID)
		return err
	})
	if err != nil {
		return chat.Stored{}, err
	}
	return st, nil
}

// DeleteMessage erases a message's body and its indexed words under a new
// version, leaving a tombstone, and marks its attachments deleted, in one
// transaction that holds the conversation's row lock and reads the
// recipients. A message deleted
// already is returned unchanged.
func (s *Store) DeleteMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	var st chat.Stored
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := checkMessageChange(ctx, tx, c, chat.MessageDelete)
		if err != nil {
			return err
		}
		if old.Deleted() {
			st.Message = old
			return nil
		}
		if st.Message, err = changeMessage(ctx, tx, c, `body = '', search = NULL, deleted_at = $4::timestamptz, attachments = NULL`, c.At); err != nil {
			return err
		}
		if err := deleteMessageAttachments(ctx, tx, c.ConversationID, c.Seq, c.At); err != nil {
			return err
		}
		st.Changed = true
		st.Recipients, err = membersOf(ctx, tx, c.ConversationID)
		return err
	})
	if err != nil {
		return chat.Stored{}, err
	}
	return st, nil
}

// checkMessageChange locks the conversation's row, reads the actor's
// membership and the message, and applies chat.CheckMessageChange. It
// returns the message as it is.
func checkMessageChange(ctx context.Context, tx pgx.Tx, c chat.MessageChange, action chat.MessageAction) (chat.Message, error) {
	conv, err := selectConversation(ctx, tx, `WHERE id = $1 FOR UPDATE`, int64(c.ConversationID))
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return chat.Message{}, chat.CheckMessageChange("", nil, nil, action)
	}
	if err != nil {
		return chat.Message{}, err
	}
	info, err := memberInfo(ctx, tx, c.ConversationID, c.Actor)
	if err != nil {
		return chat.Message{}, err
	}
	var actor *chat.Member
	if info != nil {
		actor = &info.Member
	}
	var msg *chat.Message
	m, err := scanMessage(tx.QueryRow(ctx, `
		SELECT `+messageCols+` FROM messages WHERE conversation_id = $1 AND seq = $2`, int64(c.ConversationID), c.Seq))
	switch {
	case err == nil:
		msg = &m
	case !errors.Is(err, pgx.ErrNoRows):
		return chat.Message{}, fmt.Errorf("select message: %w", err)
	}
	if err := chat.CheckMessageChange(conv.Kind, actor, msg, action); err != nil {
		return chat.Message{}, err
	}
	return m, nil
}

// changeMessage takes the conversation's next version and gives it to
// message c.Seq with the columns set (an UPDATE's SET list whose
// parameters start at $4), returning the message as it is now.
func changeMessage(ctx context.Context, tx pgx.Tx, c chat.MessageChange, set string, args ...any) (chat.Message, error) {
	var version int64
	if err := tx.QueryRow(ctx, `
		UPDATE conversations SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version`,
		int64(c.ConversationID)).Scan(&version); err != nil {
		return chat.Message{}, fmt.Errorf("next version: %w", err)
	}
	m, err := scanMessage(tx.QueryRow(ctx, `
		UPDATE messages SET `+set+`, version = $1 WHERE conversation_id = $2 AND seq = $3
		RETURNING `+messageCols, append([]any{version, int64(c.ConversationID), c.Seq}, args...)...))
	if err != nil {
		return chat.Message{}, fmt.Errorf("change message: %w", err)
	}
	return m, nil
}

// MessageChanges returns messages changed after a version, ascending by
// version, walking the (conversation_id, version) index.
func (s *Store) MessageChanges(ctx context.Context, id chat.ConversationID, afterVersion int64, limit int) ([]chat.Message, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+messageCols+` FROM messages
		WHERE conversation_id = $1 AND version > $2 ORDER BY version LIMIT $3`, int64(id), afterVersion, limit)
	if err != nil {
		return nil, fmt.Errorf("select changes: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("select changes: %w", err)
	}
	return msgs, nil
}
