package main

import (
	"testing"
	"time"
)

// TestOutages: an outage runs from the first drop, while all were up and
// caught up, to the last of the dropped connections caught up again; a
// connection still behind at the end leaves it open in the report.
func TestOutages(t *testing.T) {
	t.Parallel()
	st := newStats()
	o := &outages{st: st}
	t0 := time.UnixMilli(1_000_000)
	o.down(t0)
	o.down(t0.Add(10 * time.Millisecond))
	st.caughtNew.Add(7)
	st.duplicated.Add(2)
	st.duplicatedCaught.Add(1)
	o.caughtUp(t0.Add(time.Second))
	o.down(t0.Add(1100 * time.Millisecond)) // a third drops before the second is back: the same outage
	o.caughtUp(t0.Add(2 * time.Second))
	o.caughtUp(t0.Add(3500 * time.Millisecond))
	o.down(t0.Add(10 * time.Second))
	list, more := o.report(t0.Add(12 * time.Second))
	want := []outageReport{
		{StartUnixMS: t0.UnixMilli(), EndUnixMS: t0.Add(3500 * time.Millisecond).UnixMilli(), Seconds: 3.5, Conns: 3, Fetched: 7, Duplicated: 2, DuplicatedCaught: 1},
		{StartUnixMS: t0.Add(10 * time.Second).UnixMilli(), Seconds: 2, Conns: 1, StillBehind: 1},
	}
	if more != 0 || len(list) != len(want) {
		t.Fatalf("%+v (and %d more), want %+v", list, more, want)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("outage %d: %+v, want %+v", i, list[i], want[i])
		}
	}
}
