package main

import (
	"fmt"
	"io"
	"net/url"
	"testing"
)

// TestVerifyConnFindsProblems feeds the connection check made-up streams.
func TestVerifyConnFindsProblems(t *testing.T) {
	cfg := config{url: "http://127.0.0.1:1", checkOrder: true, dialConc: 1}
	if err := cfg.check(); err == nil {
		t.Fatal("a config with no users should not pass its check")
	}
	l := newLoader(cfg, io.Discard)
	a, b := &user{name: "a", id: 1}, &user{name: "b", id: 2}
	cv := &conv{id: 7, members: []*user{a, b}, acked: map[int64]ackRec{}}
	// Seqs 1-6 acked: 1, 3, 5 sent by connection 0; 2, 4, 6 by connection 1.
	for s := int64(1); s <= 6; s++ {
		cv.acked[s] = ackRec{clientID: "x", conn: int((s + 1) % 2), sender: 1 + (s+1)%2}
	}
	mk := func(k int, u *user, own, frames []int64, sessions []int, drops int, up bool, caught ...int64) *conn {
		c := &conn{l: l, k: k, u: u, cv: cv, own: own, frames: frames, sessions: sessions, drops: drops, upAtEnd: up, caught: map[int64]bool{}}
		for _, s := range caught {
			c.caught[s] = true
		}
		return c
	}
	conns := []*conn{
		// Perfect.
		mk(0, a, []int64{1, 3, 5}, []int64{2, 4, 6}, []int{0}, 0, true),
		// Lost 1, got 3 twice and after 5, and its own 2 as a frame.
		mk(1, b, []int64{2, 4, 6}, []int64{2, 5, 3, 3}, []int{0}, 0, true),
		// Reconnected: 2 came before the drop, 4 by catch-up, 6 never.
		mk(2, a, nil, []int64{1, 2, 3, 5}, []int{0, 2}, 1, true, 4),
		// Down at the end: not checked.
		mk(3, b, nil, []int64{1}, []int{0}, 1, false),
	}
	cv.conns = conns
	v := &verifyReport{}
	for _, c := range conns {
		l.verifyConn(cv, c, v)
	}
	want := map[string]int64{
		"lost: not delivered":     1, // conn 1: seq 1
		"duplicate delivery":      1, // conn 1: seq 3 (reported, not failing)
		"out of order":            1, // conn 1: 3 after 5 (the second 3 is a duplicate, not a step back); conn 2 none across sessions
		"delivered to its sender": 1, // conn 1: seq 2
		"lost: not caught up":     1, // conn 2: seq 6
	}
	got := l.probs.counts
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s: %d", k, n)
		}
	}
	if v.ConnsChecked != 2 || v.ConnsReconn != 1 || v.ConnsDownAtEnd != 1 {
		t.Errorf("checked %d, reconnected %d, down %d; want 2, 1, 1", v.ConnsChecked, v.ConnsReconn, v.ConnsDownAtEnd)
	}
	if first := l.probs.first(l.failing); len(first) != 5 {
		t.Errorf("%d problems listed, want 5", len(first))
	}
	if l.failing("duplicate delivery") {
		t.Error("a duplicate fails the verification: delivery is at least once")
	}
	if v.DeliveredLive != 9 || v.DeliveredCatchUp != 1 || v.Lost != 2 {
		t.Errorf("delivered live %d, by catch-up %d, lost %d; want 9, 1, 2", v.DeliveredLive, v.DeliveredCatchUp, v.Lost)
	}
}

// TestVerifyConnFindsGroupProblems feeds the connection check a group's
// made-up streams: five members, two of them sending, one member with two
// connections. Each fault a group run could show is reported, and a
// member's connections that got every message once and in order are not.
func TestVerifyConnFindsGroupProblems(t *testing.T) {
	base := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	l := newLoader(config{url: base.String(), base: base, checkOrder: true, dialConc: 1}, io.Discard)
	members := make([]*user, 5)
	for i := range members {
		members[i] = &user{name: fmt.Sprintf("m%d", i), id: int64(i + 1)}
	}
	// The group's creation took seqs 1-5; the run's messages are 6-11:
	// even seqs sent by connection 0 (member 0), odd ones by connection 1
	// (member 1).
	cv := &conv{id: 9, members: members, initialSeq: 5, acked: map[int64]ackRec{}}
	for s := int64(6); s <= 11; s++ {
		cv.acked[s] = ackRec{clientID: fmt.Sprint("x-", s), conn: int(s % 2), sender: 1 + s%2}
	}
	mk := func(k int, u *user, own, frames []int64) *conn {
		return &conn{l: l, k: k, u: u, cv: cv, own: own, frames: frames, sessions: []int{0}, upAtEnd: true}
	}
	cases := []struct {
		name string
		c    *conn
		want map[string]int64
	}{
		{"sender, perfect", mk(0, members[0], []int64{6, 8, 10}, []int64{7, 9, 11}), nil},
		{"sender, perfect, the other sender", mk(1, members[1], []int64{7, 9, 11}, []int64{6, 8, 10}), nil},
		{"the sender's other connection, perfect", mk(5, members[0], nil, []int64{6, 7, 8, 9, 10, 11}), nil},
		{"missing", mk(2, members[2], nil, []int64{6, 7, 8, 10, 11}), map[string]int64{"lost: not delivered": 1}},
		{"duplicate", mk(3, members[3], nil, []int64{6, 7, 8, 8, 9, 10, 11}), map[string]int64{"duplicate delivery": 1}},
		{"out of order", mk(4, members[4], nil, []int64{6, 7, 9, 8, 10, 11}), map[string]int64{"out of order": 1}},
		{"its own message as a frame", mk(0, members[0], []int64{6, 8, 10}, []int64{7, 8, 9, 11}), map[string]int64{"delivered to its sender": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.probs = problems{}
			v := &verifyReport{}
			l.verifyConn(cv, tc.c, v)
			if v.ConnsChecked != 1 {
				t.Errorf("%d connections checked, want 1", v.ConnsChecked)
			}
			got := l.probs.counts
			for k, n := range tc.want {
				if got[k] != n {
					t.Errorf("%s: %d, want %d", k, got[k], n)
				}
				if !l.failing(k) && k != "duplicate delivery" {
					t.Errorf("%s does not fail the verification", k)
				}
			}
			for k, n := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s: %d", k, n)
				}
			}
		})
	}
}
