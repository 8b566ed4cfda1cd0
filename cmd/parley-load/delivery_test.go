package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// TestSeveralURLs: -url repeated or as a comma list spreads the users over
// the nodes in turn, so that a direct conversation's two members are on
// different nodes.
func TestSeveralURLs(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{
		{"-url", "http://127.0.0.1:8081", "-url", "http://127.0.0.1:8082/"},
		{"-url", "http://127.0.0.1:8081, http://127.0.0.1:8082"},
	} {
		cfg, err := parseFlags(append([]string{"parley-load"}, args...), noEnv, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		l := newLoader(cfg, io.Discard)
		for i, want := range []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8081", "http://127.0.0.1:8082"} {
			if got := l.userBase(i).String(); got != want {
				t.Errorf("%q: user %d on %s, want %s", args, i, got, want)
			}
		}
		if got := wsURL(l.userBase(1)); got != "ws://127.0.0.1:8082/ws" {
			t.Errorf("%q: WebSocket URL %s", args, got)
		}
	}
	cfg, err := parseFlags([]string{"parley-load"}, noEnv, io.Discard)
	if err != nil || len(cfg.bases) != 1 || cfg.bases[0].String() != "http://127.0.0.1:8080" {
		t.Errorf("default -url: %v %v", cfg.bases, err)
	}
	if _, err := parseFlags([]string{"parley-load", "-url", "http://127.0.0.1:8081,ftp://x"}, noEnv, io.Discard); err == nil {
		t.Error("a comma list with a bad URL passed")
	}
}

