package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// conv is one conversation of the run (direct, or a group in group mode)
// and what was acked in it.
type conv struct {
	id         int64
	members    []*user // members[0] started it (a group's admin)
	initialSeq int64   // last_seq before the run
	conns      []*conn // every member's connections

	mu    sync.Mutex
	acked map[int64]ackRec // by seq
}

// ackRec is an acked message, as its sender knows it.
type ackRec struct {
	clientID string
	conn     int
	sender   int64
	nanos    int64 // send time, also in the body
}

// pend is a send not yet acked.
type pend struct {
	n        int64 // order of sending on its connection
	clientID string
	body     string
	nanos    int64     // when it was due: its slot at -rate > 0 (however late it went), else its first send
	retryAt  time.Time // when a rate-limited send may be resent; zero otherwise
	retrying bool
	writes   int // times sent: more than one is a resend (reconnect, rate limit, unavailable)
}

// conn is one WebSocket connection, reconnecting until its context ends.
// Its run goroutine owns the socket's write side; one reader goroutine per
// socket reads. Fields under mu are shared by the two.
type conn struct {
	l     *loader
	k     int
	u     *user
	cv    *conv    // nil in idle mode
	local net.Addr // source address, or nil
	wake  chan struct{}
	// resync is signalled by the reader when a resync frame comes: the
	// session's catch-up goroutine fetches what may have been lost.
	resync chan struct{}
	sk     int // index among the sending connections, -1 for a receiver only

	slot int64 // rate mode: next send slot (run goroutine only)

	mu        sync.Mutex
	pending   map[string]*pend
	retrying  int   // pending sends waiting out a rate limit
	nextN     int64 // numbers client_ids
	frames    []int64
	sessions  []int // index in frames where each connection session starts
	own       []int64
	resentOwn map[int64]bool // own seqs acked after a resend: the server may publish them again, to this connection too
	caught    map[int64]bool // seqs learnt first by catch-up
	dups      int            // message frames for a seq already known
	dupAt     map[int]bool   // indexes in frames of those
	wm        int64          // every seq ≤ wm is known to this connection
	above     map[int64]bool // known seqs > wm
	drops     int
	connected bool  // open now
	upAtEnd   bool  // was open when the run ended it
	readErr   error // why the last session's reader stopped
}

// known reports whether the connection has seq already. c.mu is held.
func (c *conn) known(seq int64) bool { return seq <= c.wm || c.above[seq] }

// know records that the connection has seq (by frame, ack or catch-up)
// and moves the watermark. c.mu is held.
func (c *conn) know(seq int64) {
	if seq <= c.wm {
		return
	}
	if c.above == nil {
		c.above = map[int64]bool{}
	}
	c.above[seq] = true
	for c.above[c.wm+1] {
		delete(c.above, c.wm+1)
		c.wm++
	}
}

