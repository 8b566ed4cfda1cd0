package main

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// TestWebSocketMessages: two people with two tabs each. The sending tab gets
// an ack and nothing else; every other tab, the sender's included, gets the
// message. A message posted over HTTP reaches every tab.
func TestWebSocketMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a1, a2 := alice.openTab("a1"), alice.openTab("a2")
	b1, b2 := bob.openTab("b1"), bob.openTab("b2")
	if a1.hello.User == nil || a1.hello.User.ID != alice.user.ID || a1.hello.ServerTime.IsZero() {
		t.Errorf("hello: %+v", a1.hello)
	}
	a1.expect("presence") // bob came online
	a2.expect("presence")

	a1.send(sendFrame(conv, "m1", "hello bob"))
	ack := a1.expect("ack")
	m := a1.message(ack)
	if ack.ClientID != "m1" || m.Seq != 1 || m.Body != "hello bob" || m.SenderID != alice.user.ID || m.ClientID != "m1" {
		t.Errorf("ack: %+v %+v", ack, m)
	}
	for _, tb := range []*tab{a2, b1, b2} {
		if got := tb.message(tb.expect("message")); !reflect.DeepEqual(got, m) {
			t.Errorf("%s got %+v, want %+v", tb.name, got, m)
		}
	}

	// A resend with the same client_id is acked with the first message,
	// stored once, and published again to every other tab (its first
	// publish may have been lost: clients drop the copy by seq). Bob's
	// reply below is the next message every tab gets after it: a message
	// to a1 for its own send would arrive first.
	a1.send(sendFrame(conv, "m1", "hello again"))
	if again := a1.message(a1.expect("ack")); !reflect.DeepEqual(again, m) {
		t.Errorf("idempotent resend acked %+v, want %+v", again, m)
	}
	for _, tb := range []*tab{a2, b1, b2} {
		if got := tb.message(tb.expect("message")); !reflect.DeepEqual(got, m) {
			t.Errorf("%s got %+v after the resend, want %+v again", tb.name, got, m)
		}
	}

	b2.send(sendFrame(conv, "r1", "hi alice"))
	reply := b2.message(b2.expect("ack"))
	for _, tb := range []*tab{a1, a2, b1} {
		if got := tb.message(tb.expect("message")); !reflect.DeepEqual(got, reply) {
			t.Errorf("%s got %+v, want %+v", tb.name, got, reply)
		}
	}

	viaHTTP := bob.send(conv, "sent over HTTP", "")
	for _, tb := range []*tab{a1, a2, b1, b2} {
		if got := tb.message(tb.expect("message")); got.Seq != viaHTTP.Seq || got.Body != "sent over HTTP" {
			t.Errorf("%s got %+v, want seq %d", tb.name, got, viaHTTP.Seq)
		}
	}
}

