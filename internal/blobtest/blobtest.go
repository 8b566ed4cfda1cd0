// Package blobtest is the conformance suite every chat.BlobStore
// implementation passes. An implementation's own test calls Run with a
// constructor of fresh, empty stores:
//
//	func TestBlobStore(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) chat.BlobStore { return newTestStore(t) })
//	}
//
// The suite cannot list a store's contents, so it cannot see what a refused
// Put left behind; an implementation's test proves that by running
// PutFailures on a fresh store and then finding its storage empty.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Run runs the conformance suite against stores made by newStore; each call
// of newStore must return a new, empty store (cleaned up by the caller via
// t.Cleanup). Tests run in parallel, so newStore must be safe to call from
// several goroutines at once.
func Run(t *testing.T, newStore func(t *testing.T) chat.BlobStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chat.BlobStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"Empty", testEmpty},
		{"Seek", testSeek},
		{"ServeContentRange", testServeContentRange},
		{"Limit", testLimit},
		{"ReaderFails", testReaderFails},
		{"ContextCancelled", testContextCancelled},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"SameBytesTwice", testSameBytesTwice},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// PutFailures makes every kind of Put that must store nothing — over the
// limit, a reader that fails, a context cancelled mid-way — each with
// hundreds of KiB already read, and checks that each returns an error and
// no info. An implementation's test runs it on a fresh store and then
// checks that no file, row or object is left.
func PutFailures(t *testing.T, s chat.BlobStore) {
	t.Helper()
	data := randomBytes(1, 700<<10+3)

	info, err := s.Put(t.Context(), &oddReader{r: bytes.NewReader(data)}, int64(len(data))-1)
	wantCode(t, err, chat.ETOOLARGE, "Put of limit+1 bytes")
	wantNoInfo(t, info, "Put of limit+1 bytes")

	info, err = s.Put(t.Context(), &failingReader{r: bytes.NewReader(data), after: 300<<10 + 5}, 1<<30)
	if !errors.Is(err, errRead) {
		t.Errorf("Put from a reader that fails: error %v, want one wrapping %v", err, errRead)
	}
	wantNoInfo(t, info, "Put from a reader that fails")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	info, err = s.Put(ctx, &cancellingReader{r: bytes.NewReader(data), after: 300<<10 + 5, cancel: cancel}, 1<<30)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with its context cancelled mid-way: error %v, want one wrapping context.Canceled", err)
	}
	wantNoInfo(t, info, "Put with its context cancelled mid-way")
}

// chunkSizes are the chunk sizes a store is likely to use: its own are not
// known, so reads start and end around every boundary of each.
var chunkSizes = []int64{4 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20}

func testRoundTrip(t *testing.T, s chat.BlobStore) {
	// 3 MiB and a prime number of bytes: not a multiple of any chunk.
	data := randomBytes(2, 3<<20+7919)
	info := put(t, s, data)
	checkInfo(t, "Put", info, data)
	b := open(t, s, info.Key)
	if got := b.Info(); got != info {
		t.Errorf("Open(%q).Info() = %+v, want %+v as Put returned", info.Key, got, info)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading blob: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("blob read back differs: %d bytes, want %d (first difference at %d)", len(got), len(data), firstDiff(got, data))
	}
}

func testEmpty(t *testing.T, s chat.BlobStore) {
	info := put(t, s, nil)
	checkInfo(t, "Put of no bytes", info, nil)
	b := open(t, s, info.Key)
	if got := b.Info(); got != info {
		t.Errorf("Open(%q).Info() = %+v, want %+v", info.Key, got, info)
	}
	if err := iotest.TestReader(b, nil); err != nil {
		t.Errorf("empty blob: %v", err)
	}
	if pos, err := b.Seek(0, io.SeekEnd); pos != 0 || err != nil {
		t.Errorf("Seek(0, end) = %d, %v, want 0, nil", pos, err)
	}
}

