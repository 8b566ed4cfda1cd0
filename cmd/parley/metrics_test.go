package main

import (
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleychat/parley/internal/wire"
)

// scrapeMetrics fetches url as Prometheus would and returns the metrics
// by name.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// metricValue returns the value (a histogram's count) of the series of
// family name that has the label given as a name and value, if any, and
// whether there is one.
func metricValue(families map[string]*dto.MetricFamily, name string, label ...string) (float64, bool) {
	for _, m := range families[name].GetMetric() {
		if len(label) == 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == label[0] && l.GetValue() == label[1]
			}
			if !found {
				continue
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: with -metrics-addr, Prometheus metrics are served on that
// address, and only there: they count the messages sent over each
// transport, the WebSockets open, the sends committed, failed logins, and
// report the database pools and the Go runtime.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_METRICS_ADDR": "127.0.0.1:0"})
	lines := logLines(s, "metrics")
	if len(lines) != 1 {
		t.Fatalf("%d metrics lines, want 1 naming the address", len(lines))
	}
	addr, _ := lines[0]["addr"].(string)
	metricsURL := "http://" + addr + "/metrics"

	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	a1, b1 := alice.openTab("a1"), bob.openTab("b1")
	a1.send(sendFrame(conv, "m1", "over the WebSocket"))
	a1.expectPast("ack")
	b1.expectPast("message")
	bob.send(conv, "over HTTP", "")
	a1.expectPast("message")
	if status, _ := newClient(t, s).do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "wrong-password"}); status != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %d, want 401", status)
	}

	// Each send was counted before it was answered, each login before
	// its refusal: nothing to wait for.
	got := scrapeMetrics(t, metricsURL)
	for _, c := range []struct {
		name  string
		label []string
		want  float64
	}{
		{"parley_messages_sent_total", []string{"transport", "websocket"}, 1},
		{"parley_messages_sent_total", []string{"transport", "http"}, 1},
		{"parley_websocket_connections", nil, 2},
		{"parley_send_commit_seconds", nil, 2},
		{"parley_login_failures_total", nil, 1},
		{"parley_db_pool_max_connections", []string{"pool", "sqlite_write"}, 1},
	} {
		if v, ok := metricValue(got, c.name, c.label...); !ok || v != c.want {
			t.Errorf("%s%q = %v (found %v), want %v", c.name, c.label, v, ok, c.want)
		}
	}
	for _, name := range []string{"parley_commit_batch_size", "parley_events_published_total", "parley_events_delivered_total", "go_goroutines", "process_resident_memory_bytes"} {
		if v, ok := metricValue(got, name); !ok || v <= 0 {
			t.Errorf("%s = %v (found %v), want more than 0", name, v, ok)
		}
	}

	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public GET /metrics: %s, want 404: the metrics stay off the public port", resp.Status)
	}
}

// TestMetricsOffByDefault: without -metrics-addr no metrics listener
// starts.
func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	if lines := logLines(s, "metrics"); len(lines) != 0 {
		t.Errorf("metrics listener started without -metrics-addr: %v", lines)
	}
}
