package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

// handshakes dials tries WebSockets of one person at once, the i-th
// through clients[i%len(clients)] (the same person on different nodes),
// and returns the tabs that opened, how many handshakes were refused with
// 429 and what else went wrong.
func handshakes(clients []*client, tries int) (opened []*tab, refused int, other []string) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := range tries {
		c := clients[i%len(clients)]
		wg.Go(func() {
			tb, resp, err := c.dial(fmt.Sprint("tab", i), dialOptions{noReader: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				opened = append(opened, tb)
			case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
				refused++
			default:
				other = append(other, fmt.Sprint(err, resp))
			}
		})
	}
	wg.Wait()
	return opened, refused, other
}

// TestWebSocketCapHoldsUnderParallelHandshakes: 300 handshakes of one user
// at once against the cap of 20 open exactly 20 sockets; every other one is
// answered 429 before the upgrade.
func TestWebSocketCapHoldsUnderParallelHandshakes(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "20"})
	alice := register(t, s, "alice")
	const tries = 300
	opened, refused, other := handshakes([]*client{alice}, tries)
	if len(opened) != 20 || refused != tries-20 || len(other) > 0 {
		t.Errorf("%d opened, %d refused with 429, %d other failures %q; want 20 and %d", len(opened), refused, len(other), other, tries-20)
	}
}

// TestWebSocketCapAcrossNodes: the cap counts one user's WebSockets over
// every node of a cluster. 300 handshakes at once, split over two nodes,
// against the cap of 20 open exactly 20 sockets and every other one is
// answered 429; sockets that close give their places back, on whichever
// node they were.
func TestWebSocketCapAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, nil, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "20"})
	alice := register(t, nodes[0], "alice")
	both := []*client{alice, alice.on(nodes[1])}
	const tries = 300
	opened, refused, other := handshakes(both, tries)
	if len(opened) != 20 || refused != tries-20 || len(other) > 0 {
		t.Fatalf("%d opened, %d refused with 429, %d other failures %q; want 20 and %d", len(opened), refused, len(other), other, tries-20)
	}

	// Five sockets close; their places come free once their nodes see
	// them gone, which nothing outside shows: dial until five more open.
	const closed = 5
	for _, tb := range opened[:closed] {
		tb.conn.Close()
	}
	reopened, i := 0, 0
	waitUntil(t, "the places of closed sockets are free", func() bool {
		c := both[i%2]
		i++
		_, resp, err := c.dial(fmt.Sprint("again", i), dialOptions{noReader: true})
		switch {
		case err == nil:
			reopened++
		case resp == nil || resp.StatusCode != http.StatusTooManyRequests:
			t.Fatalf("dial after closing: %v %v", err, resp)
		}
		return reopened == closed
	})
	// The cap is full again, on both nodes.
	for n, c := range both {
		if _, resp, err := c.dial(fmt.Sprint("over the cap on node ", n+1), dialOptions{noReader: true}); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a handshake on node %d with the cap full again: %v %v, want 429", n+1, err, resp)
		}
	}
}

