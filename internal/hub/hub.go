// Package hub is a node's fan-out: the WebSocket connections open on this
// node, by user. It subscribes to the Broker for every user connected here
// and hands each event it receives to that user's connections, encoded
// once. Each connection has one reader goroutine, and a writer goroutine
// only while it has something to write (frames, a ping, the close): an idle
// connection holds no writer's stack. The writer drains a bounded queue,
// and a connection too slow to keep up — its queue fills, or a write to it
// outlasts the write timeout — is closed rather than allowed to grow
// memory: its client catches up from history when it reconnects.
package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Close codes the hub uses beyond the standard ones.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001 // the server is shutting down
	CloseAbnormal     = 1006 // the connection failed: no close frame is sent
	CloseTryAgain     = 1013 // the node cannot deliver events now: reconnect later
	CloseTooSlow      = 4000 // the client did not keep up: reconnect and catch up
	CloseSessionEnded = 4001 // the session was signed out
)

// Socket is the write side of one WebSocket connection. The hub calls it
// from the connection's writer goroutine only, one writer at a time.
type Socket interface {
	// WriteFrames writes each frame as a text message and flushes them in
	// one write, giving up at deadline with an error that wraps
	// os.ErrDeadlineExceeded.
	WriteFrames(frames [][]byte, deadline time.Time) error
	// Ping sends a ping, giving up at deadline like WriteFrames; the peer's
	// pong keeps the connection alive.
	Ping(deadline time.Time) error
	// Close sends a close frame with code and reason, as far as the peer
	// lets it (not after a write that failed part way: the stream is cut
	// mid-frame), and closes the connection, which ends its reader.
	Close(code int, reason string) error
}

// Config tunes a Hub.
type Config struct {
	// Encode turns an event into the frame its recipients receive.
	Encode func(chat.Event) ([]byte, error)
	// QueueSize bounds each connection's queue of unsent frames; 0 means 256.
	QueueSize int
	// PingInterval is how often each connection is pinged; 0 means 25 s.
	PingInterval time.Duration
	// WriteTimeout is how long one write or ping may wait for the peer to
	// take it before the peer counts as too slow; 0 means 10 s.
	WriteTimeout time.Duration
}

// Hub holds a node's connections.
type Hub struct {
	logger *slog.Logger
	broker chat.Broker
	cfg    Config

	mu       sync.Mutex
	users    map[chat.UserID]map[*Conn]struct{}
	reserved map[chat.UserID]int // handshakes under way, by user (see Reserve)
	closed   bool

	// subs orders each user's subscription changes, so that their last
	// connection closing and a new one opening cannot leave them
	// unsubscribed, without one user's wait on the broker holding up
	// another's. subMu guards the map.
	subMu sync.Mutex
	subs  map[chat.UserID]*userSub
	// failures holds back repeated subscribe and unsubscribe log lines
	// while the broker (Redis) is away: every connection opening or
	// closing tries.
	failures *chat.LogGate

	wg sync.WaitGroup // every connection's reader and writers

	slowClosed atomic.Int64 // connections closed as too slow
	delivered  atomic.Int64 // frames of events queued to connections
}

// New returns a Hub delivering what broker hands it. Run must be running
// for events to flow.
func New(logger *slog.Logger, broker chat.Broker, cfg Config) *Hub {
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 256
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	return &Hub{logger: logger, broker: broker, cfg: cfg, users: make(map[chat.UserID]map[*Conn]struct{}), reserved: make(map[chat.UserID]int), subs: make(map[chat.UserID]*userSub), failures: chat.NewLogGate(failureLogEvery)}
}

// ErrClosed is returned by Serve once the hub is shutting down.
var ErrClosed = errors.New("hub: closed")

// ErrUnsubscribed is returned by Serve when the broker did not confirm
// the subscription to the user's events: the connection would receive
// nothing, so it is not served. Its caller closes the socket with
// CloseTryAgain, and the client reconnects later.
var ErrUnsubscribed = errors.New("hub: cannot subscribe to the user's events")

// Run delivers the broker's events to local connections until ctx ends,
// then closes every connection and waits for their goroutines.
func (h *Hub) Run(ctx context.Context) {
	deliveries := h.broker.Deliveries()
	for {
		select {
		case d := <-deliveries:
			h.deliver(d)
		case <-ctx.Done():
			h.mu.Lock()
			h.closed = true
			var all []*Conn
			for _, conns := range h.users {
				for c := range conns {
					all = append(all, c)
				}
			}
			h.mu.Unlock()
			for _, c := range all {
				c.Close(CloseGoingAway, "server shutting down")
			}
			h.wg.Wait()
			return
		}
	}
}

