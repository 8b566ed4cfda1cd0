package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/blobtest"
	"github.com/parleychat/parley/internal/chat"
)

func TestBlobStore(t *testing.T) {
	testDSN(t)
	blobtest.Run(t, func(t *testing.T) chat.BlobStore {
		return openTest(t, newSchema(t), nil).Blobs()
	})
}

func TestBlobFailedPutsLeaveNoRows(t *testing.T) {
	s := openTest(t, newSchema(t), nil)
	blobtest.PutFailures(t, s.Blobs())
	for _, table := range []string{"blobs", "blob_chunks"} {
		var n int
		if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows left in %s by refused and failed Puts", n, table)
		}
	}
}

// TestBlobReadsOneChunkAtATime proves a read in the middle of a blob
// fetches the chunk that holds it and no other.
func TestBlobReadsOneChunkAtATime(t *testing.T) {
	var statements atomic.Int64
	s := openTest(t, newSchema(t), func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = countingTracer{n: &statements}
	})
	data := make([]byte, 5*blobChunkSize+123)
	_, _ = rand.NewChaCha8([32]byte{2}).Read(data)
	blobs := s.Blobs()
	info, err := blobs.Put(t.Context(), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	statements.Store(0)
	b, err := blobs.Open(t.Context(), info.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	off := int64(3*blobChunkSize + 10)
	if _, err := b.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1000)
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[off:off+1000]) {
		t.Errorf("bytes at %d differ", off)
	}
	if n := statements.Load(); n != 2 {
		t.Errorf("Open and a read within one chunk took %d statements, want 2", n)
	}
	chunk := b.(*blob).chunk.data
	if len(chunk) != blobChunkSize {
		t.Errorf("the open blob holds %d bytes, want one chunk of %d", len(chunk), blobChunkSize)
	}
}

// BenchmarkBlobPut stores blobs of 1 MiB and 25 MiB.
func BenchmarkBlobPut(b *testing.B) {
	for _, size := range []int{1 << 20, 25 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			data := make([]byte, size)
			_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
			blobs := openTest(b, newSchema(b), nil).Blobs()
			r := bytes.NewReader(data)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(data)
				info, err := blobs.Put(b.Context(), r, int64(size))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := blobs.Delete(b.Context(), info.Key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// TestBlobUploadsLeaveTheChatItsConnections: with pools of one
// connection, while two Puts wait for their slow clients, another Put and
// the store's queries get a connection at once: a Put spools its bytes
// before it takes one, and takes it from the blob store's own pool, so
// uploads never starve the chat (they did when a Put held a connection of
// the store's pool while its client sent).
func TestBlobUploadsLeaveTheChatItsConnections(t *testing.T) {
	s := openTest(t, newSchema(t), func(c *pgxpool.Config) { c.MaxConns = 1 })
	var writers []*io.PipeWriter
	done := make(chan error, 2)
	for range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() {
			_, err := s.Blobs().Put(t.Context(), pr, 1<<20)
			done <- err
		}()
		// The Put is under way once it has read the first bytes.
		if _, err := pw.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	// Bounded, so that a query stuck behind the upload fails the test
	// rather than hang it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := s.CreateUser(ctx, chat.User{Username: "alice", DisplayName: "Alice", CreatedAt: chat.Now()}, "hash"); err != nil {
		t.Errorf("a query while two uploads wait for their clients: %v", err)
	}
	if _, err := s.Blobs().Put(ctx, bytes.NewReader([]byte("quick")), 100); err != nil {
		t.Errorf("a quick upload while two wait for their clients: %v", err)
	}
	for _, pw := range writers {
		if err := pw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range writers {
		if err := <-done; err != nil {
			t.Errorf("a slow upload: %v", err)
		}
	}
}
