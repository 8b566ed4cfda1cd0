package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/hub"
)

// expireAndCheck waits until alice's session has expired (GET /me is
// 401), then sends on her socket, which the server closes with 4001, and
// checks that the send stored nothing: bob, signed in again, sees no new
// message.
func expireAndCheck(t *testing.T, alice, bob *client, conv int64, a *tab) {
	t.Helper()
	waitUntil(t, "alice's session expires", func() bool {
		status, _ := alice.do("GET", "/api/v1/me", nil)
		return status == http.StatusUnauthorized
	})
	// The server may have closed the socket already: the write then goes
	// nowhere, which is also right.
	_ = a.conn.WriteJSON(sendFrame(conv, "after-expiry", "sent after the session ended"))
	if code := a.expectClose(wsWait); code != hub.CloseSessionEnded {
		t.Fatalf("alice's socket closed with %d, want %d", code, hub.CloseSessionEnded)
	}
	bob.call("POST", "/api/v1/auth/login", map[string]string{"username": "bob", "password": "password-bob"}, http.StatusOK, nil)
	for _, m := range bob.messages(conv, "").Messages {
		if m.ClientID == "after-expiry" || m.Body == "sent after the session ended" {
			t.Fatalf("a message sent after the session ended was stored: %+v", m)
		}
	}
}

// freshPair registers alice on a and bob on b. The tests' sessions are
// short: each test starts the conversation as bob, just after he signed
// up, and signs alice in again just before her sockets open, so that no
// session runs out during the set-up on a slow machine.
func freshPair(t *testing.T, a, b *server) (alice, bob *client) {
	t.Helper()
	return register(t, a, "alice"), register(t, b, "bob")
}

// TestSocketEndsWithSessionLifetime: a socket closes with 4001 soon after
// its session reaches its absolute lifetime, whatever is sent on it, and
// nothing sent on it afterwards is stored.
func TestSocketEndsWithSessionLifetime(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_SESSION_LIFETIME": "5s"})
	alice, bob := freshPair(t, s, s)
	conv, _ := bob.startConversation(alice)
	alice = login(t, s, "alice", "password-alice") // a fresh session, just before the socket
	a := alice.openTab("alice")
	// Activity does not stretch the absolute lifetime.
	a.send(sendFrame(conv, "before", "before the end"))
	a.expectPast("ack")
	expireAndCheck(t, alice, bob, conv, a)
}

// TestSocketEndsWhenSessionIdles: a socket whose session goes idle (no
// request and no frame for the idle timeout) closes with 4001, the cookie
// no longer works, and the conversation holds nothing more.
func TestSocketEndsWhenSessionIdles(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": "5s"})
	alice, bob := freshPair(t, s, s)
	conv, _ := bob.startConversation(alice)
	alice = login(t, s, "alice", "password-alice") // a fresh session, just before the socket
	a := alice.openTab("alice")
	a.send(sendFrame(conv, "before", "before the idle time"))
	a.expectPast("ack")
	// Asking GET /me would be use of the session: wait on the socket.
	if code := a.expectClose(wsWait); code != hub.CloseSessionEnded {
		t.Fatalf("alice's socket closed with %d, want %d", code, hub.CloseSessionEnded)
	}
	alice.wantError("GET", "/api/v1/me", nil, http.StatusUnauthorized, "unauthorized")
	bob.call("POST", "/api/v1/auth/login", map[string]string{"username": "bob", "password": "password-bob"}, http.StatusOK, nil)
	if got := bob.messages(conv, "").Messages; len(got) != 1 {
		t.Fatalf("conversation holds %d messages, want 1", len(got))
	}
}

// TestSocketEndsWithSessionTwoNodes: on PostgreSQL and Redis, a session's
// sockets on both nodes close with 4001 when it reaches its lifetime, and
// nothing sent on them afterwards is stored.
func TestSocketEndsWithSessionTwoNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, nil, map[string]string{"PARLEY_SESSION_LIFETIME": "5s"})
	alice, bob := freshPair(t, nodes[0], nodes[1])
	conv, _ := bob.startConversation(alice)
	alice = login(t, nodes[0], "alice", "password-alice") // a fresh session, just before the sockets
	onOther := alice.on(nodes[1]).openTab("alice on node 2")
	a := alice.openTab("alice on node 1")
	expireAndCheck(t, alice, bob, conv, a)
	_ = onOther.conn.WriteJSON(sendFrame(conv, "after-expiry-2", "sent on node 2 after the session ended"))
	if code := onOther.expectClose(wsWait); code != hub.CloseSessionEnded {
		t.Fatalf("alice's socket on node 2 closed with %d, want %d", code, hub.CloseSessionEnded)
	}
	for _, m := range bob.messages(conv, "").Messages {
		if m.ClientID == "after-expiry-2" {
			t.Fatalf("a message sent on node 2 after the session ended was stored: %+v", m)
		}
	}
}

// TestFramesKeepSessionFromIdling: frames are use of the session, as
// requests are: a socket that keeps sending outlives the idle timeout many
// times over, with no HTTP request in between, and the session is still
// there afterwards.
func TestFramesKeepSessionFromIdling(t *testing.T) {
	t.Parallel()
	const idle = 6 * time.Second
	s := startServer(t, map[string]string{"PARLEY_SESSION_IDLE": idle.String()})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	token := sessionCookie(t, alice, s)
	a := alice.openTab("alice")
	// Not a wait for a condition: the session must stay alive through
	// this whole stretch, two and a half idle timeouts without a request.
	// A frame every 250 ms leaves a stall of almost the whole idle timeout
	// before the session could lapse.
	pace := time.NewTicker(250 * time.Millisecond)
	defer pace.Stop()
	for end := time.Now().Add(idle * 5 / 2); time.Now().Before(end); <-pace.C {
		a.send(frame("read", conv, "seq", 0)) // a valid frame that changes nothing
		a.sync()                              // carried out, and the socket is open
	}
	// The cookie was set with the expiry of the last response, so the
	// client's jar has let it go: it is sent by hand.
	req, err := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "parley_session", Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /me after %v of frames: %d; the session went idle although its socket was in use", idle*5/2, resp.StatusCode)
	}
}
