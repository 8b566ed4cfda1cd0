package sqlite

import "database/sql"

// WriteStats returns the statistics of the store's writer: one connection,
// which every write waits for in turn.
func (g *Guarded) WriteStats() sql.DBStats { return g.store.write.Stats() }

// ReadStats returns the statistics of the store's pool of read-only
// connections.
func (g *Guarded) ReadStats() sql.DBStats { return g.store.read.Stats() }
