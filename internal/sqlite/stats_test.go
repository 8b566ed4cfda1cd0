package sqlite

import (
	"path/filepath"
	"testing"
)

// TestPoolStats: the writer is one connection, the read pool several, and
// the statistics show the connections open.
func TestPoolStats(t *testing.T) {
	g := newGuarded(openTest(t, filepath.Join(t.TempDir(), "parley.db"), nil), newGuard(Options{}))
	if st := g.WriteStats(); st.MaxOpenConnections != 1 || st.OpenConnections != 1 {
		t.Errorf("writer: at most %d connections, %d open; want 1, 1", st.MaxOpenConnections, st.OpenConnections)
	}
	// The read pool opened a connection to prepare its statements.
	if st := g.ReadStats(); st.MaxOpenConnections < 4 || st.OpenConnections < 1 {
		t.Errorf("read pool: at most %d connections, %d open; want at least 4, 1", st.MaxOpenConnections, st.OpenConnections)
	}
}
