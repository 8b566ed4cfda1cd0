package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// The upload mode (-uploads N): every user's direct conversation takes
// uploads, N of them, -upload-concurrency at once, each a raw body of
// -upload-size bytes made on the fly by a deterministic generator (or the
// bytes of -upload-file). It measures the bytes a second the server takes
// in, each upload's latency (request sent to answer read) and, with
// -server-pid, the server's resident memory before and at its peak,
// sampled every -rss-interval.

// uploadReport is the upload mode's result.
type uploadReport struct {
	Count       int    `json:"count"`       // uploads asked for
	Concurrency int    `json:"concurrency"` // at once
	Size        int64  `json:"size"`        // bytes each
	File        string `json:"file,omitempty"`
	OK          int64  `json:"ok"`
	// Failed counts the failed uploads by HTTP status ("http 429") or
	// kind of error ("transport error", "wrong size").
	Failed map[string]int64 `json:"failed,omitempty"`
	Bytes  int64            `json:"bytes"` // of the uploads that succeeded
	// ElapsedS is the upload phase: from the first request to the last
	// answer.
	ElapsedS   float64 `json:"elapsed_s"`
	MiBPerSec  float64 `json:"mib_per_s"`
	Thumbnails int64   `json:"thumbnails"` // uploads answered with a thumbnail (images)
	// ContentTypes are the sniffed types the server answered, by count.
	ContentTypes map[string]int64 `json:"content_types,omitempty"`
	Sent         int64            `json:"sent,omitempty"` // with -upload-send: messages carrying an upload
	Latency      *latency         `json:"latency_ms"`
}

// sizeFlag is a size in bytes written as people write it: a whole number
// with an optional unit, B, KiB, MiB or GiB (powers of 1,024) or KB, MB
// or GB (powers of 1,000), in any letter case: 25MiB, 500KB, 1048576 (as
// the server's -max-upload takes it).
type sizeFlag int64

var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
}

func (s *sizeFlag) String() string {
	if s == nil {
		return "0"
	}
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		scale  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.scale && n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s *sizeFlag) Set(v string) error {
	text, scale := strings.ToLower(strings.TrimSpace(v)), int64(1)
	for _, u := range sizeUnits {
		if t, ok := strings.CutSuffix(text, u.suffix); ok {
			text, scale = strings.TrimSpace(t), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/scale {
		return errors.New("want a positive size such as 25MiB, 500KB or 1048576 (bytes), at most 1TiB")
	}
	*s = sizeFlag(n * scale)
	return nil
}

// genReader is an upload's body: n bytes of a xorshift64 stream seeded by
// the upload's number, made 8 bytes at a time as they are read, so that
// no upload is ever held whole in memory and the same upload number gives
// the same bytes. The first bytes are a fixed header, so the server sniffs
// application/octet-stream, never an image or text by chance.
type genReader struct {
	left  int64
	x     uint64
	buf   [8]byte
	avail int // bytes of buf not yet returned, at its end
	head  int // header bytes not yet returned
}

// genHeader starts every generated body: a NUL byte makes it binary to
// the sniffer, and no signature the sniffer knows starts this way.
const genHeader = "\x00parley-load upload\x00"

func newGenReader(seed, n int64) *genReader {
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	return &genReader{left: n, x: x, head: min(len(genHeader), int(n))}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for g.head > 0 && n < len(p) {
		p[n] = genHeader[len(genHeader)-g.head]
		g.head--
		n++
	}
	for n < len(p) {
		if g.avail == 0 {
			g.x ^= g.x << 13
			g.x ^= g.x >> 7
			g.x ^= g.x << 17
			for i := range g.buf {
				g.buf[i] = byte(g.x >> (8 * i))
			}
			g.avail = len(g.buf)
		}
		c := copy(p[n:], g.buf[len(g.buf)-g.avail:])
		g.avail -= c
		n += c
	}
	g.left -= int64(n)
	return n, nil
}

// rssSampler reads the server's VmRSS every interval until stopped and
// keeps the highest reading.
type rssSampler struct {
	peak    atomic.Int64
	samples atomic.Int64
	stop    func()
}

func startRSSSampler(ctx context.Context, pid int, every time.Duration) *rssSampler {
	s := &rssSampler{}
	read := func() {
		if kb, err := readRSS(pid); err == nil {
			s.samples.Add(1)
			for {
				old := s.peak.Load()
				if kb <= old || s.peak.CompareAndSwap(old, kb) {
					break
				}
			}
		}
	}
	read()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				read()
			}
		}
	})
	s.stop = func() { cancel(); wg.Wait(); read() }
	return s
}

// uploadFailures counts failed uploads by kind.
type uploadFailures struct {
	mu sync.Mutex
	m  map[string]int64
}

func (f *uploadFailures) add(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]int64{}
	}
	f.m[kind]++
}

