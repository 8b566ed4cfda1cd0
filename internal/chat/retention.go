package chat

import (
	"context"
	"time"
)

// Retention is how long messages are kept, and how retention goes about
// erasing the older ones: in small batches, so that it never holds the
// database (SQLite's one writer above all) for long.
type Retention struct {
	// Keep is how long a text message is kept after it was sent; 0 keeps
	// messages for ever.
	Keep time.Duration
	// Batch is the most messages one transaction erases; 0 means 200.
	Batch int
	// Pause is the wait between two full batches, which leaves the
	// database to everyone else; 0 means 100 ms.
	Pause time.Duration
	// Interval is the wait after a batch that was not full (nothing more
	// is due yet); 0 means a minute, or Keep/2 when that is shorter.
	Interval time.Duration
}

func (r Retention) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 200
}

func (r Retention) pause() time.Duration {
	if r.Pause > 0 {
		return r.Pause
	}
	return 100 * time.Millisecond
}

func (r Retention) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return min(time.Minute, max(r.Keep/2, time.Millisecond))
}

// ExpireMessages erases at most limit text messages sent before before,
// oldest first, as a deletion does: each becomes a tombstone with a new
// version, leaves search, and its conversation's members' connections get
// an EventMessageUpdated (clients that were away catch up by version).
// System messages are kept. It returns how many it erased; fewer than
// limit means none older is left.
func (s *Service) ExpireMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	refs, err := s.store.ExpiredMessages(ctx, before, limit)
	if err != nil {
		return 0, err
	}
	byConversation := make(map[ConversationID][]int64)
	var order []ConversationID
	for _, r := range refs {
		if _, ok := byConversation[r.ConversationID]; !ok {
			order = append(order, r.ConversationID)
		}
		byConversation[r.ConversationID] = append(byConversation[r.ConversationID], r.Seq)
	}
	erased := 0
	for _, conv := range order {
		n, err := s.eraseMessages(ctx, conv, byConversation[conv])
		erased += n
		if err != nil {
			return erased, err
		}
	}
	return erased, nil
}

// eraseMessages erases seqs of conv under the conversation's publishing
// lock, so that its events go out in version order.
func (s *Service) eraseMessages(ctx context.Context, conv ConversationID, seqs []int64) (int, error) {
	unlock, err := s.lockPublishing(ctx, conv)
	if err != nil {
		return 0, err
	}
	defer unlock()
	stored, err := s.store.EraseMessages(ctx, conv, seqs, Now())
	if err != nil {
		return 0, err
	}
	for _, st := range stored {
		s.publishUpdate(ctx, st)
	}
	if len(stored) > 0 {
		s.sweepSoon() // their attachments' bytes go now
	}
	return len(stored), nil
}

// RunRetention erases, until ctx ends, the text messages older than
// r.Keep, a batch at a time (see Retention). A failed batch is logged and
// tried again after the interval. With r.Keep 0 it returns at once.
func (s *Service) RunRetention(ctx context.Context, r Retention) {
	if r.Keep <= 0 {
		return
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		n, err := s.ExpireMessages(ctx, Now().Add(-r.Keep), r.batch())
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "retention failed", "err", err, "erased", n)
			}
			wait = r.interval()
		case n == r.batch():
			wait = r.pause()
		default:
			wait = r.interval()
		}
		if n > 0 {
			s.logger.InfoContext(ctx, "expired messages erased", "count", n, "keep", r.Keep)
		}
	}
}
