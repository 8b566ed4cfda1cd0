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
	return wire.Message{
		ConversationID: int64(m.ConversationID),
		Seq:            m.Seq,
		SenderID:       int64(m.SenderID),
		Body:           m.Body,
		ClientID:       m.ClientID,
		CreatedAt:      m.CreatedAt,
	}
}

func wireConversation(c chat.Conversation) wire.Conversation {
	return wire.Conversation{
		ID:            int64(c.ID),
		Kind:          string(c.Kind),
		Title:         c.Title,
		LastSeq:       c.LastSeq,
		LastMessageAt: optionalTime(c.LastMessageAt),
		CreatedAt:     c.CreatedAt,
	}
}

func wireConversationRow(c chat.ConversationSummary) wire.ConversationRow {
	row := wire.ConversationRow{
		ID:            int64(c.ID),
		Kind:          string(c.Kind),
		Title:         c.Title,
		LastSeq:       c.LastSeq,
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