// TestWebSocketCapWithoutRedis: with Redis away, the cluster-wide count
// cannot be asked; the node's own cap still holds (parallel handshakes
// open exactly the cap), and the outage is not logged per handshake above
// debug level.
func TestWebSocketCapWithoutRedis(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	gate := testenv.NewFaultProxy(t, u.Host)
	via := *u
	via.Host = gate.Addr()
	nodes := startCluster(t, 1, func(int) string { return via.String() }, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "3"})
	s := nodes[0]
	alice := register(t, s, "alice")
	// A tab open before the outage keeps the node subscribed to alice's
	// events, so the tabs opened during it are served and stay open (a
	// user with none would have each new one closed with 1013 at once,
	// its place freed for the next handshake).
	alice.openTab("open before the outage")

	gate.Cut()
	cut := time.Now()
	waitUntil(t, "the node sees Redis gone", func() bool {
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	const tries = 12
	opened, refused, other := handshakes([]*client{alice}, tries)
	if len(opened) != 2 || refused != tries-2 || len(other) > 0 {
		t.Errorf("with Redis away: %d opened, %d refused with 429, %d other failures %q; want 2 (the cap of 3, less the tab open already) and %d", len(opened), refused, len(other), other, tries-2)
	}
	// The outage is Redis's own line; each handshake's is debug.
	if n, most := bytes.Count([]byte(s.logs.String()), []byte(`"msg":"redis unavailable"`)), 1+int(time.Since(cut)/(10*time.Second)); n < 1 || n > most {
		t.Errorf("Redis's outage logged %d times in %v, want 1 to %d", n, time.Since(cut), most)
	}
	const line = `"msg":"websocket cap: cluster-wide count unavailable, this node's cap stands alone"`
	if n := bytes.Count([]byte(s.logs.String()), []byte(`"level":"DEBUG",`+line)); n < 1 || n != bytes.Count([]byte(s.logs.String()), []byte(line)) {
		t.Errorf("the cap's failures logged %d debug lines, and others above debug level:\n%s", n, s.logs)
	}
}

// TestPresenceOnlineByHello: a client that has its hello frame finds its
// user online at once, on every node: the server counts the connection in
// presence before it queues the hello. Alice's node reaches Redis over a
// slow link, so that her presence takes that long to record; bob asks
// through the other node, which reaches Redis directly, as soon as alice's
// hello is in: a hello sent before presence was recorded would find her
// offline.
func TestPresenceOnlineByHello(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	slow := newSlowProxy(t, u.Host, 300*time.Millisecond)
	via := *u
	via.Host = slow.ln.Addr().String()
	nodes := startCluster(t, 2, func(i int) string {
		if i == 0 {
			return via.String()
		}
		return redisURL
	}, map[string]string{"PARLEY_LIST_RATE": "1000000", "PARLEY_LIST_BURST": "1000000"})
	alice, bob := register(t, nodes[0], "alice"), register(t, nodes[1], "bob")
	online := func() bool {
		var users wire.UsersResponse
		bob.call("GET", "/api/v1/users?q=alice", nil, 200, &users)
		if len(users.Users) != 1 {
			t.Fatalf("bob searching for alice: %+v", users)
		}
		return users.Users[0].Online
	}
	for round := range 3 {
		tb, resp, err := alice.dial(fmt.Sprint("round ", round), dialOptions{noReader: true})
		if err != nil {
			t.Fatalf("round %d: dial: %v %v", round, err, resp)
		}
		var hello wire.ServerFrame
		if err := tb.conn.ReadJSON(&hello); err != nil || hello.Type != "hello" {
			t.Fatalf("round %d: first frame %+v, %v; want hello", round, hello, err)
		}
		if !online() {
			t.Fatalf("round %d: alice has her hello but node 2 has her offline", round)
		}
		tb.conn.Close()
		waitUntil(t, fmt.Sprintf("round %d: alice offline after her socket closed", round), func() bool { return !online() })
	}
}

// slowProxy is a TCP proxy (to Redis) that hands everything on in order,
// but delay late, both ways: a slow network link.
type slowProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target, delay: delay}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *slowProxy) accept() {
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
		if p.closed {
			p.mu.Unlock()
			down.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.pipe(up, down)
		p.pipe(down, up)
	}
}

// pipe copies src to dst, each chunk delay after it was read; it closes
// dst when src ends.
func (p *slowProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	chunks := make(chan chunk, 1024)
	p.wg.Go(func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	})
	p.wg.Go(func() {
		defer dst.Close()
		for c := range chunks {
			// The simulated link's latency: each chunk is held until its
			// delay has passed, as a slow network would; nothing is awaited.
			time.Sleep(time.Until(c.at.Add(p.delay)))
			if _, err := dst.Write(c.data); err != nil {
				for range chunks { // let the reader finish
				}
				return
			}
		}
	})
}