func (c *conn) notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run connects, serves and reconnects with backoff until ctx ends. ready
// is called after the first successful handshake.
func (c *conn) run(ctx, sendCtx context.Context, ready func()) {
	st := c.l.st
	first := true
	// behind: the connection dropped after it was first up, and has not
	// reconnected and caught up since (an outage's share).
	behind := false
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ws, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Full jitter, so that reconnect storms spread out.
			sleep(ctx, time.Duration(rand.Int64N(int64(backoff)))+backoff/2)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		st.open.Add(1)
		st.opened.Add(1)
		c.mu.Lock()
		c.connected = true
		c.sessions = append(c.sessions, len(c.frames))
		c.mu.Unlock()
		readerDone := make(chan struct{})
		hello := make(chan struct{})
		go func() {
			defer close(readerDone)
			c.read(ws, hello)
		}()
		// Resync frames are served beside the reader, so that a catch-up
		// waiting on the server does not stop the frames being read.
		sessCtx, endSession := context.WithCancel(ctx)
		resyncDone := make(chan struct{})
		go func() {
			defer close(resyncDone)
			c.serveResyncs(sessCtx, readerDone)
		}()

		// The server sends hello once the connection is registered for
		// events: only then is nothing sent from now on missed, so only
		// then may the catch-up (or the run) begin.
		ok := c.waitHello(ctx, hello, readerDone)
		switch {
		case !ok:
		case first:
			first = false
			ready()
		default:
			st.reconnects.Add(1)
			if err := c.catchUp(ctx); err != nil {
				ok = false
				if ctx.Err() == nil {
					st.addError("catch-up failed")
				}
			} else if behind {
				behind = false
				c.l.outages.caughtUp(time.Now())
			}
		}
		if ok {
			c.serve(ctx, sendCtx, ws, readerDone)
		}
		if ctx.Err() != nil {
			// A polite goodbye at the end of the run; the socket is closed next either way.
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
		}
		_ = ws.Close() // a failed close leaves nothing to retry; the reader sees the end
		<-readerDone
		endSession()
		<-resyncDone
		st.open.Add(-1)
		c.mu.Lock()
		c.connected = false
		readErr := c.readErr
		if ctx.Err() == nil {
			c.drops++
		} else {
			c.upAtEnd = true
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		st.drops.Add(1)
		st.addError(dropKind(readErr))
		if !first && !behind {
			behind = true
			c.l.outages.down(time.Now())
		}
		sleep(ctx, time.Duration(rand.Int64N(int64(backoff)))+backoff/2)
	}
}

// serveResyncs catches up each time the reader signals a resync frame,
// until the session ends; a catch-up that fails is tried again after a
// pause, as a client would.
func (c *conn) serveResyncs(ctx context.Context, readerDone <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-readerDone:
			return
		case <-c.resync:
		}
		for c.catchUp(ctx) != nil && ctx.Err() == nil {
			c.l.st.addError("resync catch-up failed")
			sleep(ctx, 100*time.Millisecond+time.Duration(rand.Int64N(int64(100*time.Millisecond))))
		}
	}
}

// waitHello waits for the session's hello frame; false when the socket
// failed first, ctx ended or none came within 10 s.
func (c *conn) waitHello(ctx context.Context, hello, readerDone <-chan struct{}) bool {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-hello:
		return true
	case <-readerDone:
	case <-ctx.Done():
	case <-t.C:
		c.l.st.addError("no hello")
	}
	return false
}

// dropKind names why a connection dropped, for the error counts.
func dropKind(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "ws drop: close " + strconv.Itoa(ce.Code)
	}
	return "ws drop: read error"
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// dial opens the WebSocket with the user's session cookie.
func (c *conn) dial(ctx context.Context) (*websocket.Conn, error) {
	select {
	case c.l.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.l.dialSem }()
	nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: c.local}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 10 * time.Second,
		Jar:              c.u.jar,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
	}
	ws, resp, err := d.DialContext(ctx, wsURL(c.u.base), nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if resp != nil {
			c.l.st.addError("ws handshake " + strconv.Itoa(resp.StatusCode))
			_ = resp.Body.Close() // the handshake failed already
		} else {
			c.l.st.addError("ws dial failed")
		}
		return nil, err
	}
	return ws, nil
}

// catchUp fetches the messages after the connection's watermark, as a
// client does after a reconnect or a resync frame.
func (c *conn) catchUp(ctx context.Context) error {
	if c.cv == nil {
		return nil
	}
	c.mu.Lock()
	after := c.wm
	c.mu.Unlock()
	return c.l.api.messagesAfter(ctx, c.u, c.cv.id, after, func(m wire.Message) {
		c.l.st.caughtUp.Add(1)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.known(m.Seq) {
			return
		}
		if c.caught == nil {
			c.caught = map[int64]bool{}
		}
		c.caught[m.Seq] = true
		c.know(m.Seq)
		if isRunClientID(c.l.runID, m.ClientID) {
			c.l.st.caughtNew.Add(1)
		}
	})
}

