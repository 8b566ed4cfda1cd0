package redis

import (
	"context"
	"fmt"
	"strconv"
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
	res, err := l.l.Allow(ctx, l.prefix+key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("redis limiter: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// Throttle counts failures per key in Redis, shared by every node. A key
// is a hash of its count and the time of its last failure, expiring a
// policy window after that failure.
type Throttle struct {
	rdb    *goredis.Client
	prefix string
	policy chat.ThrottlePolicy
}

// Throttle returns a throttle named name with the given policy.
func (c *Client) Throttle(name string, policy chat.ThrottlePolicy) *Throttle {
	return &Throttle{rdb: c.rdb, prefix: c.prefix + "throttle:" + name + ":", policy: policy}
}

// Wait reports how long key must still wait.
func (t *Throttle) Wait(ctx context.Context, key string) (time.Duration, error) {
	vals, err := t.rdb.HMGet(ctx, t.prefix+key, "count", "last").Result()
	if err != nil {
		return 0, fmt.Errorf("redis throttle: %w", err)
	}
	count, _ := strconv.Atoi(fmt.Sprint(vals[0]))
	lastMicros, _ := strconv.ParseInt(fmt.Sprint(vals[1]), 10, 64)
	if count == 0 || lastMicros == 0 {
		return 0, nil
	}
	until := time.UnixMicro(lastMicros).Add(t.policy.Delay(count))
	return max(0, time.Until(until)), nil
}

// Fail records a failure of key, atomically with its count and expiry.
func (t *Throttle) Fail(ctx context.Context, key string) error {
	k := t.prefix + key
	_, err := t.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HIncrBy(ctx, k, "count", 1)
		p.HSet(ctx, k, "last", time.Now().UnixMicro())
		p.PExpire(ctx, k, t.policy.Window)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis throttle: %w", err)
	}
	return nil
}

// Reset forgets key's failures.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	if err := t.rdb.Del(ctx, t.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis throttle: %w", err)
	}
	return nil
}
