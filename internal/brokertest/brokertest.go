// Package brokertest is the conformance suite every chat.Broker and
// chat.Presence implementation passes. An implementation's own test calls
// RunBroker and RunPresence with a constructor of nodes:
//
//	func TestBroker(t *testing.T) {
//		brokertest.RunBroker(t, func(t *testing.T, n int) []chat.Broker {
//			return newTestNodes(t, n) // n brokers on one fresh backplane
//		}, 3)
//	}
//
// The suite holds implementations to what the interfaces promise, and to
// one thing more that it needs in order to prove an absence:
//
//   - A broker may hand an event over as one Delivery naming several users or
//     as several Deliveries naming one each, synchronously or later. The suite
//     therefore counts (event, user) pairs.
//   - Events published one after the other (each Publish returned before the
//     next began, on any nodes) reach each node's Deliveries in that order,
//     whichever users they name. chat.Broker promises this per user; the
//     suite relies on it per node, and checks it (Order): to show that an
//     event did not arrive, a test publishes a marker event after it to a
//     user of the suite's own on every node and waits for the marker, which
//     every delivery of the earlier event would have preceded. No test
//     watches the clock for something not to happen.
//   - Subscribe and Unsubscribe take effect, on every node of the cluster,
//     by the time they return.
//   - Events published concurrently arrive in any order, exactly once.
//
// Each test runs in a parallel subtest on fresh nodes, so newNodes must be
// safe to call from several goroutines at once.
package brokertest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// deliveryTimeout is how long the suite waits for an expected delivery
// before failing: a deadline for a broken broker, far beyond what a
// networked broker takes on a loaded CI machine; a passing test never
// waits for it.
const deliveryTimeout = 15 * time.Second

// suite is one named test that needs nodes nodes. With upTo it runs on as
// many as the implementation offers, up to nodes, rather than being skipped.
type suite[N any] struct {
	name  string
	nodes int
	upTo  bool
	fn    func(t *testing.T, nodes []N)
}

// run runs each test in its own parallel subtest on fresh nodes, so that no
// test sees another's subscriptions, connections or leftover deliveries.
func run[N any](t *testing.T, tests []suite[N], newNodes func(t *testing.T, n int) []N, maxNodes int) {
	t.Helper()
	if maxNodes < 1 {
		t.Fatalf("maxNodes = %d, want at least 1", maxNodes)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := tc.nodes
			if tc.upTo {
				n = min(n, maxNodes)
			} else if n > maxNodes {
				t.Skipf("needs %d nodes of one cluster; this implementation offers %d", n, maxNodes)
			}
			nodes := newNodes(t, n)
			if len(nodes) != n {
				t.Fatalf("newNodes(t, %d) returned %d nodes", n, len(nodes))
			}
			tc.fn(t, nodes)
		})
	}
}

// newUsers returns n distinct user IDs starting at a random base, so that
// tests against a shared server (one Redis for the whole CI run) do not meet
// users another test left behind, and "never seen" users are never seen.
func newUsers(n int) []chat.UserID {
	base := chat.UserID(rand.Int64N(1<<52) + 1)
	users := make([]chat.UserID, n)
	for i := range users {
		users[i] = base + chat.UserID(i)
	}
	return users
}
