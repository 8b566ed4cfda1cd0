package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/chat"
)

var (
	_ chat.Limiter  = (*Limiter)(nil)
	_ chat.Throttle = (*Throttle)(nil)
)

// Limiter is a token bucket per key shared by every node: GCRA in one Lua
// script (github.com/go-redis/redis_rate), so each take is atomic and a
// user's burst is counted once across the cluster. Redis expires buckets
// as they fill up again, so idle users cost nothing.
type Limiter struct {
	l      *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

// Limiter returns a limiter named name allowing perSecond tokens a second
// per key, up to burst at once.
func (c *Client) Limiter(name string, perSecond float64, burst int) *Limiter {
	// GCRA needs only the interval between tokens: one token per period.
	period := time.Duration(float64(time.Second) / perSecond)
	return &Limiter{
		l:      redis_rate.NewLimiter(c.rdb),
		prefix: c.prefix + "limit:" + name + ":",
		limit:  redis_rate.Limit{Rate: 1, Period: period, Burst: burst},
	}
}

// Allow takes a token from key's bucket, or reports how long until one is.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN takes n tokens from key's bucket, all or none (GCRA's cost n),
// or reports how long until they are there.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (bool, time.Duration, error) {
	res, err := l.l.AllowN(ctx, l.prefix+key, l.limit, n)
	if err != nil {
		return false, 0, failed("redis limiter", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	if res.RetryAfter < 0 { // more than the burst: never
		return false, time.Duration(float64(l.limit.Period) * float64(l.limit.Burst)), nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// Refund gives back a token of key's bucket. GCRA takes a cost of -1 as
// moving the bucket's theoretical arrival time back by one interval, never
// before now (a full bucket stays full).
func (l *Limiter) Refund(ctx context.Context, key string) error {
	if _, err := l.l.AllowN(ctx, l.prefix+key, l.limit, -1); err != nil {
		return failed("redis limiter", err)
	}
	return nil
}

// Throttle counts attempts per key in Redis, shared by every node. A key
// is a hash of its count and the time of its last attempt (Redis's clock,
// in microseconds), expiring its policy's window after that attempt. A
// reservation over several keys is one Lua script, so it is atomic across
// the cluster.
type Throttle struct {
	rdb    *goredis.Client
	prefix string
}

// Throttle returns a throttle named name.
func (c *Client) Throttle(name string) *Throttle {
	return &Throttle{rdb: c.rdb, prefix: c.prefix + "throttle:" + name + ":"}
}

// reserveScript checks every key (KEYS) against its policy (ARGV, four
// numbers per key: free, window in ms, first and max wait in µs) and, when
// none must wait, counts one attempt on each. It returns {0, -1}, or the
// longest wait in µs and the 0-based index of its key.
var reserveScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait, by = 0, -1
for i, k in ipairs(KEYS) do
  local b = (i - 1) * 4
  local free, first, maxd = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local v = redis.call('HMGET', k, 'count', 'last')
  local count, last = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if count > 0 and count >= free then
    local d, j = first, free
    while j < count and d < maxd do
      d = d * 2
      j = j + 1
    end
    if d > maxd then d = maxd end
    local w = last + d - now
    if w > wait then
      wait, by = w, i - 1
    end
  end
end
if wait > 0 then
  return {wait, by}
end
for i, k in ipairs(KEYS) do
  redis.call('HINCRBY', k, 'count', 1)
  redis.call('HSET', k, 'last', now)
  redis.call('PEXPIRE', k, ARGV[(i - 1) * 4 + 2])
end
return {0, -1}
`)

// refundScript takes one attempt back from each key (KEYS) that has one.
var refundScript = goredis.NewScript(`
for _, k in ipairs(KEYS) do
  local c = tonumber(redis.call('HGET', k, 'count')) or 0
  if c > 0 then
    redis.call('HINCRBY', k, 'count', -1)
  end
end
return 0
`)

// Reserve counts one attempt on every key unless one must wait; then it
// counts nothing and reports the longest wait and the index of its key.
func (t *Throttle) Reserve(ctx context.Context, keys ...chat.ThrottleKey) (time.Duration, int, error) {
	if len(keys) == 0 {
		return 0, -1, nil
	}
	ks := make([]string, len(keys))
	args := make([]any, 0, 4*len(keys))
	for i, k := range keys {
		ks[i] = t.prefix + k.Key
		args = append(args, k.Policy.Free, max(1, k.Policy.Window.Milliseconds()),
			k.Policy.First.Microseconds(), k.Policy.Max.Microseconds())
	}
	res, err := reserveScript.Run(ctx, t.rdb, ks, args...).Int64Slice()
	if err != nil {
		return 0, -1, failed("redis throttle", err)
	}
	if len(res) != 2 {
		return 0, -1, fmt.Errorf("redis throttle: reserve returned %d values", len(res))
	}
	if res[0] <= 0 {
		return 0, -1, nil
	}
	return time.Duration(res[0]) * time.Microsecond, int(res[1]), nil
}

// Refund takes back one attempt of each key.
func (t *Throttle) Refund(ctx context.Context, keys ...chat.ThrottleKey) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = t.prefix + k.Key
	}
	if err := refundScript.Run(ctx, t.rdb, ks).Err(); err != nil {
		return failed("redis throttle", err)
	}
	return nil
}

// Reset forgets key's attempts.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	if err := t.rdb.Del(ctx, t.prefix+key).Err(); err != nil {
		return failed("redis throttle", err)
	}
	return nil
}

// Remember records key for ttl and reports whether it was new.
func (t *Throttle) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	err := t.rdb.SetArgs(ctx, t.prefix+"known:"+key, 1, goredis.SetArgs{TTL: ttl, Get: true}).Err()
	if errors.Is(err, goredis.Nil) {
		return true, nil
	}
	if err != nil {
		return false, failed("redis throttle", err)
	}
	return false, nil
}

// Known reports whether key is recorded.
func (t *Throttle) Known(ctx context.Context, key string) (bool, error) {
	n, err := t.rdb.Exists(ctx, t.prefix+"known:"+key).Result()
	if err != nil {
		return false, failed("redis throttle", err)
	}
	return n > 0, nil
}
