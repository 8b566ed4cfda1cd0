package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// report is the run's result, written as text or JSON.
type report struct {
	Mode       string `json:"mode"` // "load", "idle" or "upload"
	URL        string `json:"url"`
	RunID      string `json:"run_id"`
	Users      int    `json:"users"`
	UserOffset int    `json:"user_offset"`
	Conns      int    `json:"conns"`
	// Group mode: groups of group_members members, group_senders of them
	// sending; sending_conns counts the connections that send (all of
	// them in direct mode).
	Groups       int     `json:"groups,omitempty"`
	GroupMembers int     `json:"group_members,omitempty"`
	GroupSenders int     `json:"group_senders,omitempty"`
	SendingConns int     `json:"sending_conns,omitempty"`
	Rate         float64 `json:"rate,omitempty"`
	Window       int     `json:"window,omitempty"`
	DurationS    float64 `json:"duration_s"`
	WarmupS      float64 `json:"warmup_s,omitempty"`
	BodySize     int     `json:"body_size,omitempty"`
	ElapsedS     float64 `json:"elapsed_s"` // the send (or hold) phase, as it was

	Sent               int64   `json:"sent"`
	Resent             int64   `json:"resent"`
	Acked              int64   `json:"acked"`
	AckedMeasured      int64   `json:"acked_measured"`
	AckedPerSec        float64 `json:"acked_per_s"`
	Delivered          int64   `json:"delivered"`
	DeliveredMeasured  int64   `json:"delivered_measured"`
	DeliveredPerSec    float64 `json:"delivered_per_s"`
	ExpectedDeliveries int64   `json:"expected_deliveries"` // Σ over acked messages of (connections in the conversation − 1)
	Skipped            int64   `json:"skipped"`
	Failed             int64   `json:"failed"`
	UnackedAtEnd       int64   `json:"unacked_at_end"`
	Foreign            int64   `json:"foreign_messages,omitempty"`

	AckLatency     *latency `json:"ack_latency_ms,omitempty"`
	DeliverLatency *latency `json:"deliver_latency_ms,omitempty"`

	Resyncs    int64            `json:"resync_frames"`
	Duplicated int64            `json:"duplicated_frames"`
	Opened     int64            `json:"handshakes"`
	Drops      int64            `json:"drops"`
	Reconnects int64            `json:"reconnects"`
	CaughtUp   int64            `json:"caught_up_messages"`
	Errors     map[string]int64 `json:"errors"`
	// Outages are the reconnect storms, from the first drop to every
	// dropped connection reconnected and caught up; OutagesLeftOut
	// counts those not listed.
	Outages        []outageReport `json:"outages,omitempty"`
	OutagesLeftOut int            `json:"outages_left_out,omitempty"`

	ServerRSS *rssReport    `json:"server_rss,omitempty"`
	ServerCPU *cpuReport    `json:"server_cpu,omitempty"`
	Idle      *idleReport   `json:"idle,omitempty"`
	Uploads   *uploadReport `json:"uploads,omitempty"`
	Verify    *verifyReport `json:"verify,omitempty"`
}

