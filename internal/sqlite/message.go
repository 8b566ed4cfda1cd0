package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/chat"
)

// CreateMessage stores a message in one transaction that assigns its seq,
// moves the conversation's last_seq and the sender's read cursor. The
// single write connection serializes these transactions, so seqs are dense.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	if m.ClientID != "" {
		first, err := scanMessage(tx.QueryRowContext(ctx, `
			SELECT conversation_id, seq, sender_id, body, client_id, created_at
			FROM messages WHERE sender_id = ? AND client_id = ?`, int64(m.SenderID), m.ClientID))
		switch {
		case err == nil && first.ConversationID != m.ConversationID:
			return chat.Message{}, false, chat.Errorf(chat.ECONFLICT, "client_id %q was used for another conversation", m.ClientID)
		case err == nil:
			return first, false, nil
		case !errors.Is(err, sql.ErrNoRows):
			return chat.Message{}, false, fmt.Errorf("select by client_id: %w", err)
		}
	}

	// Only a member moves the sequence: the membership test and the
	// increment are one statement.
	// Message times never go backwards along seq, even when the clock
	// stamped a later send first.
	var at int64
	err = tx.QueryRowContext(ctx, `
		UPDATE conversations SET last_seq = last_seq + 1, last_message_at = max(coalesce(last_message_at, 0), ?1)
		WHERE id = ?2 AND EXISTS (SELECT 1 FROM members WHERE conversation_id = ?2 AND user_id = ?3)
		RETURNING last_seq, last_message_at`, micros(m.CreatedAt), int64(m.ConversationID), int64(m.SenderID)).Scan(&m.Seq, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Message{}, false, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("next seq: %w", err)
	}
	m.CreatedAt = fromMicros(at)
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		int64(m.ConversationID), m.Seq, int64(m.SenderID), m.Body, nullString(m.ClientID), micros(m.CreatedAt)); err != nil {
		return chat.Message{}, false, fmt.Errorf("insert message: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE members SET last_read_seq = ? WHERE conversation_id = ? AND user_id = ?`,
		m.Seq, int64(m.ConversationID), int64(m.SenderID)); err != nil {
		return chat.Message{}, false, fmt.Errorf("move read cursor: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return chat.Message{}, false, fmt.Errorf("commit: %w", err)
	}
	return m, true, nil
}

// Messages returns a page of history in ascending seq order. Each query
// walks the primary key from the cursor, so the cost is the same at any
// depth.
func (s *Store) Messages(ctx context.Context, id chat.ConversationID, q chat.MessageQuery) ([]chat.Message, error) {
	const cols = `SELECT conversation_id, seq, sender_id, body, client_id, created_at FROM messages`
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case q.AfterSeq > 0:
		rows, err = s.read.QueryContext(ctx, cols+`
			WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, int64(id), q.AfterSeq, q.Limit)
	case q.BeforeSeq > 0:
		rows, err = s.read.QueryContext(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`, int64(id), q.BeforeSeq, q.Limit)
	default:
		rows, err = s.read.QueryContext(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`, int64(id), q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	defer rows.Close()
	msgs := make([]chat.Message, 0, q.Limit)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// MarkRead moves a member's read cursor forward, never back, clamped to the
// conversation's last_seq.
func (s *Store) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (int64, bool, error) {
	var cursor int64
	err := s.write.QueryRowContext(ctx, `
		UPDATE members SET last_read_seq = min(?1, (SELECT last_seq FROM conversations WHERE id = ?2))
		WHERE conversation_id = ?2 AND user_id = ?3
		  AND last_read_seq < min(?1, (SELECT last_seq FROM conversations WHERE id = ?2))
		RETURNING last_read_seq`, seq, int64(id), int64(user)).Scan(&cursor)
	if err == nil {
		return cursor, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("mark read: %w", err)
	}
	// Nothing moved: either the cursor is already there, or not a member.
	m, err := s.Member(ctx, id, user)
	if err != nil {
		return 0, false, err
	}
	return m.LastReadSeq, false, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

func scanMessage(r scanner) (chat.Message, error) {
	var (
		m        chat.Message
		clientID sql.NullString
		created  int64
	)
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.Body, &clientID, &created); err != nil {
		return chat.Message{}, err
	}
	m.ClientID = clientID.String
	m.CreatedAt = fromMicros(created)
	return m, nil
}

// nullString stores "" as NULL, so that UNIQUE(sender_id, client_id) binds
// only messages that carry a client ID.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
