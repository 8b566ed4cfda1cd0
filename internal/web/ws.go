package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
	"github.com/parleychat/parley/internal/wire"
)

// WebSocket limits.
const (
	maxFrame   = 64 << 10    // bigger frames close the connection with 1009
	closeGrace = time.Second // time allowed to send a close frame
)

// EncodeEvent turns an event into the WebSocket frame its recipients get.
func EncodeEvent(ev chat.Event) ([]byte, error) {
	switch ev.Type {
	case chat.EventMessage:
		if ev.Message == nil {
			return nil, errors.New("message event without a message")
		}
		return json.Marshal(wire.MessageFrame{Type: wire.TypeMessage, Message: wireMessage(*ev.Message)})
	case chat.EventMessageUpdated:
		if ev.Message == nil {
			return nil, errors.New("message_updated event without a message")
		}
		return json.Marshal(wire.MessageFrame{Type: wire.TypeMessageUpdated, Message: wireMessage(*ev.Message)})
	case chat.EventTyping:
		return json.Marshal(wire.TypingFrame{Type: wire.TypeTyping, ConversationID: int64(ev.ConversationID), UserID: int64(ev.UserID)})
	case chat.EventRead:
		return json.Marshal(wire.ReadFrame{Type: wire.TypeRead, ConversationID: int64(ev.ConversationID), UserID: int64(ev.UserID), Seq: ev.Seq})
	case chat.EventPresence:
		return json.Marshal(wire.PresenceFrame{Type: wire.TypePresence, UserID: int64(ev.UserID), Online: ev.Online})
	case chat.EventUser:
		if ev.User == nil {
			return nil, errors.New("user event without a user")
		}
		return json.Marshal(wire.UserFrame{Type: wire.TypeUser, User: wireUser(*ev.User)})
	case chat.EventMember:
		return json.Marshal(wire.MemberFrame{Type: wire.TypeMember, ConversationID: int64(ev.ConversationID), UserID: int64(ev.UserID), Role: string(ev.Role), Change: string(ev.Change)})
	case chat.EventConversation:
		if ev.Conversation == nil {
			return nil, errors.New("conversation event without a conversation")
		}
		return json.Marshal(wire.ConversationFrame{Type: wire.TypeConversation, Conversation: wireConversation(*ev.Conversation)})
	case chat.EventResync:
		return json.Marshal(wire.ResyncFrame{Type: wire.TypeResync})
	}
	return nil, fmt.Errorf("no frame for event type %q", ev.Type)
}

// originAllowed reports whether a request's Origin header may act on this
// server: there is none (not a browser), or it is the server's own origin
// (serverOrigin: the same scheme, host and port, RFC 6454 §5), or one of
// trusted. An Origin that is not a serialized http or https origin ("null",
// a path, garbage) is refused.
func originAllowed(r *http.Request, trusted originSet) bool {
	h := r.Header.Get("Origin")
	if h == "" {
		return true
	}
	o, err := parseOrigin(h)
	if err != nil {
		return false
	}
	if self, ok := serverOrigin(r); ok && o == self {
		return true
	}
	return trusted[o]
}

