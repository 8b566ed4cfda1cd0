package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// tab is one open WebSocket of a client: one browser tab.
type tab struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	frames chan wire.ServerFrame
	closed chan error // the read error that ended the tab
	hello  wire.ServerFrame
}

// dialOptions adjust a tab's handshake.
type dialOptions struct {
	origin   string // "" means the server's own origin; "-" means none
	noCookie bool
	readBuf  int // the client socket's receive buffer, when set
	noReader bool
}

// openTab opens a WebSocket as c and reads its hello.
func (c *client) openTab(name string) *tab {
	c.t.Helper()
	tb, resp, err := c.dial(name, dialOptions{})
	if err != nil {
		c.t.Fatalf("%s: dial: %v (%v)", name, err, resp)
	}
	return tb
}

func (c *client) dial(name string, opts dialOptions) (*tab, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if !opts.noCookie {
		d.Jar = c.http.Jar
	}
	if opts.readBuf > 0 {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				conn.(*net.TCPConn).SetReadBuffer(opts.readBuf)
			}
			return conn, err
		}
	}
	h := http.Header{}
	switch opts.origin {
	case "":
		h.Set("Origin", c.base)
	case "-":
	default:
		h.Set("Origin", opts.origin)
	}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(c.base, "http")+"/ws", h)
	if err != nil {
		return nil, resp, err
	}
	tb := &tab{t: c.t, name: name, conn: conn, frames: make(chan wire.ServerFrame, 10000), closed: make(chan error, 1)}
	c.t.Cleanup(func() { conn.Close() })
	if opts.noReader {
		return tb, resp, nil
	}
	go tb.readLoop()
	tb.hello = tb.expect("hello")
	return tb, resp, nil
}

func (tb *tab) readLoop() {
	for {
		_, data, err := tb.conn.ReadMessage()
		if err != nil {
			tb.closed <- err
			close(tb.frames)
			return
		}
		var f wire.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			tb.t.Errorf("%s: undecodable frame %s: %v", tb.name, data, err)
			continue
		}
		tb.frames <- f
	}
}

// send writes one frame: a value encoded as JSON, or raw text.
func (tb *tab) send(v any) {
	tb.t.Helper()
	var data []byte
	switch f := v.(type) {
	case string:
		data = []byte(f)
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			tb.t.Fatal(err)
		}
	}
	if err := tb.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		tb.t.Fatalf("%s: write: %v", tb.name, err)
	}
}

// next returns the next frame, failing the test after 5 s.
func (tb *tab) next() wire.ServerFrame {
	tb.t.Helper()
	select {
	case f, ok := <-tb.frames:
		if !ok {
			tb.t.Fatalf("%s: closed while a frame was expected: %v", tb.name, <-tb.closed)
		}
		return f
	case <-time.After(5 * time.Second):
		tb.t.Fatalf("%s: no frame within 5s", tb.name)
	}
	return wire.ServerFrame{}
}

// expect returns the next frame, which must be of the given type.
func (tb *tab) expect(typ string) wire.ServerFrame {
	tb.t.Helper()
	f := tb.next()
	if f.Type != typ {
		tb.t.Fatalf("%s: got %s frame %+v (%s), want %s", tb.name, f.Type, f, f.Message, typ)
	}
	return f
}

// expectPast returns the next frame of the given type, passing over
// presence frames, whose timing relative to other events is not fixed.
func (tb *tab) expectPast(typ string) wire.ServerFrame {
	tb.t.Helper()
	for {
		f := tb.next()
		if f.Type == typ {
			return f
		}
		if f.Type != "presence" {
			tb.t.Fatalf("%s: got %s frame %+v (%s), want %s", tb.name, f.Type, f, f.Message, typ)
		}
	}
}

// expectNothing checks that no frame arrives for a while.
func (tb *tab) expectNothing() {
	tb.t.Helper()
	select {
	case f, ok := <-tb.frames:
		if ok {
			tb.t.Fatalf("%s: unexpected %s frame %+v (%s)", tb.name, f.Type, f, f.Message)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// expectClose waits for the connection to close and returns its close code.
func (tb *tab) expectClose(within time.Duration) int {
	tb.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-tb.frames:
			if ok {
				continue // frames sent before the close
			}
			err := <-tb.closed
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		case <-deadline:
			tb.t.Fatalf("%s: still open after %v", tb.name, within)
		}
	}
}

func (tb *tab) message(f wire.ServerFrame) wire.Message {
	tb.t.Helper()
	m, err := f.ChatMessage()
	if err != nil {
		tb.t.Fatalf("%s: %s frame without a message: %s", tb.name, f.Type, f.Message)
	}
	return m
}

func sendFrame(conv int64, clientID, body string) map[string]any {
	return map[string]any{"type": "send", "conversation_id": conv, "client_id": clientID, "body": body}
}

func frame(typ string, conv int64, extra ...any) map[string]any {
	f := map[string]any{"type": typ, "conversation_id": conv}
	for i := 0; i+1 < len(extra); i += 2 {
		f[fmt.Sprint(extra[i])] = extra[i+1]
	}
	return f
}
