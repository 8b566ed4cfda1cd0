package web

import (
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// TestEditedAndDeletedRows: the server's rows of edited and deleted
// messages, and what each reader is offered, as conversation-view.js
// draws them (messageActions, editedTitle, DELETED_TEXT).
func TestEditedAndDeletedRows(t *testing.T) {
	const me = 1
	edited := time.Date(2026, 12, 1, 6, 8, 59, 0, time.FixedZone("CET", 3600))
	msgs := []wire.Message{
		{Seq: 1, Kind: wire.MessageText, SenderID: 1, Body: "mine, edited", EditedAt: &edited},
		{Seq: 2, Kind: wire.MessageText, SenderID: 2, Body: "theirs"},
		{Seq: 3, Kind: wire.MessageText, SenderID: 1, Deleted: true, EditedAt: &edited},
		{Seq: 4, Kind: wire.MessageSystem, SenderID: 2, System: wire.SystemEvent{Action: wire.SystemAdded, ActorID: 2, UserID: 3}},
	}
	type offer struct {
		edit, del bool
	}
	for _, tc := range []struct {
		name  string
		kind  string
		role  string
		offer map[int64]offer
	}{
		{"direct", wire.KindDirect, "", map[int64]offer{1: {true, true}, 2: {false, false}, 3: {false, false}}},
		{"group member", wire.KindGroup, wire.RoleMember, map[int64]offer{1: {true, true}, 2: {false, false}, 3: {false, false}}},
		{"group admin", wire.KindGroup, wire.RoleAdmin, map[int64]offer{1: {true, true}, 2: {false, true}, 3: {false, false}}},
	} {
		st := &openState{Conversation: wire.ConversationRow{ID: 7, Kind: tc.kind, LastSeq: 4, LastReadSeq: 4}, Messages: msgs}
		if tc.role != "" {
			st.Members = []wire.Member{{User: wire.User{ID: 1, DisplayName: "Ada"}, Role: tc.role}, {User: wire.User{ID: 2, DisplayName: "Bob"}, Role: wire.RoleAdmin}}
		}
		v := openConversation(me, st, names{1: {ID: 1, DisplayName: "Ada"}, 2: {ID: 2, DisplayName: "Bob"}})
		for _, item := range v.Items {
			if item.Day != "" || item.System != nil {
				continue
			}
			if got, want := (offer{item.CanEdit, item.CanDelete}), tc.offer[item.Seq]; got != want {
				t.Errorf("%s: seq %d offers edit %v, delete %v; want %v, %v", tc.name, item.Seq, got.edit, got.del, want.edit, want.del)
			}
			switch item.Seq {
			case 1:
				if item.Deleted || item.EditedTitle != "Edited 2026-12-01 05:08 UTC" {
					t.Errorf("%s: edited row %+v, want its edit time in UTC", tc.name, item)
				}
			case 3:
				if !item.Deleted || item.EditedTitle != "" {
					t.Errorf("%s: deleted row %+v, want a tombstone without \"(edited)\"", tc.name, item)
				}
			}
		}
	}

	var b strings.Builder
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	err = p.sets["app"].ExecuteTemplate(&b, "message-row", itemView{Seq: 3, Deleted: true, Parts: []textPart{{Text: "gone"}}})
	if err != nil {
		t.Fatal(err)
	}
	if html := b.String(); !strings.Contains(html, `class="message deleted"`) || !strings.Contains(html, ">This message was deleted</p>") || strings.Contains(html, "gone") {
		t.Errorf("a deleted row renders %s", html)
	}

	row := wire.ConversationRow{Kind: wire.KindGroup, LastMessage: &msgs[2]}
	if got := previewText(me, row, names{}); got != "This message was deleted" {
		t.Errorf("preview of a deleted last message = %q", got)
	}
	row.Kind = wire.KindDirect
	if got := previewText(me, row, names{}); got != "This message was deleted" {
		t.Errorf("direct preview of a deleted last message = %q", got)
	}
}
