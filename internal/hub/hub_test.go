package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// fakeSocket records what the hub writes. While gate is set, WriteFrames
// waits for it, or until its deadline: a peer that does not read.
type fakeSocket struct {
	mu     sync.Mutex
	writes [][]string
	pings  int
	code   int
	reason string
	gate   chan struct{}
	closed chan struct{}
}

func newFakeSocket() *fakeSocket { return &fakeSocket{closed: make(chan struct{})} }

func (s *fakeSocket) WriteFrames(frames [][]byte, deadline time.Time) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("write: %w", os.ErrDeadlineExceeded)
		}
	}
	batch := make([]string, len(frames))
	for i, f := range frames {
		batch[i] = string(f)
	}
	s.mu.Lock()
	s.writes = append(s.writes, batch)
	s.mu.Unlock()
	return nil
}

func (s *fakeSocket) Ping(time.Time) error {
	s.mu.Lock()
	s.pings++
	s.mu.Unlock()
	return nil
}

func (s *fakeSocket) Close(code int, reason string) error {
	s.mu.Lock()
	s.code, s.reason = code, reason
	s.mu.Unlock()
	close(s.closed)
	return nil
}

func (s *fakeSocket) block() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *fakeSocket) unblock() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

func (s *fakeSocket) frames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []string
	for _, b := range s.writes {
		all = append(all, b...)
	}
	return all
}

// readUntilClosed is a reader that ends when its socket closes, as a real
// one does.
func readUntilClosed(s *fakeSocket) func(context.Context, *Conn) {
	return func(context.Context, *Conn) { <-s.closed }
}

// fakeBroker records subscriptions and hands published events straight
// back as deliveries.
type fakeBroker struct {
	mu          sync.Mutex
	subscribes  map[chat.UserID]int
	unsubscribe map[chat.UserID]int
	deliveries  chan chat.Delivery
	failing     error         // when set, what Subscribe and Unsubscribe return
	hold        chan struct{} // when set, Subscribe waits for it to close
	holdUser    chat.UserID   // when set, only this user's Subscribe waits
}

func newFakeBroker() *fakeBroker {
	return &fakeBroker{subscribes: map[chat.UserID]int{}, unsubscribe: map[chat.UserID]int{}, deliveries: make(chan chat.Delivery, 100)}
}

func (b *fakeBroker) Publish(ctx context.Context, ev chat.Event) error {
	b.deliveries <- chat.Delivery{Event: ev, Users: ev.To}
	return nil
}

func (b *fakeBroker) Subscribe(ctx context.Context, u chat.UserID) error {
	b.mu.Lock()
	hold := b.hold
	if b.holdUser != 0 && b.holdUser != u {
		hold = nil
	}
	b.mu.Unlock()
	if hold != nil {
		<-hold
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subscribes[u]++
	return b.failing
}

func (b *fakeBroker) Unsubscribe(ctx context.Context, u chat.UserID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unsubscribe[u]++
	return b.failing
}

func (b *fakeBroker) Deliveries() <-chan chat.Delivery { return b.deliveries }

// testHub starts a hub whose Encode counts its calls, and stops it when
// the test ends.
func testHub(t *testing.T, cfg Config) (*Hub, *fakeBroker, *int) {
	h, b, encodes, _ := testHubLogged(t, cfg)
	return h, b, encodes
}

// testHubLogged is testHub that also records what the hub logs.
func testHubLogged(t *testing.T, cfg Config) (*Hub, *fakeBroker, *int, *logRecorder) {
	t.Helper()
	var encodes int
	cfg.Encode = func(ev chat.Event) ([]byte, error) {
		encodes++
		return []byte(string(ev.Type) + ":" + ev.Session), nil
	}
	b := newFakeBroker()
	logs := &logRecorder{}
	h := New(slog.New(logs), b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h, b, &encodes, logs
}

// logRecorder is a slog.Handler that keeps each record's message and
// attributes.
type logRecorder struct {
	mu      sync.Mutex
	records []map[string]string // "msg" and each attribute
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"msg": rec.Message}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, m)
	r.mu.Unlock()
	return nil
}

