package web

import (
	"strconv"
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
	for _, a := range m.Attachments {
		a.ConversationID = m.ConversationID // the message's, whatever the store filled in
		w.Attachments = append(w.Attachments, wireAttachment(a))
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

// wireAttachment is a as clients see it, with the URLs of its bytes and
// thumbnail (see the attachment routes).
func wireAttachment(a chat.Attachment) wire.Attachment {
	w := wire.Attachment{
		ID:          int64(a.ID),
		Name:        a.Name,
		ContentType: a.ContentType,
		Size:        a.Size,
		Width:       a.Width,
		Height:      a.Height,
		URL:         attachmentURL(a.ConversationID, a.ID),
	}
	if a.ThumbnailWidth > 0 {
		w.ThumbnailURL = w.URL + "/thumbnail"
	}
	return w
}

// attachmentURL is where attachment id of conversation conv is
// downloaded.
func attachmentURL(conv chat.ConversationID, id chat.AttachmentID) string {
	return "/api/v1/conversations/" + strconv.FormatInt(int64(conv), 10) + "/attachments/" + strconv.FormatInt(int64(id), 10)
}

// attachmentIDs converts a request's attachment IDs.
func attachmentIDs(ids []int64) []chat.AttachmentID {
	if len(ids) == 0 {
		return nil
	}
	out := make([]chat.AttachmentID, len(ids))
	for i, id := range ids {
		out[i] = chat.AttachmentID(id)
	}
	return out
}
