package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/filesystem"
	"github.com/parleychat/parley/internal/postgres"
)

// defaultAttachmentsDir is where a server on the SQLite file db keeps its
// attachments unless -attachments-dir says otherwise: a directory beside
// it, named after it (parley.db → parley-attachments), so that a backup
// of the one directory holds both.
func defaultAttachmentsDir(db string) string {
	return strings.TrimSuffix(db, filepath.Ext(db)) + "-attachments"
}

// openBlobs returns where attachments' bytes go: the directory dir when
// it is set; else, on PostgreSQL, the database itself (every node sees
// every file); else the directory beside the SQLite file.
func openBlobs(dir, db string, store database) (chat.BlobStore, error) {
	if dir == "" {
		if pg, ok := store.(interface{ Blobs() *postgres.BlobStore }); ok {
			return pg.Blobs(), nil
		}
		dir = defaultAttachmentsDir(db)
	}
	blobs, err := filesystem.New(dir)
	if err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	return blobs, nil
}

// sizeFlag is a size in bytes written as people write it: a whole number
// with an optional unit, B, KiB, MiB or GiB (powers of 1,024) or KB, MB
// or GB (powers of 1,000), in any letter case: 25MiB, 500KB, 1048576.
type sizeFlag int64

var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
}

func (s *sizeFlag) String() string {
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

// uploadMiB is -upload-budget in the upload-bytes bucket's tokens: a MiB
// each, the bucket's burst (a day's bytes at once).
func uploadMiB(cfg config) int { return int(max(1, int64(cfg.uploadBudget)>>20)) }

// uploadMiBPerSecond refills the upload-bytes bucket in a day.
func uploadMiBPerSecond(cfg config) float64 { return float64(uploadMiB(cfg)) / (24 * 60 * 60) }
