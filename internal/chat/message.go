package chat

import (
	"context"
	"slices"
	"time"
)

// MessageAction is a change to a stored message, as CheckMessageChange
// rules on it.
type MessageAction int

// Message actions.
const (
	// MessageEdit replaces the body (the sender only).
	MessageEdit MessageAction = iota + 1
	// MessageDelete erases the body, leaving a tombstone (the sender, or
	// an admin of the group).
	MessageDelete
)

// CheckMessageChange is the rule of who may edit or delete a message,
// which every store applies inside the transaction that makes the change,
// to what it read there. kind is the conversation's kind; actor is the
// actor's membership, nil when they are not a member or there is no such
// conversation; m is the stored message, nil when there is none with that
// seq. It returns, in this order of precedence:
//   - ENOTFOUND ("conversation not found") when actor is nil;
//   - ENOTFOUND ("message not found") when m is nil;
//   - EINVALID for a system message, which records history and never
//     changes;
//   - EFORBIDDEN when the actor may not: an edit by anyone but the
//     sender, a deletion by anyone but the sender or an admin of a group;
//   - ENOTFOUND ("message not found") for an edit of a deleted message:
//     there is no text left to edit;
//   - nil otherwise. Deleting a message already deleted is allowed: the
//     store changes nothing and reports so (a retried DELETE succeeds).
func CheckMessageChange(kind Kind, actor *Member, m *Message, action MessageAction) error {
	switch {
	case actor == nil:
		return NotFound("conversation")
	case m == nil:
		return NotFound("message")
	case m.Kind == MessageSystem:
		return Errorf(EINVALID, "a system message cannot be edited or deleted")
	}
	own := m.SenderID == actor.UserID
	switch action {
	case MessageEdit:
		if !own {
			return Errorf(EFORBIDDEN, "only the sender may edit a message")
		}
		if m.Deleted() {
			return NotFound("message")
		}
	case MessageDelete:
		if !own && (kind != KindGroup || actor.Role != RoleAdmin) {
			return Errorf(EFORBIDDEN, "only the sender or an admin of the group may delete a message")
		}
	}
	return nil
}

// MessageChange is an edit or a deletion to make, Store.EditMessage's and
// Store.DeleteMessage's input, checked by the Service first.
type MessageChange struct {
	ConversationID ConversationID
	Seq            int64
	// Actor is who edits or deletes.
	Actor UserID
	// Body is the new body (normalized by NormalizeBody), for an edit.
	Body string
	// At is the time of the change: EditedAt or DeletedAt.
	At time.Time
}

// EditMessage replaces the body of the caller's message seq of conversation
// conv and returns the message as it is now (EditedAt set, a new Version).
// Every member's connections get an EventMessageUpdated. The body follows
// the rules of a send (NormalizeBody: EINVALID); an edit costs a token of
// the message budget (ERATELIMITED). Errors follow CheckMessageChange:
// ENOTFOUND when the caller is not a member or there is no such message
// (or it is deleted), EINVALID for a system message, EFORBIDDEN when the
// caller is not the sender.
func (s *Service) EditMessage(ctx context.Context, caller UserID, conv ConversationID, seq int64, body string) (Message, error) {
	if seq <= 0 {
		return Message{}, NotFound("message")
	}
	body, err := NormalizeBody(body)
	if err != nil {
		return Message{}, err
	}
	if err := s.allow(ctx, s.limits.Messages, s.local().Messages, userKey(caller), ActionMessage); err != nil {
		return Message{}, err
	}
	// Under the conversation's lock, as Send: the change's event is
	// published in version order with the sends around it.
	unlock, err := s.lockPublishing(ctx, conv)
	if err != nil {
		return Message{}, err
	}
	defer unlock()
	st, err := s.store.EditMessage(ctx, MessageChange{ConversationID: conv, Seq: seq, Actor: caller, Body: body, At: Now()})
	if err != nil {
		return Message{}, err
	}
	s.publishUpdate(ctx, st)
	return st.Message, nil
}

// DeleteMessage erases the body of message seq of conversation conv,
// leaving a tombstone (DeletedAt set, a new Version, body empty), and
// returns it; every member's connections get an EventMessageUpdated. The
// sender, or an admin of a group, may delete; a deletion costs a token of
// the message budget (ERATELIMITED). Deleting a message already deleted
// returns the tombstone and changes and publishes nothing: a retried DELETE
// succeeds. Errors follow CheckMessageChange:
// ENOTFOUND when the caller is not a member or there is no such message,
// EINVALID for a system message, EFORBIDDEN when the caller may not.
func (s *Service) DeleteMessage(ctx context.Context, caller UserID, conv ConversationID, seq int64) (Message, error) {
	if seq <= 0 {
		return Message{}, NotFound("message")
	}
	if err := s.allow(ctx, s.limits.Messages, s.local().Messages, userKey(caller), ActionMessage); err != nil {
		return Message{}, err
	}
	unlock, err := s.lockPublishing(ctx, conv)
	if err != nil {
		return Message{}, err
	}
	defer unlock()
	st, err := s.store.DeleteMessage(ctx, MessageChange{ConversationID: conv, Seq: seq, Actor: caller, At: Now()})
	if err != nil {
		return Message{}, err
	}
	if st.Changed {
		s.publishUpdate(ctx, st)
		s.sweepSoon() // its attachments' bytes go now
	}
	return st.Message, nil
}

// publishUpdate shows an edited or deleted message to its recipients'
// connections, as the store's transaction read them. The change is
// committed: a failure to publish must not fail it; the recipients are
// owed a resync (see Run), and catch up by version.
func (s *Service) publishUpdate(ctx context.Context, st Stored) {
	m := st.Message
	s.publishCommitted(ctx, "publish message update", Event{Type: EventMessageUpdated, To: st.Recipients, Message: &m},
		"conversation_id", m.ConversationID, "seq", m.Seq)
}

// messageChanges returns a page of the messages of conv changed after
// q.AfterVersion, ascending by version, limit of them at most; the caller
// is a member.
func (s *Service) messageChanges(ctx context.Context, conv ConversationID, q MessageQuery, limit int) (MessagePage, error) {
	q.Limit = limit + 1
	msgs, err := s.store.MessageChanges(ctx, conv, q.AfterVersion, q.Limit)
	if err != nil {
		return MessagePage{}, err
	}
	page := MessagePage{HasMore: len(msgs) > limit}
	if page.HasMore {
		msgs = msgs[:limit]
	}
	page.Messages = slices.Clip(msgs)
	return page, nil
}
