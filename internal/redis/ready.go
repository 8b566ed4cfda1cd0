package redis

import (
	"context"
	"errors"
	"fmt"
)

// errSubscriptionDown is ReadyCheck's answer when Redis takes commands but
// this node's subscription connection is not subscribed.
var errSubscriptionDown = errors.New("redis pub/sub subscription down: this node would receive no events")

// ReadyCheck subscribes this node's subscription connection to a channel
// of its own (prefix + "ready:" + node) and returns the check /readyz
// makes of Redis: a PUBLISH to that channel, through the shared pool,
// which Redis answers with the number of connections subscribed to it.
// The check returns nil when that is at least one, so that both the pool
// and this node's pub/sub subscription work; the pool's error when Redis
// cannot be reached; errSubscriptionDown when Redis answers but holds no
// subscription of this node (its connection broke and has not come back).
// A subscription connection that Redis still counts but whose packets are
// lost goes unseen until Redis drops it.
//
// The subscription is made once, here; should it fail, go-redis keeps the
// channel and subscribes it whenever it makes the connection again, as it
// does the users' channels. What is published to the channel reaches Run,
// which drops it: the Broker subscribes to no such user channel.
func (b *Broker) ReadyCheck(ctx context.Context) func(context.Context) error {
	channel := b.c.prefix + "ready:" + b.c.node
	// Its error changes nothing: the check says whether it took.
	_ = b.ps.Subscribe(ctx, channel)
	return func(ctx context.Context) error {
		n, err := b.c.rdb.Publish(ctx, channel, "ready").Result()
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		if n == 0 {
			return errSubscriptionDown
		}
		return nil
	}
}
