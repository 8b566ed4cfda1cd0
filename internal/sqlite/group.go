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

// Group changes run in write transactions on the one write connection
// (BEGIN IMMEDIATE), which also commits every batch of sends: each change
// reads, checks and writes with no other writer between, so the checks of
// chat.CheckGroupChange, the member cap and the admin that must remain
// hold at commit, and system messages take their seqs in line with the
// sends.

// CreateGroup creates a group, its members and its first system messages
// in one transaction.
func (s *Store) CreateGroup(ctx context.Context, g chat.NewGroup) (chat.Conversation, []chat.Message, error) {
	if err := g.Check(); err != nil {
		return chat.Conversation{}, nil, err
	}
	people := append([]chat.UserID{g.Creator}, g.Members...)
	ids, err := json.Marshal(people)
	if err != nil {
		return chat.Conversation{}, nil, fmt.Errorf("encode user ids: %w", err)
	}
	c := chat.Conversation{
		Kind:          chat.KindGroup,
		Title:         g.Title,
		LastSeq:       int64(len(people)), // a title message, then one per member
		LastVersion:   int64(len(people)),
		LastMessageAt: g.At,
		CreatedAt:     g.At,
		MemberCount:   len(people),
	}
	var msgs []chat.Message
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var open int
		if err := tx.QueryRowContext(ctx, `
			SELECT count(*) FROM users WHERE closed_at IS NULL AND id IN (SELECT value FROM json_each(?))`,
			string(ids)).Scan(&open); err != nil {
			return fmt.Errorf("check users: %w", err)
		}
		if open != len(people) {
			return chat.NotFound("user")
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO conversations (kind, title, last_seq, last_version, last_message_at, member_count, created_at)
			VALUES ('group', ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.Title, c.LastSeq, c.LastVersion, micros(c.LastMessageAt), c.MemberCount, micros(c.CreatedAt)).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO members (conversation_id, user_id, role, last_read_seq, joined_at)
			SELECT ?1, value, CASE WHEN key = 0 THEN 'admin' ELSE 'member' END, ?2, ?3 FROM json_each(?4)`,
			int64(c.ID), c.LastSeq, micros(g.At), string(ids)); err != nil {
			return fmt.Errorf("insert members: %w", err)
		}
		// The title message is seq 1 (key 0, the creator: no target); each
		// member's added message follows, in the order given.
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO messages (conversation_id, seq, version, sender_id, body, kind, action, target_id, title, created_at)
			SELECT ?1, key + 1, key + 1, ?2, '', 'system',
			       CASE WHEN key = 0 THEN 'title' ELSE 'added' END,
			       CASE WHEN key = 0 THEN NULL ELSE value END,
			       CASE WHEN key = 0 THEN ?3 END, ?4
			FROM json_each(?5)`,
			int64(c.ID), int64(g.Creator), c.Title, micros(g.At), string(ids)); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		msgs = make([]chat.Message, len(people))
		for i, u := range people {
			ev := &chat.SystemEvent{Action: chat.SystemAdded, ActorID: g.Creator, UserID: u}
			if i == 0 {
				ev = &chat.SystemEvent{Action: chat.SystemTitle, ActorID: g.Creator, Title: c.Title}
			}
			msgs[i] = chat.Message{ConversationID: c.ID, Seq: int64(i + 1), Version: int64(i + 1), Kind: chat.MessageSystem,
				SenderID: g.Creator, CreatedAt: g.At, System: ev}
		}
		return nil
	})
	if err != nil {
		return chat.Conversation{}, nil, err
	}
	return c, msgs, nil
}

