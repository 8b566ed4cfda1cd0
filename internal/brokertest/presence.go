package brokertest

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// RunPresence runs the presence suite. newNodes returns n Presence values
// that share one backplane: n nodes of one cluster, fresh for every call and
// isolated from the nodes of other calls. maxNodes is the most nodes newNodes
// can make; tests that need more are skipped.
func RunPresence(t *testing.T, newNodes func(t *testing.T, n int) []chat.Presence, maxNodes int) {
	t.Helper()
	run(t, []suite[chat.Presence]{
		{name: "ConnectDisconnect", nodes: 1, fn: testPresenceConnectDisconnect},
		{name: "Online", nodes: 1, fn: testPresenceOnline},
		{name: "AcrossNodes", nodes: 2, fn: testPresenceAcrossNodes},
		{name: "Concurrent", nodes: 3, upTo: true, fn: testPresenceConcurrent},
	}, newNodes, maxNodes)
}

func connect(t *testing.T, p chat.Presence, user chat.UserID, want bool, what string) {
	t.Helper()
	got, err := p.Connect(t.Context(), user)
	if err != nil {
		t.Fatalf("%s: Connect(%d): %v", what, user, err)
	}
	if got != want {
		t.Errorf("%s: Connect(%d) = %t, want %t", what, user, got, want)
	}
}

func disconnect(t *testing.T, p chat.Presence, user chat.UserID, want bool, what string) {
	t.Helper()
	got, err := p.Disconnect(t.Context(), user)
	if err != nil {
		t.Fatalf("%s: Disconnect(%d): %v", what, user, err)
	}
	if got != want {
		t.Errorf("%s: Disconnect(%d) = %t, want %t", what, user, got, want)
	}
}

// checkOnline asks p about the users in want and checks that the answer has
// exactly those entries with those values.
func checkOnline(t *testing.T, p chat.Presence, want map[chat.UserID]bool, what string) {
	t.Helper()
	users := make([]chat.UserID, 0, len(want))
	for u := range want {
		users = append(users, u)
	}
	got, err := p.Online(t.Context(), users)
	if err != nil {
		t.Fatalf("%s: Online(%v): %v", what, users, err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: Online(%v) = %v, want %v", what, users, got, want)
	}
}

// testPresenceConnectDisconnect checks that a user comes online with the
// first connection, goes offline with the last, and that users are counted
// apart.
func testPresenceConnectDisconnect(t *testing.T, nodes []chat.Presence) {
	p := nodes[0]
	us := newUsers(2)
	a, b := us[0], us[1]
	connect(t, p, a, true, "first connection")
	checkOnline(t, p, map[chat.UserID]bool{a: true, b: false}, "after a's first connection")
	connect(t, p, a, false, "second connection")
	connect(t, p, b, true, "another user's first connection")
	disconnect(t, p, a, false, "closing one of two connections")
	checkOnline(t, p, map[chat.UserID]bool{a: true, b: true}, "with one connection of a left")
	disconnect(t, p, a, true, "closing the last connection")
	checkOnline(t, p, map[chat.UserID]bool{a: false, b: true}, "after a's last connection closed")
	connect(t, p, a, true, "connecting again")
	disconnect(t, p, a, true, "closing that")
	disconnect(t, p, b, true, "closing b's only connection")
	checkOnline(t, p, map[chat.UserID]bool{a: false, b: false}, "after all closed")
}

// testPresenceOnline checks that Online answers for every user asked about,
// including users it has never seen, and for no others.
func testPresenceOnline(t *testing.T, nodes []chat.Presence) {
	p := nodes[0]
	us := newUsers(4)
	a, b, never, alsoOnline := us[0], us[1], us[2], us[3]
	connect(t, p, a, true, "a")
	connect(t, p, b, true, "b")
	connect(t, p, alsoOnline, true, "a user not asked about")
	checkOnline(t, p, map[chat.UserID]bool{a: true, b: true, never: false}, "two online, one never seen")
	checkOnline(t, p, map[chat.UserID]bool{never: false}, "only a user never seen")
	checkOnline(t, p, map[chat.UserID]bool{}, "nobody")
	disconnect(t, p, b, true, "b")
	checkOnline(t, p, map[chat.UserID]bool{a: true, b: false}, "after b left")
}

// testPresenceAcrossNodes checks that a user connected on two nodes stays
// online until both connections close, and that every node says so.
func testPresenceAcrossNodes(t *testing.T, nodes []chat.Presence) {
	n1, n2 := nodes[0], nodes[1]
	us := newUsers(2)
	a, b := us[0], us[1]
	both := func(want map[chat.UserID]bool, what string) {
		t.Helper()
		checkOnline(t, n1, want, what+", asking node 1")
		checkOnline(t, n2, want, what+", asking node 2")
	}
	connect(t, n1, a, true, "a on node 1")
	both(map[chat.UserID]bool{a: true, b: false}, "a connected on node 1")
	connect(t, n2, a, false, "a on node 2 as well")
	disconnect(t, n1, a, false, "a leaving node 1")
	both(map[chat.UserID]bool{a: true, b: false}, "a still connected on node 2")
	disconnect(t, n2, a, true, "a leaving node 2")
	both(map[chat.UserID]bool{a: false, b: false}, "a gone from both")

	connect(t, n2, b, true, "b on node 2")
	both(map[chat.UserID]bool{a: false, b: true}, "b connected on node 2")
}

// testPresenceConcurrent opens and closes connections of one user from many
// goroutines (spread over the nodes when there are several). Which calls see
// the user come and go depends on timing; what may not is that the user
// ends offline and came online as often as it went offline, at least once.
func testPresenceConcurrent(t *testing.T, nodes []chat.Presence) {
	const goroutines, rounds = 50, 10
	user := newUsers(1)[0]
	var online, offline atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		p := nodes[g%len(nodes)]
		wg.Go(func() {
			for range rounds {
				came, err := p.Connect(t.Context(), user)
				if err != nil {
					t.Errorf("goroutine %d: Connect: %v", g, err)
					return
				}
				went, err := p.Disconnect(t.Context(), user)
				if err != nil {
					t.Errorf("goroutine %d: Disconnect: %v", g, err)
					return
				}
				if came {
					online.Add(1)
				}
				if went {
					offline.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if on, off := online.Load(), offline.Load(); on != off || on < 1 {
		t.Errorf("Connect reported coming online %d times and Disconnect going offline %d times; want the same number, at least 1", on, off)
	}
	for i, p := range nodes {
		checkOnline(t, p, map[chat.UserID]bool{user: false}, fmt.Sprintf("after all closed, asking node %d", i+1))
	}
}
