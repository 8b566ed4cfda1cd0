// Package filesystem implements chat.BlobStore on a local directory, the
// attachment store of a single-node server.
//
// A blob with key k is the file dir/k[:2]/k: its bytes followed by a
// trailer of 40 bytes, the SHA-256 of the bytes and the magic
// "parleyb1", so that Open can give a blob's info without reading it
// whole. A Put writes a temporary file dir/.put-* and renames it into
// place once it is complete and synced, so a blob file is either whole or
// absent, even across a crash. One process at a time uses a directory:
// New removes the temporary files another left.
package filesystem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

const (
	// bufSize is the size of the chunks a Put copies in.
	bufSize = 64 << 10
	// tempPrefix starts the name of a Put's temporary file; no shard
	// directory (two hex characters) starts so.
	tempPrefix = ".put-"
	// trailerMagic ends every blob file, after the SHA-256 of its bytes.
	trailerMagic = "parleyb1"
	trailerSize  = sha256.Size + len(trailerMagic)
)

var _ chat.BlobStore = (*BlobStore)(nil)

// BlobStore is a chat.BlobStore in a directory. It is safe for concurrent
// use.
type BlobStore struct {
	dir  string
	bufs sync.Pool // *[bufSize]byte, the copy buffers of Puts
}

// New returns the store in dir, creating dir (mode 0700) if it is missing,
// and removes the temporary files of Puts that a crash cut short.
func New(dir string) (*BlobStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("filesystem: removing a temporary file: %w", err)
			}
		}
	}
	s := &BlobStore{dir: dir}
	s.bufs.New = func() any { return new([bufSize]byte) }
	return s, nil
}

// path is where the blob with key lives; key must be valid.
func (s *BlobStore) path(key string) string {
	return filepath.Join(s.dir, key[:2], key)
}

// Put streams r into a new blob of at most limit bytes; see
// chat.BlobStore. Errors: ETOOLARGE past limit, EINVALID for a negative
// limit; r's or ctx's error wrapped; file system errors wrapped.
func (s *BlobStore) Put(ctx context.Context, r io.Reader, limit int64) (_ chat.BlobInfo, err error) {
	if limit < 0 {
		return chat.BlobInfo{}, chat.Errorf(chat.EINVALID, "negative blob size limit %d", limit)
	}
	if err := ctx.Err(); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	f, err := os.CreateTemp(s.dir, tempPrefix+"*") // mode 0600
	if err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()

	buf := s.bufs.Get().(*[bufSize]byte)
	defer s.bufs.Put(buf)
	h := sha256.New()
	size, err := copyLimited(ctx, io.MultiWriter(f, h), r, buf[:], limit)
	if err != nil {
		return chat.BlobInfo{}, err
	}
	var trailer [trailerSize]byte
	sum := h.Sum(trailer[:0])
	copy(trailer[sha256.Size:], trailerMagic)
	if _, err := f.Write(trailer[:]); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	// The bytes reach the disk before the name does, so a crash never
	// leaves a blob file with less in it than its trailer promises.
	if err := f.Sync(); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}

	key := chat.NewBlobKey()
	shard := filepath.Join(s.dir, key[:2])
	switch err := os.Mkdir(shard, 0o700); {
	case err == nil:
		if err := syncDir(s.dir); err != nil {
			return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	// The last moment a cancellation can still store nothing.
	if err := ctx.Err(); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	final := s.path(key)
	if err := os.Rename(tmp, final); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	if err := syncDir(shard); err != nil {
		// Not known to be durable: not stored.
		_ = os.Remove(final)
		return chat.BlobInfo{}, fmt.Errorf("filesystem: put: %w", err)
	}
	return chat.BlobInfo{Key: key, Size: size, SHA256: hex.EncodeToString(sum)}, nil
}

// copyLimited copies r to w through buf until r ends, and returns the
// number of bytes copied. It reads at most limit+1 bytes: one more than
// limit is ETOOLARGE. It stops with ctx's error once ctx is done.
func copyLimited(ctx context.Context, w io.Writer, r io.Reader, buf []byte, limit int64) (int64, error) {
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return size, fmt.Errorf("filesystem: put: %w", err)
		}
		p := buf
		if rest := limit - size; rest < int64(len(p)) {
			p = p[:rest+1]
		}
		n, rerr := r.Read(p)
		if n > 0 {
			size += int64(n)
			if size > limit {
				return size, chat.Errorf(chat.ETOOLARGE, "blob larger than %d bytes", limit)
			}
			if _, err := w.Write(p[:n]); err != nil {
				return size, fmt.Errorf("filesystem: put: %w", err)
			}
		}
		if rerr == io.EOF {
			return size, nil
		}
		if rerr != nil {
			return size, fmt.Errorf("filesystem: put: reading: %w", rerr)
		}
	}
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Open returns the blob with key; ENOTFOUND when there is none or key is
// not a key. The Blob reads the file directly: ctx bounds only the Open.
func (s *BlobStore) Open(ctx context.Context, key string) (chat.Blob, error) {
	if !chat.ValidBlobKey(key) {
		return nil, chat.NotFound("blob")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("filesystem: open: %w", err)
	}
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, chat.NotFound("blob")
	}
	if err != nil {
		return nil, fmt.Errorf("filesystem: open: %w", err)
	}
	info, err := readInfo(f, key)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &blob{SectionReader: io.NewSectionReader(f, 0, info.Size), f: f, info: info}, nil
}

// readInfo reads the info of the blob file f from its length and trailer.
func readInfo(f *os.File, key string) (chat.BlobInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: open: %w", err)
	}
	size := fi.Size() - int64(trailerSize)
	var trailer [trailerSize]byte
	if size >= 0 {
		_, err = f.ReadAt(trailer[:], size)
	}
	if size < 0 || err != nil || string(trailer[sha256.Size:]) != trailerMagic {
		return chat.BlobInfo{}, fmt.Errorf("filesystem: open: blob file %s has no valid trailer (%v)", f.Name(), err)
	}
	return chat.BlobInfo{Key: key, Size: size, SHA256: hex.EncodeToString(trailer[:sha256.Size])}, nil
}

// Delete removes the blob with key; see chat.BlobStore.
func (s *BlobStore) Delete(ctx context.Context, key string) error {
	if !chat.ValidBlobKey(key) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("filesystem: delete: %w", err)
	}
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filesystem: delete: %w", err)
	}
	return nil
}

// blob is an open blob file: the section before the trailer.
type blob struct {
	*io.SectionReader
	f    *os.File
	info chat.BlobInfo
}

func (b *blob) Info() chat.BlobInfo { return b.info }

func (b *blob) Close() error { return b.f.Close() }