// TestWebSocketTypingAndRead: typing reaches the other member's tabs (at
// most once per 2 s); a read receipt reaches every member's tabs, once.
func TestWebSocketTypingAndRead(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a1, a2 := alice.openTab("a1"), alice.openTab("a2")
	b1, b2 := bob.openTab("b1"), bob.openTab("b2")
	a1.expect("presence")
	a2.expect("presence")

	start := time.Now()
	a1.send(frame("typing", conv))
	for _, tb := range []*tab{b1, b2} {
		f := tb.expect("typing")
		if f.ConversationID != conv || f.UserID != alice.user.ID {
			t.Errorf("%s: typing frame %+v", tb.name, f)
		}
	}
	// Typing again, from both tabs, is throttled (at most one per 2 s) and
	// gets no error: once each tab's sync is answered, both are carried
	// out, unanswered.
	a1.send(frame("typing", conv))
	a2.send(frame("typing", conv))
	a1.sync()
	a2.sync()
	// The gate counts 2 s from the first event it forwarded, which was
	// after start: if the two were carried out within 2 s of start, both
	// were dropped. A machine slow enough to take longer may have let one
	// through, and it may pass below.
	mayPass := time.Since(start) >= 2*time.Second

	// The three messages are the next frames of every tab: a typing frame
	// to the typist's own tab a2, or one the gate let through, was
	// published before them and would arrive first.
	for i := range 3 {
		a1.send(sendFrame(conv, fmt.Sprint("c", i), "hi"))
		a1.expect("ack")
	}
	for _, tb := range []*tab{a2, b1, b2} {
		passed := false
		for range 3 {
			f := tb.next()
			if f.Type == "typing" && tb != a2 && mayPass && !passed {
				t.Logf("%s: one more typing event passed the gate, %v after the first", tb.name, time.Since(start))
				passed = true
				f = tb.next()
			}
			if f.Type != "message" {
				t.Fatalf("%s: got %s frame %+v, want message", tb.name, f.Type, f)
			}
		}
	}
	b1.send(frame("read", conv, "seq", 2))
	for _, tb := range []*tab{a1, a2, b1, b2} {
		f := tb.expect("read")
		if f.ConversationID != conv || f.UserID != bob.user.ID || f.Seq != 2 {
			t.Errorf("%s: read frame %+v", tb.name, f)
		}
	}
	b2.send(frame("read", conv, "seq", 1)) // backwards: nothing moves, nothing sent
	b1.send(frame("read", conv, "seq", 2)) // unchanged: nothing sent
	// Both carried out, unanswered: the receipt of the clamped read below
	// is the next frame of every tab, which a receipt for either would
	// have come before.
	b2.sync()
	b1.sync()
	b2.send(frame("read", conv, "seq", 99)) // clamped to 3
	for _, tb := range []*tab{a1, a2, b1, b2} {
		if f := tb.expect("read"); f.UserID != bob.user.ID || f.Seq != 3 {
			t.Errorf("%s: clamped read receipt: %+v", tb.name, f)
		}
	}
	if rows := bob.conversations(); rows[0].UnreadCount != 0 || rows[0].LastReadSeq != 3 {
		t.Errorf("bob's row after reading: %+v", rows[0])
	}
}

// TestWebSocketPresence: a user is online while any tab is open; only people
// who share a conversation hear about it; the lists carry it.
func TestWebSocketPresence(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	alice.startConversation(bob)
	a := alice.openTab("a")
	c := carol.openTab("c") // carol shares no conversation with bob: see the end

	b1 := bob.openTab("b1")
	if f := a.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Errorf("bob online: %+v", f)
	}
	online := func(who *client) bool {
		var users wire.UsersResponse
		alice.call("GET", "/api/v1/users?q="+who.user.Username, nil, 200, &users)
		return len(users.Users) == 1 && users.Users[0].Online
	}
	if !online(bob) || !online(carol) {
		t.Error("the directory does not show bob and carol online")
	}
	if row := alice.conversations()[0]; !row.OtherUser.Online {
		t.Errorf("the conversation list does not show bob online: %+v", row.OtherUser)
	}

	// A second tab (bob is online already) and closing the first (he is
	// still online in the second) tell alice nothing: her next frames are
	// bob going offline when the second closes, then coming back. A frame
	// for either would come before those, or be a second "offline" where
	// "online" is due.
	b2 := bob.openTab("b2")
	b1.conn.Close()
	if !online(bob) {
		t.Error("bob shown offline while a tab is open")
	}
	b2.conn.Close()
	if f := a.expect("presence"); f.UserID != bob.user.ID || f.Online {
		t.Errorf("bob offline: %+v", f)
	}
	if online(bob) {
		t.Error("bob shown online after his last tab closed")
	}
	if row := alice.conversations()[0]; row.OtherUser.Online {
		t.Error("the conversation list shows bob online after he left")
	}
	bob.openTab("b3")
	if f := a.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Errorf("bob back online: %+v", f)
	}

	// Carol heard nothing of bob: her first frame is a message alice sends
	// her now, after all of bob's comings and goings were published.
	withCarol, _ := alice.startConversation(carol)
	alice.send(withCarol, "hello carol", "")
	if m := c.message(c.expect("message")); m.ConversationID != withCarol {
		t.Errorf("carol got %+v", m)
	}
}

