package main

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/parleychat/parley/internal/wire"
)

// sentFrames is a frameWriter that keeps the send frames written to it.
type sentFrames struct{ frames []wire.ClientFrame }

func (w *sentFrames) SetWriteDeadline(time.Time) error { return nil }

func (w *sentFrames) WriteMessage(_ int, data []byte) error {
	var f wire.ClientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	w.frames = append(w.frames, f)
	return nil
}

// TestRateLatencyFromSchedule: at a fixed rate, a sender that fell
// behind its schedule (here by ten seconds: its clock says the send phase
// began 10 s ago and it has sent nothing) sends what is due, and each
// message's send→ack and send→deliver latency is counted from its slot,
// not from when it went: the lag shows in the figures (no coordinated
// omission). In group mode, as here, for every member's connection. Slots
// that came while a connection was down are skipped and counted instead.
func TestRateLatencyFromSchedule(t *testing.T) {
	t.Parallel()
	cfg := config{url: "http://127.0.0.1:1", dialConc: 1, rate: 10, maxPending: 1000, bodySize: 64,
		groups: 1, groupMembers: 3, groupSenders: 1, users: 3, conns: 3}
	l := newLoader(cfg, io.Discard)
	cv := &conv{id: 5, acked: map[int64]ackRec{}}
	for i := range 3 {
		u := &user{index: i, name: "member" + string(rune('a'+i)), id: int64(100 + i), conv: cv, sends: i == 0}
		cv.members = append(cv.members, u)
		l.users = append(l.users, u)
	}
	l.convs = []*conv{cv}
	l.makeConns()
	sender, receivers := l.conns[0], l.conns[1:]
	if l.sendingConns != 1 || sender.sk != 0 || receivers[0].sk != -1 {
		t.Fatalf("sending connections %d, sender's index %d, a receiver's %d", l.sendingConns, sender.sk, receivers[0].sk)
	}

	const lag = 10 * time.Second
	now := time.Now()
	l.sendStart = now.Add(-lag)
	l.sendEnd = now.Add(time.Hour)
	l.measureNanos.Store(l.sendStart.UnixNano())
	w := &sentFrames{}
	if _, err := sender.sendMore(w, now); err != nil {
		t.Fatal(err)
	}
	// Slots every 100 ms from 10 s ago up to now.
	if len(w.frames) != 101 || sender.slot != 101 || l.st.skipped.Load() != 0 {
		t.Fatalf("%d sent, next slot %d, %d skipped; want the 101 slots due, none skipped", len(w.frames), sender.slot, l.st.skipped.Load())
	}
	var wantSum int64 // µs: Σ of the lags, a floor for Σ latency
	for j, f := range w.frames {
		due := sender.slotTime(int64(j))
		if got := bodyNanos(*f.Body); got != due.UnixNano() {
			t.Fatalf("send %d carries time %v, want its slot's %v", j, time.Unix(0, got), due)
		}
		wantSum += now.Sub(due).Microseconds()
		// The server acks it and publishes it to the other members.
		raw, err := json.Marshal(wire.Message{ConversationID: cv.id, Seq: int64(j + 1), SenderID: sender.u.id, ClientID: *f.ClientID, Body: *f.Body})
		if err != nil {
			t.Fatal(err)
		}
		sender.onAck(wire.ServerFrame{Type: wire.TypeAck, ClientID: *f.ClientID, Message: raw})
		for _, r := range receivers {
			r.onMessage(wire.ServerFrame{Type: wire.TypeMessage, Message: raw})
		}
	}
	for _, x := range []struct {
		name string
		h    *hdrhistogram.Histogram
		n    int64
	}{{"send→ack", l.st.ackH.snapshot(), 101}, {"send→deliver", l.st.deliverH.snapshot(), 202}} {
		if x.h.TotalCount() != x.n {
			t.Errorf("%s: %d recorded, want %d", x.name, x.h.TotalCount(), x.n)
			continue
		}
		// Each latency is at least its slot's lag (to within the µs a
		// recording truncates, and the histogram's 0.1 %), however fast
		// the fake server answered.
		floor := float64(wantSum)*float64(x.n)/101*0.999 - float64(x.n)
		if sum := x.h.Mean() * float64(x.n); sum < floor {
			t.Errorf("%s: latencies add up to %.0f µs, less than the %.0f µs the sends were behind schedule: measured from the actual send", x.name, sum, floor)
		}
		if x.h.Max() < lag.Microseconds()-1 {
			t.Errorf("%s: max %d µs, want at least the first slot's lag, %d µs", x.name, x.h.Max(), lag.Microseconds())
		}
	}

	// Down for a second, then back: the ten slots that came meanwhile are
	// skipped, not sent in a burst.
	sender.skipMissed(now.Add(time.Second + time.Millisecond))
	if sender.slot != 111 || l.st.skipped.Load() != 10 {
		t.Errorf("after a second away: next slot %d, %d skipped; want 111 and 10", sender.slot, l.st.skipped.Load())
	}
}