// with returns the records with message msg.
func (r *logRecorder) with(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, m := range r.records {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func serve(t *testing.T, h *Hub, user chat.UserID, session string) (*Conn, *fakeSocket) {
	t.Helper()
	s := newFakeSocket()
	c, err := h.Serve(user, session, s, []byte("hello"), readUntilClosed(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestDeliverEncodesOncePerEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, encodes := testHub(t, Config{})
		a1, s1 := serve(t, h, 1, "s1")
		_, s2 := serve(t, h, 1, "s2")
		_, s3 := serve(t, h, 2, "s3")
		_, s4 := serve(t, h, 3, "s4") // not a recipient
		b.Publish(t.Context(), chat.Event{Type: chat.EventMessage, To: []chat.UserID{1, 2}, SkipConn: a1.ID})
		synctest.Wait()
		if *encodes != 1 {
			t.Errorf("encoded %d times for one event", *encodes)
		}
		for name, want := range map[*fakeSocket][]string{
			s1: {"hello"}, // the sender's connection is skipped
			s2: {"hello", "message:"},
			s3: {"hello", "message:"},
			s4: {"hello"},
		} {
			if got := name.frames(); !slices.Equal(got, want) {
				t.Errorf("socket got %q, want %q", got, want)
			}
		}
		if n := h.Delivered(); n != 2 {
			t.Errorf("Delivered() = %d, want 2 (one per connection reached)", n)
		}
	})
}

// wantClosedSlow checks that s was closed as too slow, and that the hub
// logged it once with cause and counted it once.
func wantClosedSlow(t *testing.T, h *Hub, logs *logRecorder, s *fakeSocket, cause string) {
	t.Helper()
	select {
	case <-s.closed:
	default:
		t.Fatal("the slow connection is still open")
	}
	if s.code != CloseTooSlow || s.reason == "" {
		t.Errorf("closed with %d %q, want %d and a reason", s.code, s.reason, CloseTooSlow)
	}
	if got := logs.with("closing slow connection"); len(got) != 1 || got[0]["cause"] != cause {
		t.Errorf("logged %v, want one line with cause %q", got, cause)
	}
	if n := h.SlowClosed(); n != 1 {
		t.Errorf("SlowClosed() = %d, want 1", n)
	}
}

func TestSlowConnectionIsClosedWhenItsQueueFills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _, logs := testHubLogged(t, Config{QueueSize: 4})
		_, slow := serve(t, h, 1, "slow")
		_, fast := serve(t, h, 2, "fast")
		synctest.Wait() // both hellos written
		slow.block()
		ev := chat.Event{Type: chat.EventTyping, To: []chat.UserID{1, 2}}
		b.Publish(t.Context(), ev) // the slow writer takes it and blocks
		synctest.Wait()
		for range 5 { // 4 fill the slow queue, the 5th overflows it
			b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}})
		}
		synctest.Wait()
		select {
		case <-slow.closed:
			t.Fatal("closed before its writer finished the blocked write")
		default:
		}
		slow.unblock()
		synctest.Wait()
		wantClosedSlow(t, h, logs, slow, "send queue full")
		if n := len(fast.frames()); n != 2 {
			t.Errorf("the fast connection got %d frames, want hello and the event", n)
		}
		if h.Count() != 1 {
			t.Errorf("%d connections left, want 1", h.Count())
		}
	})
}

