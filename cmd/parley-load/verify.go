package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// verifyReport is what the end-of-run verification found.
type verifyReport struct {
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`

	ConnsChecked   int `json:"conns_checked"`     // stayed connected: every acked message checked, and the order
	ConnsReconn    int `json:"conns_reconnected"` // dropped and came back: catch-up checked
	ConnsDownAtEnd int `json:"conns_down_at_end"` // dropped and not back at the end: not checked

	AckedMessages   int64 `json:"acked_messages"`
	Stored          int64 `json:"stored"`            // acked messages found in the database as acked
	DBMessages      int64 `json:"db_messages"`       // this run's messages found in the database
	StoredUnacked   int64 `json:"stored_unacked"`    // this run's messages stored but never acked
	OtherDBMessages int64 `json:"other_db_messages"` // messages after the run's start not made by this run

	// Deliveries of acked messages to the connections checked (those up
	// at the end), each (connection, message) once: by a message frame
	// (live) or first by a catch-up (after a reconnect or a resync
	// frame). Lost: neither; its messages counts distinct messages.
	DeliveredLive    int64 `json:"delivered_live"`
	DeliveredCatchUp int64 `json:"delivered_catch_up"`
	Lost             int64 `json:"lost"`
	LostMessages     int64 `json:"lost_messages"`
	// Late: not delivered when the drain timed out (the server was
	// behind): still failures, but maybe on their way, so not counted
	// as lost.
	Late int64 `json:"late,omitempty"`
	// Duplicated counts message frames for a (conversation, seq) the
	// connection had already: delivery is at least once, so they are
	// reported, not failed.
	Duplicated int64 `json:"duplicated"`

	Problems      map[string]int64 `json:"problems"`       // by kind
	FirstProblems []problem        `json:"first_problems"` // the first 20, in detail
}

// failing lists the problem kinds that fail the verification; the rest
// are reported only.
func (l *loader) failing(kind string) bool {
	switch kind {
	case "out of order":
		// Sends through different nodes may arrive out of order
		// (docs/protocol.md): with several -url, only when asked.
		return l.cfg.checkOrder && (len(l.cfg.bases) <= 1 || l.cfg.given["check-order"])
	case "duplicate delivery":
		return false // at least once: clients drop duplicates by seq
	}
	return true
}

// verify checks, for every conversation, that each acked message reached
// each of its member connections, live or by a catch-up, and in order
// (connections that stayed up), that reconnected connections caught up,
// and that the database holds each acked message once; it counts
// duplicates.
func (l *loader) verify(ctx context.Context) *verifyReport {
	v := &verifyReport{}
	for _, cv := range l.convs {
		v.AckedMessages += int64(len(cv.acked))
		lost := map[int64]bool{}
		for _, c := range cv.conns {
			for _, s := range l.verifyConn(cv, c, v) {
				lost[s] = true
			}
		}
		v.LostMessages += int64(len(lost))
	}
	var dbMsgs, unacked, other, stored atomic.Int64
	err := forEach(ctx, len(l.convs), 8, func(ctx context.Context, i int) error {
		d, u, o, s := l.verifyDB(ctx, l.convs[i])
		dbMsgs.Add(d)
		unacked.Add(u)
		other.Add(o)
		stored.Add(s)
		return nil
	})
	if err != nil {
		l.probs.add(problem{Kind: "database check failed", Detail: err.Error()})
	}
	v.DBMessages, v.StoredUnacked, v.OtherDBMessages, v.Stored = dbMsgs.Load(), unacked.Load(), other.Load(), stored.Load()

	l.probs.mu.Lock()
	v.Problems = map[string]int64{}
	var failed int64
	for k, n := range l.probs.counts {
		v.Problems[k] = n
		if l.failing(k) {
			failed += n
		}
	}
	l.probs.mu.Unlock()
	v.FirstProblems = l.probs.first(l.failing)
	v.OK = failed == 0
	if v.OK {
		v.Summary = fmt.Sprintf("OK: %d acked messages; %d connections up throughout and %d reconnected ones got every one (live or by catch-up); all %d in the database once",
			v.AckedMessages, v.ConnsChecked, v.ConnsReconn, v.AckedMessages)
	} else {
		v.Summary = fmt.Sprintf("%d problems:", failed)
		for _, k := range sortedKeys(v.Problems) {
			if l.failing(k) {
				v.Summary += fmt.Sprintf(" %s=%d", k, v.Problems[k])
			}
		}
	}
	var reported []string
	for _, k := range sortedKeys(v.Problems) {
		if !l.failing(k) {
			reported = append(reported, fmt.Sprintf("%s=%d", k, v.Problems[k]))
		}
	}
	if len(reported) > 0 {
		v.Summary += " (not failing: " + strings.Join(reported, " ") + ")"
	}
	if v.ConnsDownAtEnd > 0 {
		v.Summary += fmt.Sprintf(" (%d connections were down at the end and not checked)", v.ConnsDownAtEnd)
	}
	return v
}

// verifyConn checks one connection's deliveries against the
// conversation's acked messages, counts them in v and returns the seqs
// it never got. Every goroutine has been joined.
func (l *loader) verifyConn(cv *conv, c *conn, v *verifyReport) (lost []int64) {
	add := func(kind string, seq int64, detail string) {
		l.probs.add(problem{Kind: kind, ConversationID: cv.id, Seq: seq, Conn: c.k, User: c.u.name, Detail: detail})
	}
	own := make(map[int64]bool, len(c.own))
	for _, s := range c.own {
		own[s] = true
	}
	count := make(map[int64]int, len(c.frames))
	for _, s := range c.frames {
		count[s]++
	}
	for _, s := range sortedSeqs(count) {
		switch {
		case own[s] && !c.resentOwn[s]:
			add("delivered to its sender", s, "the sending connection got a message frame besides the ack")
		case own[s]:
			// A resend's message may be published again, to its sender
			// too: a duplicate, counted in c.dups.
		case count[s] > 1:
			add("duplicate delivery", s, fmt.Sprintf("message frame received %d times", count[s]))
		}
	}
	// Order, within each session (a reconnect starts a new stream). A
	// frame for a seq had already is a duplicate, not a step back; so is
	// a message whose sender resent it: the server publishes a resend
	// again, late, in case the first publish was lost.
	for i, from := range c.sessions {
		to := len(c.frames)
		if i+1 < len(c.sessions) {
			to = c.sessions[i+1]
		}
		seen := map[int64]bool{}
		var last int64
		for j := from; j < to; j++ {
			s := c.frames[j]
			if seen[s] || c.dupAt[j] || l.resentBySender(cv, s) {
				continue
			}
			seen[s] = true
			if last > 0 && s <= last {
				add("out of order", s, fmt.Sprintf("seq %d arrived after seq %d (session %d)", s, last, i+1))
			}
			last = s
		}
	}
	if !c.upAtEnd {
		v.ConnsDownAtEnd++
		return nil
	}
	if c.drops == 0 {
		v.ConnsChecked++
	} else {
		v.ConnsReconn++
	}
	v.Duplicated += int64(c.dups)
	for _, s := range sortedSeqs(cv.acked) {
		rec := cv.acked[s]
		switch {
		case rec.conn == c.k:
			continue
		case c.caught[s]:
			v.DeliveredCatchUp++
			continue
		case count[s] > 0:
			v.DeliveredLive++
			continue
		}
		if l.drainTimedOut && c.drops == 0 {
			v.Late++
		} else {
			v.Lost++
			lost = append(lost, s)
		}
		switch {
		case c.drops > 0:
			add("lost: not caught up", s, fmt.Sprintf("client_id %s from conn %d neither arrived nor was fetched after %d reconnects", rec.clientID, rec.conn, c.drops))
		case l.drainTimedOut:
			// Still a failure, but of the run: the server fell behind,
			// and this delivery may have been on its way.
			add("not delivered before the drain timed out (server overloaded)", s, fmt.Sprintf("client_id %s from conn %d had not arrived when the drain ended", rec.clientID, rec.conn))
		default:
			add("lost: not delivered", s, fmt.Sprintf("client_id %s from conn %d never arrived on this connection, connected all along, neither live nor by a catch-up", rec.clientID, rec.conn))
		}
	}
	return lost
}

// resentBySender reports whether acked message seq of cv was acked to its
// sender after a resend.
func (l *loader) resentBySender(cv *conv, seq int64) bool {
	rec, ok := cv.acked[seq]
	if !ok {
		return false
	}
	for _, c := range cv.conns {
		if c.k == rec.conn {
			return c.resentOwn[seq]
		}
	}
	return false
}

// verifyDB reads the conversation's messages since the run began and
// checks that every acked message is there once, as sent. It returns the
// run's messages found, those never acked, others, and the acked ones
// found as acked.
func (l *loader) verifyDB(ctx context.Context, cv *conv) (found, unacked, other, stored int64) {
	add := func(kind string, seq int64, detail string) {
		l.probs.add(problem{Kind: kind, ConversationID: cv.id, Seq: seq, Conn: -1, Detail: detail})
	}
	var msgs []wire.Message
	var err error
	// The server may be restarting (crash tests): retry for a while.
	for attempt := range 10 {
		msgs = msgs[:0]
		err = l.api.messagesAfter(ctx, cv.members[0], cv.id, cv.initialSeq, func(m wire.Message) { msgs = append(msgs, m) })
		if err == nil || ctx.Err() != nil {
			break
		}
		sleep(ctx, time.Duration(attempt+1)*time.Second)
	}
	if err != nil {
		add("database check failed", 0, err.Error())
		return 0, 0, 0, 0
	}
	bySeq := make(map[int64]wire.Message, len(msgs))
	byClientID := map[string][]int64{}
	want := cv.initialSeq + 1
	for _, m := range msgs {
		if m.Seq != want {
			add("seq gap in database", m.Seq, fmt.Sprintf("expected seq %d next", want))
		}
		want = m.Seq + 1
		bySeq[m.Seq] = m
		if isRunClientID(l.runID, m.ClientID) {
			found++
			byClientID[m.ClientID] = append(byClientID[m.ClientID], m.Seq)
		} else {
			other++
		}
	}
	for _, id := range sortedKeys(byClientID) {
		if seqs := byClientID[id]; len(seqs) > 1 {
			add("duplicate client_id in database", seqs[1], fmt.Sprintf("client_id %s stored as seqs %v", id, seqs))
		}
	}
	for _, s := range sortedSeqs(cv.acked) {
		rec := cv.acked[s]
		m, ok := bySeq[s]
		switch {
		case !ok:
			add("lost: not in database", s, fmt.Sprintf("acked client_id %s from conn %d", rec.clientID, rec.conn))
		case m.ClientID != rec.clientID || m.SenderID != rec.sender || m.Body != makeBody(rec.nanos, l.cfg.bodySize, l.vocabulary):
			add("database mismatch", s, fmt.Sprintf("acked client_id %s sender %d; stored client_id %s sender %d body %.40q", rec.clientID, rec.sender, m.ClientID, m.SenderID, m.Body))
		default:
			stored++
		}
	}
	for _, m := range msgs {
		if isRunClientID(l.runID, m.ClientID) {
			if rec, ok := cv.acked[m.Seq]; !ok || rec.clientID != m.ClientID {
				unacked++
			}
		}
	}
	return found, unacked, other, stored
}

// sortedSeqs returns m's keys in ascending order.
func sortedSeqs[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
