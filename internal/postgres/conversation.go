package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// DirectConversation returns the direct conversation of a and b, creating
// it once: the UNIQUE direct_key makes a concurrent second insert wait for
// the first to commit and then do nothing.
func (s *Store) DirectConversation(ctx context.Context, a, b chat.UserID, now time.Time) (chat.Conversation, bool, error) {
	key := chat.DirectKey(a, b)
	if c, err := conversationByKey(ctx, s.pool, key); err == nil {
		return c, false, nil
	} else if chat.ErrorCode(err) != chat.ENOTFOUND {
		return chat.Conversation{}, false, err
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return chat.Conversation{}, false, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit a no-op; on failure the first error is the one returned
	c := chat.Conversation{Kind: chat.KindDirect, MemberCount: 2}
	err = tx.QueryRow(ctx, `
		INSERT INTO conversations (kind, direct_key, member_count, created_at) VALUES ('direct', $1, 2, $2)
		ON CONFLICT (direct_key) DO NOTHING RETURNING id, created_at`, key, now).Scan(&c.ID, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Someone else created it since our read. Each statement of a READ
		// COMMITTED transaction sees what was committed before it began,
		// so this one sees theirs, members included.
		c, err := conversationByKey(ctx, tx, key)
		return c, false, err
	}
	if err != nil {
		return chat.Conversation{}, false, fmt.Errorf("insert conversation: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO members (conversation_id, user_id, joined_at) VALUES ($1, $2, $4), ($1, $3, $4)`,
		int64(c.ID), int64(a), int64(b), now); err != nil {
		return chat.Conversation{}, false, fmt.Errorf("insert members: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return chat.Conversation{}, false, fmt.Errorf("commit: %w", err)
	}
	return c, true, nil
}

func conversationByKey(ctx context.Context, q querier, key string) (chat.Conversation, error) {
	return selectConversation(ctx, q, `WHERE direct_key = $1`, key)
}

// selectConversation returns the conversation that tail (a WHERE clause
// with one parameter, and perhaps a locking clause) selects, or ENOTFOUND.
func selectConversation(ctx context.Context, q querier, tail string, arg any) (chat.Conversation, error) {
	var c chat.Conversation
	var lastAt *time.Time
	err := q.QueryRow(ctx, `
		SELECT id, kind, title, last_seq, last_version, last_message_at, created_at, member_count
		FROM conversations `+tail, arg,
	).Scan(&c.ID, &c.Kind, &c.Title, &c.LastSeq, &c.LastVersion, &lastAt, &c.CreatedAt, &c.MemberCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Conversation{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("select conversation: %w", err)
	}
	if lastAt != nil {
		c.LastMessageAt = *lastAt
	}
	return c, nil
}

// summaryQuery selects conversation list rows: each with the other
// participant, the newest message and both read cursors, in one statement.
const summaryQuery = `
	SELECT c.id, c.kind, c.title, c.last_seq, c.last_version, c.last_message_at, c.created_at, c.member_count, m.last_read_seq,
	       om.last_read_seq, o.id, o.username, o.display_name, o.created_at, o.closed_at IS NOT NULL,
	       lm.seq, lm.sender_id, lm.body, lm.client_id, lm.created_at, lm.kind, lm.action, lm.target_id, lm.title,
	       lm.version, lm.edited_at, lm.deleted_at, lm.attachments
	FROM members m
	JOIN conversations c ON c.id = m.conversation_id
	LEFT JOIN members om ON c.kind = 'direct' AND om.conversation_id = c.id AND om.user_id <> m.user_id
	LEFT JOIN users o ON o.id = om.user_id
	LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq`

// Conversations returns one page of a user's conversation list in a single
// statement. The keyset is (activity, id), compared as a row, so a page
// that ends inside a run of equal times continues exactly after it.
func (s *Store) Conversations(ctx context.Context, q chat.ConversationQuery) ([]chat.ConversationRow, error) {
	rows, err := s.pool.Query(ctx, summaryQuery+`
		WHERE m.user_id = $1
		  AND ($2::bigint = 0 OR (coalesce(c.last_message_at, c.created_at), c.id) < ($3::timestamptz, $2::bigint))
		ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC
		LIMIT $4`,
		int64(q.UserID), int64(q.Before.ID), q.Before.ActivityAt, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.ConversationRow, error) {
		return scanSummary(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return list, nil
}

// Conversation returns one conversation as the user's list shows it.
func (s *Store) Conversation(ctx context.Context, user chat.UserID, id chat.ConversationID) (chat.ConversationRow, error) {
	c, err := scanSummary(s.pool.QueryRow(ctx, summaryQuery+`
		WHERE m.user_id = $1 AND c.id = $2`, int64(user), int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.ConversationRow{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.ConversationRow{}, fmt.Errorf("select conversation: %w", err)
	}
	return c, nil
}

func scanSummary(r pgx.Row) (chat.ConversationRow, error) {
	var (
		c                       chat.ConversationRow
		lastAt                  *time.Time
		otherRead, otherID      *int64
		otherName, otherDisplay *string
		otherCreated            *time.Time
		otherClosed             *bool
		msgSeq, msgSender       *int64
		msgBody, msgClient      *string
		msgAt                   *time.Time
		msgKind, msgAction      *string
		msgTarget               *int64
		msgTitle                *string
		msgVersion              *int64
		msgEdited, msgDeleted   *time.Time
		msgAttachments          *string
	)
	if err := r.Scan(&c.ID, &c.Kind, &c.Title, &c.LastSeq, &c.LastVersion, &lastAt, &c.CreatedAt, &c.MemberCount, &c.LastReadSeq,
		&otherRead, &otherID, &otherName, &otherDisplay, &otherCreated, &otherClosed,
		&msgSeq, &msgSender, &msgBody, &msgClient, &msgAt, &msgKind, &msgAction, &msgTarget, &msgTitle,
		&msgVersion, &msgEdited, &msgDeleted, &msgAttachments); err != nil {
		return chat.ConversationRow{}, err
	}
	if lastAt != nil {
		c.LastMessageAt = *lastAt
	}
	if otherRead != nil {
		c.OtherReadSeq = *otherRead
	}
	if otherID != nil {
		c.OtherUser = &chat.User{
			ID:          chat.UserID(*otherID),
			Username:    *otherName,
			DisplayName: *otherDisplay,
			CreatedAt:   *otherCreated,
			Closed:      *otherClosed,
		}
	}
	if msgSeq != nil {
		c.LastMessage = &chat.Message{
			ConversationID: c.ID,
			Seq:            *msgSeq,
			SenderID:       chat.UserID(*msgSender),
			Body:           *msgBody,
			CreatedAt:      *msgAt,
			EditedAt:       derefTime(msgEdited),
			DeletedAt:      derefTime(msgDeleted),
		}
		if msgVersion != nil {
			c.LastMessage.Version = *msgVersion
		}
		if msgClient != nil {
			c.LastMessage.ClientID = *msgClient
		}
		c.LastMessage.Kind, c.LastMessage.System = messageKind(deref(msgKind), *msgSender, msgAction, msgTarget, msgTitle)
		if err := decodeAttachments(c.LastMessage, msgAttachments); err != nil {
			return chat.ConversationRow{}, err
		}
	}
	return c, nil
}

// Member returns a user's membership, or ENOTFOUND.
func (s *Store) Member(ctx context.Context, id chat.ConversationID, user chat.UserID) (chat.Member, error) {
	m := chat.Member{ConversationID: id, UserID: user}
	err := s.pool.QueryRow(ctx, `
		SELECT last_read_seq, joined_at, role FROM members WHERE conversation_id = $1 AND user_id = $2`,
		int64(id), int64(user)).Scan(&m.LastReadSeq, &m.JoinedAt, &m.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Member{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Member{}, fmt.Errorf("select member: %w", err)
	}
	return m, nil
}

// Members returns the IDs of a conversation's members.
func (s *Store) Members(ctx context.Context, id chat.ConversationID) ([]chat.UserID, error) {
	return s.userIDs(ctx, `SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY user_id`, int64(id))
}

// Contacts returns everyone who shares a conversation with the user.
func (s *Store) Contacts(ctx context.Context, user chat.UserID) ([]chat.UserID, error) {
	return s.userIDs(ctx, `
		SELECT DISTINCT o.user_id FROM members m
		JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id <> m.user_id
		WHERE m.user_id = $1 ORDER BY o.user_id`, int64(user))
}

func (s *Store) userIDs(ctx context.Context, query string, args ...any) ([]chat.UserID, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("select user ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[chat.UserID])
	if err != nil {
		return nil, fmt.Errorf("select user ids: %w", err)
	}
	return ids, nil
}
