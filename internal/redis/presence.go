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

var _ chat.PresenceSweeper = (*Presence)(nil)

// Presence is chat.PresenceSweeper across nodes. Each user has a sorted
// set of the nodes holding one of their connections, scored by when that
// node's claim expires (ms since the epoch); a user is online while any
// claim is live. Nodes renew their claims with heartbeats (Run), so the
// users of a node that dies go offline within the TTL; Sweep finds them.
//
// Two indexes serve the sweep, kept by the same scripts as the claims:
// "expiries", every user with a claim scored by their latest claim's
// expiry (an entry is dropped when the user's last claim is withdrawn or
// swept), and "nodes", every node scored by when its registration
// expires (renewed with its claims, dropped at a clean shutdown or when
// swept), with per node the set of users it holds claims for ("node:ID",
// dropped with the registration). All live in one Redis: the scripts name
// users' keys from their IDs.
type Presence struct {
	rdb    *goredis.Client
	prefix string
	node   string
	ttl    time.Duration

	connect, disconnect, renewClaims, sweepUsers, sweepNode *goredis.Script

	mu    sync.Mutex
	local map[chat.UserID]int // connections per user on this node
	// revived are users this node holds connections of whose claims a
	// heartbeat found gone; the next Sweep reports them online.
	revived map[chat.UserID]struct{}
}

// Presence returns the node's presence, whose claims live for ttl unless
// renewed.
func (c *Client) Presence(ttl time.Duration) *Presence {
	return &Presence{
		rdb:         c.rdb,
		prefix:      c.prefix + "presence:",
		node:        c.node,
		ttl:         ttl,
		connect:     goredis.NewScript(connectScript),
		disconnect:  goredis.NewScript(disconnectScript),
		renewClaims: goredis.NewScript(renewScript),
		sweepUsers:  goredis.NewScript(sweepUsersScript),
		sweepNode:   goredis.NewScript(sweepNodeScript),
		local:       make(map[chat.UserID]int),
		revived:     make(map[chat.UserID]struct{}),
	}
}

func (p *Presence) key(user chat.UserID) string {
	return p.prefix + strconv.FormatInt(int64(user), 10)
}

// expiries is the sorted set of users by their latest claim's expiry.
func (p *Presence) expiries() string { return p.prefix + "expiries" }

// nodes is the sorted set of nodes by their registration's expiry.
func (p *Presence) nodes() string { return p.prefix + "nodes" }

// nodeUsers is the set of users node holds claims for.
func (p *Presence) nodeUsers(node string) string { return p.prefix + "node:" + node }

// nodeUsersTTL is how long a node's set of users outlives its last
// renewal: long enough for a surviving node to sweep the registration
// (within 4/3 of the TTL), while a set nobody sweeps (the whole cluster
// stopped) still goes.
func (p *Presence) nodeUsersTTL() int64 { return 10 * p.ttl.Milliseconds() }

// connectScript claims a user (ARGV[5]) for a node (ARGV[1]) until
// ARGV[3], registers the node until then, and reports whether no other
// live claim existed: the user was offline. KEYS: the user's claims,
// expiries, nodes, the node's users.
const connectScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then before = before - 1 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[3], 'GT', ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('PEXPIRE', KEYS[4], ARGV[6])
return before == 0 and 1 or 0
`

// disconnectScript drops a node's (ARGV[1]) claim on a user (ARGV[3]) and
// reports whether no live claim is left: the user went offline. The
// user's entry in expiries follows their latest live claim, or goes.
// KEYS: the user's claims, expiries, the node's users.
const disconnectScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
redis.call('ZADD', KEYS[2], top[2], ARGV[3])
return 0
`