// RenameGroup changes a group's title with its system message, in one
// transaction.
func (s *Store) RenameGroup(ctx context.Context, id chat.ConversationID, actor chat.UserID, title string, at time.Time) (ch chat.GroupChange, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		c, _, err := authorize(ctx, tx, id, actor, chat.GroupRename)
		if err != nil {
			return err
		}
		if c.Title == title {
			ch.Conversation = c
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET title = ? WHERE id = ?`, title, int64(id)); err != nil {
			return fmt.Errorf("rename: %w", err)
		}
		m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: chat.SystemTitle, ActorID: actor, Title: title}, at)
		if err != nil {
			return err
		}
		ch.Message, ch.Changed = &m, true
		if ch.Members, err = membersOf(ctx, tx, id); err != nil {
			return err
		}
		ch.Conversation, err = selectConversation(ctx, tx, `id = ?`, int64(id))
		return err
	})
	return ch, err
}

// AddMember adds a member with its system message, in one transaction.
func (s *Store) AddMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, maxMembers int, at time.Time) (ch chat.GroupChange, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		c, _, err := authorize(ctx, tx, id, actor, chat.GroupAdd)
		if err != nil {
			return err
		}
		if m, err := memberInfo(ctx, tx, id, user); err != nil {
			return err
		} else if m != nil {
			return chat.AlreadyMemberError()
		}
		u, err := openUser(ctx, tx, user)
		if err != nil {
			return err
		}
		if maxMembers > 0 && c.MemberCount >= maxMembers {
			return chat.GroupFullError(maxMembers)
		}
		m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: chat.SystemAdded, ActorID: actor, UserID: user}, at)
		if err != nil {
			return err
		}
		// The new member has read everything up to their own arrival.
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO members (conversation_id, user_id, role, last_read_seq, joined_at) VALUES (?, ?, 'member', ?, ?)`,
			int64(id), int64(user), m.Seq, micros(m.CreatedAt)); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET member_count = member_count + 1 WHERE id = ?`, int64(id)); err != nil {
			return fmt.Errorf("count member: %w", err)
		}
		ch.Message, ch.Changed = &m, true
		ch.Member = chat.MemberInfo{
			Member: chat.Member{ConversationID: id, UserID: user, Role: chat.RoleMember, LastReadSeq: m.Seq, JoinedAt: m.CreatedAt},
			User:   u,
		}
		if ch.Members, err = membersOf(ctx, tx, id); err != nil {
			return err
		}
		ch.Conversation, err = selectConversation(ctx, tx, `id = ?`, int64(id))
		return err
	})
	return ch, err
}

// RemoveMember removes a member (or lets one leave) with its system
// message, promoting the longest-standing member when the last admin goes,
// in one transaction.
func (s *Store) RemoveMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, at time.Time) (ch chat.GroupChange, err error) {
	action, sys := chat.GroupRemove, chat.SystemRemoved
	if actor == user {
		action, sys = chat.GroupLeave, chat.SystemLeft
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, _, err := authorize(ctx, tx, id, actor, action); err != nil {
			return err
		}
		ch, err = removeMember(ctx, tx, id, actor, user, sys, at)
		return err
	})
	return ch, err
}

// removeMember ends user's membership of group id with its system message
// (sys, by actor), promoting the longest-standing member when the last
// admin goes, inside a write transaction whose caller has checked who may.
// ENOTFOUND (member not found) when user is not a member.
func removeMember(ctx context.Context, tx *sql.Tx, id chat.ConversationID, actor, user chat.UserID, sys chat.SystemAction, at time.Time) (ch chat.GroupChange, err error) {
	gone, err := memberInfo(ctx, tx, id, user)
	if err != nil {
		return ch, err
	}
	if gone == nil {
		return ch, chat.MemberNotFound()
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE conversation_id = ? AND user_id = ?`, int64(id), int64(user)); err != nil {
		return ch, fmt.Errorf("delete member: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET member_count = member_count - 1 WHERE id = ?`, int64(id)); err != nil {
		return ch, fmt.Errorf("count member: %w", err)
	}
	m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: sys, ActorID: actor, UserID: user}, at)
	if err != nil {
		return ch, err
	}
	ch.Message, ch.Changed, ch.Member = &m, true, *gone
	if gone.Role == chat.RoleAdmin {
		if ch.Promoted, err = promoteIfNoAdmin(ctx, tx, id); err != nil {
			return ch, err
		}
	}
	if ch.Members, err = membersOf(ctx, tx, id); err != nil {
		return ch, err
	}
	ch.Conversation, err = selectConversation(ctx, tx, `id = ?`, int64(id))
	return ch, err
}

