package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
)

// sessionID is the key under which the session store keeps the session
// with the given token: scs's hash of it (HashTokenInStore), so that the
// store's rows name sessions without holding usable tokens. It names a
// session to the hub (its connections close when it ends, on every node)
// and in the user_sessions table.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// idleRefresh is how stale a session's stored expiry may grow before use
// moves it: a request or frame writes the session's row only when the
// expiry it would set is more than this past the stored one. Reads then
// write at most once per idleRefresh per session, however often they
// come; the price is that a session ends between idle − idleRefresh and
// idle after its last use. A short idle timeout (tests, strict
// deployments) gets a proportionate slack.
func idleRefresh(idle time.Duration) time.Duration {
	return min(5*time.Minute, idle/8)
}

// idleExpiry is the expiry that use at now gives a session with the given
// absolute deadline and idle timeout (0 for none), as scs computes it.
func idleExpiry(now, deadline time.Time, idle time.Duration) time.Time {
	if idle <= 0 {
		return deadline
	}
	return minTime(deadline, now.Add(idle))
}

// expiryFinder is a session store that can say, with a session's data,
// when it expires as stored (the SQLite and PostgreSQL stores can).
type expiryFinder interface {
	FindExpiryCtx(ctx context.Context, key string) (data []byte, expiry time.Time, found bool, err error)
}

// loadedKey is the context key of a request's *loadedSession.
type loadedKey struct{}

// loadedSession is the session row a request loaded: its key, data and
// stored expiry. It is the request's own (one per request, set up by
// loadAndSave), so it needs no lock.
type loadedSession struct {
	key    string
	data   []byte
	expiry time.Time
}

// loadAndSave is sm.LoadAndSave with room in each request's context for
// what the store loaded, so that bindingStore can leave a session that
// did not change, and whose stored expiry is fresh, unwritten (scs marks
// every session loaded under an idle timeout modified, to move its
// expiry: without this, every request, GETs and WebSocket handshakes
// included, would write its session's row).
func loadAndSave(sm *scs.SessionManager, next http.Handler) http.Handler {
	h := sm.LoadAndSave(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loadedKey{}, &loadedSession{})))
	})
}

// bindingStore is the session store as the session manager sees it: each
// commit of a signed-in session also records (once: later commits change
// nothing) which user the session belongs to, so that all of a user's
// sessions can be ended together (sign out everywhere, a password change).
// Recording it here, where every session is committed, covers every way of
// signing in.
//
// A commit that would change nothing but move the expiry by less than
// refresh (see idleRefresh) is skipped, when the store can say what it
// holds (expiryFinder) and the request went through loadAndSave.
type bindingStore struct {
	scs.Store
	codec   scs.Codec
	svc     *chat.Service
	refresh time.Duration
}

// FindCtx finds a session by its key.
func (b bindingStore) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	if f, ok := b.Store.(expiryFinder); ok {
		data, expiry, found, err := f.FindExpiryCtx(ctx, key)
		if l, ok := ctx.Value(loadedKey{}).(*loadedSession); ok && found && err == nil {
			*l = loadedSession{key: key, data: data, expiry: expiry}
		}
		return data, found, err
	}
	if c, ok := b.Store.(scs.CtxStore); ok {
		return c.FindCtx(ctx, key)
	}
	return b.Find(key)
}

// DeleteCtx deletes a session by its key.
func (b bindingStore) DeleteCtx(ctx context.Context, key string) error {
	if c, ok := b.Store.(scs.CtxStore); ok {
		return c.DeleteCtx(ctx, key)
	}
	return b.Delete(key)
}

// CommitCtx records a signed-in session's user, then stores the session,
// unless the store holds it already with these contents and an expiry
// less than refresh short of this one.
//
// A commit that only moves the expiry of a session the request loaded is
// not worth failing the request for: when the database cannot take it
// (EUNAVAILABLE: full, locked, read-only, unreachable; the store logs the
// outage) the session stays as stored, still unexpired, and the request
// goes on, so reads keep working while writes cannot.
func (b bindingStore) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	l, _ := ctx.Value(loadedKey{}).(*loadedSession)
	refreshOnly := l != nil && l.key == key && b.same(l.data, data)
	if refreshOnly && !l.expiry.Before(expiry.Add(-b.refresh)) {
		return nil
	}
	err := b.commit(ctx, key, data, expiry)
	if refreshOnly && chat.ErrorCode(err) == chat.EUNAVAILABLE {
		return nil
	}
	if err == nil && l != nil && l.key == key {
		*l = loadedSession{key: key, data: data, expiry: expiry}
	}
	return err
}

