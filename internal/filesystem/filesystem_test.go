package filesystem

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/blobtest"
	"github.com/parleychat/parley/internal/chat"
)

func newTest(t testing.TB, dir string) *BlobStore {
	t.Helper()
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New(%q): %v", dir, err)
	}
	return s
}

func TestBlobStore(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) chat.BlobStore {
		// A directory not there yet: New makes it.
		return newTest(t, filepath.Join(t.TempDir(), "blobs"))
	})
}

// files returns the paths, relative to dir, of the regular files under it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFailedPutsLeaveNoFile(t *testing.T) {
	dir := t.TempDir()
	s := newTest(t, dir)
	blobtest.PutFailures(t, s)
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left by refused and failed Puts: %v", got)
	}
}

func TestLayoutAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := newTest(t, dir)
	info, err := s.Put(t.Context(), strings.NewReader("hello"), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(info.Key[:2], info.Key)
	if got := files(t, dir); len(got) != 1 || got[0] != want {
		t.Fatalf("files after one Put: %v, want [%s]", got, want)
	}
	for _, path := range []string{dir, filepath.Join(dir, info.Key[:2]), filepath.Join(dir, want)} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by others than its owner", path, perm)
		}
	}
}

func TestNewRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	s := newTest(t, dir)
	info, err := s.Put(t.Context(), strings.NewReader("kept"), 100)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash in the middle of a Put leaves.
	if err := os.WriteFile(filepath.Join(dir, tempPrefix+"123456"), []byte("half a blob"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = newTest(t, dir)
	want := filepath.Join(info.Key[:2], info.Key)
	if got := files(t, dir); len(got) != 1 || got[0] != want {
		t.Errorf("files after New: %v, want only the blob %s", got, want)
	}
	b, err := s.Open(t.Context(), info.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if got, err := io.ReadAll(b); err != nil || string(got) != "kept" {
		t.Errorf("blob after New reads %q, %v", got, err)
	}
}

func TestTruncatedFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	s := newTest(t, dir)
	info, err := s.Put(t.Context(), strings.NewReader("hello"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, info.Key[:2], info.Key), 10); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(t.Context(), info.Key)
	if err == nil {
		_ = b.Close()
		t.Fatal("Open of a truncated blob file: no error")
	}
	if code := chat.ErrorCode(err); code != chat.EINTERNAL {
		t.Errorf("Open of a truncated blob file: error %v (code %q), want an internal error", err, code)
	}
}

// BenchmarkPut stores blobs of 1 MiB and 25 MiB: the memory a Put
// allocates is the same for both, as it streams.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1 << 20, 25 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			data := make([]byte, size)
			_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
			s := newTest(b, b.TempDir())
			r := bytes.NewReader(data)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(data)
				info, err := s.Put(b.Context(), r, int64(size))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(b.Context(), info.Key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
