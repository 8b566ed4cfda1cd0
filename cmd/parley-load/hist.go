package main

import (
	"math"
	"math/bits"
	"sync"
)

// histogram is a log-linear bucketed histogram of non-negative integer
// values (microseconds here), in the manner of HDR histograms: values below
// 64 have a bucket each; above, every power-of-two range [2^k, 2^(k+1)) is
// split into 64 equal sub-buckets, so a recorded value is known to within
// 1/64 (1.6 %) of itself. Buckets are allocated as values need them, so an
// empty histogram costs nothing. Histograms merge by adding counts.
// The zero value is ready to use; it is not safe for concurrent use.
type histogram struct {
	counts []uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

const (
	subBits  = 6
	subCount = 1 << subBits // sub-buckets per power of two
)

// bucketOf returns the index of the bucket holding v (v ≥ 0).
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := i/subCount - 1
	m := int64(i%subCount + subCount)
	return m << shift, (m+1)<<shift - 1
}

// record adds one value; a negative value counts as 0.
func (h *histogram) record(v int64) {
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	if i >= len(h.counts) {
		grown := make([]uint64, i+1+subCount)
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// merge adds o's values to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		grown := make([]uint64, len(o.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// count returns the number of recorded values.
func (h *histogram) count() uint64 { return h.n }

// mean returns the mean of the recorded values (0 when empty).
func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// quantile returns the value at percentile p (0 < p ≤ 100): the value of
// the recorded value of rank ceil(p/100·n), to within its bucket's width
// (the bucket's midpoint, clamped to the recorded minimum and maximum).
func (h *histogram) quantile(p float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// shardedHist is a histogram many goroutines record into, with little
// contention: each caller names a shard (its connection number, say).
type shardedHist struct {
	shards []lockedHist
}

type lockedHist struct {
	mu sync.Mutex
	h  histogram
	_  [40]byte // keep shards on separate cache lines
}

func newShardedHist(n int) *shardedHist {
	return &shardedHist{shards: make([]lockedHist, max(n, 1))}
}

// record adds v to shard k mod the number of shards.
func (s *shardedHist) record(k int, v int64) {
	sh := &s.shards[k%len(s.shards)]
	sh.mu.Lock()
	sh.h.record(v)
	sh.mu.Unlock()
}

// snapshot merges every shard into a new histogram.
func (s *shardedHist) snapshot() *histogram {
	var h histogram
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.merge(&sh.h)
		sh.mu.Unlock()
	}
	return &h
}
