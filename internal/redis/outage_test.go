package redis

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
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

// openBehindProxy opens a client that reaches Redis through a faultProxy.
func openBehindProxy(t *testing.T, logger *slog.Logger, timeout time.Duration) (*Client, *faultProxy) {
	t.Helper()
	u, err := url.Parse(testenv.Need(t, testenv.Redis))
	if err != nil {
		t.Fatal(err)
	}
	p := newFaultProxy(t, u.Host)
	u.Host = p.addr()
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
	p.cut()
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
	p.mend()
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

// faultProxy is a TCP proxy between the server and one of its
// dependencies (Redis, PostgreSQL) that a test can break in the two ways
// networks and servers fail: cut (every connection closed, new ones
// refused, as when the dependency dies) and stall (connections stay open
// but no byte moves either way, as when it hangs or a link drops packets
// silently). mend undoes either.
type faultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	refuse  bool          // cut: new connections are closed at once
	flowing chan struct{} // closed while bytes may move; open (blocking) while stalled
	pairs   map[*proxyPair]struct{}
	wg      sync.WaitGroup
}

// proxyPair is one proxied connection: the server's end and the
// dependency's. gone is closed when the pair is closed.
type proxyPair struct {
	down, up net.Conn
	once     sync.Once
	gone     chan struct{}
}

func (p *proxyPair) close() {
	p.once.Do(func() {
		close(p.gone)
		p.down.Close()
		p.up.Close()
	})
}

// newFaultProxy listens on a loopback port and forwards to target
// (host:port) until the test ends; the proxy starts mended.
func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, flowing: make(chan struct{}), pairs: map[*proxyPair]struct{}{}}
	close(p.flowing)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// addr is the proxy's host:port, to put in place of the target's.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			down.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			down.Close()
			continue
		}
		pair := &proxyPair{down: down, up: up, gone: make(chan struct{})}
		p.mu.Lock()
		if p.refuse { // cut while dialing
			p.mu.Unlock()
			pair.close()
			continue
		}
		p.pairs[pair] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(pair, pair.up, pair.down) })
		p.wg.Go(func() { p.forward(pair, pair.down, pair.up) })
	}
}

// forward copies from src to dst, holding each chunk while the proxy is
// stalled, until either side fails or the pair is closed.
func (p *faultProxy) forward(pair *proxyPair, dst, src net.Conn) {
	defer func() {
		pair.close()
		p.mu.Lock()
		delete(p.pairs, pair)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			flowing := p.flowing
			p.mu.Unlock()
			select {
			case <-flowing:
			case <-pair.gone:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every proxied connection and refuses new ones until mend.
func (p *faultProxy) cut() {
	p.mu.Lock()
	p.refuse = true
	pairs := make([]*proxyPair, 0, len(p.pairs))
	for pair := range p.pairs {
		pairs = append(pairs, pair)
	}
	p.mu.Unlock()
	for _, pair := range pairs {
		pair.close()
	}
}

// mend accepts connections again and lets bytes flow.
func (p *faultProxy) mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
}

// stall keeps every connection open but moves no byte, either way, until
// mend.
func (p *faultProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
		p.flowing = make(chan struct{})
	default: // already stalled
	}
}

// TestStalledRedisFailsAtOnce: once two commands in a row timed out
// against a Redis that stopped answering, the next fails at once as
// unavailable (not tried) instead of waiting its own timeout; once Redis
// answers again, commands go through again.
func TestStalledRedisFailsAtOnce(t *testing.T) {
	c, p := openBehindProxy(t, slog.New(slog.DiscardHandler), 300*time.Millisecond)
	ctx := t.Context()
	p.stall()
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
	p.mend()
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
