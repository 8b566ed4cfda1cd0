package redis

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.ConnectionCounter = (*Connections)(nil)

// renewChunk is how many users one renewal script carries, so that a node
// with many users online never holds Redis up with one long script.
const renewChunk = 256

// Connections is chat.ConnectionCounter across nodes. Each user has a
// sorted set of the connection IDs holding a place, scored by when each
// place's lease runs out (Redis's clock, in Unix milliseconds); a place is
// live while its lease has not run out. Reserve is one Lua script that
// drops the lapsed places, counts the live ones and claims, so it is atomic
// across the cluster. The node renews the leases of the places it holds
// with heartbeats (Run), so the places of a node that dies free themselves
// within the lease time without anyone telling.
type Connections struct {
	rdb    *goredis.Client
	prefix string
	lease  time.Duration

	reserve, renew *goredis.Script

	mu sync.Mutex
	// held is the places this node holds, or may hold after a Reserve
	// whose answer was lost, by user: the heartbeat renews them.
	held map[chat.UserID]map[string]struct{}
}

// Connections returns the node's connection counter, whose places live for
// lease unless renewed; Run renews them every third of it.
func (c *Client) Connections(lease time.Duration) *Connections {
	return &Connections{
		rdb:     c.rdb,
		prefix:  c.prefix + "conns:",
		lease:   lease,
		reserve: goredis.NewScript(reserveConnScript),
		renew:   goredis.NewScript(renewConnScript),
		held:    make(map[chat.UserID]map[string]struct{}),
	}
}

func (c *Connections) key(user chat.UserID) string {
	return c.prefix + strconv.FormatInt(int64(user), 10)
}

// reserveConnScript claims a place (ARGV[1]) in a user's set (KEYS[1]) with
// a lease of ARGV[3] ms unless the set holds ARGV[2] live places already
// (ARGV[2] <= 0: no cap). It returns 1 when the place is held, 0 when it was
// refused. The key lives as long as its longest lease.
const reserveConnScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if max > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= max then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
`

// renewConnScript gives a fresh lease of ARGV[1] ms to places of several
// users: for each key in KEYS, ARGV holds the number of its places and
// then their IDs. A place that lapsed meanwhile (Redis was away longer than
// a lease) is claimed again: its connection is still open, and the cap
// counts open connections, so the user may be over the cap until enough of
// them close.
const renewConnScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local i = 2
for _, k in ipairs(KEYS) do
  local n = tonumber(ARGV[i])
  for j = 1, n do
    redis.call('ZADD', k, now + lease, ARGV[i + j])
  end
  i = i + n + 1
  if redis.call('PTTL', k) < lease then
    redis.call('PEXPIRE', k, lease)
  end
end
return 0
`

// Reserve claims a place for conn of user unless user holds max live
// places on all nodes together (max <= 0: no cap). It is one round trip.
// When Redis does not answer, the error wraps go-redis's, and conn is kept
// among the places this node renews: if the claim went through, or once
// Redis is back, it is counted like the others until Release.
func (c *Connections) Reserve(ctx context.Context, user chat.UserID, conn string, max int) (bool, error) {
	res, err := c.reserve.Run(ctx, c.rdb, []string{c.key(user)}, conn, max, c.lease.Milliseconds()).Int()
	if err != nil {
		c.hold(user, conn)
		return false, failed("redis connections", err)
	}
	if res != 1 {
		return false, nil
	}
	c.hold(user, conn)
	return true, nil
}

// hold records conn among the places this node renews.
func (c *Connections) hold(user chat.UserID, conn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held[user]
	if held == nil {
		held = make(map[string]struct{})
		c.held[user] = held
	}
	held[conn] = struct{}{}
}

// drop takes conn out of the places this node renews and reports whether
// it was among them.
func (c *Connections) drop(user chat.UserID, conn string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held[user]
	if _, ok := held[conn]; !ok {
		return false
	}
	delete(held, conn)
	if len(held) == 0 {
		delete(c.held, user)
	}
	return true
}

// Release gives back conn's place among user's, in one round trip. The
// node stops renewing it whether or not Redis answers: on an error (which
// wraps go-redis's) the place frees itself when its lease runs out.
func (c *Connections) Release(ctx context.Context, user chat.UserID, conn string) error {
	c.drop(user, conn)
	if err := c.rdb.ZRem(ctx, c.key(user), conn).Err(); err != nil {
		return failed("redis connections", err)
	}
	return nil
}

// Run renews the leases of this node's places every third of the lease
// time until ctx ends, and then gives them all back (within 2 s), so that
// a clean shutdown frees its users' places at once. A renewal that fails is
// logged; the next one tries again.
func (c *Connections) Run(ctx context.Context, logger *slog.Logger) {
	renew(ctx, logger, "connection places", c.lease, c.heartbeat, c.withdraw)
}

// snapshot returns a copy of the places this node holds.
func (c *Connections) snapshot() map[chat.UserID][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[chat.UserID][]string, len(c.held))
	for u, held := range c.held {
		conns := make([]string, 0, len(held))
		for conn := range held {
			conns = append(conns, conn)
		}
		out[u] = conns
	}
	return out
}

// heartbeat renews every place this node holds, renewChunk users per
// script. A place released while the renewal was on its way may have been
// claimed again by it: such places are given back once more afterwards.
func (c *Connections) heartbeat(ctx context.Context) error {
	places := c.snapshot()
	if len(places) == 0 {
		return nil
	}
	keys := make([]string, 0, renewChunk)
	args := []any{c.lease.Milliseconds()}
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		err := c.renew.Run(ctx, c.rdb, keys, args...).Err()
		keys, args = keys[:0], args[:1]
		return err
	}
	var err error
	for u, conns := range places {
		keys = append(keys, c.key(u))
		args = append(args, len(conns))
		for _, conn := range conns {
			args = append(args, conn)
		}
		if len(keys) == renewChunk {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush()
	}
	if rerr := c.forgetReleased(ctx, places); err == nil {
		err = rerr
	}
	if err != nil {
		return failed("redis connections", err)
	}
	return nil
}

// forgetReleased removes from Redis the places of renewed that this node
// no longer holds: they were released while a renewal was on its way.
func (c *Connections) forgetReleased(ctx context.Context, renewed map[chat.UserID][]string) error {
	gone := make(map[chat.UserID][]any)
	c.mu.Lock()
	for u, conns := range renewed {
		for _, conn := range conns {
			if _, ok := c.held[u][conn]; !ok {
				gone[u] = append(gone[u], conn)
			}
		}
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for u, conns := range gone {
			pipe.ZRem(ctx, c.key(u), conns...)
		}
		return nil
	})
	return err
}

// withdraw gives back every place this node holds.
func (c *Connections) withdraw() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.mu.Lock()
	held := c.held
	c.held = make(map[chat.UserID]map[string]struct{})
	c.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for u, conns := range held {
			members := make([]any, 0, len(conns))
			for conn := range conns {
				members = append(members, conn)
			}
			pipe.ZRem(ctx, c.key(u), members...)
		}
		return nil
	})
	return err
}
