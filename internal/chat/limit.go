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
	// AllowN is Allow for n tokens at once (n ≥ 1): all of them or none.
	// More than the burst is never allowed.
	AllowN(ctx context.Context, key string, n int) (bool, time.Duration, error)
	// Refund gives back a token Allow took, for work that turned out to
	// cost nothing (a resend of a message already stored). It never
	// fills a bucket past its burst; a bucket short of less than a token
	// may stay so.
	Refund(ctx context.Context, key string) error
}

// Throttle counts attempts per key (an account, an address, an account at
// an address) and says how long the next attempt must wait: nothing for the
// first few within a window, then longer and longer, up to a cap. An attempt
// reserves its count before it is carried out, in one atomic step for all
// its keys, so parallel attempts never get past more than a policy allows,
// on one node or many. It also remembers keys for a while (the addresses an
// account has signed in from). In-process and Redis implementations pass
// the conformance suite in internal/brokertest.
type Throttle interface {
	// Reserve checks every key and, only when none must wait, counts one
	// attempt on each, all in one atomic step. It reports 0 when the
	// attempt was counted, or else the longest wait (> 0) among the keys
	// and the index in keys of the key that asks for it; nothing is
	// counted then. An error means nothing is known (the backend is away).
	Reserve(ctx context.Context, keys ...ThrottleKey) (wait time.Duration, by int, err error)
	// Refund takes back one counted attempt of each key (never below
	// zero): an attempt that turned out not to be a failure.
	Refund(ctx context.Context, keys ...ThrottleKey) error
	// Reset forgets key's attempts.
	Reset(ctx context.Context, key string) error
	// Remember records key for ttl from now (renewing an earlier record)
	// and reports whether it was not recorded before.
	Remember(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
	// Known reports whether key is recorded.
	Known(ctx context.Context, key string) (bool, error)
}

// ThrottleKey is a key a Throttle counts, with its own policy.
type ThrottleKey struct {
	Key    string
	Policy ThrottlePolicy
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

// DefaultThrottlePolicy is the policy of one account at one address: five
// free failures in 15 minutes, then waits of 2 s, 4 s, 8 s … up to 15
// minutes.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{Free: 5, Window: 15 * time.Minute, First: 2 * time.Second, Max: 15 * time.Minute}
}

// LoginPolicy is the whole login throttle: how failures are counted per
// account at an address, per address and per account, and how long a
// successful (account, address) pair is remembered.
type LoginPolicy struct {
	// Pair is per account at one address.
	Pair ThrottlePolicy
	// Address is per client address, over every account: large enough
	// that an office behind one NAT is never stopped by its typos.
	Address ThrottlePolicy
	// Account is per account, over every address: a budget reached only
	// from many addresses. Reaching it is logged as an attack; it never
	// stops the owner from an address that signed in before.
	Account ThrottlePolicy
	// KnownFor is how long an address an account signed in from counts
	// as the owner's.
	KnownFor time.Duration
}

// DefaultLoginPolicy: per (account, address) 5 free failures in 15 minutes
// then 2 s doubling to 15 minutes; per address 100 free in 15 minutes then
// the same growth; per account 1,000 failures in an hour, then an hour's
// wait for addresses that never signed in; signed-in addresses are known for
// 30 days.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{
		Pair:     DefaultThrottlePolicy(),
		Address:  ThrottlePolicy{Free: 100, Window: 15 * time.Minute, First: 2 * time.Second, Max: 15 * time.Minute},
		Account:  ThrottlePolicy{Free: 1000, Window: time.Hour, First: time.Hour, Max: time.Hour},
		KnownFor: 30 * 24 * time.Hour,
	}
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

// errUnavailable answers an action whose guard cannot be checked.
func errUnavailable() error {
	return &Error{Code: EUNAVAILABLE, Message: "the server cannot check this now: try again shortly", RetryAfter: 5 * time.Second}
}
