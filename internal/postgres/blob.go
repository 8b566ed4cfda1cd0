package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/chat"
)

// blobChunkSize is the size in bytes of the chunks a Put cuts a blob in
// (see migration 00012): large enough that a 25 MiB blob is 100 rows,
// small enough that a Put or an open Blob holds one chunk in memory.
const blobChunkSize = 256 << 10

var _ chat.BlobStore = (*BlobStore)(nil)

// BlobStore is a chat.BlobStore in the store's database, for servers
// whose nodes share nothing but PostgreSQL. Its calls run under the
// caller's context alone, not a Guarded store's deadline: streaming a
// large upload or download takes as long as the client does. A database
// that cannot answer is EUNAVAILABLE, as for the store.
type BlobStore struct {
	pool *pgxpool.Pool
	bufs sync.Pool // *[blobChunkSize]byte, the chunk buffers of Puts
}

// Blobs returns the blob store in s's database, on a pool of its own (see
// Store.blobs): a Put holds a connection for as long as its client takes
// to send, and Puts past the pool's size wait for one under their own
// context, not the chat's queries.
func (s *Store) Blobs() *BlobStore {
	b := &BlobStore{pool: s.blobs}
	b.bufs.New = func() any { return new([blobChunkSize]byte) }
	return b
}

// Blobs returns the blob store in the database, on a pool of its own;
// see BlobStore for how its calls are bounded.
func (g *Guarded) Blobs() *BlobStore { return g.store.Blobs() }

// Put streams r into a new blob of at most limit bytes, in one
// transaction: its chunks go in by one COPY as they are read, then its
// blobs row; see chat.BlobStore. Errors: ETOOLARGE past limit, EINVALID
// for a negative limit, EUNAVAILABLE when the database cannot answer; r's
// or ctx's error wrapped.
func (s *BlobStore) Put(ctx context.Context, r io.Reader, limit int64) (chat.BlobInfo, error) {
	if limit < 0 {
		return chat.BlobInfo{}, chat.Errorf(chat.EINVALID, "negative blob size limit %d", limit)
	}
	if err := ctx.Err(); err != nil {
		return chat.BlobInfo{}, fmt.Errorf("postgres: put blob: %w", err)
	}
	buf := s.bufs.Get().(*[blobChunkSize]byte)
	defer s.bufs.Put(buf)
	// The bytes go to a file first: a client sends at its own pace, and a
	// connection held for all of it (15 minutes for a slow one) would let
	// a few slow uploads take every connection there is. The database
	// then takes them at the disk's pace.
	spool, err := spoolBlob(ctx, r, buf[:], limit)
	if err != nil {
		return chat.BlobInfo{}, err
	}
	defer func() {
		_ = spool.Close()           // read only from here
		_ = os.Remove(spool.Name()) // in the system's temporary directory
	}()
	r = spool

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return chat.BlobInfo{}, blobError(ctx, "put blob", err)
	}
	// A no-op after Commit; otherwise nothing of the blob remains.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// COPY rather than an INSERT a chunk: pgx copies each parameter into
	// buffers it then drops when they are large, which would allocate
	// twice the blob's size per Put; COPY reuses one buffer throughout.
	src := &chunkSource{ctx: ctx, r: r, buf: buf[:], limit: limit, key: chat.NewBlobKey(), h: sha256.New(), n: -1}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"blob_chunks"}, []string{"key", "n", "data"}, src)
	if src.err != nil {
		return chat.BlobInfo{}, src.err
	}
	if err != nil {
		return chat.BlobInfo{}, blobError(ctx, "put blob", err)
	}
	info := chat.BlobInfo{Key: src.key, Size: src.size, SHA256: hex.EncodeToString(src.h.Sum(nil))}
	if _, err := tx.Exec(ctx, `INSERT INTO blobs (key, size, sha256, chunk_size) VALUES ($1, $2, $3, $4)`,
		info.Key, info.Size, info.SHA256, blobChunkSize); err != nil {
		return chat.BlobInfo{}, blobError(ctx, "put blob", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return chat.BlobInfo{}, blobError(ctx, "put blob", err)
	}
	return info, nil
}

// chunkSource is the pgx.CopyFromSource of a Put: the rows of
// blob_chunks, each a chunk read from r into buf and hashed. Every chunk
// but the last is full, so that a read finds offset o in chunk
// o / chunk_size. pgx calls it from a goroutine of its own, and is done
// with it when CopyFrom returns.
type chunkSource struct {
	ctx   context.Context
	r     io.Reader
	buf   []byte
	limit int64
	key   string
	h     hash.Hash

	n      int    // the current chunk's index
	chunk  []byte // the current chunk, in buf
	size   int64  // bytes read so far
	eof    bool
	err    error // why the Put fails: r's error, ctx's, ETOOLARGE
	values [3]any
}

func (c *chunkSource) Next() bool {
	if c.eof || c.err != nil {
		return false
	}
	chunk := c.buf
	// One byte past the limit tells a blob too large from one that fills
	// it exactly.
	if rest := c.limit - c.size; rest < int64(len(chunk)) {
		chunk = chunk[:rest+1]
	}
	got, eof, err := fill(c.ctx, c.r, chunk)
	c.eof = eof
	if err != nil {
		c.err = err
		return false
	}
	c.size += int64(got)
	if c.size > c.limit {
		c.err = chat.Errorf(chat.ETOOLARGE, "blob larger than %d bytes", c.limit)
		return false
	}
	if got == 0 {
		return false
	}
	c.h.Write(chunk[:got])
	c.n++
	c.chunk = chunk[:got]
	return true
}

