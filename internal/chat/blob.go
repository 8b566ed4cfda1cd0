package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
)

// BlobInfo describes a stored blob.
type BlobInfo struct {
	// Key names the blob: made by the store (see NewBlobKey), 32
	// lower-case hex characters.
	Key string
	// Size is the blob's length in bytes.
	Size int64
	// SHA256 is the SHA-256 of the blob's bytes, in lower-case hex.
	SHA256 string
}

// Blob is an opened blob: its bytes, readable and seekable (so that
// http.ServeContent can answer Range requests), and its info. A Blob is
// used by one goroutine at a time and must be closed.
type Blob interface {
	io.ReadSeekCloser
	Info() BlobInfo
}

// BlobStore holds the bytes of attachments. Blobs are immutable: a Put
// makes a new one under a new key, and a blob lives until it is deleted.
// Implementations stream: no blob is ever held whole in memory.
type BlobStore interface {
	// Put streams r into a new blob and returns its info. It reads at
	// most limit bytes (limit ≥ 0): past that it stores nothing and
	// returns an error with code ETOOLARGE. A read error or a cancelled
	// ctx stores nothing either; the error then wraps r's error or
	// ctx's.
	Put(ctx context.Context, r io.Reader, limit int64) (BlobInfo, error)
	// Open returns the blob's bytes; ENOTFOUND for a key that is unknown
	// or not a key at all (see ValidBlobKey).
	Open(ctx context.Context, key string) (Blob, error)
	// Delete removes a blob; deleting one that is not there, or a key
	// that is not a key at all, is not an error.
	Delete(ctx context.Context, key string) error
}

// blobKeyBytes is the number of random bytes in a blob key: 128 bits, so
// keys neither collide nor can be guessed.
const blobKeyBytes = 16

// NewBlobKey returns a new random blob key: 32 lower-case hex characters
// from crypto/rand.
func NewBlobKey() string {
	var b [blobKeyBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ValidBlobKey reports whether key has the shape of a key NewBlobKey
// makes: exactly 32 lower-case hex characters. Stores refuse anything
// else before touching storage, so a key never names a path outside the
// store.
func ValidBlobKey(key string) bool {
	if len(key) != 2*blobKeyBytes {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