// deliver hands one delivery to the local connections it names.
func (h *Hub) deliver(d chat.Delivery) {
	ev := d.Event
	if ev.Type == chat.EventSessionEnded {
		for _, c := range h.conns(d.Users) {
			if c.Session == ev.Session {
				c.Close(CloseSessionEnded, "signed out")
			}
		}
		return
	}
	conns := h.conns(d.Users)
	if len(conns) == 0 {
		return
	}
	frame, err := h.cfg.Encode(ev) // once, for every recipient
	if err != nil {
		h.logger.Error("encode event", "type", ev.Type, "err", err)
		return
	}
	var n int64
	for _, c := range conns {
		if c.ID != ev.SkipConn && c.Send(frame) {
			n++
		}
	}
	h.delivered.Add(n)
}

// conns returns the local connections of users.
func (h *Hub) conns(users []chat.UserID) []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Conn
	for _, u := range users {
		for c := range h.users[u] {
			out = append(out, c)
		}
	}
	return out
}

// Serve adds a connection of user, opened with the session whose ID is
// given, subscribes this node to the user's events (unless it is already),
// and once the broker has confirmed that, lets its frames be written, the
// first of them hello, and starts its reader: a client that has its hello
// receives every event published after it. read runs in its own
// goroutine, reading frames until the connection fails or ctx (ended by
// Close) ends; when it returns the connection is closed. done runs after
// the connection is closed and removed. When Serve fails (ErrClosed: the
// hub is shutting down; ErrUnsubscribed) it has written nothing to socket
// and not closed it, and will not call read or done.
func (h *Hub) Serve(user chat.UserID, session string, socket Socket, hello []byte, read func(ctx context.Context, c *Conn), done func()) (*Conn, error) {
	return h.serve(user, nil, session, socket, hello, read, done)
}

// serve is Serve; res, when not nil, is the user's reservation, given back
// as the connection is added.
func (h *Hub) serve(user chat.UserID, res *Reservation, session string, socket Socket, hello []byte, read func(ctx context.Context, c *Conn), done func()) (*Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		ID:         rand.Text(),
		User:       user,
		Session:    session,
		hub:        h,
		socket:     socket,
		maxQueue:   h.cfg.QueueSize,
		ctx:        ctx,
		cancel:     cancel,
		writerDone: make(chan struct{}),
	}
	// hello heads the queue, before any event delivered while the
	// subscription is confirmed; nothing is written until the connection
	// goes live, after it.
	if hello != nil {
		c.queue = [][]byte{hello}
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	conns := h.users[user]
	if conns == nil {
		conns = make(map[*Conn]struct{})
		h.users[user] = conns
	}
	conns[c] = struct{}{}
	if res != nil {
		res.drop()
	}
	h.mu.Unlock()
	if err := h.syncSubscription(user); err != nil {
		h.drop(c)
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrUnsubscribed, err)
	}
	h.mu.Lock()
	if h.closed {
		// Run has closed the connections it found, this one among them,
		// and may be waiting for their goroutines already.
		h.mu.Unlock()
		h.drop(c)
		cancel()
		return nil, ErrClosed
	}
	h.wg.Add(1) // the reader; each writer adds itself (see Conn.startWriter)
	h.mu.Unlock()
	c.goLive(h.cfg.PingInterval)
	go func() {
		defer h.wg.Done()
		read(ctx, c)
		c.Close(CloseNormal, "")
		<-c.writerDone
		h.remove(c)
		if done != nil {
			done()
		}
	}()
	return c, nil
}

// drop takes c, which was never served, out of the hub.
func (h *Hub) drop(c *Conn) {
	h.mu.Lock()
	if conns := h.users[c.User]; conns != nil {
		delete(conns, c)
		if len(conns) == 0 {
			delete(h.users, c.User)
		}
	}
	h.mu.Unlock()
}

// remove takes c out of the hub, and unsubscribes from its user's events
// when it was their last connection here. A failed unsubscribe is logged:
// events that still arrive for the user find no connection.
func (h *Hub) remove(c *Conn) {
	h.drop(c)
	_ = h.syncSubscription(c.User)
}

// userSub is one user's subscription on this node.
type userSub struct {
	mu         sync.Mutex // held across the broker call that changes it
	subscribed bool       // guarded by mu
	holders    int        // those holding or waiting for mu; guarded by Hub.subMu
}