// serve is the write side of one connection session: resend what is
// pending, then send on schedule (or to keep the window full) until the
// reader stops or ctx ends.
func (c *conn) serve(ctx, sendCtx context.Context, ws *websocket.Conn, readerDone <-chan struct{}) {
	if c.cv == nil || c.sk < 0 {
		select {
		case <-ctx.Done():
		case <-readerDone:
		}
		return
	}
	c.mu.Lock()
	resend := make([]*pend, 0, len(c.pending))
	for _, p := range c.pending {
		resend = append(resend, p)
	}
	c.mu.Unlock()
	slices.SortFunc(resend, func(a, b *pend) int { return int(a.n - b.n) })
	for _, p := range resend {
		if err := c.write(ws, p); err != nil {
			return
		}
		c.l.st.resent.Add(1)
	}

	start := c.l.start
	select {
	case <-start:
		// A reconnect during the send phase.
		c.skipMissed(time.Now())
	default:
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sendDone := sendCtx.Done()
	for {
		var next time.Time
		var err error
		if start == nil && sendDone != nil {
			next, err = c.sendMore(ws, time.Now())
		}
		if err == nil {
			var at time.Time
			at, err = c.resendLimited(ws, time.Now())
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		if err != nil {
			return
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return
		case <-readerDone:
			return
		case <-start:
			start = nil
		case <-sendDone:
			sendDone = nil
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// frameWriter is the write side of a WebSocket (*websocket.Conn).
type frameWriter interface {
	SetWriteDeadline(t time.Time) error
	WriteMessage(messageType int, data []byte) error
}

// slotTime returns when the rate mode's send slot j of this connection is
// due: sending connection sk sends at connStart + j·interval, j = 0, 1,
// …, the connections' phases spread evenly over one interval.
func (c *conn) slotTime(j int64) time.Time {
	l := c.l
	n := float64(l.sendingConns)
	interval := float64(time.Second) * n / l.cfg.rate
	connStart := l.sendStart.Add(time.Duration(interval * float64(c.sk) / n))
	return connStart.Add(time.Duration(interval * float64(j)))
}

// skipMissed skips, counting them, the rate mode's slots that came while
// the connection was down: when it connects again (now), sending them
// would make a burst no client makes. Slots that come while it is up are
// sent however late (sendMore), so that the lag counts.
func (c *conn) skipMissed(now time.Time) {
	if c.l.cfg.rate == 0 {
		return
	}
	for {
		at := c.slotTime(c.slot)
		if !at.Before(now) || !at.Before(c.l.sendEnd) {
			return
		}
		c.slot++
		c.l.st.skipped.Add(1)
	}
}

// sendMore makes the sends that are due: in rate mode those whose slot
// has come, in window mode enough to fill the window. It returns when the
// next slot is due (rate mode).
//
// In rate mode a message's time (in its body, and for its send→ack
// latency) is its slot's, not the moment it went: a sender that falls
// behind its schedule (a write blocked by a server that stopped reading,
// a load process short of CPU) adds its lag to the latencies measured,
// as it would to a user's wait, instead of hiding it (no coordinated
// omission).
func (c *conn) sendMore(ws frameWriter, now time.Time) (time.Time, error) {
	l := c.l
	if !now.Before(l.sendEnd) {
		return time.Time{}, nil
	}
	if l.cfg.rate == 0 {
		for {
			c.mu.Lock()
			full := len(c.pending) >= l.cfg.window
			c.mu.Unlock()
			if full {
				return time.Time{}, nil
			}
			if err := c.sendNew(ws, time.Now().UnixNano()); err != nil {
				return time.Time{}, err
			}
		}
	}
	for {
		at := c.slotTime(c.slot)
		if at.After(now) || !at.Before(l.sendEnd) {
			if !at.Before(l.sendEnd) {
				return time.Time{}, nil
			}
			return at, nil
		}
		c.slot++
		c.mu.Lock()
		full := len(c.pending) >= l.cfg.maxPending
		c.mu.Unlock()
		if full {
			// The server is far behind: skipped, and counted.
			l.st.skipped.Add(1)
			continue
		}
		if err := c.sendNew(ws, at.UnixNano()); err != nil {
			return time.Time{}, err
		}
	}
}

// sendNew sends a new message with a fresh client_id, due at due (unix
// nanoseconds): its latencies are measured from then.
func (c *conn) sendNew(ws frameWriter, due int64) error {
	c.mu.Lock()
	p := &pend{
		n:        c.nextN,
		clientID: c.l.runID + "-" + strconv.Itoa(c.k) + "-" + strconv.FormatInt(c.nextN, 10),
		body:     makeBody(due, c.l.cfg.bodySize, c.l.vocabulary),
		nanos:    due,
	}
	c.nextN++
	c.pending[p.clientID] = p
	c.mu.Unlock()
	c.l.st.sent.Add(1)
	c.l.st.pending.Add(1)
	return c.write(ws, p)
}

// resendLimited resends the rate-limited sends whose wait is over and
// returns when the next one will be.
func (c *conn) resendLimited(ws frameWriter, now time.Time) (time.Time, error) {
	c.mu.Lock()
	if c.retrying == 0 {
		c.mu.Unlock()
		return time.Time{}, nil
	}
	var due []*pend
	var next time.Time
	for _, p := range c.pending {
		switch {
		case !p.retrying:
		case !p.retryAt.After(now):
			p.retrying = false
			c.retrying--
			due = append(due, p)
		case next.IsZero() || p.retryAt.Before(next):
			next = p.retryAt
		}
	}
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b *pend) int { return int(a.n - b.n) })
	for _, p := range due {
		if err := c.write(ws, p); err != nil {
			return time.Time{}, err
		}
		c.l.st.resent.Add(1)
	}
	return next, nil
}

// write sends p's send frame.
func (c *conn) write(ws frameWriter, p *pend) error {
	c.mu.Lock()
	p.writes++
	c.mu.Unlock()
	id := c.cv.id
	b, err := json.Marshal(wire.ClientFrame{Type: wire.TypeSend, ConversationID: &id, ClientID: &p.clientID, Body: &p.body})
	if err != nil {
		return err
	}
	if err := ws.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	return ws.WriteMessage(websocket.TextMessage, b)
}

// read reads one session's frames until the socket fails or is closed.
func (c *conn) read(ws *websocket.Conn, hello chan<- struct{}) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		var f wire.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.l.st.addError("undecodable frame")
			continue
		}
		switch f.Type {
		case wire.TypeHello:
			if hello != nil {
				close(hello)
				hello = nil
			}
		case wire.TypeMessage:
			c.onMessage(f)
		case wire.TypeAck:
			c.onAck(f)
		case wire.TypeError:
			c.onError(f)
		case wire.TypeResync:
			c.l.st.resyncs.Add(1)
			select {
			case c.resync <- struct{}{}:
			default: // a catch-up is asked for already; it reads from the watermark then
			}
		}
	}
}

