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
// The suite holds implementations to what the interfaces promise and no more,
// so that an in-process broker and a networked one are interchangeable:
//
//   - A broker may hand an event over as one Delivery naming several users or
//     as several Deliveries naming one each, synchronously or later. The suite
//     therefore counts (event, user) pairs, waits up to 5 seconds for the
//     ones it expects, and asserts that nothing else arrives by watching for
//     200 milliseconds more.
//   - Subscribe and Unsubscribe take effect, on every node of the cluster,
//     by the time they return.
//   - Events published one after the other reach each user in that order;
//     events published concurrently arrive in any order, exactly once.
package brokertest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// deliveryTimeout is how long the suite waits for an expected delivery
// before failing: long enough for a networked broker on a loaded CI machine.
const deliveryTimeout = 5 * time.Second

// quietPeriod is how long the suite watches for deliveries that should not
// happen. An asynchronous broker could in principle be slower than this, so
// a pass proves absence only with high probability; it costs every absence
// check this much time, so it is kept short.
const quietPeriod = 200 * time.Millisecond

// suite is one named test that needs nodes nodes. With upTo it runs on as
// many as the implementation offers, up to nodes, rather than being skipped.
type suite[N any] struct {
	name  string
	nodes int
	upTo  bool
	fn    func(t *testing.T, nodes []N)
}

// run runs each test in its own subtest on fresh nodes, so that no test sees
// another's subscriptions, connections or leftover deliveries.
func run[N any](t *testing.T, tests []suite[N], newNodes func(t *testing.T, n int) []N, maxNodes int) {
	t.Helper()
	if maxNodes < 1 {
		t.Fatalf("maxNodes = %d, want at least 1", maxNodes)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
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