func TestSlowConnectionIsClosedWhenAWriteTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _, logs := testHubLogged(t, Config{WriteTimeout: 10 * time.Second})
		_, slow := serve(t, h, 1, "slow")
		_, fast := serve(t, h, 2, "fast")
		synctest.Wait()
		slow.block() // and never unblocked: the peer stopped reading
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1, 2}})
		synctest.Wait()
		// synctest's fake clock: time moves only as far as the test says,
		// so this is 9 s of a 10 s timeout, exactly, on any machine.
		time.Sleep(9 * time.Second)
		synctest.Wait()
		select {
		case <-slow.closed:
			t.Fatal("closed before the write timed out")
		default:
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		wantClosedSlow(t, h, logs, slow, "write timed out")
		if n := len(fast.frames()); n != 2 {
			t.Errorf("the fast connection got %d frames, want hello and the event", n)
		}
		if h.Count() != 1 {
			t.Errorf("%d connections left, want 1", h.Count())
		}
	})
}

func TestSlowConnectionIsClosedOnceWhenBothShowIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _, logs := testHubLogged(t, Config{QueueSize: 2, WriteTimeout: 10 * time.Second})
		_, slow := serve(t, h, 1, "slow")
		synctest.Wait()
		slow.block()
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}})
		synctest.Wait() // the first blocks the writer
		for range 3 {   // 2 fill the queue, the 3rd overflows it
			b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}})
		}
		synctest.Wait()
		time.Sleep(11 * time.Second) // and then the blocked write times out
		synctest.Wait()
		wantClosedSlow(t, h, logs, slow, "send queue full")
	})
}

func TestWriterFlushesPendingFramesTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		_, s := serve(t, h, 1, "s")
		synctest.Wait()
		s.block()
		ev := chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}}
		b.Publish(t.Context(), ev)
		synctest.Wait() // the writer holds the first and waits
		for range 3 {
			b.Publish(t.Context(), ev)
		}
		synctest.Wait()
		s.unblock()
		synctest.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		sizes := make([]int, len(s.writes))
		for i, w := range s.writes {
			sizes[i] = len(w)
		}
		if !slices.Equal(sizes, []int{1, 1, 3}) { // hello, the first, then the three queued
			t.Errorf("write batches %v, want [1 1 3]", sizes)
		}
	})
}

func TestPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, _ := testHub(t, Config{PingInterval: 25 * time.Second})
		_, s := serve(t, h, 1, "s")
		time.Sleep(80 * time.Second)
		synctest.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pings != 3 {
			t.Errorf("%d pings in 80 s, want 3", s.pings)
		}
	})
}

func TestSubscribesOncePerUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		c1, _ := serve(t, h, 7, "a")
		c2, _ := serve(t, h, 7, "b")
		synctest.Wait()
		if b.subscribes[7] != 1 {
			t.Errorf("subscribed %d times for two connections", b.subscribes[7])
		}
		c1.Close(CloseNormal, "")
		synctest.Wait()
		if b.unsubscribe[7] != 0 {
			t.Error("unsubscribed while a connection is still open")
		}
		c2.Close(CloseNormal, "")
		synctest.Wait()
		if b.unsubscribe[7] != 1 {
			t.Errorf("unsubscribed %d times after the last connection closed", b.unsubscribe[7])
		}
		serve(t, h, 7, "c")
		synctest.Wait()
		if b.subscribes[7] != 2 {
			t.Error("a user back on the node was not subscribed again")
		}
	})
}

