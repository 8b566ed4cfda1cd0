package redis

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/testenv"
)

// syncBuffer is a log destination that tests may read while the client
// writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openBehindProxy opens a client that reaches Redis through a [testenv.FaultProxy].
func openBehindProxy(t *testing.T, logger *slog.Logger, timeout time.Duration) (*Client, *testenv.FaultProxy) {
	t.Helper()
	u, err := url.Parse(testenv.Need(t, testenv.Redis))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.NewFaultProxy(t, u.Host)
	u.Host = p.Addr()
	c, err := Open(t.Context(), u.String(), "parleytest:"+rand.Text()[:10]+":", logger, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, p
}

// TestOutageLoggedOnce: while Redis is cut, every call fails and the log
// gets one line for all of them; once it is back, one line says so.
func TestOutageLoggedOnce(t *testing.T) {
	var log syncBuffer
	c, p := openBehindProxy(t, slog.New(slog.NewTextHandler(&log, nil)), 0)
	ctx := t.Context()
	p.Cut()
	// Each failed call is several attempts (go-redis retries): a few calls
	// make many failures.
	for range 2 {
		if err := c.Ping(ctx); err == nil {
			t.Fatal("ping through a cut connection succeeded")
		}
	}
	if n := strings.Count(log.String(), `msg="redis unavailable"`); n != 1 {
		t.Errorf("%d outage lines for 2 failed calls, want 1:\n%s", n, log.String())
	}
	p.Mend()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping once Redis is back: %v", err)
	}
	if n := strings.Count(log.String(), `msg="redis available again"`); n != 1 {
		t.Errorf("%d lines saying Redis is back, want 1:\n%s", n, log.String())
	}
}

// TestTimeouts: every wait on Redis is bounded by the timeout given to
// Open (-redis-timeout), and by the default when none is; a failed command
// is retried once.
func TestTimeouts(t *testing.T) {
	for give, want := range map[time.Duration]time.Duration{0: DefaultTimeout, 700 * time.Millisecond: 700 * time.Millisecond} {
		c, _ := openBehindProxy(t, slog.New(slog.DiscardHandler), give)
		o := c.rdb.Options()
		if o.DialTimeout != want || o.ReadTimeout != want || o.WriteTimeout != want || o.PoolTimeout != want || !o.ContextTimeoutEnabled || o.MaxRetries != 1 {
			t.Errorf("Open with %v: dial %v, read %v, write %v, pool %v, context deadlines %v, retries %d; want %v, true and 1",
				give, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled, o.MaxRetries, want)
		}
	}
}

// TestStalledRedisFailsAtOnce: once two commands in a row timed out
// against a Redis that stopped answering, the next fails at once as
// unavailable (not tried) instead of waiting its own timeout; once Redis
// answers again, commands go through again.
func TestStalledRedisFailsAtOnce(t *testing.T) {
	c, p := openBehindProxy(t, slog.New(slog.DiscardHandler), 300*time.Millisecond)
	ctx := t.Context()
	p.Stall()
	if err := c.Ping(ctx); err == nil || errors.Is(err, errNotTried) {
		t.Fatalf("ping to a stalled Redis: %v, want a timeout", err)
	}
	// The first ping is one or two commands (its retry on a new
	// connection sends a handshake first): by the third, two timed out.
	var err error
	for range 2 {
		if err = c.Ping(ctx); errors.Is(err, errNotTried) {
			break
		}
	}
	if !errors.Is(err, errNotTried) {
		t.Fatalf("ping after timeouts: %v, want it not tried", err)
	}
	if err := failed("ping", err); chat.ErrorCode(err) != chat.EUNAVAILABLE {
		t.Errorf("a command not tried: %v, want %s", err, chat.EUNAVAILABLE)
	}
	p.Mend()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping once Redis answers again: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the poll's interval: what it waits for is the breaker's second
	}
}
