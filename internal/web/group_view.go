package web

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// The words of a group as the main view shows them: system messages as
// sentences, previews with the sender's name, "Seen by …", the member
// count. format.js says the same in the script (systemParts, previewText,
// seenByText, memberStatus): a change here is a change there.

// unknownName stands for a person the page cannot name: never "undefined".
const unknownName = "Someone"

// deletedText stands for a deleted message, in its row and as a preview
// (DELETED_TEXT in format.js).
const deletedText = "This message was deleted"

// seenByNames is how many readers "Seen by" names before it counts them.
const seenByNames = 3

// namePart is a run of a system message's sentence: a person's name or a
// title (shown bidi-isolated, in <bdi>) when Name is set, plain words
// otherwise.
type namePart struct {
	Text string
	Name bool
}

// names is who the page can name, by user id.
type names map[int64]wire.User

func (n names) name(id int64) string {
	if u, ok := n[id]; ok && u.DisplayName != "" {
		return u.DisplayName
	}
	return unknownName
}

// systemParts is a system message's sentence: "Ada added Grace", "Ada
// removed Grace", "Grace left", "Ada renamed the group to “Title”" ("Ada
// created the group “Title”" for the title message at seq 1, the
// creation's); the reader is "You" (or "you"). format.js says the same.
func systemParts(me int64, m wire.Message, n names) []namePart {
	who := func(id int64, capital bool) namePart {
		switch {
		case id == me && capital:
			return namePart{Text: "You"}
		case id == me:
			return namePart{Text: "you"}
		}
		return namePart{Text: n.name(id), Name: true}
	}
	s := m.System
	switch s.Action {
	case wire.SystemAdded:
		return []namePart{who(s.ActorID, true), {Text: " added "}, who(s.UserID, false)}
	case wire.SystemRemoved:
		return []namePart{who(s.ActorID, true), {Text: " removed "}, who(s.UserID, false)}
	case wire.SystemLeft:
		return []namePart{who(s.UserID, true), {Text: " left"}}
	case wire.SystemTitle:
		// The history's first message names the group as it is made.
		verb := " renamed the group to “"
		if m.Seq == 1 {
			verb = " created the group “"
		}
		return []namePart{who(s.ActorID, true), {Text: verb}, {Text: s.Title, Name: true}, {Text: "”"}}
	}
	return []namePart{{Text: "The group changed"}}
}

// partsText joins a sentence's parts.
func partsText(parts []namePart) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// previewText is a list row's preview: the last message's text; in a
// group with its sender's name ("Ada: text", "You: text"), a system
// message as its sentence, a deleted one as deletedText.
func previewText(me int64, c wire.ConversationRow, n names) string {
	m := c.LastMessage
	switch {
	case m == nil:
		return ""
	case m.Kind == wire.MessageSystem:
		return partsText(systemParts(me, *m, n))
	case m.Deleted:
		return deletedText
	case c.Kind != wire.KindGroup:
		return m.Body
	case m.SenderID == me:
		return "You: " + m.Body
	}
	return n.name(m.SenderID) + ": " + m.Body
}

// memberStatus is an open group's status line: "3 members, 2 online". The
// reader counts as online: they are looking at it.
func memberStatus(me int64, count int, members []wire.Member) string {
	online := 1
	for _, m := range members {
		if m.Online && m.User.ID != me {
			online++
		}
	}
	word := "members"
	if count == 1 {
		word = "member"
	}
	return strconv.Itoa(count) + " " + word + ", " + strconv.Itoa(online) + " online"
}

// seenBy is where "Seen by …" goes in a group and what it says: under the
// newest own message some other member has read (their read cursor at or
// past it), naming them in user ID order, up to three, else counting them.
// seq is 0 when nobody else has read any own message.
func seenBy(me int64, messages []wire.Message, members []wire.Member) (seq int64, text string) {
	var furthest int64
	for _, m := range members {
		if m.User.ID != me {
			furthest = max(furthest, m.LastReadSeq)
		}
	}
	for _, m := range slices.Backward(messages) {
		if m.SenderID == me && m.Kind != wire.MessageSystem && m.Seq <= furthest {
			seq = m.Seq
			break
		}
	}
	if seq == 0 {
		return 0, ""
	}
	var readers []string
	for _, m := range members {
		if m.User.ID != me && m.LastReadSeq >= seq {
			readers = append(readers, m.User.DisplayName)
		}
	}
	if len(readers) > seenByNames {
		return seq, "Seen by " + strconv.Itoa(len(readers))
	}
	return seq, "Seen by " + strings.Join(readers, ", ")
}

// showSender says whether a group message row shows its sender's name:
// for others' messages, unless the message before it (the same day) is a
// message by the same sender.
func showSender(me int64, prev *wire.Message, m wire.Message, sameDay bool) bool {
	if m.Kind == wire.MessageSystem || m.SenderID == me {
		return false
	}
	return prev == nil || !sameDay || prev.Kind == wire.MessageSystem || prev.SenderID != m.SenderID
}

// allMembers reads a conversation's whole member list, page by page, with
// whether each member is online.
func (s *server) allMembers(ctx context.Context, me chat.UserID, id chat.ConversationID) ([]wire.Member, error) {
	var out []wire.Member
	after := ""
	for {
		page, err := s.service.Members(ctx, me, id, after, chat.MaxPage)
		if err != nil {
			return nil, err
		}
		ids := make([]chat.UserID, len(page.Members))
		for i, m := range page.Members {
			ids[i] = m.UserID
		}
		online, err := s.service.Online(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Members {
			out = append(out, wireMember(m, online[m.UserID]))
		}
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

// pageNames gathers the people the main view names: the reader, the other
// people of direct conversations, the open group's members, and everyone
// a list preview or the open history names (senders, system messages),
// looked up one by one when not known yet. Their accounts go into the
// page's data, so that the script names them as the server does.
func (s *server) pageNames(ctx context.Context, me wire.User, st *appState) (names, error) {
	n := names{me.ID: me}
	for _, c := range st.Conversations {
		if c.OtherUser != nil {
			n[c.OtherUser.ID] = c.OtherUser.User
		}
	}
	var wanted []int64
	want := func(m *wire.Message, group bool) {
		if m == nil {
			return
		}
		if m.Kind == wire.MessageSystem {
			wanted = append(wanted, m.System.ActorID, m.System.UserID)
		} else if group {
			wanted = append(wanted, m.SenderID)
		}
	}
	for _, c := range st.Conversations {
		want(c.LastMessage, c.Kind == wire.KindGroup)
	}
	if o := st.Open; o != nil {
		for _, m := range o.Members {
			n[m.User.ID] = m.User
		}
		for i := range o.Messages {
			want(&o.Messages[i], o.Conversation.Kind == wire.KindGroup)
		}
	}
	for _, id := range wanted {
		if _, ok := n[id]; ok || id <= 0 {
			continue
		}
		u, err := s.service.User(ctx, chat.UserID(id))
		if chat.ErrorCode(err) == chat.ENOTFOUND {
			continue // named as unknownName, by the script too
		}
		if err != nil {
			return nil, err
		}
		n[id] = wireUser(u)
	}
	return n, nil
}

// usersOf lists the people of n, in user ID order, for the page's data.
func usersOf(n names) []wire.User {
	out := make([]wire.User, 0, len(n))
	for _, u := range n {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b wire.User) int { return int(a.ID - b.ID) })
	return out
}