func testSeek(t *testing.T, s chat.BlobStore) {
	data := randomBytes(3, 1<<20+777)
	size := int64(len(data))
	info := put(t, s, data)
	b := open(t, s, info.Key)

	// The standard library's own checks of Read, Seek (and ReadAt, where
	// a Blob has it) against the expected content.
	if err := iotest.TestReader(b, data); err != nil {
		t.Errorf("iotest.TestReader: %v", err)
	}

	readAt := func(whence string, pos, n int64) {
		t.Helper()
		buf := make([]byte, n)
		got, err := io.ReadFull(b, buf)
		want := min(n, max(size-pos, 0))
		if int64(got) != want || (err != nil && want == n) {
			t.Errorf("after Seek to %d (%s): ReadFull of %d read %d, %v; want %d", pos, whence, n, got, err, want)
			return
		}
		if !bytes.Equal(buf[:got], data[pos:pos+want]) {
			t.Errorf("after Seek to %d (%s): %d bytes differ from the blob's at that offset", pos, whence, n)
		}
	}
	seek := func(offset int64, whence int, want int64) bool {
		t.Helper()
		got, err := b.Seek(offset, whence)
		if err != nil || got != want {
			t.Errorf("Seek(%d, %d) = %d, %v; want %d, nil", offset, whence, got, err, want)
			return false
		}
		return true
	}

	for _, chunk := range chunkSizes {
		for _, pos := range []int64{chunk - 1, chunk, chunk + 1, 3*chunk - 2} {
			if pos >= size {
				continue
			}
			for _, n := range []int64{1, 3, chunk + 2} {
				if seek(pos, io.SeekStart, pos) {
					readAt("start", pos, n)
				}
				// From the end: the same offset.
				if seek(pos-size, io.SeekEnd, pos) {
					readAt("end", pos, n)
				}
				// From wherever the last read left it.
				cur, err := b.Seek(0, io.SeekCurrent)
				if err != nil {
					t.Fatalf("Seek(0, current): %v", err)
				}
				if seek(pos-cur, io.SeekCurrent, pos) {
					readAt("current", pos, n)
				}
			}
		}
	}

	// Backwards, across a boundary, after reading forwards.
	if seek(256<<10+10, io.SeekStart, 256<<10+10) {
		readAt("start", 256<<10+10, 100)
	}
	if seek(-200, io.SeekCurrent, 256<<10-90) {
		readAt("current", 256<<10-90, 200)
	}

	// At and past the end: nothing to read, and no error but io.EOF.
	for _, pos := range []int64{size, size + 1, size + 1<<20} {
		if !seek(pos, io.SeekStart, pos) {
			continue
		}
		if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Errorf("Read at %d of a %d-byte blob = %d, %v; want 0, io.EOF", pos, size, n, err)
		}
	}

	// Before the start: an error, and the offset unchanged.
	seek(5, io.SeekStart, 5)
	if _, err := b.Seek(-6, io.SeekCurrent); err == nil {
		t.Errorf("Seek to -1: no error")
	}
	if _, err := b.Seek(-size-1, io.SeekEnd); err == nil {
		t.Errorf("Seek to -1 from the end: no error")
	}
	if _, err := b.Seek(0, 42); err == nil {
		t.Errorf("Seek with whence 42: no error")
	}
	if seek(0, io.SeekCurrent, 5) {
		readAt("current", 5, 10)
	}
}

func testServeContentRange(t *testing.T, s chat.BlobStore) {
	data := randomBytes(4, 600<<10+11)
	size := len(data)
	info := put(t, s, data)
	for _, tc := range []struct {
		header     string
		start, end int // the bytes expected, end exclusive
	}{
		{"bytes=262140-262150", 262140, 262151},
		{"bytes=0-0", 0, 1},
		{fmt.Sprintf("bytes=%d-", size-70000), size - 70000, size},
		{"bytes=-100", size - 100, size},
		{"bytes=65000-400000", 65000, 400001},
	} {
		b := open(t, s, info.Key)
		req := httptest.NewRequest(http.MethodGet, "/blob", nil)
		req.Header.Set("Range", tc.header)
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "blob", time.Time{}, b)
		if rec.Code != http.StatusPartialContent {
			t.Errorf("Range %s: status %d, want 206", tc.header, rec.Code)
			continue
		}
		wantRange := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, size)
		if got := rec.Header().Get("Content-Range"); got != wantRange {
			t.Errorf("Range %s: Content-Range %q, want %q", tc.header, got, wantRange)
		}
		if got := rec.Body.Bytes(); !bytes.Equal(got, data[tc.start:tc.end]) {
			t.Errorf("Range %s: body of %d bytes differs from bytes %d to %d of the blob", tc.header, len(got), tc.start, tc.end)
		}
	}
}

