package web

import (
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

func wireUser(u chat.User) wire.User {
	return wire.User{ID: int64(u.ID), Username: u.Username, DisplayName: u.DisplayName, Closed: u.Closed}
}

func wireMessage(m chat.Message) wire.Message {
	w := wire.Message{
		ConversationID: int64(m.ConversationID),
		Seq:            m.Seq,
		Kind:           string(m.Kind),
		SenderID:       int64(m.SenderID),
		Body:           m.Body,
		ClientID:       m.ClientID,
		CreatedAt:      m.CreatedAt,
		Version:        m.Version,
		EditedAt:       optionalTime(m.EditedAt),
		Deleted:        m.Deleted(),
	}
	if w.Kind == "" {
		w.Kind = wire.MessageText
	}
	if m.System != nil {
		w.Kind = wire.MessageSystem
		w.System = wire.SystemEvent{
			Action:  string(m.System.Action),
			ActorID: int64(m.System.ActorID),
			UserID:  int64(m.System.UserID),
			Title:   m.System.Title,
		}
	}
	return w
}

// wireMember is a member as the member list shows them, online or not.
func wireMember(m chat.MemberInfo, online bool) wire.Member {
	return wire.Member{User: wireUser(m.User), Role: string(m.Role), LastReadSeq: m.LastReadSeq, Online: online}
}

func wireConversation(c chat.Conversation) wire.Conversation {
	return wire.Conversation{
		ID:            int64(c.ID),
		Kind:          string(c.Kind),
		Title:         c.Title,
		MemberCount:   c.MemberCount,
		LastSeq:       c.LastSeq,
		LastMessageAt: optionalTime(c.LastMessageAt),
		CreatedAt:     c.CreatedAt,
		LastVersion:   c.LastVersion,
	}
}

func wireConversationRow(c chat.ConversationRow) wire.ConversationRow {
	row := wire.ConversationRow{
		ID:            int64(c.ID),
		Kind:          string(c.Kind),
		Title:         c.Title,
		MemberCount:   c.MemberCount,
		LastSeq:       c.LastSeq,
		LastVersion:   c.LastVersion,
		LastReadSeq:   c.LastReadSeq,
		OtherReadSeq:  c.OtherReadSeq,
		UnreadCount:   c.UnreadCount(),
		LastMessageAt: optionalTime(c.LastMessageAt),
		CreatedAt:     c.CreatedAt,
	}
	if c.OtherUser != nil {
		row.OtherUser = &wire.Contact{User: wireUser(*c.OtherUser)}
	}
	if c.LastMessage != nil {
		m := wireMessage(*c.LastMessage)
		row.LastMessage = &m
	}
	return row
}

// optionalTime is nil for the zero time, so JSON shows null.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// optionalString is nil for "", so JSON shows null.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
