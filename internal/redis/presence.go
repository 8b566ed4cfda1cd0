package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Presence = (*Presence)(nil)

// Presence is chat.Presence across nodes. Each user has a sorted set of the
// nodes holding one of their connections, scored by when that node's claim
// expires; a user is online while any claim is live. Nodes renew their
// claims with heartbeats (Run), so the users of a node that dies go offline
// within the TTL without anyone telling.
type Presence struct {
	rdb    *goredis.Client
	prefix string
	node   string
	ttl    time.Duration

	connect, disconnect *goredis.Script

	mu    sync.Mutex
	local map[chat.UserID]int // connections per user on this node
}

// Presence returns the node's presence, whose claims live for ttl unless
// renewed.
func (c *Client) Presence(ttl time.Duration) *Presence {
	return &Presence{
		rdb:        c.rdb,
		prefix:     c.prefix + "presence:",
		node:       c.node,
		ttl:        ttl,
		connect:    goredis.NewScript(connectScript),
		disconnect: goredis.NewScript(disconnectScript),
		local:      make(map[chat.UserID]int),
	}
}

func (p *Presence) key(user chat.UserID) string {
	return p.prefix + strconv.FormatInt(int64(user), 10)
}

// connectScript claims a user for a node and reports whether no other live
// claim existed: the user was offline.
const connectScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then before = before - 1 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return before == 0 and 1 or 0
`

// disconnectScript drops a node's claim and reports whether no live claim
// is left: the user went offline.
const disconnectScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return redis.call('ZCARD', KEYS[1]) == 0 and 1 or 0
`

// Connect records a connection; the first on this node claims the user.
func (p *Presence) Connect(ctx context.Context, user chat.UserID) (bool, error) {
	p.mu.Lock()
	p.local[user]++
	first := p.local[user] == 1
	p.mu.Unlock()
	if !first {
		return false, nil
	}
	now := time.Now()
	res, err := p.connect.Run(ctx, p.rdb, []string{p.key(user)},
		p.node, now.UnixMilli(), now.Add(p.ttl).UnixMilli(), p.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis presence: %w", err)
	}
	return res == 1, nil
}

// Disconnect records a closed connection; the last on this node drops the
// node's claim.
func (p *Presence) Disconnect(ctx context.Context, user chat.UserID) (bool, error) {
	p.mu.Lock()
	n := p.local[user]
	if n == 0 {
		p.mu.Unlock()
		return false, nil
	}
	if n == 1 {
		delete(p.local, user)
	} else {
		p.local[user] = n - 1
	}
	p.mu.Unlock()
	if n > 1 {
		return false, nil
	}
	res, err := p.disconnect.Run(ctx, p.rdb, []string{p.key(user)}, p.node, time.Now().UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("redis presence: %w", err)
	}
	return res == 1, nil
}

// Online reports which users have a live claim, in one round trip.
func (p *Presence) Online(ctx context.Context, users []chat.UserID) (map[chat.UserID]bool, error) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	cmds := make([]*goredis.IntCmd, len(users))
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, u := range users {
			cmds[i] = pipe.ZCount(ctx, p.key(u), "("+now, "+inf")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis presence: %w", err)
	}
	online := make(map[chat.UserID]bool, len(users))
	for i, u := range users {
		online[u] = cmds[i].Val() > 0
	}
	return online, nil
}

// Run renews this node's claims every third of the TTL until ctx ends, and
// then withdraws them, so a clean shutdown takes its users offline at once.
func (p *Presence) Run(ctx context.Context, logger *slog.Logger) {
	renew(ctx, logger, "presence", p.ttl, p.heartbeat, p.withdraw)
}

// renew runs heartbeat every third of ttl until ctx ends, then withdraw:
// the loop by which a node keeps its expiring claims (presence, connection
// places) alive and gives them back at a clean shutdown. Failures are
// logged with what they are; a failed heartbeat is tried again at the next tick, and
// claims not withdrawn expire within ttl.
func renew(ctx context.Context, logger *slog.Logger, what string, ttl time.Duration, heartbeat func(context.Context) error, withdraw func() error) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := withdraw(); err != nil {
				logger.Warn("claims withdraw", "claims", what, "err", err, "expires_in", ttl)
			}
			return
		case <-t.C:
			if err := heartbeat(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("claims heartbeat", "claims", what, "err", err)
			}
		}
	}
}

func (p *Presence) users() []chat.UserID {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := make([]chat.UserID, 0, len(p.local))
	for u := range p.local {
		users = append(users, u)
	}
	return users
}

func (p *Presence) heartbeat(ctx context.Context) error {
	users := p.users()
	if len(users) == 0 {
		return nil
	}
	expiry := float64(time.Now().Add(p.ttl).UnixMilli())
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, u := range users {
			pipe.ZAdd(ctx, p.key(u), goredis.Z{Score: expiry, Member: p.node})
			pipe.PExpire(ctx, p.key(u), p.ttl)
		}
		return nil
	})
	return err
}

// withdraw takes back this node's claims on its users' presence.
func (p *Presence) withdraw() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	users := p.users()
	if len(users) == 0 {
		return nil
	}
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, u := range users {
			pipe.ZRem(ctx, p.key(u), p.node)
		}
		return nil
	})
	return err
}
