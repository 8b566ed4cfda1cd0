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
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

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
// it answers. Keys start with prefix (for example "parley:").
func Open(ctx context.Context, url, prefix string, logger *slog.Logger) (*Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	rdb := goredis.NewClient(opts)
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
