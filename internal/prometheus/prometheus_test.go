package prometheus_test

import (
	"bytes"
	"database/sql"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/prometheus"
)

// hubCounts stands in for a node's hub.
type hubCounts struct{ open, slow, delivered int }

func (h hubCounts) Count() int        { return h.open }
func (h hubCounts) SlowClosed() int64 { return int64(h.slow) }
func (h hubCounts) Delivered() int64  { return int64(h.delivered) }

// scrape fetches the metrics h serves, checks them with Prometheus's
// linter (names, units, help) and returns them by name.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value returns the value of the metric of family name whose labels
// include labels (name, value pairs): a counter's or gauge's value, a
// histogram's count.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
metrics:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue metrics
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%q", name, labels)
	return 0
}

func TestMetricsMoveWhenTheServiceReports(t *testing.T) {
	m := prometheus.New(map[string]prometheus.Pool{
		"sqlite_read": func() sql.DBStats {
			return sql.DBStats{MaxOpenConnections: 4, OpenConnections: 3, InUse: 2, Idle: 1, WaitCount: 5, WaitDuration: 1500 * time.Millisecond}
		},
	})
	if err := m.WatchConnections(hubCounts{open: 3, slow: 1, delivered: 7}); err != nil {
		t.Fatal(err)
	}
	h := m.Handler(slog.New(slog.DiscardHandler))

	before := scrape(t, h)
	for _, name := range []string{"parley_send_commit_seconds", "parley_commit_batch_size", "parley_broker_publish_seconds"} {
		if n := value(t, before, name); n != 0 {
			t.Errorf("%s count = %v before anything was reported", name, n)
		}
	}

	var metrics chat.Metrics = m
	metrics.MessageSent(chat.TransportWebSocket)
	metrics.MessageSent(chat.TransportWebSocket)
	metrics.MessageSent(chat.TransportHTTP)
	metrics.SendCommitted(3 * time.Millisecond)
	metrics.SendCommitted(4 * time.Millisecond)
	metrics.BatchCommitted(2)
	metrics.Published(2, time.Millisecond, false)
	metrics.Published(1, time.Second, true)
	metrics.RateLimited(chat.ActionMessage)
	metrics.RateLimited(chat.ActionTyping)
	metrics.RateLimited(chat.ActionTyping)
	metrics.RateLimited("something new")
	metrics.LoginFailed()
	metrics.LoginThrottled()
	metrics.LoginThrottled()

	got := scrape(t, h)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"parley_messages_sent_total", []string{"transport", "websocket"}, 2},
		{"parley_messages_sent_total", []string{"transport", "http"}, 1},
		{"parley_send_commit_seconds", nil, 2},
		{"parley_commit_batch_size", nil, 1},
		{"parley_events_published_total", nil, 3},
		{"parley_broker_publish_seconds", nil, 2},
		{"parley_broker_publish_failures_total", nil, 1},
		{"parley_rate_limited_total", []string{"action", "message"}, 1},
		{"parley_rate_limited_total", []string{"action", "typing"}, 2},
		{"parley_rate_limited_total", []string{"action", "other"}, 1},
		{"parley_rate_limited_total", []string{"action", "search"}, 0},
		{"parley_login_failures_total", nil, 1},
		{"parley_login_throttled_total", nil, 2},
		{"parley_websocket_connections", nil, 3},
		{"parley_slow_client_evictions_total", nil, 1},
		{"parley_events_delivered_total", nil, 7},
		{"parley_db_pool_max_connections", []string{"pool", "sqlite_read"}, 4},
		{"parley_db_pool_in_use_connections", []string{"pool", "sqlite_read"}, 2},
		{"parley_db_pool_waits_total", []string{"pool", "sqlite_read"}, 5},
		{"parley_db_pool_wait_seconds_total", []string{"pool", "sqlite_read"}, 1.5},
	} {
		if v := value(t, got, c.name, c.labels...); v != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	sum := got["parley_send_commit_seconds"].GetMetric()[0].GetHistogram().GetSampleSum()
	if math.Abs(sum-0.007) > 1e-9 {
		t.Errorf("parley_send_commit_seconds_sum = %v, want 0.007 (seconds)", sum)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if v := value(t, got, name); v <= 0 {
			t.Errorf("%s = %v, want more than 0", name, v)
		}
	}
}

func TestConnectionsAreWatchedOnce(t *testing.T) {
	m := prometheus.New(nil)
	if err := m.WatchConnections(hubCounts{}); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchConnections(hubCounts{}); err == nil {
		t.Error("a second WatchConnections succeeded: two series would claim the same name")
	}
}

// TestReportingASendAllocatesNothing: what a send reports (its transport,
// its wait, its share of a batch and of a publish) costs no allocation:
// sends run thousands a second.
func TestReportingASendAllocatesNothing(t *testing.T) {
	m := prometheus.New(nil)
	if n := testing.AllocsPerRun(1000, func() { reportSend(m) }); n != 0 {
		t.Errorf("%v allocations per send reported, want 0", n)
	}
}

// reportSend reports what one send does.
func reportSend(m chat.Metrics) {
	m.MessageSent(chat.TransportWebSocket)
	m.SendCommitted(2 * time.Millisecond)
	m.BatchCommitted(16)
	m.Published(16, 300*time.Microsecond, false)
}

func BenchmarkReportSend(b *testing.B) {
	m := prometheus.New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			reportSend(m)
		}
	})
}
