package brokertest

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// SweepNode is one node of a presence backplane, for the sweep suite.
type SweepNode struct {
	// Presence is the node's presence, renewing its claims (its heartbeat
	// running) until Crash or Stop.
	Presence chat.PresenceSweeper
	// Crash stops the node as a crash does: its claims and registration
	// are no longer renewed and nothing is withdrawn. Its connections are
	// never disconnected.
	Crash func()
	// Stop stops the node cleanly, as at a shutdown: it withdraws its
	// claims and registration.
	Stop func()
}

// RunPresenceSweep runs the sweep suite, for presences shared by nodes
// that can die without disconnecting their users (chat.PresenceSweeper; a
// single-node presence has nothing to sweep). newNodes returns n running
// nodes sharing one backplane, fresh for every call, whose claims live for
// a TTL a test can wait for (a second or two) and are renewed often enough
// that a loaded machine never lets a running node's claims lapse. maxNodes
// is the most nodes newNodes can make.
func RunPresenceSweep(t *testing.T, newNodes func(t *testing.T, n int) []SweepNode, maxNodes int) {
	t.Helper()
	run(t, []suite[SweepNode]{
		{name: "CrashedNode", nodes: 3, fn: testSweepCrashedNode},
		{name: "StoppedNode", nodes: 3, fn: testSweepStoppedNode},
	}, newNodes, maxNodes)
}

// sweepTimeout bounds the wait for a sweep to report a lapse: far beyond
// any TTL the suite is run with; a passing test never waits for it.
const sweepTimeout = 30 * time.Second

// sweepTally counts, per user, how often the sweeps reported them.
type sweepTally struct {
	mu                        sync.Mutex
	offline, online, stranded map[chat.UserID]int
}

func (s *sweepTally) add(sw chat.PresenceSweep) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range sw.Offline {
		s.offline[u]++
	}
	for _, u := range sw.Online {
		s.online[u]++
	}
	for _, u := range sw.Stranded {
		s.stranded[u]++
	}
}

// sweepUntil sweeps on every one of sweepers at once, over and over, until
// done holds for what they reported, then sweeps once more on each, so
// that a lapse reported twice shows. It returns all they reported.
func sweepUntil(t *testing.T, sweepers []chat.PresenceSweeper, what string, done func(offline, stranded map[chat.UserID]int) bool) *sweepTally {
	t.Helper()
	tally := &sweepTally{offline: map[chat.UserID]int{}, online: map[chat.UserID]int{}, stranded: map[chat.UserID]int{}}
	var finished atomic.Bool
	var wg sync.WaitGroup
	deadline := time.Now().Add(sweepTimeout)
	for i, p := range sweepers {
		wg.Go(func() {
			for !finished.Load() && time.Now().Before(deadline) {
				sw, err := p.Sweep(t.Context())
				tally.add(sw)
				if err != nil {
					t.Errorf("node %d: Sweep: %v", i+1, err)
					return
				}
				tally.mu.Lock()
				if done(tally.offline, tally.stranded) {
					finished.Store(true)
				}
				tally.mu.Unlock()
				// The poll interval of this wait on done, which ends as
				// soon as it holds.
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if !finished.Load() {
		t.Fatalf("%s: not reported within %v: offline %v, stranded %v", what, sweepTimeout, tally.offline, tally.stranded)
	}
	for i, p := range sweepers {
		sw, err := p.Sweep(t.Context())
		tally.add(sw)
		if err != nil {
			t.Fatalf("node %d: the last Sweep: %v", i+1, err)
		}
	}
	return tally
}

// checkTally checks that the users reported are exactly want, each once.
func checkTally(t *testing.T, got map[chat.UserID]int, want []chat.UserID, what string) {
	t.Helper()
	w := make(map[chat.UserID]int, len(want))
	for _, u := range want {
		w[u] = 1
	}
	if !maps.Equal(got, w) {
		t.Errorf("%s: reported %v (user: times), want %v", what, got, w)
	}
}

// testSweepCrashedNode: when a node dies with connections open, the
// sweeps of the surviving nodes report, exactly once between them, its
// users who have no connection elsewhere as offline, and every user it
// held a connection of as stranded. A user who disconnected before the
// crash is in neither; users of live nodes stay online and unreported,
// their claims renewed past the TTL.
func testSweepCrashedNode(t *testing.T, nodes []SweepNode) {
	dead, s1, s2 := nodes[0], nodes[1], nodes[2]
	us := newUsers(4)
	live, both, left, lost := us[0], us[1], us[2], us[3]
	// live is claimed first, so that its first claim expires no later
	// than any of the dead node's: by the time those are reported, only
	// renewals keep it.
	connect(t, s1.Presence, live, true, "live on node 2")
	connect(t, s2.Presence, both, true, "both on node 3")
	connect(t, dead.Presence, both, false, "both on the dying node as well")
	connect(t, dead.Presence, left, true, "left on the dying node")
	disconnect(t, dead.Presence, left, true, "left leaving before the crash")
	connect(t, dead.Presence, lost, true, "lost on the dying node")
	dead.Crash()

	tally := sweepUntil(t, []chat.PresenceSweeper{s1.Presence, s2.Presence}, "the crashed node's user and registration",
		func(offline, stranded map[chat.UserID]int) bool { return offline[lost] > 0 && stranded[lost] > 0 })
	checkTally(t, tally.offline, []chat.UserID{lost}, "offline")
	checkTally(t, tally.stranded, []chat.UserID{both, lost}, "stranded")
	checkTally(t, tally.online, nil, "online again")
	checkOnline(t, s1.Presence, map[chat.UserID]bool{live: true, both: true, left: false, lost: false}, "after the sweep")
}

// testSweepStoppedNode: a node stopped cleanly is not taken for dead (no
// stranded users), and the users it still held are reported offline once.
func testSweepStoppedNode(t *testing.T, nodes []SweepNode) {
	stopped, crashed, s := nodes[0], nodes[1], nodes[2]
	us := newUsers(2)
	held, later := us[0], us[1]
	connect(t, stopped.Presence, held, true, "held on the node to stop")
	stopped.Stop()
	// later's claim and its node's registration expire after the stopped
	// node's would have: once later is reported stranded, the stopped
	// node would have been too, had it not withdrawn.
	connect(t, crashed.Presence, later, true, "later on the node to crash")
	crashed.Crash()

	tally := sweepUntil(t, []chat.PresenceSweeper{s.Presence}, "the crashed node's registration",
		func(_, stranded map[chat.UserID]int) bool { return stranded[later] > 0 })
	checkTally(t, tally.offline, []chat.UserID{held, later}, "offline")
	checkTally(t, tally.stranded, []chat.UserID{later}, "stranded")
	checkOnline(t, s.Presence, map[chat.UserID]bool{held: false, later: false}, "after the sweep")
}
