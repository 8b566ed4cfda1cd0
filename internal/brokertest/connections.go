package brokertest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// RunConnections runs the ConnectionCounter suite. newNodes returns n
// counters that share one backplane: n nodes of one cluster, fresh for
// every call and isolated from the nodes of other calls. maxNodes is the
// most nodes newNodes can make; tests that need more run on as many as it
// offers, or are skipped when they need two.
func RunConnections(t *testing.T, newNodes func(t *testing.T, n int) []chat.ConnectionCounter, maxNodes int) {
	t.Helper()
	run(t, []suite[chat.ConnectionCounter]{
		{name: "CapAndRelease", nodes: 1, fn: testConnectionsCapAndRelease},
		{name: "NoCap", nodes: 1, fn: testConnectionsNoCap},
		{name: "AcrossNodes", nodes: 2, fn: testConnectionsAcrossNodes},
		{name: "ParallelReserve", nodes: 3, upTo: true, fn: testConnectionsParallel},
		{name: "Churn", nodes: 3, upTo: true, fn: testConnectionsChurn},
	}, newNodes, maxNodes)
}

func reservePlace(t *testing.T, c chat.ConnectionCounter, user chat.UserID, conn string, max int, want bool, what string) {
	t.Helper()
	got, err := c.Reserve(t.Context(), user, conn, max)
	if err != nil {
		t.Fatalf("%s: Reserve(%d, %q, %d): %v", what, user, conn, max, err)
	}
	if got != want {
		t.Errorf("%s: Reserve(%d, %q, %d) = %t, want %t", what, user, conn, max, got, want)
	}
}

func releasePlace(t *testing.T, c chat.ConnectionCounter, user chat.UserID, conn string, what string) {
	t.Helper()
	if err := c.Release(t.Context(), user, conn); err != nil {
		t.Fatalf("%s: Release(%d, %q): %v", what, user, conn, err)
	}
}

// testConnectionsCapAndRelease checks that a user gets max places and no
// more, that users are counted apart, that a conn reserved again keeps its
// one place, and that releasing frees a place (and releasing what is not
// held changes nothing).
func testConnectionsCapAndRelease(t *testing.T, nodes []chat.ConnectionCounter) {
	c := nodes[0]
	us := newUsers(2)
	a, b := us[0], us[1]
	const max = 3
	for i := range max {
		reservePlace(t, c, a, fmt.Sprint("a", i), max, true, "within the cap")
	}
	reservePlace(t, c, a, "a-extra", max, false, "past the cap")
	reservePlace(t, c, a, "a-extra", max, false, "past the cap, asking again")
	reservePlace(t, c, b, "b0", max, true, "another user, while a is at the cap")
	reservePlace(t, c, a, "a1", max, true, "a conn that holds a place, reserved again")
	reservePlace(t, c, a, "a-extra", max, false, "past the cap after a reservation again (it took no second place)")

	releasePlace(t, c, a, "a1", "one of a's places")
	reservePlace(t, c, a, "a-extra", max, true, "the place a1 gave back")
	reservePlace(t, c, a, "a-more", max, false, "past the cap again")

	releasePlace(t, c, a, "a1", "a1 again, already released")
	releasePlace(t, c, a, "never", "a conn that never held a place")
	releasePlace(t, c, b, "a0", "a conn of another user")
	reservePlace(t, c, a, "a-more", max, false, "after releases of places not held")

	for _, conn := range []string{"a0", "a2", "a-extra"} {
		releasePlace(t, c, a, conn, "every place of a")
	}
	for i := range max {
		reservePlace(t, c, a, fmt.Sprint("again", i), max, true, "after every place was released")
	}
	reservePlace(t, c, b, "b1", 2, true, "b's second place under a cap of 2")
	reservePlace(t, c, b, "b2", 2, false, "b's third place under a cap of 2")
}

// testConnectionsNoCap checks that max <= 0 caps nothing.
func testConnectionsNoCap(t *testing.T, nodes []chat.ConnectionCounter) {
	c := nodes[0]
	u := newUsers(1)[0]
	for i := range 50 {
		reservePlace(t, c, u, fmt.Sprint("c", i), 0, true, "no cap (0)")
	}
	reservePlace(t, c, u, "negative", -1, true, "no cap (-1)")
	reservePlace(t, c, u, "capped", 10, false, "a cap of 10 over the 51 places held")
}

// testConnectionsAcrossNodes checks that places held on one node count on
// the other, and that a release on one node frees a place for the other.
func testConnectionsAcrossNodes(t *testing.T, nodes []chat.ConnectionCounter) {
	n1, n2 := nodes[0], nodes[1]
	u := newUsers(1)[0]
	const max = 2
	reservePlace(t, n1, u, "on1", max, true, "a place on node 1")
	reservePlace(t, n2, u, "on2", max, true, "a place on node 2")
	reservePlace(t, n1, u, "more1", max, false, "node 1, with the cap reached over both")
	reservePlace(t, n2, u, "more2", max, false, "node 2, with the cap reached over both")
	releasePlace(t, n1, u, "on1", "node 1's place")
	reservePlace(t, n2, u, "more2", max, true, "node 2, after node 1 gave its place back")
	reservePlace(t, n1, u, "more1", max, false, "node 1, the freed place taken on node 2")
}

// testConnectionsParallel reserves places of one user from many goroutines
// at once, spread over the nodes: exactly max get one. Releasing them frees
// exactly as many for the next wave.
func testConnectionsParallel(t *testing.T, nodes []chat.ConnectionCounter) {
	const tries, max = 300, 20
	u := newUsers(1)[0]
	wave := func(name string) []int {
		var (
			mu  sync.Mutex
			won []int
			wg  sync.WaitGroup
		)
		for i := range tries {
			c := nodes[i%len(nodes)]
			wg.Go(func() {
				ok, err := c.Reserve(t.Context(), u, fmt.Sprint(name, i), max)
				if err != nil {
					t.Errorf("%s %d: Reserve: %v", name, i, err)
					return
				}
				if ok {
					mu.Lock()
					won = append(won, i)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(won) != max {
			t.Fatalf("%s: %d parallel reservations against a cap of %d over %d nodes: %d got a place, want %d", name, tries, max, len(nodes), len(won), max)
		}
		return won
	}
	first := wave("first")
	for _, i := range first {
		releasePlace(t, nodes[i%len(nodes)], u, fmt.Sprint("first", i), "a place of the first wave")
	}
	wave("second")
}

// testConnectionsChurn reserves and releases places of one user from many
// goroutines on every node, then checks that nothing leaked: every place
// is free again.
func testConnectionsChurn(t *testing.T, nodes []chat.ConnectionCounter) {
	const goroutines, rounds, max = 40, 10, 5
	u := newUsers(1)[0]
	var wg sync.WaitGroup
	for g := range goroutines {
		c := nodes[g%len(nodes)]
		wg.Go(func() {
			for r := range rounds {
				conn := fmt.Sprintf("g%d-r%d", g, r)
				ok, err := c.Reserve(t.Context(), u, conn, max)
				if err != nil {
					t.Errorf("%s: Reserve: %v", conn, err)
					return
				}
				if !ok {
					continue
				}
				if err := c.Release(t.Context(), u, conn); err != nil {
					t.Errorf("%s: Release: %v", conn, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range max {
		reservePlace(t, nodes[i%len(nodes)], u, fmt.Sprint("after", i), max, true, "after the churn, every place free")
	}
	reservePlace(t, nodes[0], u, "one-more", max, false, "after the churn, past the cap")
}
