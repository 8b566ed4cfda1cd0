package storeguard

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Sessions returns s with every call run by g: within its deadline, its
// failures classified, an outage logged once (see Guard).
func (g *Guard) Sessions(s chat.SessionStore) chat.SessionStore {
	return guardedSessions{s: s, g: g}
}

type guardedSessions struct {
	s chat.SessionStore
	g *Guard
}

func (gs guardedSessions) FindExpiryCtx(ctx context.Context, token string) ([]byte, time.Time, bool, error) {
	return Do3(gs.g, ctx, func(ctx context.Context) ([]byte, time.Time, bool, error) { return gs.s.FindExpiryCtx(ctx, token) })
}

func (gs guardedSessions) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	return gs.g.Run(ctx, func(ctx context.Context) error { return gs.s.CommitCtx(ctx, token, data, expiry) })
}

func (gs guardedSessions) DeleteCtx(ctx context.Context, token string) error {
	return gs.g.Run(ctx, func(ctx context.Context) error { return gs.s.DeleteCtx(ctx, token) })
}

func (gs guardedSessions) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	return Do1(gs.g, ctx, func(ctx context.Context) (int64, error) { return gs.s.DeleteExpired(ctx, now) })
}