// commit binds a signed-in session to its user and stores it.
func (b bindingStore) commit(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if b.svc != nil {
		deadline, values, err := b.codec.Decode(data)
		if err != nil {
			return err
		}
		if id, ok := values[sessionUserKey].(int64); ok && id != 0 {
			if err := b.svc.BindSession(ctx, chat.UserID(id), key, deadline); err != nil {
				return err
			}
		}
	}
	if c, ok := b.Store.(scs.CtxStore); ok {
		return c.CommitCtx(ctx, key, data, expiry)
	}
	return b.Commit(key, data, expiry)
}

// same reports whether two encodings hold the same session: the same
// bytes, or (a map's encoding need not be in a fixed order) the same
// deadline and values once decoded.
func (b bindingStore) same(stored, data []byte) bool {
	if bytes.Equal(stored, data) {
		return true
	}
	d1, v1, err1 := b.codec.Decode(stored)
	d2, v2, err2 := b.codec.Decode(data)
	return err1 == nil && err2 == nil && d1.Equal(d2) && reflect.DeepEqual(v1, v2)
}

// sessionGuard keeps a WebSocket from outliving its session.
//
// A socket is one long HTTP request: the session middleware saw it once,
// at the handshake. Rather than a sweep over the store, each connection
// knows its session's absolute deadline (which never moves) and its expiry
// in the store as of its last look (the idle deadline: the store holds a
// session with expiry min(deadline, last use + idle timeout), moved by use
// at most every idleRefresh). A timer wakes the connection at that expiry;
// it asks the store again (one indexed row, once per expiry at most, and
// only on the node holding the socket) and closes the socket with 4001
// when the session is gone, else sleeps until the new expiry. A frame that
// changes something is carried out only when the session is alive:
// checked against the known deadlines, and against the store at most
// every recheck, which also catches a session deleted on another node
// whose event was lost.
//
// WebSocket activity keeps the session from going idle, as HTTP requests
// do: a frame moves the session's expiry to min(deadline, now + idle
// timeout) when the expiry known is more than idleRefresh short of that,
// so a socket in use writes its session at most once per idleRefresh.
// Someone chatting all day over the socket is therefore not signed out for
// idleness; an open tab nobody uses (pings and pongs are not activity) is,
// and so is every session at its absolute deadline. A store update that
// only moves an unexpired row's expiry forward cannot bring back a session
// that ended meanwhile.
type sessionGuard struct {
	svc      *chat.Service
	logger   *slog.Logger
	key      string        // the session's key in the store
	deadline time.Time     // the absolute deadline
	idle     time.Duration // the idle timeout; 0 for none
	recheck  time.Duration // the longest a frame goes without asking the store
	refresh  time.Duration // how stale the stored expiry may grow before a frame moves it

	// handshake is the expiry the handshake's commit may have set: when
	// the session was fresh it wrote nothing, leaving the stored expiry up
	// to refresh short of it. Frames judge whether moving the expiry is
	// due against the later of it and expiry, so that the first frames
	// after the handshake do not write.
	handshake time.Time

	mu     sync.Mutex
	expiry time.Time // the session's expiry in the store, as last seen (at first, the earliest it can be)
	looked time.Time // when the store was last asked
	ended  bool
}

