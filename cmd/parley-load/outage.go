package main

import (
	"sync"
	"time"
)

// outages tracks the run's reconnect storms: an outage begins when a
// connection that was up drops while every other was up and caught up,
// and ends when the last connection that dropped meanwhile has connected
// again (hello) and fetched what it missed (the catch-up after a
// reconnect). The final verification checks that each missed message
// then arrived exactly once.
type outages struct {
	st *stats

	mu     sync.Mutex
	behind int            // connections down, or up and not caught up yet
	cur    *outageReport  // the outage going on, if any
	done   []outageReport // ended ones, the first maxOutages
	more   int            // ended ones not kept
	// The counters when the outage began, for its share of them.
	fetched0, dups0, dupsCaught0 int64
}

// maxOutages is how many outages a report lists.
const maxOutages = 20

// outageReport is one outage: from the first drop to all caught up.
type outageReport struct {
	StartUnixMS int64 `json:"start_unix_ms"`         // the first connection noticed its drop
	EndUnixMS   int64 `json:"end_unix_ms,omitempty"` // the last one had caught up; 0: not by the end of the run
	// Seconds from the first drop to all caught up (to the run's end if
	// some never did).
	Seconds float64 `json:"seconds"`
	Conns   int     `json:"conns"` // connections that dropped in it
	// StillBehind counts connections not caught up when the run ended.
	StillBehind int `json:"still_behind,omitempty"`
	// Messages the catch-ups fetched that the connections had not had,
	// and duplicate message frames over the outage: frames for a seq the
	// connection had already, DuplicatedCaught of them for one its
	// catch-up had fetched first (published after its hello and also
	// read by the fetch). A client drops them by (conversation, seq).
	Fetched          int64 `json:"fetched_missed"`
	Duplicated       int64 `json:"duplicated_frames"`
	DuplicatedCaught int64 `json:"duplicated_after_catch_up"`
}

// down records that a connection which was up and caught up dropped.
func (o *outages) down(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.behind == 0 {
		o.cur = &outageReport{StartUnixMS: now.UnixMilli()}
		o.fetched0, o.dups0, o.dupsCaught0 = o.st.caughtNew.Load(), o.st.duplicated.Load(), o.st.duplicatedCaught.Load()
	}
	o.behind++
	o.cur.Conns++
}

// caughtUp records that a connection which had dropped is connected
// again and has fetched what it missed.
func (o *outages) caughtUp(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.behind--
	if o.behind > 0 {
		return
	}
	o.finish(now)
	o.cur.EndUnixMS = now.UnixMilli()
	if len(o.done) < maxOutages {
		o.done = append(o.done, *o.cur)
	} else {
		o.more++
	}
	o.cur = nil
}

// finish fills in the figures of the outage going on as of now. o.mu is
// held.
func (o *outages) finish(now time.Time) {
	o.cur.Seconds = float64(now.UnixMilli()-o.cur.StartUnixMS) / 1000
	o.cur.Fetched = o.st.caughtNew.Load() - o.fetched0
	o.cur.Duplicated = o.st.duplicated.Load() - o.dups0
	o.cur.DuplicatedCaught = o.st.duplicatedCaught.Load() - o.dupsCaught0
}

// report returns the outages, the one going on at the end (if any) last,
// and how many ended ones were left out.
func (o *outages) report(end time.Time) ([]outageReport, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	list := append([]outageReport(nil), o.done...)
	if o.cur != nil {
		o.finish(end)
		cur := *o.cur
		cur.StillBehind = o.behind
		list = append(list, cur)
	}
	return list, o.more
}
