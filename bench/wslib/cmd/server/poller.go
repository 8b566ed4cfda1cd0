package main

import (
	"bufio"
	"bytes"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"
)

// held is the per-connection record of the idle-memory variants below
// (gorilla:parley*, nbio:*, gws:*). Unlike client, it has no channel and no
// writer goroutine: Parley starts its writer only while it has frames to
// write, so an idle connection holds nothing but the library's state and
// this record. All these variants use the same record, so they compare fairly.
type held struct {
	conn any
}

var (
	heldMu sync.Mutex
	heldBy = map[any]*held{}
)

func hold(key, conn any) {
	heldMu.Lock()
	heldBy[key] = &held{conn: conn}
	heldMu.Unlock()
	nconns.Add(1)
}

func release(key any) {
	heldMu.Lock()
	_, ok := heldBy[key]
	delete(heldBy, key)
	heldMu.Unlock()
	if ok {
		nconns.Add(-1)
	}
}

// acked counts a frame and reports whether it asks for an ACK (END does,
// as in the throughput modes; the idle client sends it once with -hello).
func acked(b []byte) bool {
	if bytes.Equal(b, endMsg) {
		return true
	}
	recv.Add(1)
	return false
}

// gorillaParley is gorilla configured as Parley is: small buffers, a write
// buffer pool, one reader goroutine and no writer goroutine.
func gorillaParley(variant string) http.HandlerFunc {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	switch variant {
	case "parley":
	case "parley512":
		up.ReadBufferSize = 512
	default:
		log.Fatal("bad variant")
	}
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		hold(conn, conn)
		go func() {
			for {
				_, b, err := conn.ReadMessage()
				if err != nil {
					break
				}
				if acked(b) {
					// Written by the reader itself: nothing else writes
					// here, so gorilla's one-writer rule holds.
					_ = conn.WriteMessage(websocket.TextMessage, ackMsg)
				}
			}
			release(conn)
			conn.Close()
		}()
	}
}

// nbioUpgrader returns an nbio upgrader whose callbacks run on nbio's
// goroutine pool, serialised per connection; no goroutine waits per connection.
func nbioUpgrader(engine *nbhttp.Engine) *nbws.Upgrader {
	u := nbws.NewUpgrader()
	if engine != nil {
		u.Engine = engine
	}
	// No idle timeout, as for the other variants (the measurement holds
	// connections idle; the default 120 s would close them).
	u.KeepaliveTime = 0
	u.OnOpen(func(c *nbws.Conn) { hold(c, c) })
	u.OnMessage(func(c *nbws.Conn, _ nbws.MessageType, b []byte) {
		if acked(b) {
			_ = c.WriteMessage(nbws.TextMessage, ackMsg)
		}
	})
	u.OnClose(func(c *nbws.Conn, _ error) { release(c) })
	return u
}

// nbioConfig is the engine configuration for many connections: the default
// non-blocking IO mode and a MaxLoad above the measured counts (the default,
// 10k, refuses more connections). ReadBufferSize is per poller goroutine, not
// per connection, so it is left at its default.
func nbioConfig() nbhttp.Config {
	return nbhttp.Config{
		Network:                 "tcp",
		IOMod:                   nbhttp.IOModNonBlocking,
		MaxLoad:                 1 << 20,
		ReleaseWebsocketPayload: true,
	}
}

// serveNbio serves mux on addr with nbio's own HTTP engine; the upgrade
// handler keeps the connection in the engine's poller.
func serveNbio(addr string, mux *http.ServeMux) {
	conf := nbioConfig()
	conf.Addrs = []string{addr}
	conf.Handler = mux
	engine := nbhttp.NewEngine(conf)
	u := nbioUpgrader(engine)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.Upgrade(w, r, nil); err != nil {
			log.Printf("nbio upgrade: %v", err)
		}
	})
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	select {}
}

// nbioFromStd keeps net/http as the HTTP server and hands each upgraded
// *net.TCPConn to an nbio engine with no listener of its own: the migration
// path for a server that already uses net/http.
func nbioFromStd() http.HandlerFunc {
	engine := nbhttp.NewEngine(nbioConfig())
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	u := nbioUpgrader(engine)
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.UpgradeAndTransferConnToPoller(w, r, nil); err != nil {
			log.Printf("nbio upgrade: %v", err)
		}
	}
}

type gwsHandler struct{ gws.BuiltinEventHandler }

func (gwsHandler) OnOpen(c *gws.Conn)           { hold(c, c) }
func (gwsHandler) OnClose(c *gws.Conn, _ error) { release(c) }
func (gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	if acked(m.Bytes()) {
		_ = c.WriteMessage(gws.OpcodeText, ackMsg)
	}
	m.Close()
}

// gwsOption: default is the README's setup without compression; small sets a
// 1 KiB read buffer (the default is 4 KiB), comparable to Parley's gorilla.
// UTF-8 checking is off by default in gws; it is on here, as RFC 6455 asks
// and as gws's own Autobahn server sets it (no memory is held for it).
func gwsOption(variant string) *gws.ServerOption {
	opt := &gws.ServerOption{Recovery: gws.Recovery, CheckUtf8Enabled: true}
	switch variant {
	case "default":
	case "small", "server":
		opt.ReadBufferSize = 1024
	default:
		log.Fatal("bad variant")
	}
	return opt
}

// gwsUpgrader is gws on net/http: Upgrade, then ReadLoop in its own goroutine
// (gws has no other way to read; ReadLoop blocks in a read).
func gwsUpgrader(variant string) http.HandlerFunc {
	up := gws.NewUpgrader(gwsHandler{}, gwsOption(variant))
	return func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	}
}

// serveGws runs gws's own server (gws.NewServer) on ln: one goroutine per
// connection reads the handshake and then becomes the ReadLoop; there is no
// net/http state. Requests for other paths (/stats, /count) are answered
// through mux, one request per connection.
func serveGws(ln net.Listener, variant string, mux *http.ServeMux) {
	srv := gws.NewServer(gwsHandler{}, gwsOption(variant))
	upgrade := srv.OnRequest
	srv.OnRequest = func(conn net.Conn, br *bufio.Reader, r *http.Request) {
		if r.URL.Path == "/ws" {
			upgrade(conn, br, r)
			return
		}
		defer conn.Close()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		resp := rec.Result()
		resp.Close = true
		_ = resp.Write(conn)
	}
	log.Fatal(srv.RunListener(ln))
}