// newSessionGuard returns the guard of a session just seen at the handshake.
func newSessionGuard(svc *chat.Service, logger *slog.Logger, key string, deadline time.Time, idle time.Duration) *sessionGuard {
	now := time.Now()
	g := &sessionGuard{svc: svc, logger: logger, key: key, deadline: deadline, idle: idle, recheck: 5 * time.Second, refresh: idleRefresh(idle), looked: now}
	g.handshake = idleExpiry(now, deadline, idle)
	g.expiry = g.handshake.Add(-g.refresh)
	if idle > 0 {
		g.recheck = min(g.recheck, idle/2)
	}
	return g
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// active reports whether the session is alive for a frame that the user
// sent, which counts as use of the session.
func (g *sessionGuard) active(ctx context.Context) (bool, error) {
	return g.check(ctx, true)
}

// check reports whether the session is alive, asking the store when what
// the guard knows is stale; with use, the store's expiry moves as a
// request's would (when it is more than refresh short of where use puts
// it).
func (g *sessionGuard) check(ctx context.Context, use bool) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.ended || !now.Before(g.deadline) {
		g.ended = true
		return false, nil
	}
	var want time.Time // the zero time moves nothing
	if use {
		known := g.expiry
		if known.Before(g.handshake) {
			known = g.handshake
		}
		if target := idleExpiry(now, g.deadline, g.idle); known.Before(target.Add(-g.refresh)) {
			want = target
		}
	}
	if use && want.IsZero() && now.Before(g.expiry) && now.Sub(g.looked) < g.recheck {
		return true, nil
	}
	expiry, alive, err := g.svc.TouchSession(ctx, g.key, want)
	if err != nil {
		return false, err
	}
	if !alive {
		g.ended = true
		return false, nil
	}
	g.expiry, g.looked = expiry, now
	return true, nil
}

// isEnded reports whether the guard has seen the session end.
func (g *sessionGuard) isEnded() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ended
}

// watch closes c with 4001 once the session has ended, looking at the
// store at the session's expiry as last seen, until stop is called (stop
// waits for a look under way). No goroutine waits meanwhile: a timer runs
// each look, so that an idle connection holds no stack for it.
func (g *sessionGuard) watch(ctx context.Context, c *hub.Conn) (stop func()) {
	w := &sessionWatch{g: g, c: c, ctx: ctx}
	w.mu.Lock()
	w.timer = time.AfterFunc(w.next(), w.look)
	w.mu.Unlock()
	return w.stop
}

// sessionWatch is one connection's watch over its session (see
// sessionGuard.watch).
type sessionWatch struct {
	g   *sessionGuard
	c   *hub.Conn
	ctx context.Context // the connection's, for its values only

	mu         sync.Mutex // guards what follows
	stopped    bool
	timer      *time.Timer
	cancelLook context.CancelFunc // ends the look under way, if any

	running sync.Mutex // held by a look under way
	retry   time.Time  // after a failed look at the store; guarded by running
}

// next is how long to wait for the next look.
func (w *sessionWatch) next() time.Duration {
	const slack = 50 * time.Millisecond // past the expiry, as the store judges it
	w.g.mu.Lock()
	at := minTime(w.g.expiry, w.g.deadline)
	w.g.mu.Unlock()
	if w.retry.After(at) {
		at = w.retry
	}
	return time.Until(at) + slack
}

// look asks the store whether the session is alive: it closes the
// connection if not, else sets the timer for the next look.
func (w *sessionWatch) look() {
	w.running.Lock()
	defer w.running.Unlock()
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	// Made per look, not per connection: a context that lives as long as
	// the connection would hold memory all that time. Not a child of the
	// connection's either, which would keep a map of its children: stop
	// cancels it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(w.ctx))
	defer cancel()
	w.cancelLook = cancel
	w.mu.Unlock()
	alive, err := w.g.check(ctx, false)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		w.g.logger.Warn("session check", "conn", w.c.ID, "err", err)
		w.retry = time.Now().Add(w.g.recheck)
	case !alive:
		w.c.Close(hub.CloseSessionEnded, "session ended")
		return
	default:
		w.retry = time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancelLook = nil
	if !w.stopped {
		w.timer.Reset(w.next())
	}
}

// stop ends the watch, and waits for a look under way, which it cancels.
func (w *sessionWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	if w.cancelLook != nil {
		w.cancelLook()
	}
	w.mu.Unlock()
	w.running.Lock()
	//lint:ignore SA2001 taking the lock was waiting for the look under way to end
	w.running.Unlock()
}
