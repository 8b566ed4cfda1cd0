package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// wsWait bounds every wait for a handshake, a frame or a close (see
// patience).
const wsWait = patience

// tab is one open WebSocket of a client: one browser tab.
type tab struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	frames chan wire.ServerFrame
	closed chan error // the read error that ended the tab
	hello  wire.ServerFrame
	syncs  int // sync frames sent so far

	// The reader, however it was started, is stopped and joined when the
	// test ends.
	mu         sync.Mutex
	ended      bool          // the test is over: no reader may start
	readerDone chan struct{} // closed when the running reader returns
	stop       chan struct{} // closed when the test ends
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
	d := websocket.Dialer{HandshakeTimeout: wsWait}
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
	opened := c.srv.opened()
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(c.base, "http")+"/ws", h)
	if err != nil {
		return nil, resp, err
	}
	tb := &tab{t: c.t, name: name, conn: conn, frames: make(chan wire.ServerFrame, 10000), closed: make(chan error, 1), stop: make(chan struct{})}
	c.t.Cleanup(tb.end)
	if opts.noReader {
		return tb, resp, nil
	}
	go tb.readLoop()
	tb.hello = tb.expect("hello")
	// The server counts the connection in the user's presence before it
	// queues the hello, but it finishes the handshake after: the hub takes
	// the connection and the handshake's reservation under the connection
	// cap is given back. It logs "websocket opened" when all is done: wait
	// for that line, so that what the tab does next (open another under
	// the cap, close) meets a settled server.
	if tb.hello.User != nil {
		user := tb.hello.User.ID
		c.srv.waitLog(c.t, fmt.Sprintf("%s: the server registers the connection", name), func() bool {
			return c.srv.opened()[user] > opened[user]
		})
	}
	return tb, resp, nil
}

// end stops the tab's reader, closes the connection and waits for the
// reader to return.
func (tb *tab) end() {
	tb.mu.Lock()
	tb.ended = true
	done := tb.readerDone
	tb.mu.Unlock()
	close(tb.stop)
	tb.conn.Close()
	if done != nil {
		<-done
	}
}

// readLoop reads the tab's frames into tb.frames until the connection
// ends, then sends the error that ended it on tb.closed and closes
// tb.frames. A test may start it itself on a tab dialed without a reader.
func (tb *tab) readLoop() {
	tb.mu.Lock()
	if tb.ended {
		tb.mu.Unlock()
		return
	}
	done := make(chan struct{})
	tb.readerDone = done
	tb.mu.Unlock()
	defer close(done)
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
		select {
		case tb.frames <- f:
		case <-tb.stop: // the test is over: nobody reads frames any more
			return
		}
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

// next returns the next frame, failing the test when none comes within
// wsWait.
func (tb *tab) next() wire.ServerFrame {
	tb.t.Helper()
	timeout := time.NewTimer(wsWait)
	defer timeout.Stop()
	select {
	case f, ok := <-tb.frames:
		if !ok {
			tb.t.Fatalf("%s: closed while a frame was expected: %v", tb.name, <-tb.closed)
		}
		return f
	case <-timeout.C:
		tb.t.Fatalf("%s: no frame within %v", tb.name, wsWait)
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

// sync sends a frame the server refuses (a send without a conversation,
// with a client_id of its own) and waits for the refusal. The server carries
// out a connection's frames one at a time, in order, and queues its answers
// in that order: when the refusal arrives, every frame the tab sent before
// has been carried out, everything they published has been handed to the
// broker, and any answer to them came before it. So it is also a check that
// those frames got no answer. Call it when no frame from others is due on
// the tab: such a frame fails the test.
func (tb *tab) sync() {
	tb.t.Helper()
	tb.syncs++
	id := fmt.Sprintf("sync-%d", tb.syncs)
	tb.send(map[string]any{"type": "send", "client_id": id})
	if f := tb.expect("error"); f.Code != "invalid" || f.ClientID != id {
		tb.t.Fatalf("%s: got error %+v (%s), want the refusal of %s", tb.name, f, f.ErrorText(), id)
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
