package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// TestSuite runs the suite against a store that keeps blobs in memory,
// the simplest one that keeps the promises, to show the suite asks only
// for those.
func TestSuite(t *testing.T) {
	Run(t, func(t *testing.T) chat.BlobStore { return &memStore{blobs: map[string][]byte{}} })
}

func TestPutFailures(t *testing.T) {
	s := &memStore{blobs: map[string][]byte{}}
	PutFailures(t, s)
	if len(s.blobs) != 0 {
		t.Errorf("%d blobs stored by failed Puts", len(s.blobs))
	}
}

type memStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (s *memStore) Put(ctx context.Context, r io.Reader, limit int64) (chat.BlobInfo, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	for {
		if err := ctx.Err(); err != nil {
			return chat.BlobInfo{}, err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if int64(buf.Len()) > limit {
			return chat.BlobInfo{}, chat.Errorf(chat.ETOOLARGE, "too large")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return chat.BlobInfo{}, fmt.Errorf("reading: %w", err)
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	info := chat.BlobInfo{Key: chat.NewBlobKey(), Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:])}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[info.Key] = buf.Bytes()
	return info, nil
}

func (s *memStore) Open(_ context.Context, key string) (chat.Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.blobs[key]
	if !ok {
		return nil, chat.NotFound("blob")
	}
	sum := sha256.Sum256(data)
	return memBlob{bytes.NewReader(data), chat.BlobInfo{Key: key, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}}, nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, key)
	return nil
}

type memBlob struct {
	*bytes.Reader
	info chat.BlobInfo
}

func (b memBlob) Info() chat.BlobInfo { return b.info }
func (memBlob) Close() error          { return nil }
