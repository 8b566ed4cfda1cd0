package chat

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// recordingMetrics keeps what the service reports.
type recordingMetrics struct {
	mu                                 sync.Mutex
	sent                               map[string]int
	committed, batches                 int
	events, publishes, publishFailures int
	limited                            map[string]int
	loginFailures, loginThrottled      int
}

func newRecordingMetrics() *recordingMetrics {
	return &recordingMetrics{sent: map[string]int{}, limited: map[string]int{}}
}

func (m *recordingMetrics) MessageSent(transport string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[transport]++
}

func (m *recordingMetrics) SendCommitted(time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.committed++
}

func (m *recordingMetrics) BatchCommitted(int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
}

func (m *recordingMetrics) Published(n int, _ time.Duration, failed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events += n
	m.publishes++
	if failed {
		m.publishFailures++
	}
}

func (m *recordingMetrics) RateLimited(action string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limited[action]++
}

func (m *recordingMetrics) LoginFailed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loginFailures++
}

func (m *recordingMetrics) LoginThrottled() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loginThrottled++
}

// spentLimiter refuses everything: a bucket always empty.
type spentLimiter struct{}

func (spentLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return false, time.Second, nil
}
func (spentLimiter) AllowN(context.Context, string, int) (bool, time.Duration, error) {
	return false, time.Second, nil
}
func (spentLimiter) Refund(context.Context, string) error { return nil }

// TestServiceReportsSendsPublishesAndRefusals: a new message is counted
// by its transport once its send is committed; every send that reaches
// the group commit reports its wait and its batch; every publish reports
// its events, failed or not; a refusal for a spent budget names its
// action.
func TestServiceReportsSendsPublishesAndRefusals(t *testing.T) {
	ctx := t.Context()
	m := newRecordingMetrics()
	broker := &flakyBroker{}
	svc, err := NewService(ServiceConfig{
		Store: newDeliveryStore(), Hasher: plainHasher{}, Broker: broker,
		Logger:  slog.New(slog.DiscardHandler),
		Limits:  Limits{Reads: spentLimiter{}},
		Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "over a WebSocket", ClientID: "c1", Conn: "conn-a"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Send(ctx, 2, SendRequest{ConversationID: 5, Body: "over HTTP", ClientID: "c2"}); err != nil {
		t.Fatal(err)
	}
	// A resend is charged to the read budget, spent here: refused.
	if _, _, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "over a WebSocket", ClientID: "c1", Conn: "conn-a"}); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("resend with the read budget spent: %v, want rate_limited", err)
	}
	if _, _, err := svc.MarkRead(ctx, 2, 5, 1); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("read with the read budget spent: %v, want rate_limited", err)
	}
	broker.mu.Lock()
	broker.fail = 1
	broker.mu.Unlock()
	if err := svc.Typing(ctx, 1, 5); err == nil {
		t.Fatal("typing published to a broker that refused it")
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if want := map[string]int{TransportWebSocket: 1, TransportHTTP: 1}; !maps.Equal(m.sent, want) {
		t.Errorf("messages sent %v, want %v: the resend is not a new message", m.sent, want)
	}
	if m.committed != 3 || m.batches != 3 {
		t.Errorf("%d sends committed in %d batches, want 3 in 3 (one at a time)", m.committed, m.batches)
	}
	if m.events != 3 || m.publishes != 3 || m.publishFailures != 1 {
		t.Errorf("%d events in %d publishes, %d failed; want 3 in 3 (two messages, a typing event), 1 failed", m.events, m.publishes, m.publishFailures)
	}
	if want := map[string]int{ActionResend: 1, ActionRead: 1}; !maps.Equal(m.limited, want) {
		t.Errorf("rate limited %v, want %v", m.limited, want)
	}
}

// throttledLogins makes every login wait.
type throttledLogins struct{ Throttle }

func (throttledLogins) Known(context.Context, string) (bool, error) { return false, nil }
func (throttledLogins) Reserve(context.Context, ...ThrottleKey) (time.Duration, int, error) {
	return time.Minute, 0, nil
}

// TestServiceReportsLoginRefusals: a wrong password is a login failure, a
// throttled attempt a throttled login, a success neither.
func TestServiceReportsLoginRefusals(t *testing.T) {
	ctx := t.Context()
	addr := netip.MustParseAddr("203.0.113.1")
	m := newRecordingMetrics()
	svc, err := NewService(ServiceConfig{Store: usersStore{}, Hasher: &countingHasher{}, Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, Credentials{Username: "alice", Password: "right password", Addr: addr}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "nobody"} {
		if _, err := svc.Login(ctx, Credentials{Username: name, Password: "wrong password", Addr: addr}); ErrorCode(err) != EUNAUTHORIZED {
			t.Fatalf("%s with a wrong password: %v", name, err)
		}
	}
	throttled, err := NewService(ServiceConfig{Store: usersStore{}, Hasher: &countingHasher{}, Logger: slog.New(slog.DiscardHandler), Metrics: m,
		Limits: Limits{Logins: throttledLogins{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := throttled.Login(ctx, Credentials{Username: "alice", Password: "right password", Addr: addr}); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("throttled login: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loginFailures != 2 || m.loginThrottled != 1 {
		t.Errorf("%d login failures, %d throttled; want 2, 1", m.loginFailures, m.loginThrottled)
	}
}

// TestMeteredBrokerPublishesBatchesOnlyWhenItsBrokerDoes: metering a
// broker keeps its batch publishing (one round trip for a group commit's
// messages), reporting each batch as its events, and adds none to a
// broker without it.
func TestMeteredBrokerPublishesBatchesOnlyWhenItsBrokerDoes(t *testing.T) {
	m := newRecordingMetrics()
	if _, ok := meterBroker(&flakyBroker{}, m).(BatchPublisher); ok {
		t.Error("a broker without batches publishes batches once metered")
	}
	bb := &batchBroker{flakyBroker: &flakyBroker{}}
	metered, ok := meterBroker(bb, m).(BatchPublisher)
	if !ok {
		t.Fatal("a batch-publishing broker lost its batches once metered")
	}
	if err := metered.PublishAll(t.Context(), make([]Event, 3)); err == nil {
		t.Error("PublishAll: the broker's refusal was lost")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if bb.batches != 1 || m.events != 3 || m.publishes != 1 || m.publishFailures != 1 {
		t.Errorf("%d batches reached the broker; reported %d events in %d publishes, %d failed; want 1; 3, 1, 1", bb.batches, m.events, m.publishes, m.publishFailures)
	}
	if b := (&flakyBroker{}); meterBroker(b, noMetrics{}) != Broker(b) {
		t.Error("with no metrics the broker is wrapped all the same")
	}
}