// handleWebSocket upgrades to a WebSocket after checking the Origin, the
// session and the user's connection cap (see connCap): past the cap the
// handshake is answered 429 before the upgrade. The user is online (see
// chat.Service.Connected) before the hello frame is queued, so a client that
// has its hello finds itself online, and hello goes out only once the node
// is subscribed to the user's events (hub.Hub.Serve): when it cannot
// subscribe, the WebSocket closes with 1013 (try again later) instead, and
// the client reconnects. A connection closes with 4001 when its
// session ends (see sessionGuard). A peer that sends nothing, not even a
// pong, for timeout is dropped.
func handleWebSocket(logger *slog.Logger, svc *chat.Service, sm *scs.SessionManager, h *hub.Hub, trusted originSet, timeout time.Duration, capped connCap) http.Handler {
	upgrader := websocket.Upgrader{
		// 0: the library reads through the small reader corkingHijacker
		// hands it (see idleReadBuffer).
		ReadBufferSize:  0,
		WriteBufferSize: 1024,
		// Write buffers are taken from the pool per write, so an idle
		// connection holds none.
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		// The origin was checked before the upgrade, with a JSON answer.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	bufs := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gate := chat.NewLogGate(outageLogEvery)
	outages := &outageGate{gate: gate, msg: "websocket cap: cluster-wide count unavailable, this node's cap stands alone"}
	// Presence failures come once per socket while Redis is away.
	presenceOutages := &outageGate{gate: gate, msg: "presence unavailable"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !originAllowed(r, trusted) {
			writeError(w, r, logger, chat.Errorf(chat.EFORBIDDEN, "origin %q is not allowed", r.Header.Get("Origin")))
			return
		}
		ctx := r.Context()
		id := chat.UserID(sm.GetInt64(ctx, sessionUserKey))
		if id == 0 {
			writeError(w, r, logger, chat.Errorf(chat.EUNAUTHORIZED, "sign in first"))
			return
		}
		// The node's own count guards always; the cluster's is checked
		// after it, so that a handshake this node refuses costs Redis
		// nothing.
		reservation, ok := h.Reserve(id, capped.max)
		if !ok {
			writeError(w, r, logger, errTooManyConns())
			return
		}
		defer reservation.Release() // unless served
		place, ok := capped.claim(ctx, logger, outages, id)
		if !ok {
			writeError(w, r, logger, errTooManyConns())
			return
		}
		served := false
		defer func() {
			if !served {
				place()
			}
		}()
		user, err := svc.User(ctx, id)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		session := sessionID(sm.Token(ctx))
		guard := newSessionGuard(svc, logger, session, sm.Deadline(ctx), sm.IdleTimeout)
		hello, err := json.Marshal(wire.HelloFrame{Type: wire.TypeHello, User: wireUser(user), ServerTime: time.Now().UTC(), SessionIdleMS: sm.IdleTimeout.Milliseconds()})
		if err != nil {
			writeError(w, r, logger, err)
			return
		}

		var nc *corkConn
		ws, err := upgrader.Upgrade(corkingHijacker{ResponseWriter: w, conn: &nc, bufs: bufs}, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		sock := &socket{ws: ws, nc: nc}
		reader := &frameReader{logger: logger, frames: frameHandler{svc: svc, user: id, session: guard}, ws: ws, sock: sock, timeout: timeout}
		// Online before the hello is queued: a client that reads its
		// hello and asks who is online finds itself there.
		if err := svc.Connected(context.WithoutCancel(ctx), id); err != nil {
			presenceOutages.log(context.WithoutCancel(ctx), logger, "connect", err)
		}
		disconnected := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := svc.Disconnected(ctx, id); err != nil {
				presenceOutages.log(ctx, logger, "disconnect", err)
			}
		}
		c, err := reservation.Serve(session, sock, hello, reader.run, func() {
			disconnected()
			place()
		})
		if err != nil {
			// Shutting down, or this node cannot subscribe to the user's
			// events (its broker is away): the peer reconnects, to another
			// node or later, whether or not this close reaches it.
			code, reason := hub.CloseGoingAway, "server shutting down"
			if errors.Is(err, hub.ErrUnsubscribed) {
				code, reason = hub.CloseTryAgain, "cannot deliver events now: try again later"
			}
			_ = sock.Close(code, reason)
			disconnected()
			return
		}
		served = true
		// The connection is served and its user online.
		logger.Debug("websocket opened", "user_id", id, "conn", c.ID)
	})
}

// outageLogEvery is how often, at most, the cluster-wide connection count
// being unreachable is logged.
const outageLogEvery = 10 * time.Second

// errTooManyConns answers a handshake past the user's connection cap.
func errTooManyConns() error {
	return chat.Errorf(chat.ERATELIMITED, "too many open connections: close a tab")
}

// connCap is the per-user WebSocket cap: at most max connections of one
// user at once (max <= 0: no cap). The hub counts them on this node
// (hub.Hub.Reserve) and counter, when set, over every node of the cluster;
// a handshake needs a place in both. When counter cannot answer (its Redis
// is away), the node's own count stands alone: a user spread over n nodes
// may then hold up to n times max, never an unlimited number.
type connCap struct {
	max     int
	counter chat.ConnectionCounter
}

// claim takes a place for one more connection of user in the cluster's
// count and returns the func that gives it back (to call once, when the
// connection closes or the handshake fails), or false, holding nothing,
// when user holds max places already. With no cap or no counter it holds
// nothing and always succeeds. When the counter fails, the failure is
// logged (see outageGate) and the claim succeeds: the hub's count has checked
// this node's cap already.
func (cc connCap) claim(ctx context.Context, logger *slog.Logger, outages *outageGate, user chat.UserID) (release func(), ok bool) {
	if cc.max <= 0 || cc.counter == nil {
		return func() {}, true
	}
	conn := rand.Text()
	release = sync.OnceFunc(func() {
		// Not the request's context: the connection outlives the request,
		// and holds nothing of it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cc.counter.Release(ctx, user, conn); err != nil {
			outages.log(ctx, logger, "release", err)
		}
	})
	ok, err := cc.counter.Reserve(ctx, user, conn, cc.max)
	if err != nil {
		// A client that went away is no outage (a debug line); its
		// handshake fails on.
		outages.log(ctx, logger, "reserve", err)
		return release, true
	}
	if !ok {
		return nil, false // a refusal holds nothing
	}
	return release, true
}

