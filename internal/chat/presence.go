package chat

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"
)

// PresenceSweeper is a Presence shared by nodes that can stop without
// disconnecting their users (a crash, a node cut off from the others):
// their claims lapse, and some node must say so to the people who see
// them. Every implementation passes the sweep suite in internal/brokertest.
type PresenceSweeper interface {
	Presence
	// Sweep takes what lapsed since the last sweep, on any node. It is
	// atomic across the nodes sharing the presence: of all the nodes
	// sweeping, exactly one gets each lapse, so each is reported once.
	// Users whose connections are live on a node that renews them are
	// never reported offline. On an error, what it returns was taken
	// nonetheless, and is to be reported.
	Sweep(ctx context.Context) (PresenceSweep, error)
}

// PresenceSweep is what one Sweep took.
type PresenceSweep struct {
	// Offline: users whose last claim expired: the nodes holding their
	// connections stopped renewing them without disconnecting them.
	Offline []UserID
	// Online: users whom this node holds connections of but who had no
	// live claim any more (this node could not renew them in time, and
	// another may have swept them offline); their claims are renewed.
	Online []UserID
	// Stranded: users who had a connection on a node that stopped. That
	// node may have committed their messages without publishing them, and
	// dropped events on their way to them.
	Stranded []UserID
}

// SweepPresence runs one sweep (when the presence is a PresenceSweeper)
// and publishes what it took: presence offline and online events to the
// people who share a conversation with each user, and an EventResync to
// the stranded users and those people, who may have missed messages
// committed on a node that died before publishing them. What it took is
// taken: the recipients of an event the broker refuses are owed a resync
// (see Run), whose catch-up shows them presence as it is. It returns the
// sweep's error, after publishing what the sweep took before it.
func (s *Service) SweepPresence(ctx context.Context) error {
	sw, ok := s.presence.(PresenceSweeper)
	if !ok {
		return nil
	}
	swept, err := sw.Sweep(ctx)
	if len(swept.Offline)+len(swept.Online)+len(swept.Stranded) > 0 {
		// A node stopped renewing its claims (it died, or lost Redis):
		// rare, and what its users' contacts see next needs explaining.
		s.logger.InfoContext(ctx, "presence swept: lapsed claims", "offline", len(swept.Offline), "online_again", len(swept.Online), "stranded", len(swept.Stranded))
	}
	for _, u := range swept.Offline {
		s.publishSwept(ctx, u, false)
	}
	for _, u := range swept.Online {
		s.publishSwept(ctx, u, true)
	}
	if len(swept.Stranded) > 0 {
		s.resyncStranded(ctx, swept.Stranded)
	}
	return err
}

// publishSwept publishes that user went offline or came back, as a sweep
// found.
func (s *Service) publishSwept(ctx context.Context, user UserID, online bool) {
	contacts, err := s.store.Contacts(ctx, user)
	if err != nil {
		s.outage(ctx, "database", "contacts of a swept user", err, "user_id", user)
		return
	}
	if len(contacts) == 0 {
		return
	}
	if err := s.broker.Publish(ctx, Event{Type: EventPresence, To: contacts, UserID: user, Online: online}); err != nil {
		s.owed(ctx, "publish presence of a swept user", contacts, err, "user_id", user, "online", online)
	}
}

// strandedBatch is the most recipients of one resync event for a stopped
// node, so that a node with many users does not make one huge event.
const strandedBatch = 1000

// resyncStranded publishes EventResync to users and to everyone who shares
// a conversation with one of them. A user whose contacts cannot be read
// still gets their own resync; recipients of a resync the broker refuses
// are owed one (see Run).
func (s *Service) resyncStranded(ctx context.Context, users []UserID) {
	to := make(map[UserID]struct{}, len(users))
	for _, u := range users {
		to[u] = struct{}{}
		contacts, err := s.store.Contacts(ctx, u)
		if err != nil {
			s.outage(ctx, "database", "contacts of a stranded user", err, "user_id", u)
			continue
		}
		for _, c := range contacts {
			to[c] = struct{}{}
		}
	}
	all := make([]UserID, 0, len(to))
	for u := range to {
		all = append(all, u)
	}
	slices.Sort(all)
	for batch := range slices.Chunk(all, strandedBatch) {
		if err := s.broker.Publish(ctx, Event{Type: EventResync, To: batch}); err != nil {
			s.owed(ctx, "publish resync for a stopped node", batch, err)
		}
	}
}

// PresenceClaimTTL is how long a node's claims (and its registration)
// last unless renewed, for a presence TTL of ttl, the longest the users of
// a node that died may still show online: 3/4 of it. A claim lapses at
// most that long after its node dies, and RunPresenceSweep takes it within
// 5/32 of ttl more, which leaves 3/32 for publishing.
func PresenceClaimTTL(ttl time.Duration) time.Duration { return ttl * 3 / 4 }

// RunPresenceSweep calls SweepPresence about every eighth of ttl, the
// presence TTL (see PresenceClaimTTL), until ctx ends; each wait is drawn
// between 3/4 and 5/4 of that, so that nodes started together do not sweep
// in step. A failed sweep is logged and tried again at the next tick. It
// returns at once when the presence needs no sweep (one node, in memory).
func (s *Service) RunPresenceSweep(ctx context.Context, ttl time.Duration) {
	interval := ttl / 8
	if _, ok := s.presence.(PresenceSweeper); !ok || interval <= 0 {
		return
	}
	t := time.NewTimer(jitter(interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.SweepPresence(ctx); err != nil && ctx.Err() == nil {
				s.outage(ctx, "presence", "presence sweep failed", err)
			}
			t.Reset(jitter(interval))
		}
	}
}

// jitter returns d moved by up to a quarter either way.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}
