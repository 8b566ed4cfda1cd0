package main

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// maxLatency is the longest latency recorded as itself, in µs; a longer
// one is recorded as it.
const maxLatency = int64(time.Hour / time.Microsecond)

// newLatencyHist returns an HDR histogram of latencies in microseconds
// (github.com/HdrHistogram/hdrhistogram-go): 0 to an hour, each value
// known to within 0.1 % (three significant digits), in 184 KiB.
func newLatencyHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatency, 3)
}

// shardedHist is a latency histogram many goroutines record into, with
// little contention: each caller names a shard (its connection number,
// say). An HDR histogram is not safe for concurrent use.
type shardedHist struct {
	shards []lockedHist
}

type lockedHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [48]byte // keep shards on separate cache lines
}

func newShardedHist(n int) *shardedHist {
	s := &shardedHist{shards: make([]lockedHist, max(n, 1))}
	for i := range s.shards {
		s.shards[i].h = newLatencyHist()
	}
	return s
}

// record adds v µs to shard k mod the number of shards; a negative v
// counts as 0, one over an hour as an hour.
func (s *shardedHist) record(k int, v int64) {
	v = min(max(v, 0), maxLatency)
	sh := &s.shards[k%len(s.shards)]
	sh.mu.Lock()
	_ = sh.h.RecordValue(v) // within the histogram's range: cannot fail
	sh.mu.Unlock()
}

// snapshot merges every shard into a new histogram.
func (s *shardedHist) snapshot() *hdrhistogram.Histogram {
	h := newLatencyHist()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.Merge(sh.h)
		sh.mu.Unlock()
	}
	return h
}
