package main

import (
	"math"
	"strings"
	"testing"
)

// TestLatencyHist: the quantiles parley-load reports are the recorded
// values' to within 0.1 %, whichever shards recorded them; values out of
// range are clamped, not lost.
func TestLatencyHist(t *testing.T) {
	s := newShardedHist(4)
	for v := int64(1); v <= 100000; v++ {
		s.record(int(v), v)
	}
	h := s.snapshot()
	if h.TotalCount() != 100000 || h.Min() != 1 || h.Max() < 100000 || h.Max() > 100100 {
		t.Fatalf("count %d min %d max %d", h.TotalCount(), h.Min(), h.Max())
	}
	if m := h.Mean(); math.Abs(m-50000.5)/50000.5 > 0.001 {
		t.Errorf("mean %v, want 50000.5 within 0.1 %%", m)
	}
	for _, c := range []struct {
		p    float64
		want int64
	}{{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}, {100, 100000}} {
		if got := h.ValueAtQuantile(c.p); math.Abs(float64(got-c.want))/float64(c.want) > 0.001 {
			t.Errorf("p%v = %d, want %d within 0.1 %%", c.p, got, c.want)
		}
	}
	// Small values are exact.
	small := newShardedHist(2)
	for i, v := range []int64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3} {
		small.record(i, v)
	}
	for _, c := range []struct {
		p    float64
		want int64
	}{{10, 1}, {20, 1}, {50, 3}, {80, 5}, {90, 6}, {100, 9}} {
		if got := small.snapshot().ValueAtQuantile(c.p); got != c.want {
			t.Errorf("small: p%v = %d, want %d", c.p, got, c.want)
		}
	}

	edges := newShardedHist(1)
	edges.record(0, -5)
	edges.record(0, 2*maxLatency)
	if e := edges.snapshot(); e.TotalCount() != 2 || e.Min() != 0 || e.Max() < maxLatency {
		t.Errorf("a negative and an overlong value: count %d min %d max %d, want 2, 0 and an hour", e.TotalCount(), e.Min(), e.Max())
	}
}

func TestBody(t *testing.T) {
	for _, vocabulary := range [][]string{nil, strings.Fields(bodyWords)} {
		for _, size := range []int{0, 10, 64, 4000} {
			b := makeBody(1764223740187637123, size, vocabulary)
			if got := bodyNanos(b); got != 1764223740187637123 {
				t.Errorf("size %d: nanos %d from %q", size, got, b)
			}
			if size > 30 && (len(b) != size || strings.TrimSpace(b) != b) {
				t.Errorf("size %d: body of %d bytes: %q", size, len(b), b)
			}
			if again := makeBody(1764223740187637123, size, vocabulary); again != b {
				t.Errorf("size %d: %q, then %q", size, b, again)
			}
		}
	}
	if bodyNanos("hello") != 0 || bodyNanos("load 12x3") != 0 {
		t.Error("bodyNanos should answer 0 for foreign bodies")
	}
}
