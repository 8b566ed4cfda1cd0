package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// The tests below hold the whole server, over HTTP and WebSocket, to the
// strict input rules of docs/api.md and docs/protocol.md: JSON keys matched
// exactly, none twice; a body or display name that renders as nothing is
// empty; no NUL or invalid UTF-8 in a query parameter. Each runs on SQLite
// and, when PARLEY_TEST_POSTGRES is set, on PostgreSQL, which refuses NUL
// and invalid UTF-8 in text outright: nothing may reach it.

func TestStrictInputSQLite(t *testing.T) {
	t.Parallel()
	testStrictInput(t, startServer(t, nil))
}

func TestStrictInputPostgres(t *testing.T) {
	t.Parallel()
	testStrictInput(t, startServer(t, map[string]string{"PARLEY_DB": postgresDatabase(t)}))
}

// invisibleBodies render as nothing: each is an empty message.
var invisibleBodies = []string{
	"\u200b", "\u2060", "\ufeff", "\u00ad", "\u2800", "\u3164", "\uffa0", "\u115f", "\u1160",
	"\u200e", "\u200f", "\u200e\u200f", "\u202e", "\u2066\u2069", "\u034f", "\u0301", "\u20dd",
	"\ufe0f", "\U000E0041", "\u200b \n\u2060\t\u2800", "\u3000\u00a0",
}

// visibleBodies have something that renders, and are stored exactly as typed,
// invisible characters and all.
var visibleBodies = []string{
	"\U0001F469\u200d\U0001F4BB", // woman technologist: an emoji ZWJ sequence
	"\u200fمرحبا بالعالم\u200f",  // right-to-left marks around Arabic
	"e\u0301", "soft\u00adhyphen", "\u2764\ufe0f", "\u200bx",
}