// leaveGroups makes user leave every group they are in, in conversation ID
// order, inside a write transaction (an account closure).
func leaveGroups(ctx context.Context, tx *sql.Tx, user chat.UserID, at time.Time) ([]chat.GroupChange, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT m.conversation_id FROM members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = ? AND c.kind = 'group' ORDER BY m.conversation_id`, int64(user))
	if err != nil {
		return nil, fmt.Errorf("select groups: %w", err)
	}
	var ids []chat.ConversationID
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("select groups: %w", err)
		}
		ids = append(ids, chat.ConversationID(id))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select groups: %w", err)
	}
	changes := make([]chat.GroupChange, 0, len(ids))
	for _, id := range ids {
		ch, err := removeMember(ctx, tx, id, user, user, chat.SystemLeft, at)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// SetRole changes a member's role, in one transaction.
func (s *Store) SetRole(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, role chat.Role) (ch chat.GroupChange, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		c, _, err := authorize(ctx, tx, id, actor, chat.GroupSetRole)
		if err != nil {
			return err
		}
		ch.Conversation = c
		m, err := memberInfo(ctx, tx, id, user)
		if err != nil {
			return err
		}
		if m == nil {
			return chat.MemberNotFound()
		}
		ch.Member = *m
		if m.Role == role {
			return nil
		}
		if m.Role == chat.RoleAdmin {
			var admins int
			if err := tx.QueryRowContext(ctx, `
				SELECT count(*) FROM members WHERE conversation_id = ? AND role = 'admin'`, int64(id)).Scan(&admins); err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if admins <= 1 {
				return chat.LastAdminError()
			}
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?`, string(role), int64(id), int64(user)); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
		ch.Member.Role, ch.Changed = role, true
		ch.Members, err = membersOf(ctx, tx, id)
		return err
	})
	return ch, err
}

// ListMembers returns a page of a conversation's members with their
// accounts, in user ID order.
func (s *Store) ListMembers(ctx context.Context, id chat.ConversationID, q chat.MemberQuery) ([]chat.MemberInfo, error) {
	rows, err := s.read.QueryContext(ctx, memberInfoQuery+`
		WHERE m.conversation_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?`,
		int64(id), int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	list := make([]chat.MemberInfo, 0, q.Limit)
	for rows.Next() {
		m, err := scanMemberInfo(rows)
		if err != nil {
			return nil, fmt.Errorf("scan member: %w", err)
		}
		list = append(list, m)
	}
	return list, rows.Err()
}

// authorize reads conversation id and the actor's membership inside a
// group change's transaction and applies chat.CheckGroupChange to them.
func authorize(ctx context.Context, tx *sql.Tx, id chat.ConversationID, actor chat.UserID, action chat.GroupAction) (chat.Conversation, *chat.MemberInfo, error) {
	c, err := selectConversation(ctx, tx, `id = ?`, int64(id))
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return chat.Conversation{}, nil, chat.CheckGroupChange("", nil, action)
	}
	if err != nil {
		return chat.Conversation{}, nil, err
	}
	m, err := memberInfo(ctx, tx, id, actor)
	if err != nil {
		return chat.Conversation{}, nil, err
	}
	var member *chat.Member
	if m != nil {
		member = &m.Member
	}
	if err := chat.CheckGroupChange(c.Kind, member, action); err != nil {
		return chat.Conversation{}, nil, err
	}
	return c, m, nil
}

// memberInfoQuery selects members with their accounts, as scanMemberInfo
// reads them.
const memberInfoQuery = `
	SELECT m.conversation_id, m.user_id, m.role, m.last_read_seq, m.joined_at,
	       u.username, u.display_name, u.created_at, u.closed_at IS NOT NULL
	FROM members m JOIN users u ON u.id = m.user_id`

func scanMemberInfo(r scanner) (chat.MemberInfo, error) {
	var (
		m                chat.MemberInfo
		joined, uCreated int64
	)
	if err := r.Scan(&m.ConversationID, &m.UserID, &m.Role, &m.LastReadSeq, &joined,
		&m.User.Username, &m.User.DisplayName, &uCreated, &m.User.Closed); err != nil {
		return chat.MemberInfo{}, err
	}
	m.JoinedAt, m.User.CreatedAt, m.User.ID = fromMicros(joined), fromMicros(uCreated), m.UserID
	return m, nil
}