// TestSubscribeFailuresLoggedOncePerInterval: while the broker is away
// every connection's subscribe fails, and the log has one line per 10 s
// that counts the failures it stands for, not one line per connection.
func TestSubscribeFailuresLoggedOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _, logs := testHubLogged(t, Config{})
		b.mu.Lock()
		b.failing = errors.New("redis: connection refused")
		b.mu.Unlock()
		refused := func(u chat.UserID) {
			t.Helper()
			if _, err := h.Serve(u, "s", newFakeSocket(), []byte("hello"), nil, nil); !errors.Is(err, ErrUnsubscribed) {
				t.Fatalf("Serve while subscribing fails: %v, want ErrUnsubscribed", err)
			}
		}
		for u := range 50 {
			refused(chat.UserID(u + 1))
		}
		synctest.Wait()
		if got := logs.with("subscribe"); len(got) != 1 || got[0]["failures"] != "1" {
			t.Fatalf("50 failing subscribes logged %v, want one line", got)
		}
		// synctest's fake clock: 9 s of the 10 s interval pass at once, so
		// the next failures fall inside it on any machine.
		time.Sleep(9 * time.Second)
		for u := range 10 {
			refused(chat.UserID(100 + u))
		}
		synctest.Wait()
		if got := logs.with("subscribe"); len(got) != 1 {
			t.Fatalf("failing subscribes within 10 s logged %d lines", len(got))
		}
		time.Sleep(time.Second) // the fake clock again: now 10 s after the first line
		refused(200)
		synctest.Wait()
		got := logs.with("subscribe")
		if len(got) != 2 || got[1]["failures"] != "60" {
			t.Errorf("after 10 s: %v, want a second line standing for 60 failures", got)
		}
		if b.subscribes[1] != 1 {
			t.Errorf("subscribed %d times", b.subscribes[1])
		}
	})
}

// TestUnsubscribeFailuresLoggedOncePerInterval: the same for unsubscribes
// as connections close while the broker is away.
func TestUnsubscribeFailuresLoggedOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _, logs := testHubLogged(t, Config{})
		var conns []*Conn
		for u := range 20 {
			c, _ := serve(t, h, chat.UserID(u+1), "s")
			conns = append(conns, c)
		}
		synctest.Wait()
		b.mu.Lock()
		b.failing = errors.New("redis: connection refused")
		b.mu.Unlock()
		for _, c := range conns {
			c.Close(CloseNormal, "")
		}
		synctest.Wait()
		if got := logs.with("unsubscribe"); len(got) != 1 {
			t.Errorf("20 failing unsubscribes logged %d lines, want 1", len(got))
		}
	})
}

func TestSessionEndedClosesThatSessionOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		_, s1 := serve(t, h, 1, "ended")
		_, s2 := serve(t, h, 1, "ended")
		_, s3 := serve(t, h, 1, "other")
		b.Publish(t.Context(), chat.Event{Type: chat.EventSessionEnded, To: []chat.UserID{1}, Session: "ended"})
		synctest.Wait()
		for _, s := range []*fakeSocket{s1, s2} {
			if s.code != CloseSessionEnded {
				t.Errorf("a socket of the ended session: code %d", s.code)
			}
		}
		select {
		case <-s3.closed:
			t.Error("another session's socket was closed")
		default:
		}
	})
}

func TestRunClosesEverythingOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := New(slog.New(slog.DiscardHandler), newFakeBroker(), Config{Encode: func(chat.Event) ([]byte, error) { return nil, nil }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { h.Run(ctx); close(done) }()
		var socks []*fakeSocket
		for u := range 3 {
			_, s := serve(t, h, chat.UserID(u), "s")
			socks = append(socks, s)
		}
		var left atomic.Int32
		for range 2 {
			s := newFakeSocket()
			h.Serve(9, "s", s, nil, readUntilClosed(s), func() { left.Add(1) })
		}
		cancel()
		<-done // Run waits for every reader and writer
		for _, s := range socks {
			if s.code != CloseGoingAway {
				t.Errorf("socket closed with %d, want %d", s.code, CloseGoingAway)
			}
		}
		if left.Load() != 2 {
			t.Errorf("%d done callbacks ran, want 2", left.Load())
		}
		if _, err := h.Serve(1, "late", newFakeSocket(), nil, nil, nil); err != ErrClosed {
			t.Errorf("Serve after shutdown: %v", err)
		}
	})
}

