package memory

import (
	"testing"

	"github.com/parleychat/parley/internal/brokertest"
	"github.com/parleychat/parley/internal/chat"
)

func TestConnections(t *testing.T) {
	t.Parallel()
	brokertest.RunConnections(t, func(t *testing.T, n int) []chat.ConnectionCounter {
		return []chat.ConnectionCounter{NewConnections()}
	}, 1)
}