// outageGate logs a dependency failing (the cluster-wide connection count,
// presence) as msg. Redis out of reach is a debug line: the Redis client's
// outage log says so once per 10 s and when it is back (see
// chat.Unreachable). Any other failure is a warning, through gate: at most
// one line per interval, saying how many failures it stands for.
type outageGate struct {
	gate *chat.LogGate
	msg  string
}

// log logs the failure of op (such as "reserve" or "connect"), a call made
// with ctx, with err.
func (g *outageGate) log(ctx context.Context, logger *slog.Logger, op string, err error) {
	if chat.Unreachable(ctx, err) {
		logger.DebugContext(ctx, g.msg, "op", op, "err", err)
		return
	}
	if failures, ok := g.gate.Allow(g.msg); ok {
		logger.WarnContext(ctx, g.msg, "op", op, "err", err, "failures", failures)
	}
}

// frameReader reads and carries out one connection's frames.
type frameReader struct {
	logger  *slog.Logger
	frames  frameHandler
	ws      *websocket.Conn
	sock    *socket
	timeout time.Duration
}

// run reads frames until the connection fails, the peer goes silent or
// ctx ends.
func (fr *frameReader) run(ctx context.Context, c *hub.Conn) {
	if g := fr.frames.session; g != nil {
		defer g.watch(ctx, c)()
	}
	fr.ws.SetReadLimit(maxFrame)
	// SetReadDeadline fails only on a closed connection, when reading
	// ends anyway.
	if fr.ws.SetReadDeadline(time.Now().Add(fr.timeout)) != nil {
		return
	}
	fr.ws.SetPongHandler(func(string) error {
		return fr.ws.SetReadDeadline(time.Now().Add(fr.timeout))
	})
	for {
		// Idle, the reader waits here, low on its stack, so that the
		// runtime can shrink the stack of a connection that sends nothing.
		if err := fr.sock.nc.awaitReadable(); err != nil {
			return
		}
		kind, data, err := fr.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// The library has sent the 1009 close frame.
				fr.sock.markClosed()
				c.Close(websocket.CloseMessageTooBig, "frame too large")
			}
			return
		}
		if fr.ws.SetReadDeadline(time.Now().Add(fr.timeout)) != nil {
			return
		}
		if kind != websocket.TextMessage {
			fr.reply(ctx, c, errorFrame(chat.Errorf(chat.EINVALID, "frames must be text"), ""), nil, nil)
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame that is not valid UTF-8 fails
			// the connection, with 1007 (§7.4.1).
			c.Close(websocket.CloseInvalidFramePayloadData, "text frame is not valid UTF-8")
			return
		}
		if reply, cause := fr.frames.carryOut(ctx, c.ID, data); reply != nil {
			fr.reply(ctx, c, reply, cause, data)
		}
		if g := fr.frames.session; g != nil && g.isEnded() {
			c.Close(hub.CloseSessionEnded, "session ended")
			return
		}
	}
}

// command is a client frame that decoded and passed its checks.
type command struct {
	Type           string
	ConversationID chat.ConversationID
	ClientID       string
	Body           string
	Seq            int64
}

// decodeCommand parses and checks one client frame. On error the command
// still carries the frame's client_id, when it had one, for the error frame.
func decodeCommand(data []byte) (command, error) {
	var f wire.ClientFrame
	if err := decodeObject(data, &f, "a frame"); err != nil {
		return command{}, err
	}
	cmd := command{Type: f.Type}
	if f.ClientID != nil {
		cmd.ClientID = *f.ClientID
	}
	switch f.Type {
	case wire.TypeSend, wire.TypeTyping, wire.TypeRead:
	case "":
		return cmd, chat.Errorf(chat.EINVALID, "frame has no type")
	default:
		return cmd, chat.Errorf(chat.EINVALID, "unknown frame type %q", f.Type)
	}
	if f.ConversationID == nil || *f.ConversationID <= 0 {
		return cmd, chat.Errorf(chat.EINVALID, "%s needs a positive conversation_id", f.Type)
	}
	cmd.ConversationID = chat.ConversationID(*f.ConversationID)
	switch {
	case f.Type == wire.TypeSend && f.Body == nil:
		return cmd, chat.Errorf(chat.EINVALID, "send needs a body")
	case f.Type == wire.TypeSend:
		cmd.Body = *f.Body
	case f.Type == wire.TypeRead && f.Seq == nil:
		return cmd, chat.Errorf(chat.EINVALID, "read needs a seq")
	case f.Type == wire.TypeRead:
		cmd.Seq = *f.Seq
	}
	return cmd, nil
}

