package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (a pool failing to dial
// while Redis is away, several a second) to logger, structured, at warning
// level and at most one per 10 s, saying how many lines it stands for.
// go-redis keeps its logger process-wide: the last call wins.
func RouteLibraryLogs(logger *slog.Logger) {
	goredis.SetLogger(&libraryLog{logger: logger, every: 10 * time.Second})
}

// libraryLog is go-redis's Logging interface over slog.
type libraryLog struct {
	logger *slog.Logger
	every  time.Duration

	mu     sync.Mutex
	last   time.Time
	missed int
}

// Printf logs one go-redis line, unless one went out less than every ago.
func (l *libraryLog) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now()
	l.mu.Lock()
	l.missed++
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.mu.Unlock()
		return
	}
	lines := l.missed
	l.last, l.missed = now, 0
	l.mu.Unlock()
	l.logger.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...), "lines", lines)
}
