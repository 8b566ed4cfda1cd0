package main

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	check := func(v int64) {
		t.Helper()
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, hi, subCount)
		}
	}
	for v := range int64(5000) {
		check(v)
	}
	// Consecutive buckets tile the line.
	for i := 1; i < 40*subCount; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, lo, i-1, prevHi)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(r.Int64N(math.MaxInt64))
	}
	check(math.MaxInt64)
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.record(v)
	}
	if h.count() != 100000 || h.min != 1 || h.max != 100000 {
		t.Fatalf("count %d min %d max %d", h.count(), h.min, h.max)
	}
	if m := h.mean(); math.Abs(m-50000.5) > 1e-6 {
		t.Errorf("mean %v, want 50000.5", m)
	}
	for _, c := range []struct {
		p    float64
		want int64
	}{{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}, {100, 100000}, {0.001, 1}} {
		got := h.quantile(c.p)
		if rel := math.Abs(float64(got-c.want)) / float64(c.want); rel > 1.0/subCount {
			t.Errorf("p%v = %d, want %d within 1/%d (off by %.2f%%)", c.p, got, c.want, subCount, rel*100)
		}
	}

	// Small values are exact.
	var small histogram
	for _, v := range []int64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3} {
		small.record(v)
	}
	for _, c := range []struct {
		p    float64
		want int64
	}{{10, 1}, {20, 1}, {50, 3}, {80, 5}, {90, 6}, {100, 9}} {
		if got := small.quantile(c.p); got != c.want {
			t.Errorf("small: p%v = %d, want %d", c.p, got, c.want)
		}
	}

	var empty histogram
	if empty.quantile(50) != 0 || empty.mean() != 0 {
		t.Error("an empty histogram should answer 0")
	}
	empty.record(-5)
	if empty.min != 0 || empty.quantile(50) != 0 {
		t.Error("a negative value should count as 0")
	}
}

func TestHistogramMerge(t *testing.T) {
	var whole, a, b histogram
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50000 {
		v := int64(r.ExpFloat64() * 2000) // latency-like: long tail
		whole.record(v)
		if i%3 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	var merged histogram
	merged.merge(&a)
	merged.merge(&b)
	merged.merge(&histogram{})
	if merged.count() != whole.count() || merged.min != whole.min || merged.max != whole.max || math.Abs(merged.sum-whole.sum) > 1e-3 {
		t.Fatalf("merged count %d min %d max %d sum %v; whole %d %d %d %v",
			merged.count(), merged.min, merged.max, merged.sum, whole.count(), whole.min, whole.max, whole.sum)
	}
	for _, p := range []float64{50, 90, 99, 99.9} {
		if merged.quantile(p) != whole.quantile(p) {
			t.Errorf("p%v: merged %d, whole %d", p, merged.quantile(p), whole.quantile(p))
		}
	}

	s := newShardedHist(4)
	for i := range 1000 {
		s.record(i, int64(i))
	}
	if snap := s.snapshot(); snap.count() != 1000 || snap.min != 0 || snap.max != 999 {
		t.Errorf("sharded: count %d min %d max %d", snap.count(), snap.min, snap.max)
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