// TestWebSocketBadFrames: every bad frame gets an error frame; the
// connection stays open, nothing is stored, nothing is broadcast.
func TestWebSocketBadFrames(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	conv, _ := alice.startConversation(bob)
	other, _ := bob.startConversation(carol)
	b := bob.openTab("b")
	a := alice.openTab("a")
	b.expect("presence")

	for _, tc := range []struct {
		name     string
		frame    any
		code     string
		clientID string
	}{
		{"malformed JSON", `{"type":"send",`, "invalid", ""},
		{"not an object", `[1,2]`, "invalid", ""},
		{"two objects", `{"type":"typing","conversation_id":1} {}`, "invalid", ""},
		{"no type", `{"conversation_id":1}`, "invalid", ""},
		{"unknown type", frame("shout", conv), "invalid", ""},
		{"unknown field", frame("typing", conv, "volume", 11), "invalid", ""},
		{"missing conversation", map[string]any{"type": "send", "client_id": "k1", "body": "hi"}, "invalid", "k1"},
		{"conversation as text", map[string]any{"type": "send", "conversation_id": "1", "client_id": "k2", "body": "hi"}, "invalid", ""},
		{"body as number", map[string]any{"type": "send", "conversation_id": conv, "client_id": "k3", "body": 5}, "invalid", ""},
		{"missing body", frame("send", conv, "client_id", "k4"), "invalid", "k4"},
		{"empty body", sendFrame(conv, "k5", "  \n "), "invalid", "k5"},
		{"body too long", sendFrame(conv, "k6", strings.Repeat("x", 4001)), "invalid", "k6"},
		{"control character", sendFrame(conv, "k7", "bell\a"), "invalid", "k7"},
		{"client_id too long", sendFrame(conv, strings.Repeat("k", 65), "hi"), "invalid", strings.Repeat("k", 65)},
		{"not a member: send", sendFrame(other, "k8", "let me in"), "not_found", "k8"},
		{"not a member: typing", frame("typing", other), "not_found", ""},
		{"not a member: read", frame("read", other, "seq", 1), "not_found", ""},
		{"no such conversation", sendFrame(987654, "k9", "hello?"), "not_found", "k9"},
		{"read without seq", frame("read", conv), "invalid", ""},
		{"negative seq", frame("read", conv, "seq", -1), "invalid", ""},
	} {
		a.send(tc.frame)
		f := a.expect("error")
		if f.Code != tc.code || f.ClientID != tc.clientID || f.ErrorText() == "" {
			t.Errorf("%s: error frame %+v %q, want code %q client_id %q", tc.name, f, f.ErrorText(), tc.code, tc.clientID)
		}
	}
	// Each bad frame was answered, so carried out: whatever one published
	// would reach b before the message below.
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("bad frames stored %d messages", len(p.Messages))
	}
	if p := bob.messages(other, ""); len(p.Messages) != 0 {
		t.Errorf("a non-member stored %d messages", len(p.Messages))
	}
	// The connection is still open and works.
	a.send(sendFrame(conv, "ok", "finally"))
	if m := a.message(a.expect("ack")); m.Seq != 1 {
		t.Errorf("first good message got seq %d", m.Seq)
	}
	b.expect("message")
}

// TestWebSocketInvalidUTF8: a text frame that is not valid UTF-8 fails the
// connection with 1007 (RFC 6455 §8.1) and stores nothing; a new
// connection works.
func TestWebSocketInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	for _, data := range []string{
		fmt.Sprintf("{\"type\":\"send\",\"conversation_id\":%d,\"client_id\":\"\xa9\",\"body\":\"hi\"}", conv),
		fmt.Sprintf("{\"type\":\"send\",\"conversation_id\":%d,\"client_id\":\"k\",\"body\":\"caf\xe9\"}", conv),
		"{\"Client_id\":\"\xa9\"}",
		"\xff",
	} {
		a := alice.openTab("a")
		a.send(data)
		if code := a.expectClose(10 * time.Second); code != websocket.CloseInvalidFramePayloadData {
			t.Errorf("%q: closed with %d, want 1007", data, code)
		}
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Errorf("invalid frames stored %+v", p.Messages)
	}
	a := alice.openTab("again")
	a.send(sendFrame(conv, "ok", "café"))
	if m := a.message(a.expect("ack")); m.Body != "café" {
		t.Errorf("ack for %q", m.Body)
	}
}

// TestWebSocketHandshake: a foreign Origin is refused before the upgrade, a
// missing session is 401, a non-browser client (no Origin) and a trusted
// origin are let in.
func TestWebSocketHandshake(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_ORIGINS": "https://chat.example.com"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	watcher := bob.openTab("bob")

	for _, origin := range []string{"https://evil.example", "http://127.0.0.1.evil.example", "null"} {
		_, resp, err := alice.dial("foreign", dialOptions{origin: origin})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: err %v resp %v, want 403", origin, err, resp)
		}
	}
	// Nothing registered: alice never came online. A message she sends now
	// is the watcher's first frame, which her coming online would precede.
	alice.send(conv, "are you there?", "")
	watcher.expect("message")

	_, resp, err := alice.dial("no cookie", dialOptions{noCookie: true})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no session: err %v resp %v, want 401", err, resp)
	}
	for _, origin := range []string{"-", "https://chat.example.com", ""} {
		tb, resp, err := alice.dial("ok", dialOptions{origin: origin})
		if err != nil {
			t.Fatalf("origin %q refused: %v %v", origin, err, resp)
		}
		tb.conn.Close()
	}
}

