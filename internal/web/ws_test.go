package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// TestFrameFailureAfterCloseNotError: a frame that fails only because its
// connection's context ended (the server closed the socket with frames
// still buffered) is logged at debug level, not as an internal error; a
// frame that fails for any other reason, or with a cancellation while the
// connection is still open, is an error.
func TestFrameFailureAfterCloseNotError(t *testing.T) {
	var buf bytes.Buffer
	fr := &frameReader{logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), frames: frameHandler{user: 7}}
	internal := func(err error) wire.ErrorFrame { return errorFrame(err, "c1") }

	closed, cancel := context.WithCancel(context.Background())
	cancel()
	for _, cause := range []error{
		fmt.Errorf("select by client_id: %w", context.Canceled),
		fmt.Errorf("select by client_id: %w", context.DeadlineExceeded),
	} {
		fr.logFailure(closed, "conn", internal(cause), cause)
	}
	if buf.Len() != 0 {
		t.Errorf("a closed connection's abandoned frames were logged:\n%s", buf.String())
	}

	open := context.Background()
	canceled := fmt.Errorf("select: %w", context.Canceled)
	fr.logFailure(open, "conn", internal(canceled), canceled)
	fr.logFailure(closed, "conn", internal(errors.New("disk on fire")), errors.New("disk on fire"))
	if n := strings.Count(buf.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2:\n%s", n, buf.String())
	}
	// Refusals are never logged.
	buf.Reset()
	fr.logFailure(open, "conn", internal(chat.Errorf(chat.EINVALID, "no")), nil)
	if buf.Len() != 0 {
		t.Errorf("a refused frame was logged: %s", buf.String())
	}
}

// TestErrorFrameRetryAfterRoundsUp: a rate_limited frame always says how
// long to wait, in whole milliseconds rounded up.
func TestErrorFrameRetryAfterRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want int64
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1},
		{400 * time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{1500 * time.Microsecond, 2},
		{2 * time.Second, 2000},
	} {
		err := &chat.Error{Code: chat.ERATELIMITED, Message: "slow down", RetryAfter: tc.wait}
		if got := errorFrame(err, "").RetryAfterMS; got != tc.want {
			t.Errorf("wait %v: retry_after_ms %d, want %d", tc.wait, got, tc.want)
		}
	}
}
