package testenv

import (
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy between the server and one of its dependencies
// (Redis, PostgreSQL) that a test can break in the two ways networks and
// servers fail: [FaultProxy.Cut] (every connection closed, new ones refused,
// as when the dependency dies) and [FaultProxy.Stall] (connections stay open
// but no byte moves either way, as when it hangs or a link drops packets
// silently). [FaultProxy.Mend] undoes either.
type FaultProxy struct {
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
		_ = p.down.Close()
		_ = p.up.Close()
	})
}

// NewFaultProxy listens on a loopback port and forwards each connection to
// target (host:port) until the test ends, when it closes the listener and
// every connection and waits for its goroutines. The proxy starts mended.
// It fails the test if it cannot listen.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{ln: ln, target: target, flowing: make(chan struct{}), pairs: map[*proxyPair]struct{}{}}
	close(p.flowing)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port, to put in place of the target's.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

func (p *FaultProxy) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			_ = down.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = down.Close()
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
func (p *FaultProxy) forward(pair *proxyPair, dst, src net.Conn) {
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

// Cut closes every proxied connection and, until [FaultProxy.Mend], closes
// each new one as soon as it is accepted.
func (p *FaultProxy) Cut() {
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

// Stall stops forwarding bytes, both ways, on every connection, old and
// new, while keeping them open, until [FaultProxy.Mend].
func (p *FaultProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
		p.flowing = make(chan struct{})
	default: // already stalled
	}
}

// Mend accepts connections again and lets bytes flow, including those held
// during a stall.
func (p *FaultProxy) Mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
}