// TestWebSocketFrameTooLarge: a frame over 64 KiB closes with 1009.
func TestWebSocketFrameTooLarge(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a := alice.openTab("a")
	a.send(sendFrame(conv, "big", strings.Repeat("x", 65<<10)))
	if code := a.expectClose(wsWait); code != 1009 {
		t.Errorf("close code %d, want 1009", code)
	}
	if p := alice.messages(conv, ""); len(p.Messages) != 0 {
		t.Error("the oversized message was stored")
	}
}

// TestWebSocketCatchUp: a client away while 50 messages arrive gets exactly
// those 50, in order, from after_seq when it comes back.
func TestWebSocketCatchUp(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a := alice.openTab("a")
	b := bob.openTab("b")
	a.expect("presence")
	a.send(sendFrame(conv, "before", "before the break"))
	a.expect("ack")
	last := b.message(b.expect("message")).Seq

	b.conn.Close()
	a.expect("presence") // bob went offline
	for i := range 50 {
		a.send(sendFrame(conv, fmt.Sprint("away-", i), fmt.Sprint("while away ", i)))
		a.expect("ack")
	}

	b = bob.openTab("b again")
	page := bob.messages(conv, fmt.Sprintf("after_seq=%d&limit=100", last))
	if len(page.Messages) != 50 || page.HasMore {
		t.Fatalf("catch-up got %d messages (has_more %v), want 50", len(page.Messages), page.HasMore)
	}
	for i, m := range page.Messages {
		if m.Seq != last+1+int64(i) || m.Body != fmt.Sprint("while away ", i) {
			t.Fatalf("catch-up message %d: %+v", i, m)
		}
	}
	// Nothing is replayed over the socket: the first frame the new tab gets
	// is a message sent now.
	now := alice.send(conv, "welcome back", "")
	if m := b.message(b.expect("message")); m.Seq != now.Seq {
		t.Errorf("the new tab got seq %d first, want %d", m.Seq, now.Seq)
	}
}

