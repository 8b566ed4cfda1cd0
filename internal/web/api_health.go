package web

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// handleHealthz answers 200 "ok" while the process serves HTTP: the
// liveness probe. It asks no dependency; handleReadyz does.
func (s *server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n")) // a failed write means the prober left
	})
}

// handleReadyz answers 200 when every ready check answers, else 503 naming
// the ones that do not. The checks run side by side, each with its own
// 2 s, so that a stalled database does not use up the time of the broker's
// check and get the broker named too. A dependency found down is logged at
// most once per 10 s: probes come every few seconds from every balancer.
func (s *server) handleReadyz() http.Handler {
	names := slices.Sorted(maps.Keys(s.readyChecks))
	gate := chat.NewLogGate(10 * time.Second)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				errs[i] = s.readyChecks[name](ctx)
			})
		}
		wg.Wait()
		var down []string
		for i, name := range names {
			if errs[i] == nil {
				continue
			}
			if n, ok := gate.Allow(name); ok {
				s.logger.WarnContext(r.Context(), "not ready", "dependency", name, "err", errs[i], "failures", n)
			}
			down = append(down, name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "unavailable: %s\n", strings.Join(down, ", ")) // a failed write means the prober left
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
