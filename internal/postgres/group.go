package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// Every change to a group starts by locking the group's conversation row
// (SELECT … FOR UPDATE) and makes all its reads after that, each statement
// of a READ COMMITTED transaction seeing what committed before it began.
// Changes to one group therefore run one at a time, on any node, and each
// sees the one before: the checks of chat.CheckGroupChange, the member cap
// and the admin that must remain hold at commit. A send takes the same
// lock (its UPDATE of last_seq), so system messages take their seqs in
// line with the talk, and a send queued behind a removal of its sender
// stores nothing (see CreateMessage).

// CreateGroup creates a group, its members and its first system messages
// in one transaction.
func (s *Store) CreateGroup(ctx context.Context, g chat.NewGroup) (chat.Conversation, []chat.Message, error) {
	if err := g.Check(); err != nil {
		return chat.Conversation{}, nil, err
	}
	people := make([]int64, 0, 1+len(g.Members))
	people = append(people, int64(g.Creator))
	for _, id := range g.Members {
		people = append(people, int64(id))
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR SHARE: no account closes between this check and the commit.
		var open int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM (SELECT 1 FROM users WHERE id = ANY($1) AND closed_at IS NULL FOR SHARE) open`,
			people).Scan(&open); err != nil {
			return fmt.Errorf("check users: %w", err)
		}
		if open != len(people) {
			return chat.NotFound("user")
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO conversations (kind, title, last_seq, last_version, last_message_at, member_count, created_at)
			VALUES ('group', $1, $2, $2, $3, $4, $3) RETURNING id`,
			c.Title, c.LastSeq, g.At, c.MemberCount).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO members (conversation_id, user_id, role, last_read_seq, joined_at)
			SELECT $1, p.u, CASE WHEN p.i = 1 THEN 'admin' ELSE 'member' END, $2, $3
			FROM unnest($4::bigint[]) WITH ORDINALITY AS p(u, i)`,
			int64(c.ID), c.LastSeq, g.At, people); err != nil {
			return fmt.Errorf("insert members: %w", err)
		}
		// The title message is seq 1 (the creator: no target); each
		// member's added message follows, in the order given.
		if _, err := tx.Exec(ctx, `
			INSERT INTO messages (conversation_id, seq, version, sender_id, body, kind, action, target_id, title, created_at)
			SELECT $1, p.i, p.i, $2, '', 'system',
			       CASE WHEN p.i = 1 THEN 'title' ELSE 'added' END,
			       CASE WHEN p.i = 1 THEN NULL ELSE p.u END,
			       CASE WHEN p.i = 1 THEN $3::text END, $4
			FROM unnest($5::bigint[]) WITH ORDINALITY AS p(u, i)`,
			int64(c.ID), int64(g.Creator), c.Title, g.At, people); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		return nil
	})
	if err != nil {
		return chat.Conversation{}, nil, err
	}
	msgs := make([]chat.Message, len(people))
	for i, u := range people {
		ev := &chat.SystemEvent{Action: chat.SystemAdded, ActorID: g.Creator, UserID: chat.UserID(u)}
		if i == 0 {
			ev = &chat.SystemEvent{Action: chat.SystemTitle, ActorID: g.Creator, Title: c.Title}
		}
		msgs[i] = chat.Message{ConversationID: c.ID, Seq: int64(i + 1), Version: int64(i + 1), Kind: chat.MessageSystem,
			SenderID: g.Creator, CreatedAt: g.At, System: ev}
	}
	return c, msgs, nil
}

// RenameGroup changes a group's title with its system message, in one
// transaction.
func (s *Store) RenameGroup(ctx context.Context, id chat.ConversationID, actor chat.UserID, title string, at time.Time) (ch chat.GroupChange, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := authorize(ctx, tx, id, actor, chat.GroupRename)
		if err != nil {
			return err
		}
		if c.Title == title {
			ch.Conversation = c
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations SET title = $1 WHERE id = $2`, title, int64(id)); err != nil {
			return fmt.Errorf("rename: %w", err)
		}
		m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: chat.SystemTitle, ActorID: actor, Title: title}, 0, at)
		if err != nil {
			return err
		}
		ch.Message, ch.Changed = &m, true
		if ch.Members, err = membersOf(ctx, tx, id); err != nil {
			return err
		}
		ch.Conversation, err = selectConversation(ctx, tx, `WHERE id = $1`, int64(id))
		return err
	})
	return ch, err
}