// runUploads is the upload mode: users and their direct conversations,
// then the uploads.
func (l *loader) runUploads(ctx context.Context) (*report, error) {
	cfg := l.cfg
	rep := l.newReport("upload")
	t0 := time.Now()
	if err := l.setupUsers(ctx); err != nil {
		return nil, err
	}
	if err := l.setupConversations(ctx); err != nil {
		return nil, err
	}
	l.log.Info("users ready", "users", len(l.users), "conversations", len(l.convs), "took", time.Since(t0).Round(time.Millisecond))

	size, name := int64(cfg.uploadSize), "upload.bin"
	if cfg.uploadFile != "" {
		fi, err := os.Stat(cfg.uploadFile)
		if err != nil {
			return nil, err
		}
		size, name = fi.Size(), filepath.Base(cfg.uploadFile)
	}
	up := &uploadReport{Count: cfg.uploads, Concurrency: cfg.uploadConc, Size: size, File: cfg.uploadFile, ContentTypes: map[string]int64{}}
	rep.Uploads = up

	// Uploads get a client of their own per user (the same cookie jar),
	// without the API client's 30 s timeout: -upload-timeout bounds each.
	clients := make([]*http.Client, len(l.users))
	for i, u := range l.users {
		clients[i] = &http.Client{Transport: l.api.tr, Jar: u.jar}
	}

	rep.ServerRSS = l.rssStart()
	var sampler *rssSampler
	var cpuStart []time.Duration
	if cfg.serverPID > 0 && rep.ServerRSS.Error == "" {
		sampler = startRSSSampler(ctx, cfg.serverPID, cfg.rssInterval)
		if c, err := cpuReadings(cfg.serverPIDs); err == nil {
			cpuStart = c
		}
	}

	hist := newShardedHist(cfg.uploadConc)
	var (
		failed               uploadFailures
		ok, bytes, thumbs    atomic.Int64
		sent, done, inFlight atomic.Int64
		mu                   sync.Mutex
	)
	start := time.Now()
	stop := l.every(ctx, func() {
		l.progress("t=%4.0fs uploads: %d/%d done, %d in flight, %.1f MiB/s so far\n", time.Since(start).Seconds(),
			done.Load(), cfg.uploads, inFlight.Load(), float64(bytes.Load())/(1<<20)/time.Since(start).Seconds())
	})
	err := forEach(ctx, cfg.uploads, cfg.uploadConc, func(ctx context.Context, i int) error {
		k := i % len(l.users)
		u := l.users[k]
		inFlight.Add(1)
		t := time.Now()
		a, kind, err := l.uploadOne(ctx, clients[k], u, int64(i), size, name)
		hist.record(i, time.Since(t).Microseconds())
		inFlight.Add(-1)
		done.Add(1)
		if err != nil {
			return err // the run's context ended
		}
		if kind != "" {
			failed.add(kind)
			return nil
		}
		ok.Add(1)
		bytes.Add(size)
		if a.ThumbnailURL != "" {
			thumbs.Add(1)
		}
		mu.Lock()
		up.ContentTypes[a.ContentType]++
		mu.Unlock()
		if cfg.uploadSend {
			err := l.api.do(ctx, u, http.MethodPost, fmt.Sprintf("/api/v1/conversations/%d/messages", u.conv.id),
				wire.SendRequest{ClientID: fmt.Sprintf("%s-u%d", l.runID, i), AttachmentIDs: []int64{a.ID}}, nil)
			if err != nil {
				failed.add("send: " + err.Error())
				return nil
			}
			sent.Add(1)
		}
		return nil
	})
	elapsed := time.Since(start)
	stop()
	if sampler != nil {
		sampler.stop()
		rep.ServerRSS.PeakKB = sampler.peak.Load()
		rep.ServerRSS.Samples = sampler.samples.Load()
		if kb, err := readRSS(cfg.serverPID); err == nil {
			rep.ServerRSS.EndKB = kb
		}
		if cpuStart != nil {
			if c, err := cpuReadings(cfg.serverPIDs); err == nil {
				rep.ServerCPU = newCPUReport(cfg.serverPIDs, cpuStart, c, elapsed, 0, 0)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	up.OK, up.Bytes, up.Thumbnails, up.Sent = ok.Load(), bytes.Load(), thumbs.Load(), sent.Load()
	up.Failed = failed.m
	up.ElapsedS = elapsed.Seconds()
	if up.ElapsedS > 0 {
		up.MiBPerSec = float64(up.Bytes) / (1 << 20) / up.ElapsedS
	}
	up.Latency = summarize(hist.snapshot())
	rep.fill(l, elapsed)
	return rep, nil
}

// uploadOne uploads one file to u's conversation as a raw body: number i
// of the generated bodies, or -upload-file. It returns the attachment, or
// the kind of failure ("http 413", "transport error", "wrong size"); an
// error only when the run's context ended.
func (l *loader) uploadOne(parent context.Context, c *http.Client, u *user, i, size int64, name string) (wire.Attachment, string, error) {
	var body io.Reader = newGenReader(i, size)
	if l.cfg.uploadFile != "" {
		f, err := os.Open(l.cfg.uploadFile)
		if err != nil {
			return wire.Attachment{}, "", err
		}
		defer func() { _ = f.Close() }() // read-only
		body = f
	}
	ctx, cancel := context.WithTimeout(parent, l.cfg.uploadTimeout)
	defer cancel()
	path := fmt.Sprintf("%s/api/v1/conversations/%d/attachments?name=%s", u.base, u.conv.id, url.QueryEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, body)
	if err != nil {
		return wire.Attachment{}, "", err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return wire.Attachment{}, "", parent.Err()
		}
		if ctx.Err() != nil {
			return wire.Attachment{}, "timed out", nil
		}
		return wire.Attachment{}, "transport error", nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close() // read already
	if err != nil {
		return wire.Attachment{}, "transport error", nil
	}
	if resp.StatusCode != http.StatusCreated {
		return wire.Attachment{}, "http " + strconv.Itoa(resp.StatusCode), nil
	}
	var ar wire.AttachmentResponse
	if err := json.Unmarshal(data, &ar); err != nil {
		return wire.Attachment{}, "undecodable answer", nil
	}
	// An image's metadata is stripped, so its size may be a little less.
	if ar.Attachment.Size > size || (ar.Attachment.Width == 0 && ar.Attachment.Size != size) {
		return wire.Attachment{}, "wrong size", nil
	}
	return ar.Attachment, "", nil
}