// frameHandler carries out the frames of one user's connection.
type frameHandler struct {
	svc  *chat.Service
	user chat.UserID
	// session, when set, is checked before each frame is carried out.
	session *sessionGuard
}

// handle carries out one frame that arrived on connection conn and returns
// the frame to answer that connection with, or nil. Every failure is
// answered with an error frame; the connection stays open.
func (h frameHandler) handle(ctx context.Context, conn string, data []byte) any {
	reply, _ := h.carryOut(ctx, conn, data)
	return reply
}

// carryOut is handle that also returns, beside an error frame, the error it
// was made from: the cause to log when the frame says only "internal error".
func (h frameHandler) carryOut(ctx context.Context, conn string, data []byte) (reply any, cause error) {
	cmd, err := decodeCommand(data)
	if err != nil {
		return errorFrame(err, cmd.ClientID), err
	}
	if h.session != nil {
		// Nothing is carried out for a session that has ended; the
		// socket is closing with 4001.
		alive, err := h.session.active(ctx)
		if err == nil && !alive {
			err = chat.Errorf(chat.EUNAUTHORIZED, "session ended: sign in again")
		}
		if err != nil {
			return errorFrame(err, cmd.ClientID), err
		}
	}
	switch cmd.Type {
	case wire.TypeSend:
		m, _, err := h.svc.Send(ctx, h.user, chat.SendRequest{ConversationID: cmd.ConversationID, Body: cmd.Body, ClientID: cmd.ClientID, Conn: conn})
		if err != nil {
			return errorFrame(err, cmd.ClientID), err
		}
		return wire.AckFrame{Type: wire.TypeAck, ClientID: cmd.ClientID, Message: wireMessage(m)}, nil
	case wire.TypeTyping:
		err = h.svc.Typing(ctx, h.user, cmd.ConversationID)
	case wire.TypeRead:
		_, _, err = h.svc.MarkRead(ctx, h.user, cmd.ConversationID, cmd.Seq)
	}
	if err != nil {
		return errorFrame(err, ""), err
	}
	return nil, nil
}

func errorFrame(err error, clientID string) wire.ErrorFrame {
	return wire.ErrorFrame{
		Type:         wire.TypeError,
		Code:         chat.ErrorCode(err),
		Message:      chat.ErrorMessage(err),
		ClientID:     clientID,
		RetryAfterMS: retryAfterMS(chat.RetryAfter(err)),
	}
}

