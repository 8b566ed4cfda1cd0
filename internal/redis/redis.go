// Package redis carries Parley across nodes on Redis: the Broker (pub/sub,
// one channel per user), the message Limiter (GCRA, atomic in Redis), the
// login Throttle, Presence and the Connections counter (both with
// expiring heartbeats, so a crashed node's users go offline and its
// connections stop counting on their own). One Client per node holds one
// pipelined connection pool that all of them share.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/parleychat/parley/internal/chat"
)

// DefaultTimeout is how long one Redis call may take when Open is given
// none.
const DefaultTimeout = 2 * time.Second

// outageLogEvery is how often, at most, a Redis outage is logged.
const outageLogEvery = 10 * time.Second

// Client is a node's connection to Redis.
type Client struct {
	rdb    *goredis.Client
	logger *slog.Logger
	// node names this process in presence records.
	node string
	// prefix starts every key, so that several deployments (or test runs)
	// can share one Redis.
	prefix string
}

// Open connects to the Redis at url (redis://host:port/db) and checks that
// it answers. Keys start with prefix (for example "parley:"). Every call
// has a deadline: timeout (0: DefaultTimeout) bounds a dial, each read and
// write, and the wait for a pooled connection, in place of any the URL
// gives; a caller's earlier context deadline counts too. A failed command
// is tried once more, not three times, and a dial once. An outage is
// logged as "redis unavailable" at most once per 10 s, and its end as
// "redis available again".
func Open(ctx context.Context, url, prefix string, logger *slog.Logger, timeout time.Duration) (*Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true
	// One retry covers a pooled connection that died since its last use;
	// more, with go-redis's backoff, made each call against a Redis that
	// is away take about half a second (a send, which calls it twice, a
	// second and a half) before failing.
	opts.MaxRetries = 1
	// A dial is tried once, not five times 100 ms apart: a Redis that
	// refuses connections (stopped, restarting) would otherwise cost every
	// call half a second before its failure, and a send, which calls it
	// for its rate limit, waits that long before the local limiter answers.
	opts.DialerRetries = 1
	rdb := goredis.NewClient(opts)
	rdb.AddHook(outageHook{
		log: chat.NewOutageLog(logger, "redis", outageLogEvery),
		stalled: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "redis",
			Timeout:     time.Second,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 },
		}),
	})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close() // the ping's error is the one to report
		return nil, fmt.Errorf("redis: %w", err)
	}
	return &Client{rdb: rdb, logger: logger, node: rand.Text()[:12], prefix: prefix}, nil
}

// Close closes the connection pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping reports whether Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// outageHook notes every command's outcome in the outage log: a failure to
// reach Redis (a dial, a cut or stalled connection) is an outage; any
// answer, a Redis error reply included, means it is back. After two
// commands in a row timed out (a stalled Redis), commands fail at once for
// a second, then one is tried, until one answers: a stall costs each
// caller one timeout, not one per command it sends (a send makes several).
type outageHook struct {
	log     *chat.OutageLog
	stalled *gobreaker.CircuitBreaker[struct{}]
}

// errNotTried is the cause of a command failed at once because Redis's
// last commands timed out.
var errNotTried = errors.New("redis: not tried: the last commands timed out")

// guard runs call through the breaker: a timeout counts against Redis,
// anything else (an answer, a refusal, the caller gone) does not; a call
// the open breaker refuses fails with errNotTried, set on cmds.
func (h outageHook) guard(ctx context.Context, cmds []goredis.Cmder, call func() error) error {
	var err error
	_, refused := h.stalled.Execute(func() (struct{}, error) {
		err = call()
		if timedOut(err) && ctx.Err() == nil {
			return struct{}{}, err
		}
		return struct{}{}, nil
	})
	if errors.Is(refused, gobreaker.ErrOpenState) || errors.Is(refused, gobreaker.ErrTooManyRequests) {
		err = errNotTried
		for _, c := range cmds {
			c.SetErr(err)
		}
	}
	return err
}

// timedOut reports whether err is a command running out of time: a read,
// write or pool wait past its timeout.
func timedOut(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// note records one outcome of ctx's call.
func (h outageHook) note(ctx context.Context, err error) {
	switch {
	case err == nil, errors.Is(err, goredis.Nil):
		h.log.Answered(ctx)
	case unreachable(err) && ctx.Err() == nil:
		h.log.Failed(ctx, err)
	case !unreachable(err):
		h.log.Answered(ctx) // Redis answered with an error
	}
}

// failed wraps err, a Redis call's failure, with what failed. A failure
// to reach Redis is chat.Unavailable, so that callers tell an outage (which
// the outage log reports) from a fault.
func failed(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if unreachable(err) {
		return chat.Unavailable("redis", err)
	}
	return err
}

// unreachable reports whether err is a failure to reach Redis rather than
// an error reply from it.
func unreachable(err error) bool {
	if _, ok := errors.AsType[goredis.Error](err); ok {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNotTried) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (h outageHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			h.log.Failed(ctx, err)
		}
		return c, err
	}
}

func (h outageHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := h.guard(ctx, []goredis.Cmder{cmd}, func() error { return next(ctx, cmd) })
		h.note(ctx, err)
		return err
	}
}

func (h outageHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := h.guard(ctx, cmds, func() error { return next(ctx, cmds) })
		h.note(ctx, err)
		return err
	}
}
