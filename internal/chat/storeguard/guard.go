// Package storeguard puts a database's store calls within a deadline and
// stops calling a stalled database for a while: the part of the SQLite
// and PostgreSQL stores' guards that does not depend on the database.
package storeguard

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/parleychat/parley/internal/chat"
)

// ErrNotTried is the cause of a call refused at once (chat.Unavailable,
// "the database") because the database's last calls ran out their
// deadline.
var ErrNotTried = errors.New("not tried: the database's last calls ran out their deadline")

// outageLogEvery is how often, at most, a database outage is logged.
const outageLogEvery = 10 * time.Second

// Config says how a Guard runs calls.
type Config struct {
	// Timeout bounds each call; it must be positive.
	Timeout time.Duration
	// Logger gets the database's outage lines (see chat.OutageLog); nil
	// discards them.
	Logger *slog.Logger
	// Classify returns a call's error as the store's caller should see
	// it: chat.Unavailable("the database", …) when the database cannot
	// answer, ctx's cause TimeoutCause included. It is called with the
	// call's ctx (bounded by the deadline) and nil when the call
	// succeeded.
	Classify func(ctx context.Context, err error) error
	// TimeoutCause is the cause of a call's context ending at the
	// deadline, telling it from the caller's own deadline or
	// cancellation.
	TimeoutCause error
}

// Guard runs a database's calls within the deadline, classifies their
// errors, logs outages and, after two calls in a row ran out the deadline
// (a stalled database), refuses calls at once for a second, then tries
// one, and so on until one answers: a stall costs each caller at most one
// deadline, not one per call it makes. Make one with NewGuard; it is safe
// for concurrent use.
type Guard struct {
	timeout  time.Duration
	cause    error
	classify func(context.Context, error) error
	outages  *chat.OutageLog
	// stalled stops calling a database whose calls run out their
	// deadline. Without it, while the database stalls every call waits
	// the whole deadline, and a WebSocket's frames, carried out one after
	// another, wait it once each.
	stalled *gobreaker.CircuitBreaker[struct{}]
}

// NewGuard returns a Guard running calls as cfg says.
func NewGuard(cfg Config) *Guard {
	return &Guard{
		timeout:  cfg.Timeout,
		cause:    cfg.TimeoutCause,
		classify: cfg.Classify,
		outages:  chat.NewOutageLog(cfg.Logger, "database", outageLogEvery),
		stalled: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "database",
			Timeout:     time.Second,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 },
		}),
	}
}

// Timeout is the deadline of each call.
func (g *Guard) Timeout() time.Duration { return g.timeout }

// Run calls f with ctx bounded by the deadline (its cause the Config's
// TimeoutCause) and returns its error classified, noting in the outage log
// whether the database answered. While the database is held stalled, f is
// not called and the error is chat.Unavailable("the database",
// ErrNotTried).
func (g *Guard) Run(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, g.timeout, g.cause)
	defer cancel()
	var err error
	_, refused := g.stalled.Execute(func() (struct{}, error) {
		err = g.classify(ctx, f(ctx))
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), g.cause) {
			return struct{}{}, err // a stall: only these open the breaker
		}
		return struct{}{}, nil
	})
	if errors.Is(refused, gobreaker.ErrOpenState) || errors.Is(refused, gobreaker.ErrTooManyRequests) {
		err = chat.Unavailable("the database", ErrNotTried)
	}
	switch {
	case chat.ErrorCode(err) == chat.EUNAVAILABLE:
		g.outages.Failed(ctx, err)
	case err == nil || ctx.Err() == nil:
		// An answer, if a refusal: the database is there. A call the
		// caller gave up on says nothing either way.
		g.outages.Answered(ctx)
	}
	return err
}

// Do1 is Run for a call that returns one value besides its error.
func Do1[A any](g *Guard, ctx context.Context, f func(context.Context) (A, error)) (A, error) {
	var a A
	err := g.Run(ctx, func(ctx context.Context) (err error) {
		a, err = f(ctx)
		return err
	})
	return a, err
}

// Do2 is Run for a call that returns two values besides its error.
func Do2[A, B any](g *Guard, ctx context.Context, f func(context.Context) (A, B, error)) (A, B, error) {
	var (
		a A
		b B
	)
	err := g.Run(ctx, func(ctx context.Context) (err error) {
		a, b, err = f(ctx)
		return err
	})
	return a, b, err
}

// Do3 is Run for a call that returns three values besides its error.
func Do3[A, B, C any](g *Guard, ctx context.Context, f func(context.Context) (A, B, C, error)) (A, B, C, error) {
	var (
		a A
		b B
		c C
	)
	err := g.Run(ctx, func(ctx context.Context) (err error) {
		a, b, c, err = f(ctx)
		return err
	})
	return a, b, c, err
}