func testLimit(t *testing.T, s chat.BlobStore) {
	const limit = 300<<10 + 1
	data := randomBytes(5, limit+1)

	info, err := s.Put(t.Context(), &oddReader{r: bytes.NewReader(data[:limit])}, limit)
	if err != nil {
		t.Fatalf("Put of exactly limit (%d) bytes: %v", limit, err)
	}
	checkInfo(t, "Put of exactly limit bytes", info, data[:limit])
	if got := readAll(t, s, info.Key); !bytes.Equal(got, data[:limit]) {
		t.Errorf("blob of exactly limit bytes read back differs")
	}

	info, err = s.Put(t.Context(), &oddReader{r: bytes.NewReader(data)}, limit)
	wantCode(t, err, chat.ETOOLARGE, "Put of limit+1 bytes")
	wantNoInfo(t, info, "Put of limit+1 bytes")

	// A limit of 0 takes an empty blob and nothing else.
	info, err = s.Put(t.Context(), bytes.NewReader(nil), 0)
	if err != nil {
		t.Fatalf("Put of 0 bytes with limit 0: %v", err)
	}
	checkInfo(t, "Put of 0 bytes with limit 0", info, nil)
	info, err = s.Put(t.Context(), bytes.NewReader(data[:1]), 0)
	wantCode(t, err, chat.ETOOLARGE, "Put of 1 byte with limit 0")
	wantNoInfo(t, info, "Put of 1 byte with limit 0")

	// A reader far longer than the limit is not read to its end.
	long := &countingReader{}
	_, err = s.Put(t.Context(), long, limit)
	wantCode(t, err, chat.ETOOLARGE, "Put of an endless reader")
	if long.n > 2*limit+(1<<20) {
		t.Errorf("Put with limit %d read %d bytes of an endless reader before refusing it", limit, long.n)
	}
}

func testReaderFails(t *testing.T, s chat.BlobStore) {
	data := randomBytes(6, 700<<10)
	info, err := s.Put(t.Context(), &failingReader{r: bytes.NewReader(data), after: 300<<10 + 5}, 1<<30)
	if !errors.Is(err, errRead) {
		t.Errorf("Put from a reader that fails: error %v, want one wrapping %v", err, errRead)
	}
	wantNoInfo(t, info, "Put from a reader that fails")
	// The store still works.
	checkInfo(t, "Put after a failed one", put(t, s, data[:1000]), data[:1000])
}

func testContextCancelled(t *testing.T, s chat.BlobStore) {
	data := randomBytes(7, 2<<20)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	info, err := s.Put(ctx, &cancellingReader{r: bytes.NewReader(data), after: 300<<10 + 5, cancel: cancel}, 1<<30)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with its context cancelled mid-way: error %v, want one wrapping context.Canceled", err)
	}
	wantNoInfo(t, info, "Put with its context cancelled mid-way")

	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	info, err = s.Put(done, bytes.NewReader(data[:10]), 1<<30)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a context already cancelled: error %v, want one wrapping context.Canceled", err)
	}
	wantNoInfo(t, info, "Put with a context already cancelled")
	checkInfo(t, "Put after a cancelled one", put(t, s, data[:1000]), data[:1000])
}

func testNotFound(t *testing.T, s chat.BlobStore) {
	stored := put(t, s, []byte("something"))
	keys := []string{
		chat.NewBlobKey(), // well formed, never stored
		"",
		"../../etc/passwd",
		"../" + stored.Key[3:],
		stored.Key[:2] + "/" + stored.Key[3:],
		strings.ToUpper(stored.Key),
		stored.Key[:31],
		stored.Key + "0",
		stored.Key[:31] + "g",
		"/" + stored.Key[1:],
		stored.Key[:31] + "\x00",
	}
	for _, key := range keys {
		b, err := s.Open(t.Context(), key)
		wantCode(t, err, chat.ENOTFOUND, fmt.Sprintf("Open(%q)", key))
		if err == nil {
			_ = b.Close()
		}
		if err := s.Delete(t.Context(), key); err != nil {
			t.Errorf("Delete(%q): %v, want nil", key, err)
		}
	}
	// None of that touched the stored blob.
	if got := readAll(t, s, stored.Key); string(got) != "something" {
		t.Errorf("blob after deletes of other keys reads %q", got)
	}
}

func testDelete(t *testing.T, s chat.BlobStore) {
	data := randomBytes(8, 300<<10)
	keep := put(t, s, data[:100])
	info := put(t, s, data)
	if err := s.Delete(t.Context(), info.Key); err != nil {
		t.Fatalf("Delete(%q): %v", info.Key, err)
	}
	_, err := s.Open(t.Context(), info.Key)
	wantCode(t, err, chat.ENOTFOUND, "Open after Delete")
	if err := s.Delete(t.Context(), info.Key); err != nil {
		t.Errorf("second Delete(%q): %v, want nil", info.Key, err)
	}
	if got := readAll(t, s, keep.Key); !bytes.Equal(got, data[:100]) {
		t.Errorf("another blob changed by Delete")
	}
}