// fakeMessages serves GET /api/v1/conversations/{id}/messages?after_seq=N
// from msgs, two a page, as the server pages them.
func fakeMessages(t *testing.T, conv int64, msgs []wire.Message) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, err := strconv.ParseInt(r.URL.Query().Get("after_seq"), 10, 64)
		if r.URL.Path != fmt.Sprintf("/api/v1/conversations/%d/messages", conv) || err != nil {
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		var page wire.MessagesResponse
		for _, m := range msgs {
			if m.Seq > after {
				if len(page.Messages) == 2 {
					page.HasMore = true
					break
				}
				page.Messages = append(page.Messages, m)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page) // the test fails on what the client then misses
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDeliveryAccounting: what the report calls delivered (live, by
// catch-up), lost, duplicated and stored, from made-up streams: a resync
// frame makes a connection fetch what it lacks, paging; a live frame for
// a message it has is a duplicate, not a second delivery; a reconnected
// connection that did not catch up lost what it missed; a resent
// message published again to its sender is a duplicate, not a fault.
func TestDeliveryAccounting(t *testing.T) {
	t.Parallel()
	const convID = 7
	a, b := &user{name: "a", id: 1}, &user{name: "b", id: 2}
	l := newLoader(config{url: "http://127.0.0.1:1", checkOrder: true, dialConc: 1, bodySize: 64}, io.Discard)
	cv := &conv{id: convID, members: []*user{a, b}, initialSeq: 10, acked: map[int64]ackRec{}}
	// Seqs 11-14, all sent by connection 0 (a) and stored.
	var msgs []wire.Message
	for s := int64(11); s <= 14; s++ {
		rec := ackRec{clientID: fmt.Sprintf("%s-0-%d", l.runID, s), conn: 0, sender: a.id, nanos: s * 1000}
		cv.acked[s] = rec
		msgs = append(msgs, wire.Message{ConversationID: convID, Seq: s, SenderID: a.id, ClientID: rec.clientID, Body: makeBody(rec.nanos, 64, nil)})
	}
	srv := fakeMessages(t, convID, msgs)
	base := mustURL(t, srv.URL)
	a.base, b.base, a.client, b.client = base, base, srv.Client(), srv.Client()
	frame := func(seq int64) wire.ServerFrame {
		raw, err := json.Marshal(msgs[seq-11])
		if err != nil {
			t.Fatal(err)
		}
		return wire.ServerFrame{Type: wire.TypeMessage, Message: raw}
	}
	mk := func(k int, u *user) *conn {
		c := &conn{l: l, k: k, u: u, cv: cv, wm: cv.initialSeq, resync: make(chan struct{}, 1), sessions: []int{0}, upAtEnd: true, pending: map[string]*pend{}}
		cv.conns = append(cv.conns, c)
		return c
	}
	sender, throughout, back := mk(0, a), mk(1, b), mk(2, b)
	l.convs = []*conv{cv}

	// The sender: its acks, 12 acked after a resend and published again
	// to it.
	for s := int64(11); s <= 14; s++ {
		sender.own = append(sender.own, s)
		sender.know(s)
	}
	sender.resentOwn = map[int64]bool{12: true}
	sender.onMessage(frame(12))

	// Connected throughout: 11 and 12 live, 12 twice; a resync frame; the
	// catch-up fetches 13 and 14 (two pages); then 13 comes live too.
	throughout.onMessage(frame(11))
	throughout.onMessage(frame(12))
	throughout.onMessage(frame(12))
	ctx, cancel := context.WithCancel(context.Background())
	readerDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { throughout.serveResyncs(ctx, readerDone) })
	throughout.resync <- struct{}{}
	deadline := time.Now().Add(time.Minute)
	for {
		throughout.mu.Lock()
		wm := throughout.wm
		throughout.mu.Unlock()
		if wm == 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resync's catch-up did not reach seq 14: watermark %d", wm)
		}
		// The poll interval of this wait for the catch-up, which ends as
		// soon as it is done.
		time.Sleep(time.Millisecond) // poll interval: the loop above checks the catch-up's watermark
	}
	cancel()
	wg.Wait()
	throughout.onMessage(frame(13))

	// Reconnected, and did not catch up: 11 live, 12-14 lost.
	back.drops = 1
	back.onMessage(frame(11))

	if l.failing("duplicate delivery") {
		t.Error("a duplicate fails the verification: delivery is at least once")
	}
	v := l.verify(context.Background())
	if v.AckedMessages != 4 || v.Stored != 4 {
		t.Errorf("acked %d, stored %d; want 4 and 4", v.AckedMessages, v.Stored)
	}
	if v.DeliveredLive != 3 || v.DeliveredCatchUp != 2 || v.Lost != 3 || v.LostMessages != 3 || v.Duplicated != 3 {
		t.Errorf("delivered live %d, by catch-up %d; lost %d (%d messages); duplicated %d; want 3, 2; 3 (3); 3",
			v.DeliveredLive, v.DeliveredCatchUp, v.Lost, v.LostMessages, v.Duplicated)
	}
	if l.st.duplicated.Load() != 3 || l.st.delivered.Load() != 3 || l.st.caughtNew.Load() != 2 {
		t.Errorf("counters: duplicated %d, delivered %d, caught up %d; want 3, 3, 2", l.st.duplicated.Load(), l.st.delivered.Load(), l.st.caughtNew.Load())
	}
	want := map[string]int64{"lost: not caught up": 3, "duplicate delivery": 1}
	for k, n := range l.probs.counts {
		if want[k] != n {
			t.Errorf("%s: %d, want %d", k, n, want[k])
		}
	}
	if v.OK {
		t.Error("a run with lost messages passed")
	}
}

// TestUnavailableIsRetried: an `unavailable` error frame, like
// `rate_limited`, keeps the send pending for a resend of the same
// client_id after retry_after_ms; other refusals give it up.
func TestUnavailableIsRetried(t *testing.T) {
	t.Parallel()
	l := newLoader(config{url: "http://127.0.0.1:1", dialConc: 1}, io.Discard)
	c := &conn{l: l, wake: make(chan struct{}, 1), pending: map[string]*pend{}}
	for _, id := range []string{"x-1", "x-2"} {
		c.pending[id] = &pend{clientID: id}
		l.st.pending.Add(1)
	}
	before := time.Now()
	c.onError(wire.ServerFrame{Type: wire.TypeError, Code: "unavailable", ClientID: "x-1", RetryAfterMS: 1000})
	c.onError(wire.ServerFrame{Type: wire.TypeError, Code: "forbidden", ClientID: "x-2"})
	p := c.pending["x-1"]
	if p == nil || !p.retrying || c.retrying != 1 || p.retryAt.Before(before.Add(time.Second)) {
		t.Errorf("after unavailable: %+v, %d retrying", p, c.retrying)
	}
	if c.pending["x-2"] != nil || l.st.failed.Load() != 1 || l.st.pending.Load() != 1 {
		t.Errorf("a forbidden send is still pending, or not counted: failed %d, pending %d", l.st.failed.Load(), l.st.pending.Load())
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