// retryAfterMS is d in whole milliseconds, rounded up, as the HTTP
// Retry-After header rounds up to whole seconds: a wait of any length above
// zero is at least 1, never 0 (which the frame would leave out).
func retryAfterMS(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// reply queues v, the reply to frame (the client's frame as it came, nil
// when it was not text), for this connection only. An internal error frame
// is logged with cause, the error it was made from (see carryOut): the peer
// sees only "internal error". A frame that failed only because the
// connection's ctx ended (the server closed the socket while frames were
// still buffered) is no internal failure, and is logged at debug level.
func (fr *frameReader) reply(ctx context.Context, c *hub.Conn, v any, cause error, frame []byte) {
	fr.logFailure(ctx, c.ID, v, cause, frame)
	b, err := json.Marshal(v)
	if err != nil {
		fr.logger.Error("encode frame", "err", err)
		return
	}
	c.Send(b)
}

// logFailure logs v, the reply to frame on connection conn, when it is an
// internal error frame: at error level with the frame's type and cause, or
// at debug level when cause is only ctx, the connection's context, having
// ended.
func (fr *frameReader) logFailure(ctx context.Context, conn string, v any, cause error, frame []byte) {
	e, ok := v.(wire.ErrorFrame)
	if !ok || e.Code != chat.EINTERNAL {
		return
	}
	typ := frameType(frame)
	if connEnded(ctx, cause) {
		fr.logger.Debug("websocket frame abandoned: connection closing", "user_id", fr.frames.user, "conn", conn, "frame_type", typ, "err", cause)
		return
	}
	fr.logger.Error("websocket frame failed", "user_id", fr.frames.user, "conn", conn, "frame_type", typ, "err", cause)
}

// frameType returns the type a client frame names, for the log: "" when
// it names none or does not decode. Only a frame that failed is decoded
// again for it.
func frameType(frame []byte) string {
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(frame, &f) != nil {
		return ""
	}
	return f.Type
}

// connEnded reports whether err is only ctx, the connection's context,
// having ended.
func connEnded(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// socket is a hub.Socket over a gorilla/websocket connection whose network
// connection can be corked, so that a batch of frames leaves in one write.
type socket struct {
	ws *websocket.Conn
	nc *corkConn

	mu        sync.Mutex
	closeSent bool // a close frame was sent, or can no longer be
}

// WriteFrames writes frames as text messages, flushed together in one write
// that gives up at deadline.
func (s *socket) WriteFrames(frames [][]byte, deadline time.Time) error {
	s.nc.cork()
	var err error
	for _, f := range frames {
		// Corked, this only fills the buffer: it does not touch the
		// network.
		if err = s.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			break
		}
	}
	if uerr := s.nc.uncork(deadline); err == nil {
		err = uerr
	}
	if err != nil {
		// Part of the batch may have left: the stream ends mid-frame, and
		// a close frame after it would read as garbage.
		s.markClosed()
	}
	return err
}

// Ping sends a ping that gives up at deadline.
func (s *socket) Ping(deadline time.Time) error {
	err := s.ws.WriteControl(websocket.PingMessage, nil, deadline)
	if err != nil {
		s.markClosed()
	}
	return err
}

// markClosed records that no close frame is to be sent: one was sent
// already, or the stream is broken.
func (s *socket) markClosed() {
	s.mu.Lock()
	s.closeSent = true
	s.mu.Unlock()
}

// Close sends a close frame (unless one was sent or the stream is broken)
// and closes the network connection.
func (s *socket) Close(code int, reason string) error {
	s.mu.Lock()
	send := !s.closeSent && code != hub.CloseAbnormal
	s.closeSent = true
	s.mu.Unlock()
	if send {
		// Best effort: a peer that does not take it within closeGrace
		// loses the connection all the same.
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	}
	return s.ws.Close()
}

// corkingHijacker hands the WebSocket library a network connection that
// can be corked.
type corkingHijacker struct {
	http.ResponseWriter
	conn **corkConn
	bufs *sync.Pool
}

// idleReadBuffer is the size of each connection's read buffer, held for as
// long as the connection is open: frame headers and small frames are read
// through it, larger payloads straight into the message.
const idleReadBuffer = 512

// Hijack hands over the connection with a reader of idleReadBuffer bytes
// (the library, asked for no size of its own, reads through it) instead
// of the server's larger one.
func (h corkingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c := &corkConn{Conn: nc, bufs: h.bufs}
	if brw.Reader.Buffered() == 0 {
		// Else the client sent frames before its handshake's answer: the
		// library refuses it.
		c.reader = bufio.NewReaderSize(c, idleReadBuffer)
		brw = bufio.NewReadWriter(c.reader, brw.Writer)
	}
	*h.conn = c
	return c, brw, nil
}

// corkConn is a net.Conn whose writes, while corked, gather in a buffer
// that uncork sends in one write.
type corkConn struct {
	net.Conn
	bufs   *sync.Pool
	reader *bufio.Reader // the WebSocket library reads through it

	mu     sync.Mutex
	corked bool
	buf    *bytes.Buffer
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		return c.buf.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.buf = c.bufs.Get().(*bytes.Buffer)
	c.mu.Unlock()
}

// uncork sends what gathered while corked in one write that gives up at
// deadline.
func (c *corkConn) uncork(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	var err error
	if buf.Len() > 0 {
		if err = c.Conn.SetWriteDeadline(deadline); err == nil {
			_, err = c.Conn.Write(buf.Bytes())
		}
	}
	if buf.Cap() <= 64<<10 { // keep pooled buffers small
		buf.Reset()
		c.bufs.Put(buf)
	}
	return err
}

// awaitReadable returns once the connection has bytes to read (in its
// reader or in the socket), or an error when its read deadline passes or it
// is closed. It parks the caller in the network poller, not in a read.
func (c *corkConn) awaitReadable() error {
	if c.reader == nil || c.reader.Buffered() > 0 {
		return nil
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return raw.Read(socketReadable)
}