func (c *chunkSource) Values() ([]any, error) {
	c.values = [3]any{c.key, int32(c.n), c.chunk}
	return c.values[:], nil
}

func (c *chunkSource) Err() error { return c.err }

// fill reads from r into buf until buf is full or r ends (eof), and
// returns how many bytes it read. It stops with ctx's error once ctx is
// done, and with r's error if r fails.
func fill(ctx context.Context, r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, fmt.Errorf("postgres: put blob: %w", err)
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, fmt.Errorf("postgres: put blob: reading: %w", err)
		}
	}
	return n, false, nil
}

// spoolBlob copies at most limit bytes of r into a new temporary file,
// through buf, and returns it rewound: ETOOLARGE past limit, r's error or
// ctx's wrapped. A failed spool leaves no file.
func spoolBlob(ctx context.Context, r io.Reader, buf []byte, limit int64) (_ *os.File, err error) {
	f, err := os.CreateTemp("", "parley-upload-*")
	if err != nil {
		return nil, fmt.Errorf("postgres: put blob: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	var size int64
	for eof := false; !eof; {
		var n int
		n, eof, err = fill(ctx, r, buf)
		if err != nil {
			return nil, err
		}
		if size += int64(n); size > limit {
			return nil, chat.Errorf(chat.ETOOLARGE, "blob larger than %d bytes", limit)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return nil, fmt.Errorf("postgres: put blob: spool: %w", err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("postgres: put blob: spool: %w", err)
	}
	return f, nil
}

// blobError returns a database error as the caller should see it: the
// caller's own cancellation as such, an unreachable database as
// EUNAVAILABLE (see classify).
func blobError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: %s: %w (%w)", what, ctx.Err(), err)
	}
	return classify(ctx, fmt.Errorf("postgres: %s: %w", what, err))
}

// Open returns the blob with key, or ENOTFOUND. Reading it fetches one
// chunk at a time, under ctx: the Blob is usable while ctx is. A blob
// deleted while open reads ENOTFOUND from its next chunk on.
func (s *BlobStore) Open(ctx context.Context, key string) (chat.Blob, error) {
	if !chat.ValidBlobKey(key) {
		return nil, chat.NotFound("blob")
	}
	b := &blob{pool: s.pool, ctx: ctx, idx: -1}
	b.info.Key = key
	err := s.pool.QueryRow(ctx, `SELECT size, sha256, chunk_size FROM blobs WHERE key = $1`, key).
		Scan(&b.info.Size, &b.info.SHA256, &b.chunkSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, chat.NotFound("blob")
	}
	if err != nil {
		return nil, blobError(ctx, "open blob", err)
	}
	return b, nil
}

// Delete removes the blob with key and its chunks; see chat.BlobStore.
func (s *BlobStore) Delete(ctx context.Context, key string) error {
	if !chat.ValidBlobKey(key) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM blobs WHERE key = $1`, key); err != nil {
		return blobError(ctx, "delete blob", err)
	}
	return nil
}

// blob is an open blob: its info, a read offset, and the one chunk last
// fetched.
type blob struct {
	pool *pgxpool.Pool
	// ctx is Open's: a Blob's Read has no context of its own, and is
	// used within the request that opened it.
	ctx       context.Context
	info      chat.BlobInfo
	chunkSize int64
	off       int64
	idx       int64 // the chunk in chunk.data; -1 for none
	chunk     chunkBuf
	closed    bool
}

func (b *blob) Info() chat.BlobInfo { return b.info }

// Read reads from the current offset, fetching the chunk that holds it
// when it is not the one fetched last.
func (b *blob) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("postgres: read of a closed blob")
	}
	if b.off >= b.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	idx := b.off / b.chunkSize
	if idx != b.idx {
		if err := b.fetch(idx); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.chunk.data[b.off-idx*b.chunkSize:])
	b.off += int64(n)
	return n, nil
}

// fetch reads chunk idx into b.chunk, reusing its buffer.
func (b *blob) fetch(idx int64) error {
	b.idx = -1
	err := b.pool.QueryRow(b.ctx, `SELECT data FROM blob_chunks WHERE key = $1 AND n = $2`, b.info.Key, idx).Scan(&b.chunk)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.NotFound("blob")
	}
	if err != nil {
		return blobError(b.ctx, "read blob", err)
	}
	if want := min(b.chunkSize, b.info.Size-idx*b.chunkSize); int64(len(b.chunk.data)) != want {
		return fmt.Errorf("postgres: read blob %s: chunk %d has %d bytes, want %d", b.info.Key, idx, len(b.chunk.data), want)
	}
	b.idx = idx
	return nil
}

// Seek sets the offset of the next Read; see io.Seeker. An offset past the
// end is allowed (reads there give io.EOF); a negative one is an error.
func (b *blob) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.info.Size + offset
	default:
		return 0, fmt.Errorf("postgres: seek blob: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("postgres: seek blob: negative offset %d", abs)
	}
	b.off = abs
	return abs, nil
}

// Close releases the chunk buffer; the blob holds no connection.
func (b *blob) Close() error {
	b.closed = true
	b.chunk.data = nil
	return nil
}

// chunkBuf scans a bytea into a buffer it keeps, so reading a blob chunk
// by chunk reuses one allocation.
type chunkBuf struct{ data []byte }

// ScanBytes implements pgtype.BytesScanner; v is valid only during the
// call.
func (c *chunkBuf) ScanBytes(v []byte) error {
	c.data = append(c.data[:0], v...)
	return nil
}