// AddMember adds a member with its system message, in one transaction.
func (s *Store) AddMember(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, maxMembers int, at time.Time) (ch chat.GroupChange, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := authorize(ctx, tx, id, actor, chat.GroupAdd)
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
		// member_count was read under the row lock: no other change to
		// the group runs until this one ends.
		if maxMembers > 0 && c.MemberCount >= maxMembers {
			return chat.GroupFullError(maxMembers)
		}
		m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: chat.SystemAdded, ActorID: actor, UserID: user}, +1, at)
		if err != nil {
			return err
		}
		// The new member has read everything up to their own arrival.
		if _, err := tx.Exec(ctx, `
			INSERT INTO members (conversation_id, user_id, role, last_read_seq, joined_at) VALUES ($1, $2, 'member', $3, $4)`,
			int64(id), int64(user), m.Seq, m.CreatedAt); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		ch.Message, ch.Changed = &m, true
		ch.Member = chat.MemberInfo{
			Member: chat.Member{ConversationID: id, UserID: user, Role: chat.RoleMember, LastReadSeq: m.Seq, JoinedAt: m.CreatedAt},
			User:   u,
		}
		if ch.Members, err = membersOf(ctx, tx, id); err != nil {
			return err
		}
		ch.Conversation, err = selectConversation(ctx, tx, `WHERE id = $1`, int64(id))
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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := authorize(ctx, tx, id, actor, action); err != nil {
			return err
		}
		ch, err = removeMember(ctx, tx, id, actor, user, sys, at)
		return err
	})
	return ch, err
}

// removeMember ends user's membership of group id with its system message
// (sys, by actor), promoting the longest-standing member when the last
// admin goes, in a transaction that holds the group's row lock and whose
// caller has checked who may. ENOTFOUND (member not found) when user is
// not a member.
func removeMember(ctx context.Context, tx pgx.Tx, id chat.ConversationID, actor, user chat.UserID, sys chat.SystemAction, at time.Time) (ch chat.GroupChange, err error) {
	gone, err := memberInfo(ctx, tx, id, user)
	if err != nil {
		return ch, err
	}
	if gone == nil {
		return ch, chat.MemberNotFound()
	}
	if _, err := tx.Exec(ctx, `DELETE FROM members WHERE conversation_id = $1 AND user_id = $2`, int64(id), int64(user)); err != nil {
		return ch, fmt.Errorf("delete member: %w", err)
	}
	m, err := appendSystem(ctx, tx, id, chat.SystemEvent{Action: sys, ActorID: actor, UserID: user}, -1, at)
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
	ch.Conversation, err = selectConversation(ctx, tx, `WHERE id = $1`, int64(id))
	return ch, err
}

// SetRole changes a member's role, in one transaction.
func (s *Store) SetRole(ctx context.Context, id chat.ConversationID, actor, user chat.UserID, role chat.Role) (ch chat.GroupChange, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := authorize(ctx, tx, id, actor, chat.GroupSetRole)
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
			if err := tx.QueryRow(ctx, `
				SELECT count(*) FROM members WHERE conversation_id = $1 AND role = 'admin'`, int64(id)).Scan(&admins); err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if admins <= 1 {
				return chat.LastAdminError()
			}
		}
		if _, err := tx.Exec(ctx, `
			UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3`, string(role), int64(id), int64(user)); err != nil {
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
	rows, err := s.pool.Query(ctx, memberInfoQuery+`
		WHERE m.conversation_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3`,
		int64(id), int64(q.After), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.MemberInfo, error) { return scanMemberInfo(r) })
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return list, nil
}

// authorize locks conversation id's row for the rest of the transaction,
// reads the actor's membership and applies chat.CheckGroupChange to them.
func authorize(ctx context.Context, tx pgx.Tx, id chat.ConversationID, actor chat.UserID, action chat.GroupAction) (chat.Conversation, error) {
	c, err := selectConversation(ctx, tx, `WHERE id = $1 FOR UPDATE`, int64(id))
	if chat.ErrorCode(err) == chat.ENOTFOUND {
		return chat.Conversation{}, chat.CheckGroupChange("", nil, action)
	}
	if err != nil {
		return chat.Conversation{}, err
	}
	m, err := memberInfo(ctx, tx, id, actor)
	if err != nil {
		return chat.Conversation{}, err
	}
	var member *chat.Member
	if m != nil {
		member = &m.Member
	}
	if err := chat.CheckGroupChange(c.Kind, member, action); err != nil {
		return chat.Conversation{}, err
	}
	return c, nil
}

// memberInfoQuery selects members with their accounts, as scanMemberInfo
// reads them.
const memberInfoQuery = `
	SELECT m.conversation_id, m.user_id, m.role, m.last_read_seq, m.joined_at,
	       u.username, u.display_name, u.created_at, u.closed_at IS NOT NULL
	FROM members m JOIN users u ON u.id = m.user_id`