func TestReserveCapsParallelHandshakes(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	const tries, max = 300, 20
	var granted atomic.Int32
	var releases sync.Map
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			if res, ok := h.Reserve(7, max); ok {
				granted.Add(1)
				releases.Store(i, res)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != max {
		t.Fatalf("%d of %d parallel reservations granted, want %d", n, tries, max)
	}
	if _, ok := h.Reserve(8, max); !ok {
		t.Error("another user was refused")
	}
	releases.Range(func(_, res any) bool { res.(*Reservation).Release(); return true })
	if _, ok := h.Reserve(7, max); !ok {
		t.Error("refused after every reservation was released")
	}
}

func TestReserveCountsOpenConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		serve(t, h, 7, "a")
		serve(t, h, 7, "b")
		res, ok := h.Reserve(7, 3)
		if !ok {
			t.Fatal("refused the third of three")
		}
		if _, ok := h.Reserve(7, 3); ok {
			t.Error("granted a fourth place with two open and one reserved")
		}
		res.Release()
		res.Release() // a second call gives back nothing more
		if _, ok := h.Reserve(7, 3); !ok {
			t.Error("refused after the reservation was released")
		}
		if _, ok := h.Reserve(7, 0); !ok {
			t.Error("no cap refused")
		}
	})
}

// TestReservationBecomesTheConnection: a served reservation is one
// connection, not a connection and a place, so the user's next handshake
// finds room at once, before the handshake that reserved it has returned.
func TestReservationBecomesTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		res, ok := h.Reserve(7, 2)
		if !ok {
			t.Fatal("refused the first of two")
		}
		s := newFakeSocket()
		if _, err := res.Serve("a", s, nil, readUntilClosed(s), nil); err != nil {
			t.Fatal(err)
		}
		if n := h.UserCount(7); n != 1 {
			t.Fatalf("%d connections open, want 1", n)
		}
		second, ok := h.Reserve(7, 2)
		if !ok {
			t.Fatal("the second of two was refused while the first was being served")
		}
		if _, ok := h.Reserve(7, 2); ok {
			t.Error("granted a third place with one open and one reserved")
		}
		res.Release() // after Serve: gives back nothing
		if _, ok := h.Reserve(7, 2); ok {
			t.Error("a Release after Serve gave a place back")
		}
		second.Release()
	})
}

// TestHelloWaitsForTheSubscription: a connection gets nothing, not even
// hello, until the broker has confirmed the subscription to its user's
// events; then hello comes first, before what was delivered meanwhile.
func TestHelloWaitsForTheSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		hold := make(chan struct{})
		b.mu.Lock()
		b.hold = hold
		b.mu.Unlock()
		s := newFakeSocket()
		served := make(chan error, 1)
		go func() {
			_, err := h.Serve(1, "s", s, []byte("hello"), readUntilClosed(s), nil)
			served <- err
		}()
		synctest.Wait() // Serve waits in Subscribe
		b.Publish(t.Context(), chat.Event{Type: chat.EventMessage, To: []chat.UserID{1}})
		synctest.Wait()
		if got := s.frames(); len(got) != 0 {
			t.Fatalf("before the subscription was confirmed the socket got %q, want nothing", got)
		}
		close(hold)
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := s.frames(), []string{"hello", "message:"}; !slices.Equal(got, want) {
			t.Errorf("socket got %q, want %q", got, want)
		}
	})
}

// TestUnsubscribedConnectionIsNotServed: when the broker cannot subscribe
// to the user's events, the connection is not served (the caller closes it
// with 1013): nothing is written to it, nothing runs for it, it holds no
// place; once the broker is back, the next connection is served.
func TestUnsubscribedConnectionIsNotServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		b.mu.Lock()
		b.failing = errors.New("redis: connection refused")
		b.mu.Unlock()
		s := newFakeSocket()
		var ran atomic.Bool
		_, err := h.Serve(1, "s", s, []byte("hello"), func(context.Context, *Conn) { ran.Store(true) }, func() { ran.Store(true) })
		if !errors.Is(err, ErrUnsubscribed) {
			t.Fatalf("Serve = %v, want ErrUnsubscribed", err)
		}
		synctest.Wait()
		if got := s.frames(); len(got) != 0 {
			t.Errorf("the unserved socket got %q, want nothing", got)
		}
		select {
		case <-s.closed:
			t.Error("the hub closed the socket: its caller closes it, with 1013")
		default:
		}
		if ran.Load() || h.Count() != 0 || h.UserCount(1) != 0 {
			t.Errorf("after a refused Serve: read or done ran %v, %d connections", ran.Load(), h.Count())
		}

		b.mu.Lock()
		b.failing = nil
		b.mu.Unlock()
		_, s2 := serve(t, h, 1, "s")
		synctest.Wait()
		if got := s2.frames(); !slices.Equal(got, []string{"hello"}) {
			t.Errorf("once the broker is back the socket got %q, want hello", got)
		}
	})
}

