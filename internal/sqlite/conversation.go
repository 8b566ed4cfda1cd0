package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// DirectConversation returns the direct conversation of a and b, creating
// it once: the UNIQUE direct_key makes a concurrent second insert a no-op.
func (s *Store) DirectConversation(ctx context.Context, a, b chat.UserID, now time.Time) (chat.Conversation, bool, error) {
	key := chat.DirectKey(a, b)
	if c, err := s.conversationByKey(ctx, s.read, key); err == nil {
		return c, false, nil
	} else if chat.ErrorCode(err) != chat.ENOTFOUND {
		return chat.Conversation{}, false, err
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return chat.Conversation{}, false, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit a no-op; on failure the first error is the one returned
	var id int64
	err = tx.QueryRowContext(ctx, `
		INSERT INTO conversations (kind, direct_key, member_count, created_at) VALUES ('direct', ?, 2, ?)
		ON CONFLICT (direct_key) DO NOTHING RETURNING id`, key, micros(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Someone else created it between our read and our write.
		c, err := s.conversationByKey(ctx, tx, key)
		return c, false, err
	}
	if err != nil {
		return chat.Conversation{}, false, fmt.Errorf("insert conversation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?1, ?2, ?4), (?1, ?3, ?4)`,
		id, int64(a), int64(b), micros(now)); err != nil {
		return chat.Conversation{}, false, fmt.Errorf("insert members: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return chat.Conversation{}, false, fmt.Errorf("commit: %w", err)
	}
	return chat.Conversation{ID: chat.ConversationID(id), Kind: chat.KindDirect, CreatedAt: now, MemberCount: 2}, true, nil
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) conversationByKey(ctx context.Context, q queryer, key string) (chat.Conversation, error) {
	return selectConversation(ctx, q, `direct_key = ?`, key)
}

// selectConversation returns the conversation that where (a condition on
// conversations, with one parameter) selects, or ENOTFOUND.
func selectConversation(ctx context.Context, q queryer, where string, arg any) (chat.Conversation, error) {
	var (
		c       chat.Conversation
		lastAt  sql.NullInt64
		created int64
	)
	err := q.QueryRowContext(ctx, `
		SELECT id, kind, title, last_seq, last_version, last_message_at, created_at, member_count
		FROM conversations WHERE `+where, arg,
	).Scan(&c.ID, &c.Kind, &c.Title, &c.LastSeq, &c.LastVersion, &lastAt, &created, &c.MemberCount)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Conversation{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("select conversation: %w", err)
	}
	c.CreatedAt = fromMicros(created)
	if lastAt.Valid {
		c.LastMessageAt = fromMicros(lastAt.Int64)
	}
	return c, nil
}

// summaryQuery selects conversation list rows: each with the other
// participant, the newest message and both read cursors, in one statement.
// It reads from "page", a set of the listing user's memberships (m) that
// the caller defines with a WITH clause, so that the other joins run for
// the rows of one page only.
const summaryQuery = `
	SELECT c.id, c.kind, c.title, c.last_seq, c.last_version, c.last_message_at, c.created_at, c.member_count, m.last_read_seq,
	       om.last_read_seq, o.id, o.username, o.display_name, o.created_at, o.closed_at IS NOT NULL,
	       lm.seq, lm.sender_id, lm.body, lm.client_id, lm.created_at, lm.kind, lm.action, lm.target_id, lm.title,
	       lm.version, lm.edited_at, lm.deleted_at, lm.attachments
	FROM page
	JOIN members m ON m.conversation_id = page.conversation_id AND m.user_id = page.user_id
	JOIN conversations c ON c.id = m.conversation_id
	LEFT JOIN members om ON c.kind = 'direct' AND om.conversation_id = c.id AND om.user_id != m.user_id
	LEFT JOIN users o ON o.id = om.user_id
	LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq`

// Conversations returns one page of a user's conversation list in a single
// statement: the page is chosen first, newest activity first, then joined.
func (s *Store) Conversations(ctx context.Context, q chat.ConversationQuery) ([]chat.ConversationRow, error) {
	rows, err := s.read.QueryContext(ctx, `
		WITH page AS (
			SELECT m.conversation_id, m.user_id, coalesce(c.last_message_at, c.created_at) AS at
			FROM members m JOIN conversations c ON c.id = m.conversation_id
			WHERE m.user_id = ?1
			  AND (?2 = 0 OR (coalesce(c.last_message_at, c.created_at), c.id) < (?3, ?2))
			ORDER BY at DESC, m.conversation_id DESC
			LIMIT ?4)`+summaryQuery+`
		ORDER BY page.at DESC, page.conversation_id DESC`,
		int64(q.UserID), int64(q.Before.ID), micros(q.Before.ActivityAt), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	list := make([]chat.ConversationRow, 0, q.Limit)
	for rows.Next() {
		c, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("scan conversation: %w", err)
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// Conversation returns one conversation as the user's list shows it.
func (s *Store) Conversation(ctx context.Context, user chat.UserID, id chat.ConversationID) (chat.ConversationRow, error) {
	c, err := scanSummary(s.read.QueryRowContext(ctx, `
		WITH page AS (SELECT ?1 AS conversation_id, ?2 AS user_id)`+summaryQuery, int64(id), int64(user)))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.ConversationRow{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.ConversationRow{}, fmt.Errorf("select conversation: %w", err)
	}
	return c, nil
}

func scanSummary(r scanner) (chat.ConversationRow, error) {
	var (
		c                        chat.ConversationRow
		lastAt                   sql.NullInt64
		created                  int64
		otherRead                sql.NullInt64
		otherID, otherCreated    sql.NullInt64
		otherName, otherDisplay  sql.NullString
		otherClosed              sql.NullBool
		msgSeq, msgSender, msgAt sql.NullInt64
		msgBody, msgClient       sql.NullString
		msgKind, msgAction       sql.NullString
		msgTarget                sql.NullInt64
		msgTitle                 sql.NullString
		msgVersion               sql.NullInt64
		msgEdited, msgDeleted    sql.NullInt64
		msgAttachments           sql.NullString
	)
	if err := r.Scan(&c.ID, &c.Kind, &c.Title, &c.LastSeq, &c.LastVersion, &lastAt, &created, &c.MemberCount, &c.LastReadSeq,
		&otherRead, &otherID, &otherName, &otherDisplay, &otherCreated, &otherClosed,
		&msgSeq, &msgSender, &msgBody, &msgClient, &msgAt, &msgKind, &msgAction, &msgTarget, &msgTitle,
		&msgVersion, &msgEdited, &msgDeleted, &msgAttachments); err != nil {
		return chat.ConversationRow{}, err
	}
	c.CreatedAt = fromMicros(created)
	c.OtherReadSeq = otherRead.Int64
	if lastAt.Valid {
		c.LastMessageAt = fromMicros(lastAt.Int64)
	}
	if otherID.Valid {
		c.OtherUser = &chat.User{
			ID:          chat.UserID(otherID.Int64),
			Username:    otherName.String,
			DisplayName: otherDisplay.String,
			CreatedAt:   fromMicros(otherCreated.Int64),
			Closed:      otherClosed.Bool,
		}
	}
	if msgSeq.Valid {
		c.LastMessage = &chat.Message{
			ConversationID: c.ID,
			Seq:            msgSeq.Int64,
			SenderID:       chat.UserID(msgSender.Int64),
			Body:           msgBody.String,
			ClientID:       msgClient.String,
			CreatedAt:      fromMicros(msgAt.Int64),
			Version:        msgVersion.Int64,
			EditedAt:       nullMicros(msgEdited),
			DeletedAt:      nullMicros(msgDeleted),
		}
		c.LastMessage.Kind, c.LastMessage.System = messageKind(msgKind.String, msgSender.Int64, msgAction, msgTarget, msgTitle)
		if err := decodeAttachments(c.LastMessage, msgAttachments); err != nil {
			return chat.ConversationRow{}, err
		}
	}
	return c, nil
}

// Member returns a user's membership, or ENOTFOUND.
func (s *Store) Member(ctx context.Context, id chat.ConversationID, user chat.UserID) (chat.Member, error) {
	m := chat.Member{ConversationID: id, UserID: user}
	var joined int64
	err := s.memberStmt.QueryRowContext(ctx, int64(id), int64(user)).Scan(&m.LastReadSeq, &joined, &m.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Member{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Member{}, fmt.Errorf("select member: %w", err)
	}
	m.JoinedAt = fromMicros(joined)
	return m, nil
}

// Members returns the IDs of a conversation's members.
func (s *Store) Members(ctx context.Context, id chat.ConversationID) ([]chat.UserID, error) {
	rows, err := s.membersStmt.QueryContext(ctx, int64(id))
	return userIDs(rows, err)
}

// Contacts returns everyone who shares a conversation with the user.
func (s *Store) Contacts(ctx context.Context, user chat.UserID) ([]chat.UserID, error) {
	return userIDs(s.read.QueryContext(ctx, `
		SELECT DISTINCT o.user_id FROM members m
		JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id != m.user_id
		WHERE m.user_id = ? ORDER BY o.user_id`, int64(user)))
}

func userIDs(rows *sql.Rows, err error) ([]chat.UserID, error) {
	if err != nil {
		return nil, fmt.Errorf("select user ids: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	var ids []chat.UserID
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan user id: %w", err)
		}
		ids = append(ids, chat.UserID(id))
	}
	return ids, rows.Err()
}
