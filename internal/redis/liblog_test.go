package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// TestLibraryLogOncePer10s: go-redis's lines during an outage come out as
// one structured line per 10 s that counts them.
func TestLibraryLogOncePer10s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l := &libraryLog{logger: slog.New(slog.NewTextHandler(&buf, nil)), gate: chat.NewLogGate(10 * time.Second)}
		for range 30 {
			l.Printf(context.Background(), "redis: %s: failed to dial", "pool.go:770")
		}
		// synctest's fake clock: the gate's 10 s pass at once; nothing is
		// awaited, the test moves time past the interval it checks.
		time.Sleep(10 * time.Second)
		l.Printf(context.Background(), "redis: failed to dial")
		out := buf.String()
		if n := strings.Count(out, `msg="redis client"`); n != 2 || !strings.Contains(out, "lines=30") || !strings.Contains(out, "pool.go:770") {
			t.Errorf("31 library lines over 10 s logged:\n%s\nwant 2 lines, the second counting 30", out)
		}
	})
}
