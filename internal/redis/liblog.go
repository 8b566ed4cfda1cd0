package redis

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/chat"
)

// RouteLibraryLogs sends go-redis's own log lines (a pool failing to dial
// while Redis is away, several a second) to logger, structured, at warning
// level and at most one per 10 s, saying how many lines it stands for.
// go-redis keeps its logger process-wide: the last call wins.
func RouteLibraryLogs(logger *slog.Logger) {
	goredis.SetLogger(&libraryLog{logger: logger, gate: chat.NewLogGate(10 * time.Second)})
}

// libraryLog is go-redis's Logging interface over slog.
type libraryLog struct {
	logger *slog.Logger
	gate   *chat.LogGate
}

// Printf logs one go-redis line, unless the gate holds it back.
func (l *libraryLog) Printf(ctx context.Context, format string, v ...any) {
	if lines, ok := l.gate.Allow("redis client"); ok {
		l.logger.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...), "lines", lines)
	}
}