func testStrictInput(t *testing.T, s *server) {
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	sendPath := fmt.Sprintf("/api/v1/conversations/%d/messages", conv)

	t.Run("http bodies", func(t *testing.T) {
		alice := *alice
		alice.t = t
		for _, tc := range []struct{ path, body, message string }{
			{sendPath, `{"body":"a","body":"b"}`, `duplicate key "body"`},
			{sendPath, `{"body":"a","b\u006fdy":"b"}`, `duplicate key "body"`},
			{sendPath, `{"BODY":"x"}`, `unknown field "BODY"`},
			{sendPath, `{"Body":"x","client_id":"c"}`, `unknown field "Body"`},
			{sendPath, `{"body":"x","extra":true}`, `unknown field "extra"`},
			{sendPath, `{"body":"x"} {}`, "request body must hold one JSON object and nothing after it"},
			{sendPath, `{"body":"\ud800"}`, ""},
			{"/api/v1/conversations", fmt.Sprintf(`{"user_id":%d,"user_id":%d}`, bob.user.ID, alice.user.ID), `duplicate key "user_id"`},
			{fmt.Sprintf("/api/v1/conversations/%d/read", conv), `{"seq":1,"SEQ":2}`, `unknown field "SEQ"`},
			{"/api/v1/auth/register", `{"username":"carol","username":"dave","password":"password-carol"}`, `duplicate key "username"`},
			{"/api/v1/auth/register", `{"Username":"carol","password":"password-carol"}`, `unknown field "Username"`},
			{"/api/v1/auth/login", `{"username":"alice","password":"wrong","password":"password-alice"}`, `duplicate key "password"`},
		} {
			e := alice.wantError("POST", tc.path, tc.body, http.StatusBadRequest, "invalid")
			if tc.message != "" && e.Error.Message != tc.message {
				t.Errorf("POST %s %s: message %q, want %q", tc.path, tc.body, e.Error.Message, tc.message)
			}
		}
		if got := alice.messages(conv, ""); len(got.Messages) != 0 {
			t.Fatalf("refused bodies stored messages: %+v", got.Messages)
		}
		// Keys written exactly are as good as ever, escaped or not.
		var resp wire.MessageResponse
		alice.call("POST", sendPath, `{"b\u006fdy":"hello","client_id":"h-1"}`, http.StatusCreated, &resp)
		if resp.Message.Body != "hello" || resp.Message.ClientID != "h-1" {
			t.Fatalf("sent %+v", resp.Message)
		}
	})

	t.Run("invisible bodies over http", func(t *testing.T) {
		alice := *alice
		alice.t = t
		before := len(alice.messages(conv, "").Messages)
		for _, body := range invisibleBodies {
			e := alice.wantError("POST", sendPath, wire.SendRequest{Body: body}, http.StatusBadRequest, "invalid")
			if !strings.Contains(e.Error.Message, "empty") {
				t.Errorf("body %q: message %q, want it to say the message is empty", body, e.Error.Message)
			}
		}
		if got := alice.messages(conv, "").Messages; len(got) != before {
			t.Fatalf("invisible bodies stored: %+v", got[before:])
		}
		for _, body := range visibleBodies {
			if m := alice.send(conv, body, ""); m.Body != body {
				t.Errorf("sent %q, stored %q", body, m.Body)
			}
		}
	})

	t.Run("display names", func(t *testing.T) {
		c := newClient(t, s)
		for i, name := range []string{"\u034f", "\u200b", "\u0301", "\u2800", "\u3164", "\u115f\u1160", "\ufe0f", "Carol\u200b"} {
			c.wantError("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: fmt.Sprintf("carol%d", i), Password: "password-carol", DisplayName: name}, http.StatusBadRequest, "invalid")
		}
		var resp wire.UserResponse
		c.call("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "carol", Password: "password-carol", DisplayName: "Carol \u2764\ufe0f"}, http.StatusCreated, &resp)
		if resp.User.DisplayName != "Carol \u2764\ufe0f" {
			t.Fatalf("registered %+v", resp.User)
		}
	})

	t.Run("websocket frames", func(t *testing.T) {
		alice, bob := *alice, *bob
		alice.t, bob.t = t, t
		at, bt := alice.openTab("alice"), bob.openTab("bob")
		before := len(alice.messages(conv, "").Messages)
		for _, tc := range []struct{ frame, message string }{
			// encoding/json let the last "type" win: this was a send.
			{fmt.Sprintf(`{"type":"typing","type":"send","conversation_id":%d,"client_id":"dup-1","body":"x"}`, conv), `duplicate key "type"`},
			{fmt.Sprintf(`{"type":"send","conversation_id":%d,"client_id":"dup-2","body":"a","body":"b"}`, conv), `duplicate key "body"`},
			{fmt.Sprintf(`{"type":"send","conversation_id":%d,"conversation_id":%d,"body":"x"}`, conv, conv+1), `duplicate key "conversation_id"`},
			{fmt.Sprintf(`{"TYPE":"send","conversation_id":%d,"body":"x"}`, conv), `unknown field "TYPE"`},
			{fmt.Sprintf(`{"type":"send","Body":"x","conversation_id":%d}`, conv), `unknown field "Body"`},
		} {
			at.send(tc.frame)
			f := at.expectPast("error")
			if f.Code != "invalid" || f.ErrorText() != tc.message {
				t.Errorf("frame %s: error %q %q, want invalid %q", tc.frame, f.Code, f.ErrorText(), tc.message)
			}
		}
		for i, body := range invisibleBodies {
			id := fmt.Sprintf("inv-%d", i)
			at.send(sendFrame(conv, id, body))
			if f := at.expectPast("error"); f.Code != "invalid" || f.ClientID != id {
				t.Errorf("body %q: error %+v (%s), want invalid for %s", body, f, f.ErrorText(), id)
			}
		}
		// Nothing reached bob, nothing was stored.
		syncPast(at)
		syncPast(bt)
		if got := alice.messages(conv, "").Messages; len(got) != before {
			t.Fatalf("refused frames stored: %+v", got[before:])
		}
		for i, body := range visibleBodies {
			id := fmt.Sprintf("vis-%d", i)
			at.send(sendFrame(conv, id, body))
			if m := at.message(at.expectPast("ack")); m.Body != body {
				t.Errorf("sent %q, acked %q", body, m.Body)
			}
			if m := bt.message(bt.expectPast("message")); m.Body != body {
				t.Errorf("sent %q, bob got %q", body, m.Body)
			}
		}
	})

	t.Run("query parameters", func(t *testing.T) {
		alice := *alice
		alice.t = t
		for _, path := range []string{
			"/api/v1/users?q=%00", "/api/v1/users?q=a%00b", "/api/v1/users?after=%00", "/api/v1/users?q=%FF",
			"/api/v1/users?q=%C3", "/api/v1/users?q=%ED%A0%80", "/api/v1/users?%00=x", "/api/v1/users?q=%zz",
			"/api/v1/conversations?before=%00", "/api/v1/conversations?before=%FE",
			fmt.Sprintf("/api/v1/conversations/%d/messages?before_seq=%%00", conv),
			fmt.Sprintf("/api/v1/conversations/%d?x=%%00", conv),
		} {
			alice.wantError("GET", path, nil, http.StatusBadRequest, "invalid")
		}
		// A page answers with the error page of the app's layout.
		for _, path := range []string{"/people?q=%00", "/?x=%zz", fmt.Sprintf("/c/%d?q=%%FF", conv)} {
			if status, body := alice.do("GET", path, nil); status != http.StatusBadRequest || !strings.Contains(string(body), "<h1>Bad Request</h1>") {
				t.Errorf("GET %s: %d %s, want the 400 page", path, status, body)
			}
		}
		// What people search for is still found.
		var users wire.UsersResponse
		alice.call("GET", "/api/v1/users?q=bo", nil, http.StatusOK, &users)
		if len(users.Users) != 1 || users.Users[0].Username != "bob" {
			t.Fatalf("search for bo: %+v", users.Users)
		}
	})

	// None of it was an internal error.
	for line := range strings.SplitSeq(s.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("error logged: %s", line)
		}
	}
}

// syncPast is tab.sync that passes over presence frames, whose timing is
// not fixed: when its refusal arrives, every frame the tab sent before has
// been carried out, and no frame but presence came before it.
func syncPast(tb *tab) {
	tb.t.Helper()
	tb.syncs++
	id := fmt.Sprintf("sync-%d", tb.syncs)
	tb.send(map[string]any{"type": "send", "client_id": id})
	if f := tb.expectPast("error"); f.Code != "invalid" || f.ClientID != id {
		tb.t.Fatalf("%s: got error %+v (%s), want the refusal of %s", tb.name, f, f.ErrorText(), id)
	}
}