// renewScript renews a node's (ARGV[1]) registration and its claims on
// the users ARGV[7:] until ARGV[3]. A claim that is gone (withdrawn by a
// racing Disconnect, or expired and swept) is not made again: those users
// are returned, for the node to claim them anew if it still holds them.
// KEYS: expiries, nodes, the node's users; ARGV[6] starts users' keys.
const renewScript = `
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local missing = {}
for i = 7, #ARGV do
  local u = ARGV[i]
  local k = ARGV[6] .. u
  local score = redis.call('ZSCORE', k, ARGV[1])
  if score and tonumber(score) > tonumber(ARGV[2]) then
    redis.call('ZADD', k, ARGV[3], ARGV[1])
    redis.call('PEXPIRE', k, ARGV[4])
    redis.call('ZADD', KEYS[1], 'GT', ARGV[3], u)
    redis.call('SADD', KEYS[3], u)
  else
    missing[#missing + 1] = u
  end
end
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return missing
`

// sweepUsersScript takes up to ARGV[2] users due in expiries (ARGV[1] is
// now): those with no live claim left are dropped from it and returned;
// the others are rescored by their latest live claim. It returns the users
// gone offline and how many were due. KEYS: expiries; ARGV[3] starts
// users' keys.
const sweepUsersScript = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local gone = {}
for _, u in ipairs(due) do
  local k = ARGV[3] .. u
  redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], u)
    gone[#gone + 1] = u
  else
    redis.call('ZADD', KEYS[1], top[2], u)
  end
end
return {gone, #due}
`

// sweepNodeScript takes one node whose registration expired (ARGV[1] is
// now), dropping it and its set of users, and returns {1, users}; {0}
// when there is none. KEYS: nodes; ARGV[2] starts nodes' user sets.
const sweepNodeScript = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #dead == 0 then return {0} end
redis.call('ZREM', KEYS[1], dead[1])
local k = ARGV[2] .. dead[1]
local users = redis.call('SMEMBERS', k)
redis.call('DEL', k)
return {1, users}
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
	return p.claim(ctx, user)
}

// claim runs connectScript for user.
func (p *Presence) claim(ctx context.Context, user chat.UserID) (bool, error) {
	now := time.Now()
	res, err := p.connect.Run(ctx, p.rdb, []string{p.key(user), p.expiries(), p.nodes(), p.nodeUsers(p.node)},
		p.node, now.UnixMilli(), now.Add(p.ttl).UnixMilli(), p.ttl.Milliseconds(), int64(user), p.nodeUsersTTL()).Int()
	if err != nil {
		return false, failed("redis presence", err)
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
	res, err := p.disconnect.Run(ctx, p.rdb, []string{p.key(user), p.expiries(), p.nodeUsers(p.node)},
		p.node, time.Now().UnixMilli(), int64(user)).Int()
	if err != nil {
		return false, failed("redis presence", err)
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
		return nil, failed("redis presence", err)
	}
	online := make(map[chat.UserID]bool, len(users))
	for i, u := range users {
		online[u] = cmds[i].Val() > 0
	}
	return online, nil
}

// Run renews this node's registration and claims every third of the TTL
// until ctx ends, and then withdraws them, so a clean shutdown takes its
// users offline at once and is not taken for a node's death.
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
				// Redis out of reach is the client's outage log's to
				// report, once per 10 s for every caller.
				level := slog.LevelWarn
				if unreachable(err) {
					level = slog.LevelDebug
				}
				logger.Log(ctx, level, "claims heartbeat", "claims", what, "err", err)
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

// renewBatch is the most users one renewal script takes, and sweepBatch
// the most due users one sweep script takes, so that no script holds
// Redis for long.
const (
	renewBatch = 500
	sweepBatch = 500
)

// heartbeat renews this node's registration and its claims on its users.
// A user whose claim is gone although the node still holds them (it could
// not renew in time: a stall, Redis away) is claimed anew; if nobody else
// claimed them, they had gone offline, and the next Sweep reports them
// online.
func (p *Presence) heartbeat(ctx context.Context) error {
	users := p.users()
	now := time.Now()
	keys := []string{p.expiries(), p.nodes(), p.nodeUsers(p.node)}
	var missing []string
	for start := 0; start == 0 || start < len(users); start += renewBatch {
		batch := users[start:min(start+renewBatch, len(users))]
		args := make([]any, 0, 6+len(batch))
		args = append(args, p.node, now.UnixMilli(), now.Add(p.ttl).UnixMilli(), p.ttl.Milliseconds(), p.nodeUsersTTL(), p.prefix)
		for _, u := range batch {
			args = append(args, int64(u))
		}
		gone, err := p.renewClaims.Run(ctx, p.rdb, keys, args...).StringSlice()
		if err != nil {
			return failed("redis presence", err)
		}
		missing = append(missing, gone...)
	}
	for _, id := range missing {
		u, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("redis presence: user %q: %w", id, err)
		}
		if err := p.reclaim(ctx, chat.UserID(u)); err != nil {
			return err
		}
	}
	return nil
}

// reclaim claims user again if this node still holds a connection of
// theirs. It holds the lock over the round trip, so that a Disconnect
// cannot run its script before the claim is made and leave it behind;
// this happens only after claims lapsed, and is bounded by the TTL.
func (p *Presence) reclaim(ctx context.Context, user chat.UserID) error {
	ctx, cancel := context.WithTimeout(ctx, p.ttl)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.local[user] == 0 {
		return nil
	}
	first, err := p.claim(ctx, user)
	if err != nil {
		return err
	}
	if first {
		p.revived[user] = struct{}{}
	}
	return nil
}

// Sweep takes, atomically across nodes, the users whose last claim
// expired (their nodes stopped without disconnecting them) and the users
// of nodes whose registration expired (see chat.PresenceSweep), and
// reports the users this node claimed anew. On an error, what it returns
// was taken nonetheless: the caller reports it.
func (p *Presence) Sweep(ctx context.Context) (chat.PresenceSweep, error) {
	var out chat.PresenceSweep
	now := time.Now().UnixMilli()
	for {
		res, err := p.sweepUsers.Run(ctx, p.rdb, []string{p.expiries()}, now, sweepBatch, p.prefix).Slice()
		if err != nil {
			return out, failed("redis presence sweep", err)
		}
		gone, due, err := sweptUsers(res)
		if err != nil {
			return out, err
		}
		out.Offline = append(out.Offline, gone...)
		if due < sweepBatch {
			break
		}
	}
	for {
		res, err := p.sweepNode.Run(ctx, p.rdb, []string{p.nodes()}, now, p.prefix+"node:").Slice()
		if err != nil {
			return out, failed("redis presence sweep", err)
		}
		if len(res) < 2 {
			break
		}
		users, err := userIDs(res[1])
		if err != nil {
			return out, err
		}
		out.Stranded = append(out.Stranded, users...)
	}
	p.mu.Lock()
	for u := range p.revived {
		out.Online = append(out.Online, u)
	}
	clear(p.revived)
	p.mu.Unlock()
	return out, nil
}

// sweptUsers reads sweepUsersScript's answer: the users gone offline and
// how many were due.
func sweptUsers(res []any) ([]chat.UserID, int64, error) {
	if len(res) != 2 {
		return nil, 0, fmt.Errorf("redis presence sweep: answer %v", res)
	}
	gone, err := userIDs(res[0])
	if err != nil {
		return nil, 0, err
	}
	due, ok := res[1].(int64)
	if !ok {
		return nil, 0, fmt.Errorf("redis presence sweep: due count %v", res[1])
	}
	return gone, due, nil
}

// userIDs reads a script's array of user IDs.
func userIDs(v any) ([]chat.UserID, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("redis presence sweep: users %v", v)
	}
	users := make([]chat.UserID, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("redis presence sweep: user %v", item)
		}
		u, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis presence sweep: user %q: %w", s, err)
		}
		users = append(users, chat.UserID(u))
	}
	return users, nil
}

// withdraw takes back this node's claims on its users' presence and its
// registration, so that no other node takes it for dead. Each user is
// made due in expiries at once: the next sweep, on any node, reports them
// offline unless another node holds them (the hub closing connections at
// shutdown has reported most already).
func (p *Presence) withdraw() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	users := p.users()
	now := float64(time.Now().UnixMilli())
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, u := range users {
			pipe.ZRem(ctx, p.key(u), p.node)
			pipe.ZAddXX(ctx, p.expiries(), goredis.Z{Score: now, Member: int64(u)})
		}
		pipe.ZRem(ctx, p.nodes(), p.node)
		pipe.Del(ctx, p.nodeUsers(p.node))
		return nil
	})
	return err
}
