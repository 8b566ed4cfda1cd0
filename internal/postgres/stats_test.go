package postgres

import "testing"

// TestPoolStats: the pool's statistics, in database/sql's terms, show its
// bound and a connection in use while one is held.
func TestPoolStats(t *testing.T) {
	g := newGuarded(openTest(t, newSchema(t), nil), newGuard(Options{}))
	c, err := g.store.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	c.Release()
	if st.MaxOpenConnections < 1 || st.InUse != 1 || st.OpenConnections < st.InUse {
		t.Errorf("stats %+v: want a bound, 1 in use, as many open at least", st)
	}
}
