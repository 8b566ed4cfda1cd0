package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// CreateMessages stores each message of the batch as CreateMessage does,
// one transaction each, in order.
func (s *Store) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	rs := make([]chat.SendResult, len(ms))
	for i, m := range ms {
		rs[i].Stored, rs[i].Err = s.CreateMessage(ctx, m)
	}
	return rs, nil
}

// CreateMessage stores a message in one transaction that assigns its seq
// and version (its search position comes from the column's default: the
// insert happens under the conversation's row lock, so positions grow
// with seq), indexes its words, moves the conversation's last_seq and
// last_version and the sender's read cursor, and reads the members (the
// recipients) in the statement that moves the cursor. The
// UPDATE of the conversation row takes its lock, so senders to one
// conversation queue there until the one before commits or rolls back:
// seqs are dense whichever connection or node sends.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	// A send whose client ID was used before is found by the unique
	// index (below), not looked up first: the service has looked already.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return chat.Stored{}, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit a no-op; on failure the first error is the one returned

	// Only a member moves the sequence: the membership test and the
	// increment are one statement. Message times never go backwards along
	// seq, even when the clock stamped a later send first.
	err = tx.QueryRow(ctx, `
		UPDATE conversations
		SET last_seq = last_seq + 1, last_version = last_version + 1,
		    last_message_at = GREATEST(coalesce(last_message_at, $1::timestamptz), $1::timestamptz)
		WHERE id = $2 AND EXISTS (SELECT 1 FROM members WHERE conversation_id = $2 AND user_id = $3)
		RETURNING last_seq, last_version, last_message_at`,
		m.CreatedAt, int64(m.ConversationID), int64(m.SenderID)).Scan(&m.Seq, &m.Version, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Stored{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Stored{}, fmt.Errorf("next seq: %w", err)
	}
	// The membership test above saw the statement's snapshot, taken
	// before the UPDATE waited for the row lock; a group change holding
	// that lock may have removed the sender meanwhile. This statement's
	// snapshot is taken after the lock was ours, so it inserts only for a
	// member still: a removed member's send that queued behind the
	// removal stores nothing.
	tag, err := tx.Exec(ctx, `
		INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at, version, search)
		SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, $5::text, $6::timestamptz, $7::bigint, $8::tsvector
		WHERE EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $3)`,
		int64(m.ConversationID), m.Seq, int64(m.SenderID), m.Body, nullString(m.ClientID), m.CreatedAt, m.Version,
		searchVector(m.Body))
	if isUnique(err, "messages_sender_client") {
		// Another send with this client ID committed after our look-up
		// (the insert waited for it). Give its seq back by rolling back,
		// then answer with that message, as a retry would be answered.
		if err := tx.Rollback(ctx); err != nil {
			return chat.Stored{}, fmt.Errorf("rollback: %w", err)
		}
		first, found, err := s.sentBefore(ctx, m)
		if err == nil && !found {
			err = fmt.Errorf("client_id %q collided with a message that is gone", m.ClientID)
		}
		return chat.Stored{Message: first}, err
	}
	if err != nil {
		return chat.Stored{}, fmt.Errorf("insert message: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chat.Stored{}, chat.NotFound("conversation") // the deferred rollback gives the seq back
	}
	m.Kind, m.System = chat.MessageText, nil
	// GREATEST: the cursor never moves back, even if a MarkRead got ahead.
	// The same statement reads the recipients, under the row lock that
	// membership changes take too: they are the members as of this
	// message, at no extra round trip.
	rows, err := tx.Query(ctx, `
		WITH moved AS (
			UPDATE members SET last_read_seq = GREATEST(last_read_seq, $1)
			WHERE conversation_id = $2 AND user_id = $3)
		SELECT user_id FROM members WHERE conversation_id = $2 ORDER BY user_id`,
		m.Seq, int64(m.ConversationID), int64(m.SenderID))
	if err != nil {
		return chat.Stored{}, fmt.Errorf("move read cursor: %w", err)
	}
	to, err := pgx.CollectRows(rows, pgx.RowTo[chat.UserID])
	if err != nil {
		return chat.Stored{}, fmt.Errorf("move read cursor: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return chat.Stored{}, fmt.Errorf("commit: %w", err)
	}
	return chat.Stored{Message: m, Changed: true, Recipients: to}, nil
}

// MessageByClientID returns the message sender sent with clientID, or
// ENOTFOUND.
func (s *Store) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `
		SELECT `+messageCols+`
		FROM messages WHERE sender_id = $1 AND client_id = $2`, int64(sender), clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Message{}, chat.NotFound("message")
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("select by client_id: %w", err)
	}
	return m, nil
}

