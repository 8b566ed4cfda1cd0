package postgres

import "database/sql"

// Stats returns the connection pool's statistics in database/sql's terms,
// so that one collector reads every store's pool: WaitCount counts the
// acquires that found no idle connection and had to wait, WaitDuration
// sums the time they waited, and MaxIdleClosed and MaxLifetimeClosed count
// the connections the pool closed for idling or age.
func (g *Guarded) Stats() sql.DBStats {
	st := g.store.pool.Stat()
	return sql.DBStats{
		MaxOpenConnections: int(st.MaxConns()),
		OpenConnections:    int(st.TotalConns()),
		InUse:              int(st.AcquiredConns()),
		Idle:               int(st.IdleConns()),
		WaitCount:          st.EmptyAcquireCount(),
		WaitDuration:       st.EmptyAcquireWaitTime(),
		MaxIdleClosed:      st.MaxIdleDestroyCount(),
		MaxLifetimeClosed:  st.MaxLifetimeDestroyCount(),
	}
}
