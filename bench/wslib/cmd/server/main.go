package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/bench/wslib/internal/payload"
)

type cmd struct {
	data []byte
	n    int
}

type client struct {
	out  chan cmd
	done chan struct{}
}

var (
	mu      sync.Mutex
	clients = map[*client]struct{}{}
	nconns  atomic.Int64
	recv    atomic.Int64
	endMsg  = []byte("END")
	ackMsg  = []byte("ACK")
)

func register() *client {
	c := &client{out: make(chan cmd, 16), done: make(chan struct{})}
	mu.Lock()
	clients[c] = struct{}{}
	mu.Unlock()
	nconns.Add(1)
	return c
}

func unregister(c *client) {
	mu.Lock()
	delete(clients, c)
	mu.Unlock()
	close(c.done)
	nconns.Add(-1)
}

// writer: one goroutine per connection blocked on the channel.
func writer(c *client, write func([]byte) error) {
	for {
		select {
		case m := <-c.out:
			for i := 0; i < m.n; i++ {
				if err := write(m.data); err != nil {
					return
				}
			}
		case <-c.done:
			return
		}
	}
}

// reader: one goroutine per connection blocked in a read.
func reader(c *client, read func() ([]byte, error)) {
	for {
		b, err := read()
		if err != nil {
			return
		}
		if bytes.Equal(b, endMsg) {
			select {
			case c.out <- cmd{ackMsg, 1}:
			case <-c.done:
			}
			continue
		}
		recv.Add(1)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	lib := flag.String("lib", "gorilla", "gorilla|coder|nbio|gws")
	variant := flag.String("variant", "default", "gorilla: default|small|pool|smallpool|parley|parley512; coder: default|nocomp|ctx|detach; nbio: engine|std; gws: default|small|server")
	flag.Parse()

	var h http.HandlerFunc
	switch *lib {
	case "gorilla":
		if strings.HasPrefix(*variant, "parley") {
			h = gorillaParley(*variant)
			break
		}
		up := websocket.Upgrader{}
		switch *variant {
		case "default":
		case "small":
			up.ReadBufferSize, up.WriteBufferSize = 1024, 1024
		case "pool":
			up.WriteBufferPool = &sync.Pool{}
		case "smallpool":
			up.ReadBufferSize, up.WriteBufferSize = 1024, 1024
			up.WriteBufferPool = &sync.Pool{}
		default:
			log.Fatal("bad variant")
		}
		h = func(w http.ResponseWriter, r *http.Request) {
			conn, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			c := register()
			go writer(c, func(b []byte) error { return conn.WriteMessage(websocket.TextMessage, b) })
			go func() {
				reader(c, func() ([]byte, error) { _, b, err := conn.ReadMessage(); return b, err })
				unregister(c)
				conn.Close()
			}()
			// handler returns; net/http's connection goroutine exits (conn is hijacked)
		}
	case "coder":
		opts := &coder.AcceptOptions{}
		switch *variant {
		case "default": // library default is CompressionDisabled
		case "nocomp":
			opts.CompressionMode = coder.CompressionDisabled
		case "ctx":
			opts.CompressionMode = coder.CompressionContextTakeover
		case "detach": // reader in its own goroutine, handler returns (like gorilla)
		default:
			log.Fatal("bad variant")
		}
		h = func(w http.ResponseWriter, r *http.Request) {
			conn, err := coder.Accept(w, r, opts)
			if err != nil {
				return
			}
			ctx := context.Background() // r.Context() must not be used after hijack
			c := register()
			go writer(c, func(b []byte) error { return conn.Write(ctx, coder.MessageText, b) })
			run := func() {
				reader(c, func() ([]byte, error) { _, b, err := conn.Read(ctx); return b, err })
				unregister(c)
				conn.CloseNow()
			}
			if *variant == "detach" {
				go run()
				return
			}
			// the handler goroutine itself is the reader goroutine (kept blocked)
			run()
		}
	case "nbio":
		switch *variant {
		case "engine": // served below by nbio's own engine
		case "std":
			h = nbioFromStd()
		default:
			log.Fatal("bad variant")
		}
	case "gws":
		switch *variant {
		case "default", "small":
			h = gwsUpgrader(*variant)
		case "server": // served below by gws's own server
		default:
			log.Fatal("bad variant")
		}
	default:
		log.Fatal("bad lib")
	}

	mux := http.NewServeMux()
	if h != nil {
		mux.Handle("/ws", h)
	}
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"conns": nconns.Load(), "recv": recv.Load()})
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) { recv.Store(0) })
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		mu.Lock()
		list := make([]*client, 0, len(clients))
		for c := range clients {
			list = append(list, c)
		}
		mu.Unlock()
		for _, c := range list {
			select {
			case c.out <- cmd{payload.Msg, n}:
			case <-c.done:
			}
		}
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			runtime.GC()
			debug.FreeOSMemory()
			time.Sleep(200 * time.Millisecond)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		json.NewEncoder(w).Encode(map[string]any{
			"conns": nconns.Load(), "goroutines": runtime.NumGoroutine(),
			"heap_inuse": ms.HeapInuse, "heap_alloc": ms.HeapAlloc, "stack_inuse": ms.StackInuse,
			"sys": ms.Sys, "rss_kib": rssKiB(),
		})
	})
	log.Printf("server lib=%s variant=%s pid=%d listening %s", *lib, *variant, os.Getpid(), *addr)
	if *lib == "nbio" && *variant == "engine" {
		serveNbio(*addr, mux)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *lib == "gws" && *variant == "server" {
		serveGws(ln, *variant, mux)
	}
	srv := &http.Server{Handler: mux}
	log.Fatal(srv.Serve(ln))
}

func rssKiB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}
