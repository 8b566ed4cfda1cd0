package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
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

// bindingStore is the session store as the session manager sees it: each
// commit of a signed-in session also records (once: later commits change
// nothing) which user the session belongs to, so that all of a user's
// sessions can be ended together (sign out everywhere, a password change).
// Recording it here, where every session is committed, covers every way of
// signing in.
type bindingStore struct {
	scs.Store
	codec scs.Codec
	svc   *chat.Service
}

// FindCtx finds a session by its key.
func (b bindingStore) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
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

// CommitCtx records a signed-in session's user, then stores the session.
func (b bindingStore) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
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

// sessionGuard keeps a WebSocket from outliving its session.
//
// A socket is one long HTTP request: the session middleware saw it once,
// at the handshake. Rather than a sweep over the store, each connection
// knows its session's absolute deadline (which never moves) and its expiry
// in the store as of its last look (the idle deadline: scs stores a
// session with expiry min(deadline, last use + idle timeout) and extends it
// at every request). A timer wakes the connection at that expiry; it asks
// the store again (one indexed row, once per idle period at most, and only
// on the node holding the socket) and closes the socket with 4001 when the
// session is gone, else sleeps until the new expiry. A frame that changes
// something is carried out only when the session is alive: checked against
// the known deadlines, and against the store at most every recheck, which
// also catches a session deleted on another node whose event was lost.
//
// WebSocket activity keeps the session from going idle: a frame that reaches
// the store (at most every recheck) moves the session's expiry to
// min(deadline, now + idle timeout), as an HTTP request would. Someone
// chatting all day over the socket is therefore not signed out for
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

	mu     sync.Mutex
	expiry time.Time // the session's expiry in the store, as last seen
	// touched is when a frame last moved the expiry in the store. Only a
	// use sets it: were the watch's looks to set it too, a look just
	// before a frame would put the next move off past the expiry it saw.
	touched time.Time
	ended   bool
}

// newSessionGuard returns the guard of a session just seen at the handshake.
func newSessionGuard(svc *chat.Service, logger *slog.Logger, key string, deadline time.Time, idle time.Duration) *sessionGuard {
	now := time.Now()
	g := &sessionGuard{svc: svc, logger: logger, key: key, deadline: deadline, idle: idle, recheck: 5 * time.Second, expiry: deadline, touched: now}
	if idle > 0 {
		g.expiry = minTime(deadline, now.Add(idle))
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
// request's would.
func (g *sessionGuard) check(ctx context.Context, use bool) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.ended || !now.Before(g.deadline) {
		g.ended = true
		return false, nil
	}
	if use && now.Before(g.expiry) && now.Sub(g.touched) < g.recheck {
		return true, nil
	}
	var want time.Time // the zero time moves nothing
	if use {
		want = g.deadline
		if g.idle > 0 {
			want = minTime(g.deadline, now.Add(g.idle))
		}
	}
	expiry, alive, err := g.svc.TouchSession(ctx, g.key, want)
	if err != nil {
		return false, err
	}
	if !alive {
		g.ended = true
		return false, nil
	}
	g.expiry = expiry
	if use {
		g.touched = now
	}
	return true, nil
}

// isEnded reports whether the guard has seen the session end.
func (g *sessionGuard) isEnded() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ended
}

// watch closes c with 4001 once the session has ended, waking at the
// session's expiry as last seen, until ctx ends.
func (g *sessionGuard) watch(ctx context.Context, c *hub.Conn) {
	const slack = 50 * time.Millisecond // past the expiry, as the store judges it
	var retry time.Time                 // after a failed look at the store
	for {
		g.mu.Lock()
		at := minTime(g.expiry, g.deadline)
		g.mu.Unlock()
		if retry.After(at) {
			at = retry
		}
		t := time.NewTimer(time.Until(at) + slack)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		alive, err := g.check(ctx, false)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			g.logger.Warn("session check", "conn", c.ID, "err", err)
			retry = time.Now().Add(g.recheck)
		case !alive:
			c.Close(hub.CloseSessionEnded, "session ended")
			return
		default:
			retry = time.Time{}
		}
	}
}
