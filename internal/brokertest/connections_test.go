package brokertest_test

import (
	"testing"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/memory"
)

// TestConnectionsSuiteOnSharedCounter runs the multi-node tests of the
// ConnectionCounter suite on nodes that share one in-process counter.
func TestConnectionsSuiteOnSharedCounter(t *testing.T) {
	brokertest.RunConnections(t, func(t *testing.T, n int) []chat.ConnectionCounter {
		shared := memory.NewConnections() // one backplane: every node sees the same places
		nodes := make([]chat.ConnectionCounter, n)
		for i := range nodes {
			nodes[i] = shared
		}
		return nodes
	}, 3)
}
