package hub

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Conn is one WebSocket connection on this node.
type Conn struct {
	// ID names the connection across the cluster (an event's SkipConn).
	ID string
	// User is who opened it.
	User chat.UserID
	// Session is the ID of the session it was opened with.
	Session string

	hub    *Hub
	socket Socket
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc

	// The queue of frames not yet written. It is a slice rather than a
	// channel so that an idle connection holds no buffer at all.
	mu       sync.Mutex
	queue    [][]byte
	maxQueue int
	wake     chan struct{} // a token when the queue has frames

	closeOnce   sync.Once
	closeCode   int
	closeReason string
	writerDone  chan struct{} // closed when the writer has finished
}

// Send queues a frame for the connection without blocking. When the queue
// is full the client is too slow: the connection is closed (see closeSlow)
// and Send reports false.
func (c *Conn) Send(frame []byte) bool {
	if c.ctx.Err() != nil {
		return false
	}
	c.mu.Lock()
	if len(c.queue) >= c.maxQueue {
		c.mu.Unlock()
		c.closeSlow("send queue full")
		return false
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer has a token already
	}
	return true
}

// closeSlow closes a connection whose client does not keep up, whatever
// showed it: its queue filled, or a write or ping to it outlasted the write
// timeout. The outcome is the same either way: close code 4000 (sent when
// the stream still allows a close frame), one log line with the cause, one
// count in SlowClosed. The client catches up from history when it
// reconnects. Only a connection still open is closed and counted.
func (c *Conn) closeSlow(cause string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		queued := len(c.queue)
		c.queue = nil // nobody will write these: free them now
		c.mu.Unlock()
		c.hub.slowClosed.Add(1)
		c.hub.logger.Warn("closing slow connection", "user_id", c.User, "conn", c.ID, "cause", cause, "queued", queued)
		c.closeCode, c.closeReason = CloseTooSlow, "too slow: reconnect to catch up"
		c.cancel()
	})
}

// Close closes the connection with a close code and reason: its writer
// sends the close frame and ends the socket, which ends its reader, which
// takes it out of the hub. Only the first call counts. It never blocks, so
// the hub's delivery loop may call it.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		c.cancel()
	})
}

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// writeLoop is the connection's writer: it takes everything queued and
// flushes it in one write, pings the peer, and on close sends the close
// frame. A write or ping that does not finish within writeTimeout means the
// peer is not reading: the connection is closed as too slow.
func (c *Conn) writeLoop(pingInterval, writeTimeout time.Duration) {
	defer close(c.writerDone)
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.wake:
			c.mu.Lock()
			batch := c.queue
			c.queue = nil
			c.mu.Unlock()
			if len(batch) == 0 {
				continue
			}
			c.failed(c.socket.WriteFrames(batch, time.Now().Add(writeTimeout)), "write timed out")
		case <-ping.C:
			c.failed(c.socket.Ping(time.Now().Add(writeTimeout)), "ping timed out")
		case <-c.ctx.Done():
			// The connection is over whether or not the close frame
			// reaches the peer: nothing to do with an error here.
			_ = c.socket.Close(c.closeCode, c.closeReason)
			return
		}
	}
}

// failed closes the connection after a failed write: as too slow when the
// write ran out of time, else as broken.
func (c *Conn) failed(err error, timeoutCause string) {
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.closeSlow(timeoutCause)
	default:
		c.Close(CloseAbnormal, "")
	}
}
