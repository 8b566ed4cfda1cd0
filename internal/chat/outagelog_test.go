package chat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestOutageLog: a dependency failing at every call for 25 s logs three
// warnings (at 0, 10 and 20 s, each counting the failures it stands for),
// then one line when it answers again, and nothing for later answers nor
// for a lone failure right after the recovery.
func TestOutageLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		o := NewOutageLog(slog.New(slog.NewTextHandler(&buf, nil)), "redis", 10*time.Second)
		ctx := context.Background()
		o.Answered(ctx)
		for range 250 {
			o.Failed(ctx, errors.New("dial tcp: connection refused"))
			// synctest's fake clock: a call every 100 ms for 25 s,
			// passing at once.
			time.Sleep(100 * time.Millisecond) // synctest's fake clock: the calls' pace, nothing awaited
		}
		o.Answered(ctx)
		o.Answered(ctx)
		// A stale connection failing just after: its warning is held
		// back, so its end is not announced either.
		o.Failed(ctx, errors.New("EOF"))
		o.Answered(ctx)
		out := buf.String()
		if n := strings.Count(out, `msg="redis unavailable"`); n != 3 || !strings.Contains(out, "failures=100") {
			t.Errorf("250 failures over 25 s logged as:\n%s\nwant 3 warnings, one counting 100", out)
		}
		if n := strings.Count(out, `msg="redis available again"`); n != 1 || !strings.Contains(out, "down_for=25s") {
			t.Errorf("recovery logged as:\n%s\nwant one line with down_for=25s", out)
		}
	})
}