// memberInfo returns user's membership of conversation id with their
// account, or nil when they are not a member.
func memberInfo(ctx context.Context, q queryer, id chat.ConversationID, user chat.UserID) (*chat.MemberInfo, error) {
	m, err := scanMemberInfo(q.QueryRowContext(ctx, memberInfoQuery+`
		WHERE m.conversation_id = ? AND m.user_id = ?`, int64(id), int64(user)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("select member: %w", err)
	}
	return &m, nil
}

// openUser returns an open account, or ENOTFOUND.
func openUser(ctx context.Context, q queryer, id chat.UserID) (chat.User, error) {
	u := chat.User{ID: id}
	var created int64
	err := q.QueryRowContext(ctx, `
		SELECT username, display_name, created_at FROM users WHERE id = ? AND closed_at IS NULL`, int64(id),
	).Scan(&u.Username, &u.DisplayName, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.User{}, chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("select user: %w", err)
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// appendSystem writes a system message as a send writes a message: it
// takes the conversation's next seq, moves last_seq and last_message_at
// (never back in time), and moves the actor's read cursor to it, so that
// the change is not unread for whoever made it (a member who left has no
// cursor to move).
func appendSystem(ctx context.Context, tx *sql.Tx, id chat.ConversationID, ev chat.SystemEvent, at time.Time) (chat.Message, error) {
	m := chat.Message{ConversationID: id, Kind: chat.MessageSystem, SenderID: ev.ActorID, System: &ev}
	var stamp int64
	if err := tx.QueryRowContext(ctx, `
		UPDATE conversations SET last_seq = last_seq + 1, last_version = last_version + 1,
		       last_message_at = max(coalesce(last_message_at, 0), ?)
		WHERE id = ? RETURNING last_seq, last_version, last_message_at`, micros(at), int64(id)).Scan(&m.Seq, &m.Version, &stamp); err != nil {
		return chat.Message{}, fmt.Errorf("next seq: %w", err)
	}
	m.CreatedAt = fromMicros(stamp)
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO messages (conversation_id, seq, version, sender_id, body, kind, action, target_id, title, created_at)
		VALUES (?, ?, ?, ?, '', 'system', ?, ?, ?, ?)`,
		int64(id), m.Seq, m.Version, int64(ev.ActorID), string(ev.Action), nullID(ev.UserID), nullString(ev.Title), stamp); err != nil {
		return chat.Message{}, fmt.Errorf("insert system message: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE members SET last_read_seq = max(last_read_seq, ?) WHERE conversation_id = ? AND user_id = ?`,
		m.Seq, int64(id), int64(ev.ActorID)); err != nil {
		return chat.Message{}, fmt.Errorf("move read cursor: %w", err)
	}
	return m, nil
}

// promoteIfNoAdmin makes the longest-standing member (earliest joined_at,
// then lowest user ID) admin when the group has members but no admin, and
// returns them; nil when nobody was promoted.
func promoteIfNoAdmin(ctx context.Context, tx *sql.Tx, id chat.ConversationID) (*chat.MemberInfo, error) {
	var user int64
	err := tx.QueryRowContext(ctx, `
		UPDATE members SET role = 'admin'
		WHERE conversation_id = ?1 AND user_id = (
			SELECT user_id FROM members WHERE conversation_id = ?1 ORDER BY joined_at, user_id LIMIT 1)
		  AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = ?1 AND role = 'admin')
		RETURNING user_id`, int64(id)).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	return memberInfo(ctx, tx, id, chat.UserID(user))
}

// membersOf reads the IDs of conversation id's members, in ascending
// order, inside the transaction of a change: the change's recipients.
func membersOf(ctx context.Context, q queryer, id chat.ConversationID) ([]chat.UserID, error) {
	ids, err := userIDs(q.QueryContext(ctx, `SELECT user_id FROM members WHERE conversation_id = ? ORDER BY user_id`, int64(id)))
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	return ids, nil
}

// nullID stores user ID 0 as NULL.
func nullID(id chat.UserID) sql.NullInt64 {
	return sql.NullInt64{Int64: int64(id), Valid: id != 0}
}
