package chat

import (
	"context"
	"net/netip"
	"time"
)

// Limiter is a token bucket per key: how often one user may send, or one
// address may register. In-process and Redis implementations pass the
// conformance suite in internal/brokertest.
type Limiter interface {
	// Allow takes a token from key's bucket. When the bucket is empty it
	// takes nothing and reports false and how long until a token is back.
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
}

// Throttle counts failed attempts per key (an account, an address) and says
// how long the next attempt must wait: nothing for the first few, then
// longer and longer, up to a cap. In-process and Redis implementations pass
// the conformance suite in internal/brokertest.
type Throttle interface {
	// Wait reports how long key must still wait before its next attempt.
	Wait(ctx context.Context, key string) (time.Duration, error)
	// Fail records a failed attempt of key.
	Fail(ctx context.Context, key string) error
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// ThrottlePolicy is how a Throttle grows its delays.
type ThrottlePolicy struct {
	// Free is how many failures within Window cost nothing.
	Free int
	// Window is how long a failure is remembered after the last one.
	Window time.Duration
	// First is the wait after the first failure beyond Free; each further
	// failure doubles it, up to Max.
	First, Max time.Duration
}

// DefaultThrottlePolicy: five free failures in 15 minutes, then waits of
// 2 s, 4 s, 8 s … up to 15 minutes.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{Free: 5, Window: 15 * time.Minute, First: 2 * time.Second, Max: 15 * time.Minute}
}

// Delay is how long to wait after the given number of failures, counted
// from the last one.
func (p ThrottlePolicy) Delay(failures int) time.Duration {
	if failures < p.Free {
		return 0
	}
	d := p.First
	for i := p.Free; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// AddressKey is the throttling key of a client address: the address itself
// for IPv4, its /64 network for IPv6 (one subscriber usually holds a whole
// /64).
func AddressKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + ip.String()
}
