package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// TestFrameFailureAfterCloseNotError: a frame that fails only because its
// connection's context ended (the server closed the socket with frames
// still buffered) is logged at debug level, not as an internal error; a
// frame that fails for any other reason, or with a cancellation while the
// connection is still open, is an error naming the frame's type and cause.
func TestFrameFailureAfterCloseNotError(t *testing.T) {
	var buf bytes.Buffer
	fr := &frameReader{logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), frames: frameHandler{user: 7}}
	internal := func(err error) wire.ErrorFrame { return errorFrame(err, "c1") }

	closed, cancel := context.WithCancel(context.Background())
	cancel()
	for _, cause := range []error{
		fmt.Errorf("select by client_id: %w", context.Canceled),
		fmt.Errorf("select by client_id: %w", context.DeadlineExceeded),
	} {
		fr.logFailure(closed, "conn", internal(cause), cause, nil)
	}
	if buf.Len() != 0 {
		t.Errorf("a closed connection's abandoned frames were logged:\n%s", buf.String())
	}

	open := context.Background()
	canceled := fmt.Errorf("select: %w", context.Canceled)
	fr.logFailure(open, "conn", internal(canceled), canceled, nil)
	send := []byte(`{"type":"send","conversation_id":1,"body":"hi","client_id":"c1"}`)
	fr.logFailure(closed, "conn", internal(errors.New("disk on fire")), errors.New("disk on fire"), send)
	if n := strings.Count(buf.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2:\n%s", n, buf.String())
	}
	// The line names the frame that failed and why.
	if !strings.Contains(buf.String(), `msg="websocket frame failed" user_id=7 conn=conn frame_type=send err="disk on fire"`) {
		t.Errorf("the failed send's line does not name its type and cause:\n%s", buf.String())
	}
	// Refusals are never logged.
	buf.Reset()
	fr.logFailure(open, "conn", internal(chat.Errorf(chat.EINVALID, "no")), nil, send)
	if buf.Len() != 0 {
		t.Errorf("a refused frame was logged: %s", buf.String())
	}
}

// TestErrorFrameRetryAfterRoundsUp: a rate_limited frame always says how
// long to wait, in whole milliseconds rounded up.
func TestErrorFrameRetryAfterRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want int64
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1},
		{400 * time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{1500 * time.Microsecond, 2},
		{2 * time.Second, 2000},
	} {
		err := &chat.Error{Code: chat.ERATELIMITED, Message: "slow down", RetryAfter: tc.wait}
		if got := errorFrame(err, "").RetryAfterMS; got != tc.want {
			t.Errorf("wait %v: retry_after_ms %d, want %d", tc.wait, got, tc.want)
		}
	}
}

// TestEncodeGroupEvents: member, conversation, system message and
// message_updated events
// become the frames docs/protocol.md describes.
func TestEncodeGroupEvents(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		ev   chat.Event
		want string
	}{
		{chat.Event{Type: chat.EventMember, ConversationID: 7, UserID: 3, Role: chat.RoleMember, Change: chat.MemberAdded},
			`{"type":"member","conversation_id":7,"user_id":3,"role":"member","change":"added"}`},
		{chat.Event{Type: chat.EventMember, ConversationID: 7, UserID: 2, Role: chat.RoleAdmin, Change: chat.MemberRole},
			`{"type":"member","conversation_id":7,"user_id":2,"role":"admin","change":"role"}`},
		{chat.Event{Type: chat.EventConversation, ConversationID: 7, Conversation: &chat.Conversation{ID: 7, Kind: chat.KindGroup, Title: "Ops", LastSeq: 4, LastVersion: 6, LastMessageAt: at, CreatedAt: at, MemberCount: 3}},
			`{"type":"conversation","conversation":{"id":7,"kind":"group","title":"Ops","member_count":3,"last_seq":4,"last_message_at":"2026-12-01T09:30:00Z","created_at":"2026-12-01T09:30:00Z","last_version":6}}`},
		{chat.Event{Type: chat.EventMessage, Message: &chat.Message{ConversationID: 7, Seq: 5, Kind: chat.MessageSystem, SenderID: 2, CreatedAt: at,
			System: &chat.SystemEvent{Action: chat.SystemRemoved, ActorID: 2, UserID: 3}}},
			`{"type":"message","message":{"conversation_id":7,"seq":5,"kind":"system","sender_id":2,"body":"","client_id":"","created_at":"2026-12-01T09:30:00Z","system":{"action":"removed","actor_id":2,"user_id":3},"version":0,"edited_at":null,"deleted":false}}`},
		{chat.Event{Type: chat.EventMessage, Message: &chat.Message{ConversationID: 7, Seq: 6, Kind: chat.MessageSystem, SenderID: 2, CreatedAt: at,
			System: &chat.SystemEvent{Action: chat.SystemTitle, ActorID: 2, Title: "Ops"}}},
			`{"type":"message","message":{"conversation_id":7,"seq":6,"kind":"system","sender_id":2,"body":"","client_id":"","created_at":"2026-12-01T09:30:00Z","system":{"action":"title","actor_id":2,"title":"Ops"},"version":0,"edited_at":null,"deleted":false}}`},
		{chat.Event{Type: chat.EventMessage, Message: &chat.Message{ConversationID: 7, Seq: 8, Version: 9, SenderID: 2, Body: "hi", CreatedAt: at}},
			`{"type":"message","message":{"conversation_id":7,"seq":8,"kind":"text","sender_id":2,"body":"hi","client_id":"","created_at":"2026-12-01T09:30:00Z","version":9,"edited_at":null,"deleted":false}}`},
		{chat.Event{Type: chat.EventMessageUpdated, Message: &chat.Message{ConversationID: 7, Seq: 8, Version: 10, SenderID: 2, Body: "hi!", CreatedAt: at, EditedAt: at.Add(time.Minute)}},
			`{"type":"message_updated","message":{"conversation_id":7,"seq":8,"kind":"text","sender_id":2,"body":"hi!","client_id":"","created_at":"2026-12-01T09:30:00Z","version":10,"edited_at":"2026-12-01T09:31:00Z","deleted":false}}`},
		{chat.Event{Type: chat.EventMessageUpdated, Message: &chat.Message{ConversationID: 7, Seq: 8, Version: 11, SenderID: 2, CreatedAt: at, EditedAt: at.Add(time.Minute), DeletedAt: at.Add(2 * time.Minute)}},
			`{"type":"message_updated","message":{"conversation_id":7,"seq":8,"kind":"text","sender_id":2,"body":"","client_id":"","created_at":"2026-12-01T09:30:00Z","version":11,"edited_at":"2026-12-01T09:31:00Z","deleted":true}}`},
	} {
		got, err := EncodeEvent(tc.ev)
		if err != nil || string(got) != tc.want {
			t.Errorf("EncodeEvent(%+v) = %s, %v\nwant %s", tc.ev, got, err, tc.want)
		}
	}
	if _, err := EncodeEvent(chat.Event{Type: chat.EventConversation}); err == nil {
		t.Error("a conversation event without a conversation encoded")
	}
	if _, err := EncodeEvent(chat.Event{Type: chat.EventMessageUpdated}); err == nil {
		t.Error("a message_updated event without a message encoded")
	}
}
