package prometheus

import (
	"maps"
	"slices"

	prom "github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports database connection pools, read at each scrape.
// It reads them from functions, not from *sql.DB as the client library's
// collector does, so that a pgx pool (whose statistics the postgres store
// gives in database/sql's terms) is reported as a database/sql one is.
type poolCollector struct {
	pools                  map[string]Pool
	max, open, inUse, idle *prom.Desc
	waits, waitSeconds     *prom.Desc
}

func newPoolCollector(pools map[string]Pool) *poolCollector {
	desc := func(name, help string) *prom.Desc {
		return prom.NewDesc(name, help, []string{"pool"}, nil)
	}
	return &poolCollector{
		pools:       maps.Clone(pools),
		max:         desc("parley_db_pool_max_connections", "Connections the pool may open at most."),
		open:        desc("parley_db_pool_open_connections", "Connections open, in use or idle."),
		inUse:       desc("parley_db_pool_in_use_connections", "Connections in use."),
		idle:        desc("parley_db_pool_idle_connections", "Connections idle."),
		waits:       desc("parley_db_pool_waits_total", "Times a caller found no idle connection and waited for one."),
		waitSeconds: desc("parley_db_pool_wait_seconds_total", "Time callers spent waiting for a connection, in seconds."),
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prom.Desc) {
	for _, d := range []*prom.Desc{c.max, c.open, c.inUse, c.idle, c.waits, c.waitSeconds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prom.Metric) {
	for _, name := range slices.Sorted(maps.Keys(c.pools)) {
		st := c.pools[name]()
		ch <- prom.MustNewConstMetric(c.max, prom.GaugeValue, float64(st.MaxOpenConnections), name)
		ch <- prom.MustNewConstMetric(c.open, prom.GaugeValue, float64(st.OpenConnections), name)
		ch <- prom.MustNewConstMetric(c.inUse, prom.GaugeValue, float64(st.InUse), name)
		ch <- prom.MustNewConstMetric(c.idle, prom.GaugeValue, float64(st.Idle), name)
		ch <- prom.MustNewConstMetric(c.waits, prom.CounterValue, float64(st.WaitCount), name)
		ch <- prom.MustNewConstMetric(c.waitSeconds, prom.CounterValue, st.WaitDuration.Seconds(), name)
	}
}
