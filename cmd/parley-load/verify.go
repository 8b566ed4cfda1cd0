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

	ConnsChecked   int `json:"conns_checked"`     // stayed connected: exactly-once checked
	ConnsReconn    int `json:"conns_reconnected"` // dropped and came back: catch-up checked
	ConnsDownAtEnd int `json:"conns_down_at_end"` // dropped and not back at the end: not checked

	AckedMessages   int64 `json:"acked_messages"`
	DBMessages      int64 `json:"db_messages"`       // this run's messages found in the database
	StoredUnacked   int64 `json:"stored_unacked"`    // this run's messages stored but never acked
	OtherDBMessages int64 `json:"other_db_messages"` // messages after the run's start not made by this run

	Problems      map[string]int64 `json:"problems"`       // by kind
	FirstProblems []problem        `json:"first_problems"` // the first 20, in detail
}

// failing lists the problem kinds that fail the verification; the rest
// are reported only.
func (l *loader) failing(kind string) bool {
	switch kind {
	case "out of order":
		return l.cfg.checkOrder
	}
	return true
}

// verify checks, for every conversation, that each acked message reached
// each of its member connections exactly once and in order (connections
// that stayed up), that reconnected connections caught up, and that the
// database holds each acked message once.
func (l *loader) verify(ctx context.Context) *verifyReport {
	v := &verifyReport{}
	for _, cv := range l.convs {
		v.AckedMessages += int64(len(cv.acked))
		for _, c := range cv.conns {
			l.verifyConn(cv, c, v)
		}
	}
	var dbMsgs, unacked, other atomic.Int64
	err := forEach(ctx, len(l.convs), 8, func(ctx context.Context, i int) error {
		d, u, o := l.verifyDB(ctx, l.convs[i])
		dbMsgs.Add(d)
		unacked.Add(u)
		other.Add(o)
		return nil
	})
	if err != nil {
		l.probs.add(problem{Kind: "database check failed", Detail: err.Error()})
	}
	v.DBMessages, v.StoredUnacked, v.OtherDBMessages = dbMsgs.Load(), unacked.Load(), other.Load()

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
		v.Summary = fmt.Sprintf("OK: %d acked messages; %d connections checked exactly-once and in order, %d reconnected ones caught up; all %d in the database once",
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
// conversation's acked messages. Every goroutine has been joined.
func (l *loader) verifyConn(cv *conv, c *conn, v *verifyReport) {
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
		case own[s]:
			add("delivered to its sender", s, "the sending connection got a message frame besides the ack")
		case count[s] > 1:
			add("duplicate delivery", s, fmt.Sprintf("message frame received %d times", count[s]))
		}
	}
	// Order, within each session (a reconnect starts a new stream).
	for i, from := range c.sessions {
		to := len(c.frames)
		if i+1 < len(c.sessions) {
			to = c.sessions[i+1]
		}
		for j := from + 1; j < to; j++ {
			if c.frames[j] <= c.frames[j-1] {
				add("out of order", c.frames[j], fmt.Sprintf("seq %d arrived after seq %d (session %d)", c.frames[j], c.frames[j-1], i+1))
			}
		}
	}
	switch {
	case c.drops == 0 && c.upAtEnd:
		v.ConnsChecked++
		for _, s := range sortedSeqs(cv.acked) {
			if rec := cv.acked[s]; rec.conn != c.k && count[s] == 0 {
				if l.drainTimedOut {
					// Still a failure, but of the run: the server fell
					// behind, and this delivery may have been on its way.
					add("not delivered before the drain timed out (server overloaded)", s, fmt.Sprintf("client_id %s from conn %d had not arrived when the drain ended", rec.clientID, rec.conn))
					continue
				}
				add("lost: not delivered", s, fmt.Sprintf("client_id %s from conn %d never arrived on this connection, connected all along", rec.clientID, rec.conn))
			}
		}
	case c.upAtEnd:
		v.ConnsReconn++
		for _, s := range sortedSeqs(cv.acked) {
			if rec := cv.acked[s]; rec.conn != c.k && count[s] == 0 && !c.caught[s] {
				add("lost: not caught up", s, fmt.Sprintf("client_id %s from conn %d neither arrived nor was fetched after %d reconnects", rec.clientID, rec.conn, c.drops))
			}
		}
	default:
		v.ConnsDownAtEnd++
	}
}

// verifyDB reads the conversation's messages since the run began and
// checks that every acked message is there once, as sent. It returns the
// run's messages found, those never acked, and others.
func (l *loader) verifyDB(ctx context.Context, cv *conv) (found, unacked, other int64) {
	add := func(kind string, seq int64, detail string) {
		l.probs.add(problem{Kind: kind, ConversationID: cv.id, Seq: seq, Conn: -1, Detail: detail})
	}
	var msgs []wire.Message
	var err error
	// The server may be restarting (crash tests): retry for a while.
	for attempt := range 10 {
		msgs = msgs[:0]
		err = l.api.messagesAfter(ctx, cv.members[0].client, cv.id, cv.initialSeq, func(m wire.Message) { msgs = append(msgs, m) })
		if err == nil || ctx.Err() != nil {
			break
		}
		sleep(ctx, time.Duration(attempt+1)*time.Second)
	}
	if err != nil {
		add("database check failed", 0, err.Error())
		return 0, 0, 0
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
		}
	}
	for _, m := range msgs {
		if isRunClientID(l.runID, m.ClientID) {
			if rec, ok := cv.acked[m.Seq]; !ok || rec.clientID != m.ClientID {
				unacked++
			}
		}
	}
	return found, unacked, other
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