func testSameBytesTwice(t *testing.T, s chat.BlobStore) {
	data := randomBytes(9, 70<<10)
	a, b := put(t, s, data), put(t, s, data)
	if a.Key == b.Key {
		t.Fatalf("two Puts returned the same key %q", a.Key)
	}
	if a.SHA256 != b.SHA256 {
		t.Errorf("same bytes, SHA256 %s and %s", a.SHA256, b.SHA256)
	}
	if err := s.Delete(t.Context(), a.Key); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, b.Key); !bytes.Equal(got, data) {
		t.Errorf("deleting one of two blobs of the same bytes changed the other")
	}
}

func testConcurrentPuts(t *testing.T, s chat.BlobStore) {
	const n = 8
	datas := make([][]byte, n)
	infos := make([]chat.BlobInfo, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		datas[i] = randomBytes(uint64(100+i), 300<<10+i*4099)
		wg.Go(func() {
			infos[i], errs[i] = s.Put(t.Context(), &oddReader{r: bytes.NewReader(datas[i])}, 1<<30)
		})
	}
	wg.Wait()
	keys := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Put %d: %v", i, errs[i])
			continue
		}
		checkInfo(t, fmt.Sprintf("Put %d", i), infos[i], datas[i])
		if keys[infos[i].Key] {
			t.Errorf("Put %d: key %q given twice", i, infos[i].Key)
		}
		keys[infos[i].Key] = true
	}
	if t.Failed() {
		return
	}
	for i := range n {
		wg.Go(func() {
			if got := readAll(t, s, infos[i].Key); !bytes.Equal(got, datas[i]) {
				t.Errorf("blob %d read back differs", i)
			}
		})
	}
	wg.Wait()
}

// Helpers

func put(t *testing.T, s chat.BlobStore, data []byte) chat.BlobInfo {
	t.Helper()
	info, err := s.Put(t.Context(), &oddReader{r: bytes.NewReader(data)}, 1<<30)
	if err != nil {
		t.Fatalf("Put of %d bytes: %v", len(data), err)
	}
	return info
}

// open opens a blob, closed when the test ends.
func open(t *testing.T, s chat.BlobStore, key string) chat.Blob {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close of blob %q: %v", key, err)
		}
	})
	return b
}

func readAll(t *testing.T, s chat.BlobStore, key string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Errorf("Open(%q): %v", key, err)
		return nil
	}
	defer func() { _ = b.Close() }()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Errorf("reading blob %q: %v", key, err)
	}
	return data
}

// checkInfo checks that info describes data under a well-formed key.
func checkInfo(t *testing.T, what string, info chat.BlobInfo, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	want := chat.BlobInfo{Key: info.Key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	if !chat.ValidBlobKey(info.Key) {
		t.Errorf("%s: key %q is not 32 lower-case hex characters", what, info.Key)
	}
	if info != want {
		t.Errorf("%s: info %+v, want %+v", what, info, want)
	}
}

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := chat.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func wantNoInfo(t *testing.T, info chat.BlobInfo, what string) {
	t.Helper()
	if info != (chat.BlobInfo{}) {
		t.Errorf("%s: info %+v, want none", what, info)
	}
}

// randomBytes returns n bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// oddReader hands out its bytes in reads of uneven sizes, none a power of
// two, as a network connection does.
type oddReader struct {
	r *bytes.Reader
	i int
}

var oddSizes = []int{7919, 1, 65537, 300, 131071, 4093}

func (o *oddReader) Read(p []byte) (int, error) {
	n := oddSizes[o.i%len(oddSizes)]
	o.i++
	return o.r.Read(p[:min(len(p), n)])
}

// errRead is the failure of failingReader.
var errRead = errors.New("blobtest: the upload broke off")

// failingReader reads from r until it has given after bytes, then fails.
type failingReader struct {
	r     *bytes.Reader
	after int
	n     int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errRead
	}
	n, err := f.r.Read(p[:min(len(p), f.after-f.n)])
	f.n += n
	return n, err
}

// cancellingReader reads from r and calls cancel once it has given after
// bytes, then goes on reading, as an upload does whose request was
// cancelled while bytes were still buffered.
type cancellingReader struct {
	r      *bytes.Reader
	after  int
	n      int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 65521)])
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

// countingReader is an endless reader of zeros that counts what it gave.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	clear(p)
	c.n += len(p)
	return len(p), nil
}
