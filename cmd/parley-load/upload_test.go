package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

// TestGenReader: an upload's body has exactly the size asked for, the
// same bytes for the same upload number however it is read, other bytes
// for another number, and sniffs as a binary file, never as an image or
// text.
func TestGenReader(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 5, int64(len(genHeader)), 1000, 1<<20 + 3} {
		whole, err := io.ReadAll(newGenReader(7, n))
		if err != nil || int64(len(whole)) != n {
			t.Fatalf("size %d: read %d bytes, err %v", n, len(whole), err)
		}
		// One byte at a time, through a reader that checks the
		// io.Reader contract.
		if err := iotest.TestReader(newGenReader(7, n), whole); err != nil {
			t.Errorf("size %d: %v", n, err)
		}
		slow, err := io.ReadAll(iotest.OneByteReader(newGenReader(7, n)))
		if err != nil || !bytes.Equal(slow, whole) {
			t.Errorf("size %d: read a byte at a time, the bytes differ (err %v)", n, err)
		}
	}
	a, _ := io.ReadAll(newGenReader(1, 4096))
	b, _ := io.ReadAll(newGenReader(2, 4096))
	if bytes.Equal(a, b) {
		t.Error("uploads 1 and 2 have the same bytes")
	}
	if ct := http.DetectContentType(a); ct != "application/octet-stream" {
		t.Errorf("sniffed as %s, want application/octet-stream", ct)
	}
}

// TestUploadFlags: the upload mode takes sizes as people write them,
// derives its users from the concurrency, and refuses plans it cannot run.
func TestUploadFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (config, error) {
		return parseFlags(append([]string{"parley-load"}, args...), func(string) string { return "" }, io.Discard)
	}
	cfg, err := parse("-uploads", "40", "-upload-size", "25MiB")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.uploadSize != 25<<20 || cfg.uploadConc != 20 || cfg.users != 20 {
		t.Errorf("size %d, concurrency %d, users %d; want 25 MiB, 20, 20", cfg.uploadSize, cfg.uploadConc, cfg.users)
	}
	cfg, err = parse("-uploads", "3", "-upload-size", "500KB")
	if err != nil || cfg.uploadSize != 500e3 || cfg.uploadConc != 3 || cfg.users != 4 {
		t.Errorf("-uploads 3: size %d, concurrency %d, users %d, err %v; want 500000, 3, 4", cfg.uploadSize, cfg.uploadConc, cfg.users, err)
	}
	for _, args := range [][]string{
		{"-uploads", "-1"},
		{"-uploads", "2", "-upload-size", "0"},
		{"-uploads", "2", "-upload-size", "1XB"},
		{"-uploads", "2", "-upload-concurrency", "0"},
		{"-uploads", "2", "-users", "3"},
		{"-uploads", "2", "-idle"},
		{"-uploads", "2", "-groups", "1"},
		{"-uploads", "2", "-rss-interval", "0s"},
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