// TestWebSocketSlowReader: a tab that stops reading is disconnected —
// whether its queue fills or a write to it times out first, which depends on
// the machine's speed — its user is seen going offline, everyone else keeps
// receiving everything, and nothing is lost from history.
func TestWebSocketSlowReader(t *testing.T) {
	t.Parallel()
	// The slow tab answers no pings either. With the usual timeout a
	// loaded machine may reach it before the send queue or write timeout
	// does, and drop the tab as a dead peer: not what is tested here.
	s := startServer(t, map[string]string{"PARLEY_WS_TIMEOUT": "1h"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	watcher := alice.openTab("watcher") // gets every message alice sends, and bob's presence
	slow, _, err := bob.dial("slow", dialOptions{readBuf: 64 << 10, noReader: true})
	if err != nil {
		t.Fatal(err)
	}
	if f := watcher.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Fatalf("bob online: %+v", f)
	}

	// The watcher checks each frame as it comes: messages in seq order,
	// then bob going offline once the server gives up on his only tab.
	var received int64
	offline := false
	take := func(f wire.ServerFrame) {
		switch f.Type {
		case "message":
			if m := watcher.message(f); m.Seq != received+1 {
				t.Fatalf("watcher got seq %d after %d", m.Seq, received)
			}
			received++
		case "presence":
			if f.UserID != bob.user.ID || f.Online {
				t.Fatalf("unexpected presence %+v", f)
			}
			offline = true
		default:
			t.Fatalf("watcher got a %s frame", f.Type)
		}
	}
	// 12 KB frames: the server's queue of 256 and both sockets' buffers
	// (a few MiB at most) hold fewer than 1,000. Past that the writer is
	// blocked and the write timeout closes the tab even if the queue never
	// fills, so sending stops and the wait below is for that timeout.
	body := strings.Repeat("€", 4000)
	var sent int64
	for ; sent < 1000 && !offline; sent++ {
		alice.send(conv, body, "")
		for drained := false; !drained; {
			select {
			case f := <-watcher.frames:
				take(f)
			default:
				drained = true
			}
		}
	}
	for !offline || received < sent {
		take(watcher.next())
	}

	// The slow tab, reading at last, gets messages in order and then the
	// end: close code 4000 when the server could still send its close
	// frame, or a cut connection when a write had timed out mid-frame.
	go slow.readLoop()
	if f := slow.expect("hello"); f.User == nil || f.User.ID != bob.user.ID {
		t.Fatalf("slow tab hello: %+v", f)
	}
	var got int64
	for f := range slow.frames {
		if m := slow.message(f); m.Seq != got+1 {
			t.Fatalf("slow tab got seq %d after %d", m.Seq, got)
		}
		got++
	}
	var ce *websocket.CloseError
	if err := <-slow.closed; errors.As(err, &ce) && ce.Code != 4000 && ce.Code != websocket.CloseAbnormalClosure {
		t.Errorf("slow tab closed with %d, want 4000 or a cut connection", ce.Code)
	}
	if got >= sent {
		t.Errorf("the slow tab got all %d messages: it was not slow", got)
	}
	if n := strings.Count(s.logs.String(), `"closing slow connection"`); n != 1 {
		t.Errorf("%d log lines for the slow tab, want 1:\n%s", n, s.logs)
	}

	// Back, bob finds everything in history.
	page := bob.messages(conv, fmt.Sprintf("after_seq=%d", got))
	if n := int64(len(page.Messages)); n == 0 || page.Messages[n-1].Seq != min(sent, got+n) {
		t.Errorf("history after seq %d holds %d messages, want up to seq %d", got, n, sent)
	}
}

// TestWebSocketLogout: logging out closes that session's sockets, and only
// those.
func TestWebSocketLogout(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := register(t, s, "alice")
	elsewhere := newClient(t, s)
	elsewhere.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, 200, nil)
	t1, t2 := alice.openTab("t1"), alice.openTab("t2")
	other := elsewhere.openTab("other device")

	alice.call("POST", "/api/v1/auth/logout", nil, http.StatusNoContent, nil)
	for _, tb := range []*tab{t1, t2} {
		if code := tb.expectClose(wsWait); code != 4001 {
			t.Errorf("%s closed with %d, want 4001", tb.name, code)
		}
	}
	// The other session's tab is still open: it answers, and the answer is
	// its first frame since the logout.
	other.send(frame("typing", 1))
	other.expect("error")
}

// TestWebSocketDeadPeerDropped: a peer that answers no ping is dropped
// within the timeout, and its contacts see it go offline. Not parallel:
// alice's tab must answer pings within the 1 s timeout, which
// a machine busy with other tests makes less certain.
func TestWebSocketDeadPeerDropped(t *testing.T) {
	s := startServer(t, map[string]string{"PARLEY_WS_TIMEOUT": "1s"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	alice.startConversation(bob)
	a := alice.openTab("a")
	// A client that never reads never answers a ping.
	if _, _, err := bob.dial("dead", dialOptions{noReader: true}); err != nil {
		t.Fatal(err)
	}
	if f := a.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Fatalf("bob online: %+v", f)
	}
	// Alice's tab answers pings (its reader runs) and stays.
	if f := a.expect("presence"); f.UserID != bob.user.ID || f.Online {
		t.Fatalf("bob offline: %+v", f)
	}
	a.send(frame("typing", 424242))
	a.expect("error") // alice is still connected
}

// TestWebSocketDeliversInSeqOrder: messages sent at once by several people
// to one conversation reach a watching tab in seq order.
func TestWebSocketDeliversInSeqOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	watch := alice.openTab("watcher")
	const perSender, senders = 50, 4
	var wg sync.WaitGroup
	for i := range senders {
		who := []*client{alice, bob}[i%2]
		wg.Go(func() {
			for j := range perSender {
				status, raw := who.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: fmt.Sprint(i, "-", j)})
				if status != 201 {
					t.Errorf("send: %d %s", status, raw)
					return
				}
			}
		})
	}
	last := int64(0)
	for range perSender * senders {
		m := watch.message(watch.expectPast("message"))
		if m.Seq != last+1 {
			t.Fatalf("message seq %d arrived after %d", m.Seq, last)
		}
		last = m.Seq
	}
	wg.Wait()
}
