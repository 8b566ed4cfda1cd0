package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/postgres"
	"github.com/parleychat/parley/internal/prometheus"
	"github.com/parleychat/parley/internal/sqlite"
)

// newMetrics returns the node's metrics, reading store's connection
// pools, when -metrics-addr is set; else nil, and nothing is counted.
func newMetrics(addr string, store database) *prometheus.Metrics {
	if addr == "" {
		return nil
	}
	pools := map[string]prometheus.Pool{}
	switch s := store.(type) {
	case *sqlite.Guarded:
		pools["sqlite_write"] = s.WriteStats
		pools["sqlite_read"] = s.ReadStats
	case *postgres.Guarded:
		pools["postgres"] = s.Stats
	}
	return prometheus.New(pools)
}

// serviceMetrics returns m as what the service reports to: none when m is
// nil (a nil *prometheus.Metrics in the interface would be called).
func serviceMetrics(m *prometheus.Metrics) chat.Metrics {
	if m == nil {
		return nil
	}
	return m
}

// serveMetrics serves m, with connections' metrics, at /metrics on addr
// (-metrics-addr), on a listener of its own, never the public one, in a
// goroutine wg joins once ctx ends. It logs the address it listens on.
func serveMetrics(ctx context.Context, wg *sync.WaitGroup, addr string, m *prometheus.Metrics, connections prometheus.Connections, logger *slog.Logger) error {
	if err := m.WatchConnections(connections); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(logger))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	})
	// Close ends Serve, whose error is logged above.
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	logger.Info("metrics", "addr", ln.Addr().String())
	return nil
}
