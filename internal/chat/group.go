package chat

import (
	"context"
	"slices"
	"strconv"
)

// GroupAction is a change to a group, as CheckGroupChange rules on it.
type GroupAction int

// Group actions.
const (
	// GroupRename changes the title (admins only).
	GroupRename GroupAction = iota + 1
	// GroupAdd adds a member (admins only).
	GroupAdd
	// GroupRemove removes another member (admins only).
	GroupRemove
	// GroupLeave removes the actor themselves (anyone).
	GroupLeave
	// GroupSetRole changes a member's role (admins only).
	GroupSetRole
)

// CheckGroupChange is the rule of who may change a group, which every
// store applies inside the transaction that makes the change, to what it
// read there under the group's lock (so that a concurrent change cannot
// slip between the check and the change). kind is the conversation's kind;
// actor is the actor's membership, nil when they are not a member or there
// is no such conversation. It returns, in this order of precedence:
//   - ENOTFOUND ("conversation not found") when actor is nil: a
//     conversation one is not in looks exactly like a missing one;
//   - EINVALID for a direct conversation, whose two members never change;
//   - EFORBIDDEN when the action is for admins and actor is not one;
//   - nil otherwise.
func CheckGroupChange(kind Kind, actor *Member, action GroupAction) error {
	if actor == nil {
		return NotFound("conversation")
	}
	if kind != KindGroup {
		return Errorf(EINVALID, "a direct conversation's members and title do not change: start a group instead")
	}
	if action != GroupLeave && actor.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "only the group's admins may do that")
	}
	return nil
}

// MemberNotFound is the error for a change to someone who is not a member
// of a group the actor is in: ENOTFOUND.
func MemberNotFound() *Error { return NotFound("member") }

// AlreadyMemberError is the error for adding someone who is a member
// already: ECONFLICT.
func AlreadyMemberError() *Error {
	return Errorf(ECONFLICT, "already a member of the group")
}

// GroupFullError is the error for adding a member to a group that has most
// members: ECONFLICT.
func GroupFullError(most int) *Error {
	return Errorf(ECONFLICT, "the group is full: it has %d members, the most a group may have", most)
}

// TooManyMembersError is the error for creating a group of more than most
// people, its creator included: EINVALID.
func TooManyMembersError(most int) *Error {
	return Errorf(EINVALID, "a group has at most %d members, its creator included", most)
}

// LastAdminError is the error for the only admin of a group stepping down
// to member: ECONFLICT. (Leaving is allowed: the longest-standing member
// then becomes admin.)
func LastAdminError() *Error {
	return Errorf(ECONFLICT, "the group's only admin cannot step down: make another member admin first")
}

// maxGroupMembers returns the cap on a group's members.
func (s *Service) maxGroupMembers() int {
	if s.groupCap > 0 {
		return s.groupCap
	}
	return DefaultMaxGroupMembers
}

