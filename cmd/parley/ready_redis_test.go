package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/testenv"
)

// subscriptionCutter is a TCP proxy to Redis that can cut the pub/sub
// connections alone: those on which the client sends SUBSCRIBE. While cut,
// such a connection is closed as soon as it sends SUBSCRIBE (which never
// reaches Redis); every other connection goes through.
type subscriptionCutter struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]net.Conn // client side → Redis side, of connections that subscribed
	all   []net.Conn
}

func newSubscriptionCutter(t *testing.T, target string) *subscriptionCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &subscriptionCutter{ln: ln, target: target, conns: map[net.Conn]net.Conn{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.all {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *subscriptionCutter) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.all = append(p.all, down, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(down, up); up.Close(); down.Close() })
		p.wg.Go(func() { io.Copy(down, up); down.Close(); up.Close() })
	}
}

// forward copies the client's bytes to Redis, noting a connection that
// subscribes and closing it instead while the subscriptions are cut.
// RESP sends a command's name as a bulk string: "subscribe" (or
// "SUBSCRIBE") in a chunk is the command, or an unsubscribe.
func (p *subscriptionCutter) forward(down, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := down.Read(buf)
		if n > 0 {
			if bytes.Contains(bytes.ToLower(buf[:n]), []byte("subscribe")) {
				p.mu.Lock()
				cut := p.cut
				if !cut {
					p.conns[down] = up
				}
				p.mu.Unlock()
				if cut {
					return
				}
			}
			if _, err := up.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutSubscriptions closes the pub/sub connections and refuses new ones.
func (p *subscriptionCutter) cutSubscriptions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for down, up := range p.conns {
		down.Close()
		up.Close()
	}
	clear(p.conns)
}

// mend lets subscriptions through again.
func (p *subscriptionCutter) mend() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// TestReadyzRedisSubscription: /readyz is 503 naming Redis while this
// node's pub/sub subscription is cut, though Redis answers every other
// command (a PING would say ready), and 200 again once the node has
// subscribed again.
func TestReadyzRedisSubscription(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newSubscriptionCutter(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()
	s := startServer(t, map[string]string{
		"PARLEY_REDIS":        viaProxy.String(),
		"PARLEY_REDIS_PREFIX": "parleytest:" + rand.Text()[:10] + ":",
	})
	alice := register(t, s, "alice") // Redis answers: registrations are counted there
	waitUntil(t, "/readyz is 200", func() bool {
		status, _ := readyz(t, s)
		return status == http.StatusOK
	})

	proxy.cutSubscriptions()
	waitUntil(t, "/readyz is 503 naming redis", func() bool {
		status, body := readyz(t, s)
		return status == http.StatusServiceUnavailable && strings.Contains(body, "redis")
	})
	// Redis itself still answers: another registration is counted there.
	register(t, s, "bob")
	alice.call("GET", "/api/v1/me", nil, http.StatusOK, nil)

	proxy.mend()
	waitUntil(t, "/readyz is 200 once the node has subscribed again", func() bool {
		status, _ := readyz(t, s)
		return status == http.StatusOK
	})
}
