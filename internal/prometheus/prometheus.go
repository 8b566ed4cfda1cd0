// Package prometheus reports Parley's metrics in Prometheus's exposition
// format: what the service does (chat.Metrics), the node's WebSockets, the
// database's connection pools, and the Go runtime and process. Each
// Metrics has a registry of its own, served by Handler, meant for a
// listener that only the operator's Prometheus can reach.
package prometheus

import (
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Metrics = (*Metrics)(nil)

// latencyBuckets returns the bounds, in seconds, of the latency
// histograms: from a tenth of a millisecond (an in-process publish, a
// commit that found the disk idle) to seconds (a stalled database or
// broker).
func latencyBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
}

// Metrics counts what a node does, for Prometheus to scrape. It is a
// chat.Metrics; its methods are safe for concurrent use and allocate
// nothing.
type Metrics struct {
	registry *prom.Registry

	sentWebSocket, sentHTTP prom.Counter
	sendCommit              prom.Histogram
	batchSize               prom.Histogram
	published               prom.Counter
	publishFailures         prom.Counter
	publishSeconds          prom.Histogram
	rateLimited             map[string]prom.Counter // by action, every one of chat.RateLimitActions
	loginFailures           prom.Counter
	loginThrottled          prom.Counter
}

// Pool reads one database connection pool's statistics, at each scrape.
type Pool func() sql.DBStats

// New returns Metrics registering, besides its own, the Go runtime's and
// the process's metrics, and those of the database connection pools,
// labelled pool="name" by their names in pools.
func New(pools map[string]Pool) *Metrics {
	r := prom.NewRegistry()
	counter := func(name, help string) prom.Counter {
		c := prom.NewCounter(prom.CounterOpts{Name: name, Help: help})
		r.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64) prom.Histogram {
		h := prom.NewHistogram(prom.HistogramOpts{Name: name, Help: help, Buckets: buckets})
		r.MustRegister(h)
		return h
	}
	sent := prom.NewCounterVec(prom.CounterOpts{
		Name: "parley_messages_sent_total",
		Help: "New messages stored, by the transport they were sent over (websocket, http); resends are not counted.",
	}, []string{"transport"})
	limited := prom.NewCounterVec(prom.CounterOpts{
		Name: "parley_rate_limited_total",
		Help: "Actions refused because the user's (or address's) budget for them was spent, by action.",
	}, []string{"action"})
	r.MustRegister(sent, limited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(pools))
	m := &Metrics{
		registry:      r,
		sentWebSocket: sent.WithLabelValues(chat.TransportWebSocket),
		sentHTTP:      sent.WithLabelValues(chat.TransportHTTP),
		sendCommit: histogram("parley_send_commit_seconds",
			"Time from a send entering the group commit until the database answered for its batch, in seconds.", latencyBuckets()),
		batchSize: histogram("parley_commit_batch_size",
			"Sends one group commit's transaction held.", prom.ExponentialBuckets(1, 2, 10)),
		published: counter("parley_events_published_total",
			"Events handed to the broker (messages, typing, read receipts, presence, resyncs…)."),
		publishFailures: counter("parley_broker_publish_failures_total",
			"Calls to the broker's publish that failed; their recipients are owed a resync."),
		publishSeconds: histogram("parley_broker_publish_seconds",
			"Time one call to the broker's publish took (a Redis round trip when scaled out), in seconds.", latencyBuckets()),
		rateLimited: make(map[string]prom.Counter),
		loginFailures: counter("parley_login_failures_total",
			"Logins refused for a wrong username or password."),
		loginThrottled: counter("parley_login_throttled_total",
			"Logins refused unchecked because the account or address had failed too often."),
	}
	for _, a := range chat.RateLimitActions() {
		m.rateLimited[a] = limited.WithLabelValues(a)
	}
	return m
}

// Connections is what Metrics reads of a node's WebSocket hub, at each
// scrape.
type Connections interface {
	// Count returns how many WebSockets are open on this node.
	Count() int
	// SlowClosed returns how many were closed because their client did
	// not keep up.
	SlowClosed() int64
	// Delivered returns how many event frames were queued to them.
	Delivered() int64
}

// WatchConnections registers the metrics of a node's WebSockets, read from
// c. It fails when called twice.
func (m *Metrics) WatchConnections(c Connections) error {
	for _, col := range []prom.Collector{
		prom.NewGaugeFunc(prom.GaugeOpts{
			Name: "parley_websocket_connections",
			Help: "WebSocket connections open on this node.",
		}, func() float64 { return float64(c.Count()) }),
		prom.NewCounterFunc(prom.CounterOpts{
			Name: "parley_events_delivered_total",
			Help: "Event frames queued to this node's WebSocket connections, one per connection reached.",
		}, func() float64 { return float64(c.Delivered()) }),
		prom.NewCounterFunc(prom.CounterOpts{
			Name: "parley_slow_client_evictions_total",
			Help: "WebSocket connections closed because their client did not keep up (close code 4000).",
		}, func() float64 { return float64(c.SlowClosed()) }),
	} {
		if err := m.registry.Register(col); err != nil {
			return fmt.Errorf("register connection metrics: %w", err)
		}
	}
	return nil
}

// Handler serves the metrics in Prometheus's exposition format (GET
// /metrics on the listener it is mounted on). A metric that fails to be
// gathered is logged to logger and left out; the rest are served.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry, // the handler's own request counts
	})
}

// MessageSent implements chat.Metrics.
func (m *Metrics) MessageSent(transport string) {
	if transport == chat.TransportWebSocket {
		m.sentWebSocket.Inc()
		return
	}
	m.sentHTTP.Inc()
}

// SendCommitted implements chat.Metrics.
func (m *Metrics) SendCommitted(d time.Duration) { m.sendCommit.Observe(d.Seconds()) }

// BatchCommitted implements chat.Metrics.
func (m *Metrics) BatchCommitted(size int) { m.batchSize.Observe(float64(size)) }

// Published implements chat.Metrics.
func (m *Metrics) Published(n int, d time.Duration, failed bool) {
	m.published.Add(float64(n))
	m.publishSeconds.Observe(d.Seconds())
	if failed {
		m.publishFailures.Inc()
	}
}

// RateLimited implements chat.Metrics. An action it does not know counts
// as chat.ActionOther.
func (m *Metrics) RateLimited(action string) {
	c, ok := m.rateLimited[action]
	if !ok {
		c = m.rateLimited[chat.ActionOther]
	}
	c.Inc()
}

// LoginFailed implements chat.Metrics.
func (m *Metrics) LoginFailed() { m.loginFailures.Inc() }

// LoginThrottled implements chat.Metrics.
func (m *Metrics) LoginThrottled() { m.loginThrottled.Inc() }