// TestSubscriptionsDoNotWaitForEachOther: while the broker takes its time
// over one user's subscription, another user's connection is served.
func TestSubscriptionsDoNotWaitForEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		hold := make(chan struct{})
		b.mu.Lock()
		b.hold, b.holdUser = hold, 1
		b.mu.Unlock()
		s1 := newFakeSocket()
		served := make(chan error, 1)
		go func() {
			_, err := h.Serve(1, "s", s1, []byte("hello"), readUntilClosed(s1), nil)
			served <- err
		}()
		synctest.Wait() // user 1's Serve waits in Subscribe
		_, s2 := serve(t, h, 2, "s")
		synctest.Wait()
		if got := s2.frames(); !slices.Equal(got, []string{"hello"}) {
			t.Errorf("user 2's socket got %q while user 1's subscription was pending, want hello", got)
		}
		close(hold)
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	})
}

func TestIdleConnectionHoldsNoWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{})
		var socks []*fakeSocket
		for u := range 10 {
			_, s := serve(t, h, chat.UserID(u), "s")
			socks = append(socks, s)
		}
		synctest.Wait() // every hello written
		if n := writers(); n != 0 {
			t.Errorf("10 idle connections hold %d writer goroutines, want 0", n)
		}
		socks[0].block()
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{0}})
		synctest.Wait()
		if n := writers(); n != 1 {
			t.Errorf("%d writer goroutines while one write waits, want 1", n)
		}
		socks[0].unblock()
		synctest.Wait()
		if n := writers(); n != 0 {
			t.Errorf("%d writer goroutines once the write is done, want 0", n)
		}
	})
}

// writers counts the goroutines running a connection's writer.
func writers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("hub.(*Conn).write("))
}

func TestFramesKeepTheirOrderAcrossIdlePauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, b, _ := testHub(t, Config{PingInterval: 25 * time.Second})
		c, s := serve(t, h, 1, "s")
		synctest.Wait() // hello written, the writer ended
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}, Session: "a"})
		synctest.Wait()
		time.Sleep(30 * time.Second) // synctest's fake clock: past one ping
		synctest.Wait()
		s.block()
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}, Session: "b"})
		synctest.Wait() // the writer holds b and waits
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}, Session: "c"})
		b.Publish(t.Context(), chat.Event{Type: chat.EventTyping, To: []chat.UserID{1}, Session: "d"})
		synctest.Wait()
		s.unblock()
		synctest.Wait()
		want := []string{"hello", "typing:a", "typing:b", "typing:c", "typing:d"}
		if got := s.frames(); !slices.Equal(got, want) {
			t.Errorf("frames %q, want %q", got, want)
		}
		s.mu.Lock()
		pings := s.pings
		s.mu.Unlock()
		if pings != 1 {
			t.Errorf("%d pings in 30 s, want 1", pings)
		}
		c.Close(CloseNormal, "bye") // no writer runs: one starts to close
		synctest.Wait()
		select {
		case <-s.closed:
		default:
			t.Fatal("an idle connection closed is still open")
		}
		if s.code != CloseNormal || s.reason != "bye" {
			t.Errorf("closed with %d %q, want %d %q", s.code, s.reason, CloseNormal, "bye")
		}
		if h.Count() != 0 {
			t.Errorf("%d connections left, want 0", h.Count())
		}
	})
}
