package chat

import (
	"context"
	"time"
)

// Transports a message is sent over, as Metrics.MessageSent names them.
const (
	TransportWebSocket = "websocket"
	TransportHTTP      = "http" // the JSON API and the pages' forms
)

// Rate-limited actions, as Metrics.RateLimited names them: one per
// budget a Limits field keeps (resends are charged to Reads but counted
// apart), and ActionOther for any the list does not know yet.
const (
	ActionMessage      = "message"
	ActionResend       = "resend"
	ActionTyping       = "typing"
	ActionRead         = "read"
	ActionConversation = "conversation"
	ActionList         = "list"
	ActionSearch       = "search"
	ActionUpload       = "upload"
	ActionUploadBytes  = "upload_bytes"
	ActionRegistration = "registration"
	ActionOther        = "other"
)

// RateLimitActions returns every action Metrics.RateLimited may be
// given, so that an implementation can prepare a counter for each.
func RateLimitActions() []string {
	return []string{
		ActionMessage, ActionResend, ActionTyping, ActionRead, ActionConversation,
		ActionList, ActionSearch, ActionUpload, ActionUploadBytes, ActionRegistration, ActionOther,
	}
}

// Metrics is what the Service reports about its work, for an operator's
// dashboards. Its methods are called on the hot path (every send), from
// many goroutines at once: they must be safe for concurrent use and must
// not block.
type Metrics interface {
	// MessageSent counts one new message stored, sent over transport
	// (TransportWebSocket or TransportHTTP). A resend answered from the
	// store is not counted.
	MessageSent(transport string)
	// SendCommitted reports how long one send waited, from entering the
	// group commit until the store answered for its batch, committed or
	// not.
	SendCommitted(d time.Duration)
	// BatchCommitted reports how many sends one group commit's
	// transaction held.
	BatchCommitted(size int)
	// Published reports one call to the broker that handed it n events
	// and took d to return, and whether it failed.
	Published(n int, d time.Duration, failed bool)
	// RateLimited counts one action refused because its budget was spent
	// (one of RateLimitActions).
	RateLimited(action string)
	// LoginFailed counts one login refused for a wrong username or
	// password.
	LoginFailed()
	// LoginThrottled counts one login refused, unchecked, because its
	// account or address had failed too often.
	LoginThrottled()
}

// noMetrics reports nowhere: the Metrics of a Service given none.
type noMetrics struct{}

func (noMetrics) MessageSent(string)                 {}
func (noMetrics) SendCommitted(time.Duration)        {}
func (noMetrics) BatchCommitted(int)                 {}
func (noMetrics) Published(int, time.Duration, bool) {}
func (noMetrics) RateLimited(string)                 {}
func (noMetrics) LoginFailed()                       {}
func (noMetrics) LoginThrottled()                    {}

// transportOf names the transport of a send: only a WebSocket's sends
// name their connection.
func transportOf(req SendRequest) string {
	if req.Conn != "" {
		return TransportWebSocket
	}
	return TransportHTTP
}

// budgetName is how a refusal names the budget of action (one of
// RateLimitActions) to the user: "too many messages: slow down".
func budgetName(action string) string {
	switch action {
	case ActionMessage:
		return "messages"
	case ActionResend:
		return "resends"
	case ActionTyping:
		return "typing events"
	case ActionRead:
		return "read receipts"
	case ActionConversation:
		return "conversations started"
	case ActionList:
		return "searches and list pages"
	case ActionSearch:
		return "message searches"
	case ActionUpload:
		return "files uploaded"
	case ActionUploadBytes:
		return "bytes uploaded today"
	case ActionRegistration:
		return "new accounts from your address"
	}
	return "requests"
}

// countLogin reports a login's refusal: a wrong username or password
// (EUNAUTHORIZED) or a throttled attempt (ERATELIMITED, which a login
// answers only when throttled).
func (s *Service) countLogin(err error) {
	switch ErrorCode(err) {
	case EUNAUTHORIZED:
		s.metrics.LoginFailed()
	case ERATELIMITED:
		s.metrics.LoginThrottled()
	}
}

// meteredBroker is a Broker that reports each publish to Metrics.
type meteredBroker struct {
	Broker
	metrics Metrics
}

func (b meteredBroker) Publish(ctx context.Context, ev Event) error {
	start := time.Now()
	err := b.Broker.Publish(ctx, ev)
	b.metrics.Published(1, time.Since(start), err != nil)
	return err
}

// meteredBatchBroker is a meteredBroker whose broker is a
// BatchPublisher, and which is one too.
type meteredBatchBroker struct {
	meteredBroker
	batch BatchPublisher
}

func (b meteredBatchBroker) PublishAll(ctx context.Context, evs []Event) error {
	start := time.Now()
	err := b.batch.PublishAll(ctx, evs)
	b.metrics.Published(len(evs), time.Since(start), err != nil)
	return err
}

// meterBroker returns b reporting its publishes to m, a BatchPublisher
// when b is one. With no metrics it returns b itself.
func meterBroker(b Broker, m Metrics) Broker {
	if _, none := m.(noMetrics); none || b == nil {
		return b
	}
	mb := meteredBroker{Broker: b, metrics: m}
	if bp, ok := b.(BatchPublisher); ok {
		return meteredBatchBroker{meteredBroker: mb, batch: bp}
	}
	return mb
}
