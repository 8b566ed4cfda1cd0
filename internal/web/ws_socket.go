package web

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/hub"
)

// socket is a hub.Socket over a gorilla/websocket connection whose network
// connection can be corked, so that a batch of frames leaves in one write.
type socket struct {
	ws *websocket.Conn
	nc *corkConn

	mu        sync.Mutex
	closeSent bool // a close frame was sent, or can no longer be
}

// WriteFrames writes frames as text messages, flushed together in one write
// that gives up at deadline.
func (s *socket) WriteFrames(frames [][]byte, deadline time.Time) error {
	s.nc.cork()
	var err error
	for _, f := range frames {
		// Corked, this only fills the buffer: it does not touch the
		// network.
		if err = s.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			break
		}
	}
	if uerr := s.nc.uncork(deadline); err == nil {
		err = uerr
	}
	if err != nil {
		// Part of the batch may have left: the stream ends mid-frame, and
		// a close frame after it would read as garbage.
		s.markClosed()
	}
	return err
}

// Ping sends a ping that gives up at deadline.
func (s *socket) Ping(deadline time.Time) error {
	err := s.ws.WriteControl(websocket.PingMessage, nil, deadline)
	if err != nil {
		s.markClosed()
	}
	return err
}

// markClosed records that no close frame is to be sent: one was sent
// already, or the stream is broken.
func (s *socket) markClosed() {
	s.mu.Lock()
	s.closeSent = true
	s.mu.Unlock()
}

// Close sends a close frame (unless one was sent or the stream is broken)
// and closes the network connection.
func (s *socket) Close(code int, reason string) error {
	s.mu.Lock()
	send := !s.closeSent && code != hub.CloseAbnormal
	s.closeSent = true
	s.mu.Unlock()
	if send {
		// Best effort: a peer that does not take it within closeGrace
		// loses the connection all the same.
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	}
	return s.ws.Close()
}

// corkingHijacker hands the WebSocket library a network connection that
// can be corked.
type corkingHijacker struct {
	http.ResponseWriter
	conn **corkConn
	bufs *sync.Pool
}

// idleReadBuffer is the size of each connection's read buffer, held for as
// long as the connection is open: frame headers and small frames are read
// through it, larger payloads straight into the message.
const idleReadBuffer = 512

// Hijack hands over the connection with a reader of idleReadBuffer bytes
// (the library, asked for no size of its own, reads through it) instead
// of the server's larger one.
func (h corkingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c := &corkConn{Conn: nc, bufs: h.bufs}
	if brw.Reader.Buffered() == 0 {
		// Else the client sent frames before its handshake's answer: the
		// library refuses it.
		c.reader = bufio.NewReaderSize(c, idleReadBuffer)
		brw = bufio.NewReadWriter(c.reader, brw.Writer)
	}
	*h.conn = c
	return c, brw, nil
}

// corkConn is a net.Conn whose writes, while corked, gather in a buffer
// that uncork sends in one write.
type corkConn struct {
	net.Conn
	bufs   *sync.Pool
	reader *bufio.Reader // the WebSocket library reads through it

	mu     sync.Mutex
	corked bool
	buf    *bytes.Buffer
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		return c.buf.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.buf = c.bufs.Get().(*bytes.Buffer)
	c.mu.Unlock()
}

// uncork sends what gathered while corked in one write that gives up at
// deadline.
func (c *corkConn) uncork(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	var err error
	if buf.Len() > 0 {
		if err = c.Conn.SetWriteDeadline(deadline); err == nil {
			_, err = c.Conn.Write(buf.Bytes())
		}
	}
	if buf.Cap() <= 64<<10 { // keep pooled buffers small
		buf.Reset()
		c.bufs.Put(buf)
	}
	return err
}

// awaitReadable returns once the connection has bytes to read (in its
// reader or in the socket), or an error when its read deadline passes or it
// is closed. It parks the caller in the network poller, not in a read.
func (c *corkConn) awaitReadable() error {
	if c.reader == nil || c.reader.Buffered() > 0 {
		return nil
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return raw.Read(socketReadable)
}