// onMessage records a message frame: one delivery.
func (c *conn) onMessage(f wire.ServerFrame) {
	now := time.Now().UnixNano()
	l := c.l
	m, err := f.ChatMessage()
	if err != nil {
		l.st.addError("undecodable message frame")
		return
	}
	if c.cv == nil || m.ConversationID != c.cv.id || !isRunClientID(l.runID, m.ClientID) {
		l.st.foreign.Add(1)
		return
	}
	c.mu.Lock()
	dup := c.known(m.Seq)
	if dup {
		if c.caught[m.Seq] {
			l.st.duplicatedCaught.Add(1)
		}
		c.dups++
		if c.dupAt == nil {
			c.dupAt = map[int]bool{}
		}
		c.dupAt[len(c.frames)] = true
	}
	c.frames = append(c.frames, m.Seq)
	c.know(m.Seq)
	c.mu.Unlock()
	if dup {
		// Delivery is at least once: a client drops a message it has by
		// (conversation, seq). Counted, not measured.
		l.st.duplicated.Add(1)
		return
	}
	l.st.delivered.Add(1)
	if nanos := bodyNanos(m.Body); nanos >= l.measureNanos.Load() {
		l.st.deliveredMeasured.Add(1)
		l.st.deliverH.record(c.k, (now-nanos)/1000)
	}
}