// CreateGroup creates a group titled title (NormalizeGroupTitle's rules)
// with the caller as its admin and the users in members as members (the
// caller and repeats among them are dropped). It charges the caller's
// budget of conversations started. Its history starts with a SystemTitle
// message by the caller, then a SystemAdded message per member; nobody
// starts with anything unread. Every member's connections get an
// EventConversation. Errors: EINVALID for a bad title, no member besides
// the caller or more than the cap (ServiceConfig.MaxGroupMembers, the
// caller included); ENOTFOUND for a member who is not an open account;
// ERATELIMITED past the budget.
func (s *Service) CreateGroup(ctx context.Context, caller UserID, title string, members []UserID) (Conversation, error) {
	title, err := NormalizeGroupTitle(title)
	if err != nil {
		return Conversation{}, err
	}
	others := make([]UserID, 0, len(members))
	seen := make(map[UserID]bool, len(members))
	for _, id := range members {
		if id != caller && !seen[id] {
			seen[id] = true
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return Conversation{}, Errorf(EINVALID, "a group needs at least one member besides you")
	}
	most := s.maxGroupMembers()
	if 1+len(others) > most {
		return Conversation{}, TooManyMembersError(most)
	}
	if err := s.allow(ctx, s.limits.Conversations, s.local().Conversations, userKey(caller), ActionConversation); err != nil {
		return Conversation{}, err
	}
	c, _, err := s.store.CreateGroup(ctx, NewGroup{Title: title, Creator: caller, Members: others, MaxMembers: most, At: Now()})
	if err != nil {
		return Conversation{}, err
	}
	to := append([]UserID{caller}, others...)
	s.publishCommitted(ctx, "publish conversation", Event{Type: EventConversation, To: to, ConversationID: c.ID, Conversation: &c},
		"conversation_id", c.ID)
	return c, nil
}

// RenameGroup gives the group a new title (NormalizeGroupTitle's rules);
// admins only. A rename writes a SystemTitle message, charged to the
// caller's message budget, and every member's connections get it and an
// EventConversation with the group as it is now. Renaming to the same
// title changes and publishes nothing. Errors: EINVALID for a bad title or
// a direct conversation; ENOTFOUND when the caller is not a member;
// EFORBIDDEN when they are not an admin; ERATELIMITED past the budget.
func (s *Service) RenameGroup(ctx context.Context, caller UserID, id ConversationID, title string) (Conversation, error) {
	title, err := NormalizeGroupTitle(title)
	if err != nil {
		return Conversation{}, err
	}
	if err := s.allowGroupChange(ctx, caller); err != nil {
		return Conversation{}, err
	}
	unlock, err := s.lockPublishing(ctx, id)
	if err != nil {
		return Conversation{}, err
	}
	defer unlock()
	ch, err := s.store.RenameGroup(ctx, id, caller, title, Now())
	if err != nil || !ch.Changed {
		return ch.Conversation, err
	}
	c := ch.Conversation
	if s.publishSystem(ctx, ch.Members, ch.Message) {
		s.publishCommitted(ctx, "publish rename", Event{Type: EventConversation, To: ch.Members, ConversationID: id, Conversation: &c},
			"conversation_id", id)
	}
	return ch.Conversation, nil
}

// AddMember makes user a member of the group; admins only. The new member
// sees the whole history and starts with nothing unread. The change writes
// a SystemAdded message, charged to the caller's message budget; every
// member's connections, the new member's included, get it and an
// EventMember (MemberAdded). It returns the new member. Errors: EINVALID
// for a direct conversation; ENOTFOUND when the caller is not a member or
// user is not an open account; EFORBIDDEN when the caller is not an admin;
// ECONFLICT when user is a member already or the group has the most
// members it may (ServiceConfig.MaxGroupMembers); ERATELIMITED past the
// budget.
func (s *Service) AddMember(ctx context.Context, caller UserID, id ConversationID, user UserID) (MemberInfo, error) {
	if err := s.allowGroupChange(ctx, caller); err != nil {
		return MemberInfo{}, err
	}
	unlock, err := s.lockPublishing(ctx, id)
	if err != nil {
		return MemberInfo{}, err
	}
	defer unlock()
	ch, err := s.store.AddMember(ctx, id, caller, user, s.maxGroupMembers(), Now())
	if err != nil {
		return MemberInfo{}, err
	}
	if s.publishSystem(ctx, ch.Members, ch.Message) {
		s.publishCommitted(ctx, "publish member added", memberEvent(ch.Members, ch.Member, MemberAdded), "conversation_id", id, "user_id", user)
	}
	return ch.Member, nil
}

// RemoveMember ends user's membership of the group: an admin removes
// anyone, anyone removes themselves (leaves). From then on the group is
// ENOTFOUND for user, and its events no longer reach them. The change
// writes a SystemRemoved or SystemLeft message, charged to the caller's
// message budget; the members' connections and the removed member's get
// it and an EventMember (MemberRemoved). When the last admin leaves, the
// longest-standing member becomes admin, and the members get an
// EventMember (MemberRole) for that too. Errors: EINVALID for a direct
// conversation; ENOTFOUND when the caller or user is not a member;
// EFORBIDDEN when the caller removes someone else and is not an admin;
// ERATELIMITED past the budget.
func (s *Service) RemoveMember(ctx context.Context, caller UserID, id ConversationID, user UserID) error {
	if err := s.allowGroupChange(ctx, caller); err != nil {
		return err
	}
	unlock, err := s.lockPublishing(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	ch, err := s.store.RemoveMember(ctx, id, caller, user, Now())
	if err != nil {
		return err
	}
	s.publishRemoval(ctx, ch, user)
	return nil
}

// publishRemoval publishes what RemoveMember (or an account closure)
// committed in ch, user's removal from a group: the system message and an
// EventMember (MemberRemoved) to the members and user, who hears of it
// this one last time, then an EventMember (MemberRole) for whoever was
// promoted. The caller holds the group's publishing lock.
func (s *Service) publishRemoval(ctx context.Context, ch GroupChange, user UserID) {
	id := ch.Conversation.ID
	members := ch.Members
	to := append(slices.Clip(members), user)
	ok := s.publishSystem(ctx, to, ch.Message) &&
		s.publishCommitted(ctx, "publish member removed", memberEvent(to, ch.Member, MemberRemoved), "conversation_id", id, "user_id", user)
	if ok && ch.Promoted != nil {
		s.publishCommitted(ctx, "publish role", memberEvent(members, *ch.Promoted, MemberRole), "conversation_id", id, "user_id", ch.Promoted.UserID)
	}
}

// SetRole makes user an admin or a member of the group; admins only. It
// writes no system message, but is charged to the caller's message budget
// as the other changes are (every member hears of it); when the role
// changed, every member's connections get an EventMember (MemberRole). It
// returns the member as they are now. Errors: EINVALID for a role other
// than RoleAdmin and RoleMember, or a direct conversation; ENOTFOUND when
// the caller or user is not a member; EFORBIDDEN when the caller is not an
// admin; ECONFLICT when the group's only admin would step down;
// ERATELIMITED past the budget.
func (s *Service) SetRole(ctx context.Context, caller UserID, id ConversationID, user UserID, role Role) (MemberInfo, error) {
	if role != RoleAdmin && role != RoleMember {
		return MemberInfo{}, Errorf(EINVALID, "role must be %q or %q", RoleAdmin, RoleMember)
	}
	if err := s.allowGroupChange(ctx, caller); err != nil {
		return MemberInfo{}, err
	}
	unlock, err := s.lockPublishing(ctx, id)
	if err != nil {
		return MemberInfo{}, err
	}
	defer unlock()
	ch, err := s.store.SetRole(ctx, id, caller, user, role)
	if err != nil || !ch.Changed {
		return ch.Member, err
	}
	s.publishCommitted(ctx, "publish role", memberEvent(ch.Members, ch.Member, MemberRole), "conversation_id", id, "user_id", user)
	return ch.Member, nil
}

// MemberPage is a page of a conversation's members.
type MemberPage struct {
	Members []MemberInfo
	// Next is the cursor of the following page (pass it back as after),
	// "" on the last page.
	Next string
}

// Members returns a page of a conversation's members with their accounts,
// in user ID order, to a member of it (of a group or a direct
// conversation). after is the previous page's Next ("" for the first
// page); limit is 1..MaxPage, 0 meaning DefaultMemberPage. It charges the
// caller's budget of list pages. Errors: EINVALID for a bad cursor or
// limit; ENOTFOUND when the caller is not a member; ERATELIMITED past the
// budget.
func (s *Service) Members(ctx context.Context, caller UserID, id ConversationID, after string, limit int) (MemberPage, error) {
	limit, err := pageLimit(limit, DefaultMemberPage)
	if err != nil {
		return MemberPage{}, err
	}
	from, err := idCursor(after)
	if err != nil {
		return MemberPage{}, err
	}
	if err := s.allow(ctx, s.limits.Lists, s.local().Lists, userKey(caller), ActionList); err != nil {
		return MemberPage{}, err
	}
	if _, err := s.store.Member(ctx, id, caller); err != nil {
		return MemberPage{}, err
	}
	rows, err := s.store.ListMembers(ctx, id, MemberQuery{After: UserID(from), Limit: limit + 1})
	if err != nil {
		return MemberPage{}, err
	}
	var page MemberPage
	page.Members, page.Next = trimPage(rows, limit, func(m MemberInfo) string { return strconv.FormatInt(int64(m.UserID), 10) })
	return page, nil
}

// Membership returns the caller's own membership of a conversation, role
// and read cursor included. Errors: ENOTFOUND when the caller is not a
// member or there is no such conversation (the two look the same).
func (s *Service) Membership(ctx context.Context, caller UserID, id ConversationID) (Member, error) {
	return s.store.Member(ctx, id, caller)
}

// allowGroupChange charges a change that writes a system message to the
// caller's message budget: it adds a line to everyone's history, as a
// message does.
func (s *Service) allowGroupChange(ctx context.Context, caller UserID) error {
	return s.allow(ctx, s.limits.Messages, s.local().Messages, userKey(caller), ActionMessage)
}

// publishSystem publishes a group change's system message to the users in
// to (see publishCommitted) and reports whether it went out: when it did
// not, they are owed a resync, which covers the events that follow it too.
func (s *Service) publishSystem(ctx context.Context, to []UserID, m *Message) bool {
	if m == nil {
		return true
	}
	return s.publishCommitted(ctx, "publish system message", Event{Type: EventMessage, To: to, Message: m},
		"conversation_id", m.ConversationID, "seq", m.Seq)
}

// memberEvent is the EventMember that tells to about a change to m.
func memberEvent(to []UserID, m MemberInfo, change MemberChange) Event {
	return Event{Type: EventMember, To: to, ConversationID: m.ConversationID, UserID: m.UserID, Role: m.Role, Change: change}
}

// Check reports what a store refuses in g before it stores anything:
// EINVALID when g has no member besides the creator, names a member twice
// or the creator among them, or has more people than g.MaxMembers (when
// that is above 0), the creator included.
func (g NewGroup) Check() error {
	if len(g.Members) == 0 {
		return Errorf(EINVALID, "a group needs at least one member besides its creator")
	}
	if g.MaxMembers > 0 && 1+len(g.Members) > g.MaxMembers {
		return TooManyMembersError(g.MaxMembers)
	}
	seen := make(map[UserID]bool, len(g.Members)+1)
	seen[g.Creator] = true
	for _, id := range g.Members {
		if seen[id] {
			return Errorf(EINVALID, "user %d is named twice among a group's people", id)
		}
		seen[id] = true
	}
	return nil
}