// sentBefore looks up the sender's message with m.ClientID. found is true
// when there is one in m's conversation; one in another conversation is
// ECONFLICT.
func (s *Store) sentBefore(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	first, err := s.MessageByClientID(ctx, m.SenderID, m.ClientID)
	switch {
	case chat.ErrorCode(err) == chat.ENOTFOUND:
		return chat.Message{}, false, nil
	case err != nil:
		return chat.Message{}, false, err
	case first.ConversationID != m.ConversationID:
		return chat.Message{}, false, chat.Errorf(chat.ECONFLICT, "client_id %q was used for another conversation", m.ClientID)
	}
	return first, true, nil
}

// Messages returns a page of history in ascending seq order. Each query
// walks the primary key from the cursor, so the cost is the same at any
// depth.
func (s *Store) Messages(ctx context.Context, id chat.ConversationID, q chat.MessageQuery) ([]chat.Message, error) {
	const cols = `SELECT ` + messageCols + ` FROM messages`
	var (
		rows pgx.Rows
		err  error
	)
	switch {
	case q.After:
		rows, err = s.pool.Query(ctx, cols+`
			WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, int64(id), q.AfterSeq, q.Limit)
	case q.BeforeSeq > 0:
		rows, err = s.pool.Query(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) page ORDER BY seq`, int64(id), q.BeforeSeq, q.Limit)
	default:
		rows, err = s.pool.Query(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) page ORDER BY seq`, int64(id), q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	return msgs, nil
}

// MarkRead moves a member's read cursor forward, never back, clamped to the
// conversation's last_seq; the statement that moves it also reads the
// recipients.
func (s *Store) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	var (
		cursor *int64
		to     []int64
	)
	err := s.pool.QueryRow(ctx, `
		WITH moved AS (
			UPDATE members m SET last_read_seq = least($1::bigint, c.last_seq)
			FROM conversations c
			WHERE c.id = m.conversation_id AND m.conversation_id = $2 AND m.user_id = $3
			  AND m.last_read_seq < least($1::bigint, c.last_seq)
			RETURNING m.last_read_seq)
		SELECT (SELECT last_read_seq FROM moved),
		       CASE WHEN EXISTS (SELECT 1 FROM moved)
		            THEN array(SELECT user_id FROM members WHERE conversation_id = $2 ORDER BY user_id) END`,
		seq, int64(id), int64(user)).Scan(&cursor, &to)
	if err != nil {
		return chat.ReadMark{}, fmt.Errorf("mark read: %w", err)
	}
	if cursor != nil {
		r := chat.ReadMark{Seq: *cursor, Moved: true, Recipients: make([]chat.UserID, len(to))}
		for i, u := range to {
			r.Recipients[i] = chat.UserID(u)
		}
		return r, nil
	}
	// Nothing moved: either the cursor is already there, or not a member.
	m, err := s.Member(ctx, id, user)
	if err != nil {
		return chat.ReadMark{}, err
	}
	return chat.ReadMark{Seq: m.LastReadSeq}, nil
}

// messageCols are the columns scanMessage reads, in its order.
const messageCols = `conversation_id, seq, sender_id, body, client_id, created_at, kind, action, target_id, title, version, edited_at, deleted_at`

func scanMessage(r pgx.Row) (chat.Message, error) {
	var (
		m             chat.Message
		clientID      *string
		kind          string
		action, title *string
		target        *int64
		edited, gone  *time.Time
	)
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.Body, &clientID, &m.CreatedAt, &kind, &action, &target, &title,
		&m.Version, &edited, &gone); err != nil {
		return chat.Message{}, err
	}
	m.EditedAt, m.DeletedAt = derefTime(edited), derefTime(gone)
	if clientID != nil {
		m.ClientID = *clientID
	}
	m.Kind, m.System = messageKind(kind, int64(m.SenderID), action, target, title)
	return m, nil
}

// messageKind returns a stored message's kind and, for a system message,
// what it records, from its kind, sender_id, action, target_id and title
// columns.
func messageKind(kind string, sender int64, action *string, target *int64, title *string) (chat.MessageKind, *chat.SystemEvent) {
	if chat.MessageKind(kind) != chat.MessageSystem {
		return chat.MessageText, nil
	}
	ev := &chat.SystemEvent{Action: chat.SystemAction(deref(action)), ActorID: chat.UserID(sender), Title: deref(title)}
	if target != nil {
		ev.UserID = chat.UserID(*target)
	}
	return chat.MessageSystem, ev
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullString stores "" as NULL, so that UNIQUE (sender_id, client_id)
// binds only messages that carry a client ID.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// derefTime returns *t, or the zero time for nil (a NULL column).
func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