// lockSub locks user's subscription, made on first use.
func (h *Hub) lockSub(user chat.UserID) *userSub {
	h.subMu.Lock()
	s := h.subs[user]
	if s == nil {
		s = &userSub{}
		h.subs[user] = s
	}
	s.holders++
	h.subMu.Unlock()
	s.mu.Lock()
	return s
}

// unlockSub unlocks user's subscription, dropped when it is not
// subscribed and nobody else holds or waits for it.
func (h *Hub) unlockSub(user chat.UserID, s *userSub) {
	subscribed := s.subscribed
	s.mu.Unlock()
	h.subMu.Lock()
	if s.holders--; s.holders == 0 && !subscribed {
		delete(h.subs, user)
	}
	h.subMu.Unlock()
}

// syncSubscription subscribes to user's events while the user has a
// connection here, and unsubscribes when they have none: a node subscribes
// once per user, not once per connection. It returns the error of a
// subscribe the broker did not confirm (logged at most once per
// failureLogEvery); an unsubscribe's failure is only logged.
func (h *Hub) syncSubscription(user chat.UserID) error {
	sub := h.lockSub(user)
	defer h.unlockSub(user, sub)
	h.mu.Lock()
	want := len(h.users[user]) > 0
	h.mu.Unlock()
	if want == sub.subscribed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if want {
		if err := h.broker.Subscribe(ctx, user); err != nil {
			if n, ok := h.failures.Allow("subscribe"); ok {
				h.logger.Error("subscribe", "user_id", user, "err", err, "failures", n)
			}
			return err
		}
		sub.subscribed = true
		return nil
	}
	if err := h.broker.Unsubscribe(ctx, user); err != nil {
		if n, ok := h.failures.Allow("unsubscribe"); ok {
			h.logger.Error("unsubscribe", "user_id", user, "err", err, "failures", n)
		}
	}
	sub.subscribed = false
	return nil
}

// failureLogEvery is how often, at most, a failing subscribe (or
// unsubscribe) is logged: while the broker is away every connection fails
// it, and one line per connection would flood the log.
const failureLogEvery = 10 * time.Second

// Reservation is a place for one connection of a user on this node, held
// from before its handshake until the connection is served
// (Reservation.Serve) or the handshake fails (Release).
type Reservation struct {
	hub  *Hub
	user chat.UserID
	held bool // guarded by hub.mu
}

// Reserve holds a place for one more connection of user while its
// handshake is under way, and reports false, holding nothing, when user
// already has max connections open or reserved on this node: checking and
// counting are one step, so parallel handshakes cannot exceed the cap.
// max <= 0 means no cap.
func (h *Hub) Reserve(user chat.UserID, max int) (*Reservation, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if max > 0 && len(h.users[user])+h.reserved[user] >= max {
		return nil, false
	}
	h.reserved[user]++
	return &Reservation{hub: h, user: user, held: true}, true
}

// Release gives the place back. After Serve, or a first Release, it does
// nothing, so it can be deferred.
func (r *Reservation) Release() {
	r.hub.mu.Lock()
	defer r.hub.mu.Unlock()
	r.drop()
}

// drop gives the place back if it is still held; hub.mu is held.
func (r *Reservation) drop() {
	if !r.held {
		return
	}
	r.held = false
	h := r.hub
	if h.reserved[r.user]--; h.reserved[r.user] == 0 {
		delete(h.reserved, r.user)
	}
}

// Serve serves the connection the place was reserved for, as Hub.Serve
// does for its user. The place turns into the connection in the same step,
// so that the connection is never counted twice: a handshake of the same
// user right after this one sees one connection, not two.
func (r *Reservation) Serve(session string, socket Socket, hello []byte, read func(ctx context.Context, c *Conn), done func()) (*Conn, error) {
	return r.hub.serve(r.user, r, session, socket, hello, read, done)
}

// UserCount returns how many connections user has open on this node.
func (h *Hub) UserCount(user chat.UserID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.users[user])
}

// Count returns how many connections are open on this node.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, conns := range h.users {
		n += len(conns)
	}
	return n
}

// SlowClosed returns how many connections this node has closed because
// their clients did not keep up (close code 4000), since it started.
func (h *Hub) SlowClosed() int64 { return h.slowClosed.Load() }

// Delivered returns how many times this node has queued an event's frame
// to one of its connections, since it started: an event reaching three
// connections counts three.
func (h *Hub) Delivered() int64 { return h.delivered.Load() }
