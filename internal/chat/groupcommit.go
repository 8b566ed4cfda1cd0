package chat

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultMaxBatch is how many sends one group commit holds at most when
// ServiceConfig.MaxBatch is 0.
const DefaultMaxBatch = 256

// groupCommit gathers the sends that arrive while a batch commits into the
// next batch, so that one transaction (and one fsync, one round trip)
// stores many. It needs no goroutine of its own: the first sender to find
// no batch under way leads, committing batches until its own send is
// committed, then hands the lead to the first sender waiting, if any.
// Batches commit one at a time, so the store fixes the seq order, and each
// is published after the one committed before it, so events go out in
// that order: members receive one node's messages of a conversation in
// seq order, with no lock held across the commit (see keyedMutex for what
// sends share). A batch publishes while the next one commits.
type groupCommit struct {
	mu      sync.Mutex
	pending []*queuedSend
	leading bool // a sender is committing
	max     int
	// published is closed once the batch committed last has been
	// published and answered; nil before the first.
	published chan struct{}
	// store commits one batch and returns what became of each send,
	// answering none.
	store func(ctx context.Context, batch []*queuedSend) []SendResult
	// publish publishes a committed batch's messages, in order, and
	// answers its sends.
	publish func(ctx context.Context, batch []*queuedSend, results []SendResult)
	// metrics, when not nil, hears of each batch the store answered.
	metrics Metrics
}

// queuedSend is one send waiting in a groupCommit.
type queuedSend struct {
	m    Message
	conn string
	// release lets go of the send's shared hold on its conversation; it
	// is called once its event is published or it is refused.
	release func()
	result  chan SendResult // buffered: answered without waiting
	// lead is closed when this sender is to lead the next batches.
	lead chan struct{}
	// queued is when it entered the queue (only with metrics).
	queued time.Time
}

// submit queues q and returns its result once its batch is committed and
// published. When ctx ends first, a send still queued is taken out of the
// queue, storing nothing, and one already in the batch under way may still
// be committed (and is published): a resend with its client ID finds it.
// Both are answered EUNAVAILABLE, caused by ctx's error, for the client to
// wait and send again; a send answered, or handed the lead, as ctx ends
// gets its result.
func (g *groupCommit) submit(ctx context.Context, q *queuedSend) SendResult {
	q.result = make(chan SendResult, 1)
	q.lead = make(chan struct{})
	if g.metrics != nil {
		q.queued = time.Now()
	}
	g.mu.Lock()
	g.pending = append(g.pending, q)
	if !g.leading {
		g.leading = true
		g.mu.Unlock()
		g.lead(ctx, q)
		return <-q.result
	}
	g.mu.Unlock()
	select {
	case r := <-q.result:
		return r
	case <-q.lead:
		g.lead(ctx, q)
		return <-q.result
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case r := <-q.result:
		// Answered as it gave up: the answer says what happened.
		g.mu.Unlock()
		return r
	default:
	}
	select {
	case <-q.lead:
		// Handed the lead as it gave up: someone must commit the queue.
		g.mu.Unlock()
		g.lead(ctx, q)
		return <-q.result
	default:
	}
	if i := slices.Index(g.pending, q); i >= 0 {
		g.pending = slices.Delete(g.pending, i, i+1)
		q.release()
	}
	g.mu.Unlock()
	return SendResult{Err: Unavailable("the server", context.Cause(ctx))}
}

// lead commits batches from the queue until q's own send is committed,
// then hands the lead to the first sender waiting in the queue (or lets it
// go when none waits) and publishes what it committed last, after the
// batch committed before it is published. Batches are committed without
// ctx's cancellation: their senders are waiting for them.
func (g *groupCommit) lead(ctx context.Context, q *queuedSend) {
	ctx = context.WithoutCancel(ctx)
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.max)
		batch := slices.Clone(g.pending[:n])
		g.pending = slices.Delete(g.pending, 0, n)
		g.mu.Unlock()

		results := g.store(ctx, batch)
		if g.metrics != nil {
			g.report(batch)
		}

		g.mu.Lock()
		prev := g.published
		done := make(chan struct{})
		g.published = done
		goOn := false
		switch {
		case len(g.pending) == 0:
			g.leading = false
		case slices.Contains(batch, q):
			close(g.pending[0].lead)
		default:
			goOn = true // q's own send is still queued
		}
		g.mu.Unlock()

		func() {
			defer close(done)
			if prev != nil {
				<-prev
			}
			g.publish(ctx, batch, results)
		}()
		if !goOn {
			return
		}
	}
}

// report tells metrics how long each send of a batch the store just
// answered waited, and how many the batch held.
func (g *groupCommit) report(batch []*queuedSend) {
	now := time.Now()
	for _, q := range batch {
		g.metrics.SendCommitted(now.Sub(q.queued))
	}
	g.metrics.BatchCommitted(len(batch))
}
