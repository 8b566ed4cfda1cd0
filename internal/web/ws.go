package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

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
// pong, for the WebSocket timeout (Config.WebSocketTimeout) is dropped.
func (s *server) handleWebSocket() http.Handler {
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
		if !originAllowed(r, s.trustedOrigins) {
			writeError(w, r, s.logger, chat.Errorf(chat.EFORBIDDEN, "origin %q is not allowed", r.Header.Get("Origin")))
			return
		}
		ctx := r.Context()
		id := chat.UserID(s.sessions.GetInt64(ctx, sessionUserKey))
		if id == 0 {
			writeError(w, r, s.logger, chat.Errorf(chat.EUNAUTHORIZED, "sign in first"))
			return
		}
		// The node's own count guards always; the cluster's is checked
		// after it, so that a handshake this node refuses costs Redis
		// nothing.
		reservation, ok := s.hub.Reserve(id, s.maxConns.max)
		if !ok {
			writeError(w, r, s.logger, errTooManyConns())
			return
		}
		defer reservation.Release() // unless served
		place, ok := s.maxConns.claim(ctx, s.logger, outages, id)
		if !ok {
			writeError(w, r, s.logger, errTooManyConns())
			return
		}
		served := false
		defer func() {
			if !served {
				place()
			}
		}()
		user, err := s.service.User(ctx, id)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		session := sessionID(s.sessions.Token(ctx))
		guard := newSessionGuard(s.service, s.logger, session, s.sessions.Deadline(ctx), s.sessions.IdleTimeout)
		hello, err := json.Marshal(wire.HelloFrame{Type: wire.TypeHello, User: wireUser(user), ServerTime: time.Now().UTC(), SessionIdleMS: s.sessions.IdleTimeout.Milliseconds()})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}

		var nc *corkConn
		ws, err := upgrader.Upgrade(corkingHijacker{ResponseWriter: w, conn: &nc, bufs: bufs}, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		sock := &socket{ws: ws, nc: nc}
		reader := &frameReader{logger: s.logger, frames: frameHandler{svc: s.service, user: id, session: guard}, ws: ws, sock: sock, timeout: s.wsTimeout}
		// Online before the hello is queued: a client that reads its
		// hello and asks who is online finds itself there.
		if err := s.service.Connected(context.WithoutCancel(ctx), id); err != nil {
			presenceOutages.log(context.WithoutCancel(ctx), s.logger, "connect", err)
		}
		disconnected := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.service.Disconnected(ctx, id); err != nil {
				presenceOutages.log(ctx, s.logger, "disconnect", err)
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
		s.logger.Debug("websocket opened", "user_id", id, "conn", c.ID)
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
