package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/chat"
)

// EditMessage replaces a message's body under a new version, and its
// words in the search index, in one transaction on the write connection
// (which orders it with sends) that also reads the recipients.
func (s *Store) EditMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	var st chat.Stored
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := checkMessageChange(ctx, tx, c, chat.MessageEdit)
		if err != nil {
			return err
		}
		if st.Message, err = changeMessage(ctx, tx, c, `body = ?, edited_at = ?`, c.Body, micros(c.At)); err != nil {
			return err
		}
		if err := reindex(ctx, tx, c.ConversationID, c.Seq, old.Body, st.Message.Body); err != nil {
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

// DeleteMessage erases a message's body under a new version, leaving a
// tombstone, takes its words out of the search index and marks its
// attachments deleted, in one transaction on the write connection that
// also reads the recipients. A message deleted already is returned
// unchanged.
func (s *Store) DeleteMessage(ctx context.Context, c chat.MessageChange) (chat.Stored, error) {
	var st chat.Stored
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := checkMessageChange(ctx, tx, c, chat.MessageDelete)
		if err != nil {
			return err
		}
		if old.Deleted() {
			st.Message = old
			return nil
		}
		if st.Message, err = changeMessage(ctx, tx, c, `body = '', deleted_at = ?, attachments = NULL`, micros(c.At)); err != nil {
			return err
		}
		if err := deleteMessageAttachments(ctx, tx, c.ConversationID, c.Seq, c.At); err != nil {
			return err
		}
		if err := reindex(ctx, tx, c.ConversationID, c.Seq, old.Body, ""); err != nil {
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

// checkMessageChange reads, inside tx, the conversation, the actor's
// membership and the message, and applies chat.CheckMessageChange. It
// returns the message as it is.
func checkMessageChange(ctx context.Context, tx *sql.Tx, c chat.MessageChange, action chat.MessageAction) (chat.Message, error) {
	conv, err := selectConversation(ctx, tx, `id = ?`, int64(c.ConversationID))
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
	m, err := scanMessage(tx.QueryRowContext(ctx, `
		SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND seq = ?`, int64(c.ConversationID), c.Seq))
	switch {
	case err == nil:
		msg = &m
	case !errors.Is(err, sql.ErrNoRows):
		return chat.Message{}, fmt.Errorf("select message: %w", err)
	}
	if err := chat.CheckMessageChange(conv.Kind, actor, msg, action); err != nil {
		return chat.Message{}, err
	}
	return m, nil
}

// changeMessage takes the conversation's next version and gives it to
// message c.Seq with the columns set (an UPDATE's SET list with its
// arguments), returning the message as it is now.
func changeMessage(ctx context.Context, tx *sql.Tx, c chat.MessageChange, set string, args ...any) (chat.Message, error) {
	var version int64
	if err := tx.QueryRowContext(ctx, `
		UPDATE conversations SET last_version = last_version + 1 WHERE id = ? RETURNING last_version`,
		int64(c.ConversationID)).Scan(&version); err != nil {
		return chat.Message{}, fmt.Errorf("next version: %w", err)
	}
	args = append(args, version, int64(c.ConversationID), c.Seq)
	m, err := scanMessage(tx.QueryRowContext(ctx, `
		UPDATE messages SET `+set+`, version = ? WHERE conversation_id = ? AND seq = ?
		RETURNING `+messageCols, args...))
	if err != nil {
		return chat.Message{}, fmt.Errorf("change message: %w", err)
	}
	return m, nil
}

// MessageChanges returns messages changed after a version, ascending by
// version, walking the (conversation_id, version) index.
func (s *Store) MessageChanges(ctx context.Context, id chat.ConversationID, afterVersion int64, limit int) ([]chat.Message, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+messageCols+` FROM messages
		WHERE conversation_id = ? AND version > ? ORDER BY version LIMIT ?`, int64(id), afterVersion, limit)
	if err != nil {
		return nil, fmt.Errorf("select changes: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	msgs := make([]chat.Message, 0, min(limit, 128))
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}