// isRunClientID reports whether a client_id was made by this run.
func isRunClientID(runID, id string) bool {
	return len(id) > len(runID) && id[:len(runID)] == runID && id[len(runID)] == '-'
}

// onAck records the ack of one of this connection's sends.
func (c *conn) onAck(f wire.ServerFrame) {
	now := time.Now().UnixNano()
	l := c.l
	m, err := f.ChatMessage()
	if err != nil {
		l.st.addError("undecodable ack frame")
		return
	}
	c.mu.Lock()
	p := c.pending[f.ClientID]
	if p == nil {
		c.mu.Unlock()
		l.probs.add(problem{Kind: "unexpected ack", ConversationID: m.ConversationID, Seq: m.Seq, Conn: c.k, User: c.u.name, Detail: "client_id " + f.ClientID})
		return
	}
	delete(c.pending, f.ClientID)
	if p.retrying {
		p.retrying = false
		c.retrying--
	}
	c.own = append(c.own, m.Seq)
	if p.writes > 1 {
		if c.resentOwn == nil {
			c.resentOwn = map[int64]bool{}
		}
		c.resentOwn[m.Seq] = true
	}
	c.know(m.Seq)
	c.mu.Unlock()
	c.notify()

	l.st.pending.Add(-1)
	l.st.acked.Add(1)
	if p.nanos >= l.measureNanos.Load() {
		l.st.ackedMeasured.Add(1)
		l.st.ackH.record(c.k, (now-p.nanos)/1000)
	}
	if m.ConversationID != c.cv.id || m.ClientID != p.clientID || m.SenderID != c.u.id || m.Body != p.body {
		l.probs.add(problem{Kind: "ack mismatch", ConversationID: m.ConversationID, Seq: m.Seq, Conn: c.k, User: c.u.name,
			Detail: fmt.Sprintf("sent client_id %s in conversation %d, acked client_id %s sender %d body %.40q", p.clientID, c.cv.id, m.ClientID, m.SenderID, m.Body)})
		return
	}
	cv := c.cv
	cv.mu.Lock()
	prev, dup := cv.acked[m.Seq]
	if !dup {
		cv.acked[m.Seq] = ackRec{clientID: p.clientID, conn: c.k, sender: c.u.id, nanos: p.nanos}
	}
	cv.mu.Unlock()
	if dup {
		l.probs.add(problem{Kind: "seq acked twice", ConversationID: cv.id, Seq: m.Seq, Conn: c.k, User: c.u.name,
			Detail: fmt.Sprintf("client_ids %s (conn %d) and %s", prev.clientID, prev.conn, p.clientID)})
		return
	}
	l.st.expectedDeliv.Add(int64(len(cv.conns) - 1))
}

// onError records an error frame; a rate-limited send, or one the server
// could not take (unavailable: its database or broker is down or slow),
// is resent with the same client_id after the wait the server asks for;
// other refused sends are given up.
func (c *conn) onError(f wire.ServerFrame) {
	c.l.st.addError("frame " + f.Code)
	if f.ClientID == "" {
		return
	}
	c.mu.Lock()
	p := c.pending[f.ClientID]
	if p == nil {
		c.mu.Unlock()
		return
	}
	if f.Code == "rate_limited" || f.Code == "unavailable" {
		if !p.retrying {
			p.retrying = true
			c.retrying++
		}
		p.retryAt = time.Now().Add(max(time.Duration(f.RetryAfterMS)*time.Millisecond, 10*time.Millisecond))
		c.mu.Unlock()
		c.notify()
		return
	}
	delete(c.pending, f.ClientID)
	if p.retrying {
		c.retrying--
	}
	c.mu.Unlock()
	c.l.st.pending.Add(-1)
	c.l.st.failed.Add(1)
	c.notify()
}
