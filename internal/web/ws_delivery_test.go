package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
)

// switchBroker is an in-process broker whose subscriptions fail while
// down is set, as a Redis broker's do while Redis is away.
type switchBroker struct {
	mu         sync.Mutex
	down       bool
	deliveries chan chat.Delivery
}

func (b *switchBroker) setDown(down bool) {
	b.mu.Lock()
	b.down = down
	b.mu.Unlock()
}

func (b *switchBroker) Publish(_ context.Context, ev chat.Event) error {
	b.deliveries <- chat.Delivery{Event: ev, Users: ev.To}
	return nil
}

func (b *switchBroker) Subscribe(context.Context, chat.UserID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return errors.New("redis: connection refused")
	}
	return nil
}

func (b *switchBroker) Unsubscribe(context.Context, chat.UserID) error { return nil }

func (b *switchBroker) Deliveries() <-chan chat.Delivery { return b.deliveries }

// oneUserStore knows user 1 and that they share nothing with anyone.
type oneUserStore struct{ chat.Store }

func (oneUserStore) UserByID(_ context.Context, id chat.UserID) (chat.User, error) {
	return chat.User{ID: id, Username: "alice", DisplayName: "Alice"}, nil
}

func (oneUserStore) Contacts(context.Context, chat.UserID) ([]chat.UserID, error) { return nil, nil }

// alwaysOnline is a Presence that remembers nothing.
type alwaysOnline struct{}

func (alwaysOnline) Connect(context.Context, chat.UserID) (bool, error)    { return false, nil }
func (alwaysOnline) Disconnect(context.Context, chat.UserID) (bool, error) { return false, nil }
func (alwaysOnline) Online(_ context.Context, users []chat.UserID) (map[chat.UserID]bool, error) {
	return map[chat.UserID]bool{}, nil
}

// TestWebSocketClosesWith1013WhenItCannotSubscribe: a WebSocket opened
// while the node cannot subscribe to its user's events gets no hello but
// a close with 1013 (try again later); once the broker is back, the next
// one gets its hello, and a resync event reaches it as the resync frame.
func TestWebSocketClosesWith1013WhenItCannotSubscribe(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	broker := &switchBroker{deliveries: make(chan chat.Delivery, 16)}
	svc, err := chat.NewService(chat.ServiceConfig{Store: oneUserStore{}, Hasher: originTestHasher{}, Broker: broker, Presence: alwaysOnline{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(logger, broker, hub.Config{Encode: EncodeEvent})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), sessionUserKey, int64(1)) })
	mux.Handle("GET /ws", (&server{logger: logger, service: svc, sessions: sm, hub: h, wsTimeout: time.Minute}).handleWebSocket())
	srv := httptest.NewServer(sm.LoadAndSave(mux))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Jar: jar}).Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	dial := func() *websocket.Conn {
		t.Helper()
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Jar: jar}
		ws, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		resp.Body.Close()
		if err := ws.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	frameType := func(data []byte) string {
		var f struct{ Type string }
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		return f.Type
	}

	broker.setDown(true)
	ws := dial()
	_, data, err := ws.ReadMessage()
	if err == nil {
		t.Fatalf("while the node cannot subscribe, the socket got %s, want a close with 1013", data)
	}
	if !websocket.IsCloseError(err, hub.CloseTryAgain) {
		t.Fatalf("while the node cannot subscribe: %v, want a close with 1013", err)
	}
	ws.Close()

	broker.setDown(false)
	ws = dial()
	defer ws.Close()
	_, data, err = ws.ReadMessage()
	if err != nil || frameType(data) != "hello" {
		t.Fatalf("once the broker is back: %s, %v; want hello", data, err)
	}
	if err := broker.Publish(t.Context(), chat.Event{Type: chat.EventResync, To: []chat.UserID{1}}); err != nil {
		t.Fatal(err)
	}
	_, data, err = ws.ReadMessage()
	if err != nil || string(data) != `{"type":"resync"}` {
		t.Errorf("after a resync event: %s, %v; want {\"type\":\"resync\"}", data, err)
	}
}

// TestWebSocketPongsKeepAnIdleConnectionOpen: a client that sends nothing
// but the pongs answering the server's pings stays connected past the
// read timeout (the reader takes pongs before the library sees them, see
// frameReader.awaitMessage), and its next frame is still read and
// answered.
func TestWebSocketPongsKeepAnIdleConnectionOpen(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	broker := &switchBroker{deliveries: make(chan chat.Delivery, 16)}
	svc, err := chat.NewService(chat.ServiceConfig{Store: oneUserStore{}, Hasher: originTestHasher{}, Broker: broker, Presence: alwaysOnline{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	h := hub.New(logger, broker, hub.Config{Encode: EncodeEvent, PingInterval: timeout / 6})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) { sm.Put(r.Context(), sessionUserKey, int64(1)) })
	mux.Handle("GET /ws", (&server{logger: logger, service: svc, sessions: sm, hub: h, wsTimeout: timeout}).handleWebSocket())
	srv := httptest.NewServer(sm.LoadAndSave(mux))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Jar: jar}).Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Jar: jar}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	defer ws.Close()

	pings := make(chan struct{}, 100)
	ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan string, 10)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			frames <- string(data)
		}
	}()
	// Three read timeouts' worth of pings, each answered.
	for range 18 {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("the server dropped a client answering its pings: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no ping from the server")
		}
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case f := <-frames:
			if strings.Contains(f, "frames must be text") {
				return
			}
		case err := <-readErr:
			t.Fatalf("no answer to a frame sent after the pongs: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no answer to a frame sent after the pongs")
		}
	}
}