// latency summarizes a histogram, in milliseconds.
type latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func summarize(h *hdrhistogram.Histogram) *latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return &latency{
		Count: uint64(h.TotalCount()), Min: ms(h.Min()), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// rssReport is the server's resident memory, from /proc/PID/status.
type rssReport struct {
	PID       int   `json:"pid"`
	StartKB   int64 `json:"start_kb"`
	OpenKB    int64 `json:"open_kb,omitempty"`    // idle: once the connections are open and GC settled
	OpenConns int64 `json:"open_conns,omitempty"` // this process's connections open then
	// The server's open file descriptors at the start and with the
	// connections open: the difference counts every process's
	// connections, when several share the work.
	StartFDs int   `json:"start_fds,omitempty"`
	OpenFDs  int   `json:"open_fds,omitempty"`
	EndKB    int64 `json:"end_kb,omitempty"` // load: after the drain; upload: after the last upload
	// Upload mode: the highest of Samples readings, every -rss-interval
	// from the start of the uploads to their end.
	PeakKB  int64  `json:"peak_kb,omitempty"`
	Samples int64  `json:"samples,omitempty"`
	Error   string `json:"error,omitempty"`
}

// idleReport is the idle mode's result.
type idleReport struct {
	OpenSeconds float64 `json:"open_seconds"` // time to open every connection
	OpenAtEnd   int64   `json:"open_at_end"`
}

func (l *loader) newReport(mode string) *report {
	cfg := l.cfg
	r := &report{Mode: mode, URL: cfg.url, RunID: l.runID, Users: cfg.users, UserOffset: cfg.userOffset, Conns: cfg.conns, DurationS: cfg.duration.Seconds()}
	if mode == "upload" {
		r.Conns, r.DurationS = 0, 0
	}
	if mode == "load" {
		r.Rate, r.WarmupS, r.BodySize = cfg.rate, cfg.warmup.Seconds(), cfg.bodySize
		if cfg.groups > 0 {
			r.Groups, r.GroupMembers, r.GroupSenders = cfg.groups, cfg.groupMembers, cfg.groupSenders
		}
		if cfg.rate == 0 {
			r.Window = cfg.window
		}
	}
	return r
}

// fill copies the counters into the report, once every goroutine ended.
func (r *report) fill(l *loader, elapsed interface{ Seconds() float64 }) {
	st := l.st
	r.ElapsedS = elapsed.Seconds()
	r.SendingConns = l.sendingConns
	r.Sent, r.Resent = st.sent.Load(), st.resent.Load()
	r.Acked, r.AckedMeasured = st.acked.Load(), st.ackedMeasured.Load()
	r.Delivered, r.DeliveredMeasured = st.delivered.Load(), st.deliveredMeasured.Load()
	r.ExpectedDeliveries = st.expectedDeliv.Load()
	r.Skipped, r.Failed, r.UnackedAtEnd, r.Foreign = st.skipped.Load(), st.failed.Load(), st.pending.Load(), st.foreign.Load()
	r.Opened, r.Drops, r.Reconnects, r.CaughtUp = st.opened.Load(), st.drops.Load(), st.reconnects.Load(), st.caughtUp.Load()
	r.Resyncs, r.Duplicated = st.resyncs.Load(), st.duplicated.Load()
	r.Errors, _ = st.errorCounts()
	r.Outages, r.OutagesLeftOut = l.outages.report(time.Now())
	if r.Mode == "load" {
		if d := l.cfg.duration.Seconds(); d > 0 {
			r.AckedPerSec = float64(r.AckedMeasured) / d
			r.DeliveredPerSec = float64(r.DeliveredMeasured) / d
		}
		r.AckLatency = summarize(st.ackH.snapshot())
		r.DeliverLatency = summarize(st.deliverH.snapshot())
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes r for people to read and returns the first write error.
func (r *report) writeText(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format+"\n", args...)
		}
	}
	p("parley-load %s run %s against %s", r.Mode, r.RunID, r.URL)
	if r.Mode == "upload" {
		p("  users %d (from %d)", r.Users, r.UserOffset)
	} else {
		p("  users %d (from %d), connections %d", r.Users, r.UserOffset, r.Conns)
	}
	if r.Groups > 0 {
		p("  groups %d of %d members, %d senders each: %d sending connections", r.Groups, r.GroupMembers, r.GroupSenders, r.SendingConns)
	}
	if r.Mode == "load" {
		how := fmt.Sprintf("rate %.0f/s", r.Rate)
		if r.Rate == 0 {
			how = fmt.Sprintf("as fast as acks allow, window %d", r.Window)
		}
		p("  %s, %gs measured after %gs warm-up, bodies of %d bytes", how, r.DurationS, r.WarmupS, r.BodySize)
		p("sends:       %d sent, %d acked (%d measured: %.1f/s), %d resent, %d skipped, %d refused, %d unacked at the end",
			r.Sent, r.Acked, r.AckedMeasured, r.AckedPerSec, r.Resent, r.Skipped, r.Failed, r.UnackedAtEnd)
		p("deliveries:  %d (expected %d; %d measured: %.1f/s)", r.Delivered, r.ExpectedDeliveries, r.DeliveredMeasured, r.DeliveredPerSec)
		if r.Groups > 0 {
			p("fan-out:     %.1f messages/s stored, %.1f deliveries/s (message frames to members' connections, acks not counted)", r.AckedPerSec, r.DeliveredPerSec)
		}
		p("latency (ms)        p50      p90      p99    p99.9      max     mean   count")
		for _, x := range []struct {
			name string
			l    *latency
		}{{"send→ack", r.AckLatency}, {"send→deliver", r.DeliverLatency}} {
			p("  %-14s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %7d", x.name, x.l.P50, x.l.P90, x.l.P99, x.l.P999, x.l.Max, x.l.Mean, x.l.Count)
		}
	} else if u := r.Uploads; u != nil {
		what := "generated bytes"
		if u.File != "" {
			what = u.File
		}
		p("  %d uploads of %d bytes (%s), %d at once", u.Count, u.Size, what, u.Concurrency)
		p("uploads:     %d ok (%.1f MiB) in %.2fs: %.1f MiB/s; %d with a thumbnail; %d sent in messages", u.OK, float64(u.Bytes)/(1<<20), u.ElapsedS, u.MiBPerSec, u.Thumbnails, u.Sent)
		if len(u.Failed) == 0 {
			p("failed:      none")
		} else {
			var parts []string
			for _, k := range sortedKeys(u.Failed) {
				parts = append(parts, fmt.Sprintf("%s=%d", k, u.Failed[k]))
			}
			p("failed:      %s", strings.Join(parts, ", "))
		}
		p("latency (ms)        p50      p90      p99    p99.9      max     mean   count")
		x := u.Latency
		p("  %-14s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %7d", "upload", x.P50, x.P90, x.P99, x.P999, x.Max, x.Mean, x.Count)
	} else if r.Idle != nil {
		p("idle:        all open in %.1fs, held %.0fs, %d open at the end", r.Idle.OpenSeconds, r.ElapsedS, r.Idle.OpenAtEnd)
	}
	if r.Mode != "upload" {
		p("connections: %d handshakes, %d drops, %d reconnects, %d resync frames, %d messages fetched catching up", r.Opened, r.Drops, r.Reconnects, r.Resyncs, r.CaughtUp)
	}
	for _, o := range r.Outages {
		at := time.UnixMilli(o.StartUnixMS).UTC().Format("15:04:05.000")
		if o.StillBehind > 0 {
			p("outage:      %d connections dropped at %s; %d not caught up %.2f s later, at the end", o.Conns, at, o.StillBehind, o.Seconds)
			continue
		}
		p("outage:      %d connections dropped at %s; all reconnected and caught up %.2f s later (%d missed messages fetched; %d duplicate frames meanwhile, %d of them for a seq the catch-up had fetched)",
			o.Conns, at, o.Seconds, o.Fetched, o.Duplicated, o.DuplicatedCaught)
	}
	if r.OutagesLeftOut > 0 {
		p("outage:      and %d more", r.OutagesLeftOut)
	}
	if len(r.Errors) == 0 {
		p("errors:      none")
	} else {
		var parts []string
		for _, k := range sortedKeys(r.Errors) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Errors[k]))
		}
		p("errors:      %s", strings.Join(parts, ", "))
	}
	if s := r.ServerRSS; s != nil {
		switch {
		case s.Error != "":
			p("server RSS:  %s", s.Error)
		case r.Mode == "idle" && s.OpenKB > 0:
			conns := int64(s.OpenFDs - s.StartFDs) // every process's connections
			if conns <= 0 {
				conns = s.OpenConns
			}
			p("server RSS:  %.1f MiB at the start (%d open files), %.1f MiB with %d connections open (%d open files, %d of them this process's): %.1f KiB per connection",
				float64(s.StartKB)/1024, s.StartFDs, float64(s.OpenKB)/1024, conns, s.OpenFDs, s.OpenConns, float64(s.OpenKB-s.StartKB)/float64(max(conns, 1)))
		case r.Mode == "upload":
			p("server RSS:  %.1f MiB before the uploads, %.1f MiB at the peak (%d readings), %.1f MiB after the last",
				float64(s.StartKB)/1024, float64(s.PeakKB)/1024, s.Samples, float64(s.EndKB)/1024)
		default:
			p("server RSS:  %.1f MiB at the start, %.1f MiB at the end", float64(s.StartKB)/1024, float64(s.EndKB)/1024)
		}
	}
	if c := r.ServerCPU; c != nil {
		if r.Mode == "upload" {
			p("server CPU:  %.2f s over the uploads (%.1f s)", c.Seconds, c.WindowS)
		} else if c.Error != "" {
			p("server CPU:  %s", c.Error)
		} else {
			p("server CPU:  %.2f s over the window (%.1f s), %.1f ms per 1,000 acked messages (%.1f µs per message), %.1f ms per 1,000 deliveries (%.1f µs per delivery)",
				c.Seconds, c.WindowS, c.MSPer1000Acked, c.MSPer1000Acked, c.MSPer1000Deliveries, c.MSPer1000Deliveries)
		}
	}
	if v := r.Verify; v != nil {
		late := ""
		if v.Late > 0 {
			late = fmt.Sprintf(" (and %d late: not there when the drain timed out)", v.Late)
		}
		p("delivery:    acked=%d stored=%d delivered=%d (live %d, catch-up %d) lost=%d (%d messages)%s duplicated=%d",
			v.AckedMessages, v.Stored, v.DeliveredLive+v.DeliveredCatchUp, v.DeliveredLive, v.DeliveredCatchUp, v.Lost, v.LostMessages, late, v.Duplicated)
		p("verify:      %s", v.Summary)
		p("             %d of the run's messages in the database, %d stored but never acked, %d others",
			v.DBMessages, v.StoredUnacked, v.OtherDBMessages)
		for _, pr := range v.FirstProblems {
			p("  - %s: conversation %d seq %d conn %d %s: %s", pr.Kind, pr.ConversationID, pr.Seq, pr.Conn, pr.User, pr.Detail)
		}
	}
	return err
}

// countFDs returns how many files process pid has open.
func countFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries), err
}

// readRSS returns VmRSS of process pid in kB.
func readRSS(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