func scanMemberInfo(r pgx.Row) (chat.MemberInfo, error) {
	var m chat.MemberInfo
	if err := r.Scan(&m.ConversationID, &m.UserID, &m.Role, &m.LastReadSeq, &m.JoinedAt,
		&m.User.Username, &m.User.DisplayName, &m.User.CreatedAt, &m.User.Closed); err != nil {
		return chat.MemberInfo{}, err
	}
	m.User.ID = m.UserID
	return m, nil
}

// memberInfo returns user's membership of conversation id with their
// account, or nil when they are not a member.
func memberInfo(ctx context.Context, q querier, id chat.ConversationID, user chat.UserID) (*chat.MemberInfo, error) {
	m, err := scanMemberInfo(q.QueryRow(ctx, memberInfoQuery+`
		WHERE m.conversation_id = $1 AND m.user_id = $2`, int64(id), int64(user)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("select member: %w", err)
	}
	return &m, nil
}

// openUser returns an open account, or ENOTFOUND; FOR SHARE keeps it open
// until the transaction ends.
func openUser(ctx context.Context, q querier, id chat.UserID) (chat.User, error) {
	u := chat.User{ID: id}
	err := q.QueryRow(ctx, `
		SELECT username, display_name, created_at FROM users WHERE id = $1 AND closed_at IS NULL FOR SHARE`, int64(id),
	).Scan(&u.Username, &u.DisplayName, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.User{}, chat.NotFound("user")
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("select user: %w", err)
	}
	return u, nil
}

// appendSystem writes a system message as a send writes a message, in one
// statement: it takes the conversation's next seq, moves last_seq and
// last_message_at (never back in time) and member_count by delta, inserts
// the message and moves the actor's read cursor to it, so that the change
// is not unread for whoever made it (a member who left has no cursor to
// move).
func appendSystem(ctx context.Context, tx pgx.Tx, id chat.ConversationID, ev chat.SystemEvent, delta int, at time.Time) (chat.Message, error) {
	m := chat.Message{ConversationID: id, Kind: chat.MessageSystem, SenderID: ev.ActorID, System: &ev}
	var target *int64
	if ev.UserID != 0 {
		t := int64(ev.UserID)
		target = &t
	}
	err := tx.QueryRow(ctx, `
		WITH bumped AS (
			UPDATE conversations
			SET last_seq = last_seq + 1, last_version = last_version + 1,
			    last_message_at = GREATEST(coalesce(last_message_at, $1::timestamptz), $1::timestamptz),
			    member_count = member_count + $2::integer
			WHERE id = $3::bigint
			RETURNING last_seq, last_version, last_message_at
		), inserted AS (
			INSERT INTO messages (conversation_id, seq, version, sender_id, body, kind, action, target_id, title, created_at)
			SELECT $3::bigint, last_seq, last_version, $4::bigint, '', 'system', $5::text, $6::bigint, $7::text, last_message_at FROM bumped
		), moved AS (
			UPDATE members SET last_read_seq = GREATEST(last_read_seq, bumped.last_seq)
			FROM bumped WHERE conversation_id = $3::bigint AND user_id = $4::bigint
		)
		SELECT last_seq, last_version, last_message_at FROM bumped`,
		at, delta, int64(id), int64(ev.ActorID), string(ev.Action), target, nullString(ev.Title),
	).Scan(&m.Seq, &m.Version, &m.CreatedAt)
	if err != nil {
		return chat.Message{}, fmt.Errorf("append system message: %w", err)
	}
	return m, nil
}

// promoteIfNoAdmin makes the longest-standing member (earliest joined_at,
// then lowest user ID) admin when the group has members but no admin, and
// returns them; nil when nobody was promoted.
func promoteIfNoAdmin(ctx context.Context, tx pgx.Tx, id chat.ConversationID) (*chat.MemberInfo, error) {
	var user int64
	err := tx.QueryRow(ctx, `
		UPDATE members SET role = 'admin'
		WHERE conversation_id = $1 AND user_id = (
			SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id LIMIT 1)
		  AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND role = 'admin')
		RETURNING user_id`, int64(id)).Scan(&user)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	return memberInfo(ctx, tx, id, chat.UserID(user))
}

// membersOf reads the IDs of conversation id's members, in ascending
// order, inside the transaction of a change (which holds the
// conversation's row lock): the change's recipients.
func membersOf(ctx context.Context, q querier, id chat.ConversationID) ([]chat.UserID, error) {
	rows, err := q.Query(ctx, `SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY user_id`, int64(id))
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[chat.UserID])
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	return ids, nil
}
