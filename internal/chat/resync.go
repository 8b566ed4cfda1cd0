package chat

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultMaxPendingResync is how many users, at most, wait for a resync
// when ServiceConfig.MaxPendingResync is 0: 8 bytes each (plus the map's
// overhead), a few MB at most.
const DefaultMaxPendingResync = 100_000

// resyncChunk bounds the recipients of one resync event, so that one
// publish stays a bounded pipeline.
const resyncChunk = 1000

// Resync backoff: the first retry after a failed resync publish waits
// resyncRetryMin, each next one twice as long, up to resyncRetryMax.
const (
	resyncRetryMin = 100 * time.Millisecond
	resyncRetryMax = 2 * time.Second
)

// DefaultPublishTimeout is how long a publish after a commit may take
// when ServiceConfig.PublishTimeout is 0.
const DefaultPublishTimeout = 2 * time.Second

// resyncSet is the bounded set of users whose events the broker refused
// after a commit: each is owed an EventResync. Adding never blocks, so a
// send path that met a failed publish costs only a map insert.
type resyncSet struct {
	max int

	mu      sync.Mutex
	users   map[UserID]struct{}
	dropped int // users refused since the last take, the set being full
	// failing: the broker refused an event, and no resync has gone
	// through since. Events are then not offered to it at all.
	failing bool

	wake chan struct{} // a token when users were added
}

func newResyncSet(max int) *resyncSet {
	return &resyncSet{max: max, users: make(map[UserID]struct{}), wake: make(chan struct{}, 1)}
}

// add records that users are owed a resync. Past max users it keeps
// those it has and counts the rest as dropped: they catch up at their next
// reconnect.
func (r *resyncSet) add(users []UserID) {
	if len(users) == 0 {
		return
	}
	r.mu.Lock()
	for _, u := range users {
		if _, ok := r.users[u]; ok {
			continue
		}
		if len(r.users) >= r.max {
			r.dropped++
			continue
		}
		r.users[u] = struct{}{}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default: // the loop has a token already
	}
}

// take empties the set and returns its users in ascending order, and how
// many were dropped since the last take.
func (r *resyncSet) take() ([]UserID, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.users) == 0 && r.dropped == 0 {
		return nil, 0
	}
	users := make([]UserID, 0, len(r.users))
	for u := range r.users {
		users = append(users, u)
	}
	clear(r.users)
	dropped := r.dropped
	r.dropped = 0
	slices.Sort(users)
	return users, dropped
}

// fail records that the broker refused an event.
func (r *resyncSet) fail() {
	r.mu.Lock()
	r.failing = true
	r.mu.Unlock()
}

// recovered records that the broker took a resync, and reports whether
// it was failing until then.
func (r *resyncSet) recovered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.failing
	r.failing = false
	return was
}

// holding reports whether the broker is failing: events go straight into
// the set.
func (r *resyncSet) holding() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failing
}

// pending returns how many users wait for a resync.
func (r *resyncSet) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.users)
}

// owed records that the broker refused an event for users after its
// change was committed: they are owed a resync, which Run publishes. what
// names the event for the log (see outage).
func (s *Service) owed(ctx context.Context, what string, users []UserID, err error, args ...any) {
	s.resync.add(users)
	s.outage(ctx, "broker", what, err, append(args, "recipients", len(users), "resync_pending", s.resync.pending())...)
}

// publishCommitted publishes ev, which tells of a committed change (or, for
// a resend, a stored message), giving the broker PublishTimeout. When the
// broker refuses it, ev.To are owed a resync (see owed). While the broker
// is failing (it refused an event and no resync has gone through since),
// ev is not offered to it at all: its recipients are owed a resync at
// once, so that a send does not wait on a broker that is away, holding its
// conversation's lock. It reports whether ev was published. what and args
// describe ev for the log.
func (s *Service) publishCommitted(ctx context.Context, what string, ev Event, args ...any) bool {
	if len(ev.To) == 0 {
		return true
	}
	if s.resync.holding() {
		s.resync.add(ev.To)
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, s.publishTimeout)
	err := s.broker.Publish(pctx, ev)
	cancel()
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		// The broker's failure, not the caller having gone.
		s.resync.fail()
	}
	s.owed(ctx, what, ev.To, err, args...)
	return false
}

// Run publishes an EventResync to every user whose events the broker
// refused after a commit (see EventResync), until ctx ends. A resync the
// broker refuses too is retried, waiting 100 ms after the first failure
// and twice as long after each next one, up to 2 s, each failure logged
// as outage logs it (a debug line when the broker is out of reach: its
// own outage log says so). Its going through again ends the failing state
// in which events are not offered to the broker (see publishCommitted). Without Run, such users
// catch up at their next reconnect only, and after a refusal no event is
// published again.
func (s *Service) Run(ctx context.Context) {
	var (
		wait     time.Duration // before the next attempt; 0 while the broker takes events
		failures int           // attempts failed since the last success
	)
	timer := time.NewTimer(0)
	if !timer.Stop() {
		<-timer.C
	}
	defer timer.Stop()
	for {
		if wait == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.resync.wake:
			}
		} else {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		users, dropped := s.resync.take()
		if dropped > 0 {
			s.logger.WarnContext(ctx, "resync set full: users left to catch up at their next reconnect", "dropped", dropped, "max", s.resync.max)
		}
		if len(users) == 0 {
			continue
		}
		if err := s.publishResync(ctx, users); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.resync.add(users) // all of them: a resync twice costs a catch-up, once too few loses events
			s.resync.fail()
			failures++
			s.outage(ctx, "broker", "publish resync", err, "users", len(users), "attempts", failures)
			wait = min(max(2*wait, resyncRetryMin), resyncRetryMax)
			continue
		}
		if s.resync.recovered() || failures > 0 {
			// Debug: the broker's own outage log says it is back.
			s.logger.DebugContext(ctx, "broker takes events again: resync published", "users", len(users), "failed_attempts", failures)
		}
		wait, failures = 0, 0
	}
}

// publishResync publishes an EventResync to users, resyncChunk at a time,
// each publish given PublishTimeout.
func (s *Service) publishResync(ctx context.Context, users []UserID) error {
	for batch := range slices.Chunk(users, resyncChunk) {
		pctx, cancel := context.WithTimeout(ctx, s.publishTimeout)
		err := s.broker.Publish(pctx, Event{Type: EventResync, To: batch})
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
