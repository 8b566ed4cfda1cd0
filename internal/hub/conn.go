package hub

import (
	"context"
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
// is full the client is too slow: the connection is closed (the client
// catches up when it reconnects) and Send reports false.
func (c *Conn) Send(frame []byte) bool {
	if c.ctx.Err() != nil {
		return false
	}
	c.mu.Lock()
	if len(c.queue) >= c.maxQueue {
		n := len(c.queue)
		c.mu.Unlock()
		c.hub.logger.Warn("closing slow connection", "user_id", c.User, "conn", c.ID, "queued", n)
		c.Close(CloseTooSlow, "too slow: send queue full, reconnect to catch up")
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
// frame.
func (c *Conn) writeLoop(pingInterval time.Duration) {
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
			if err := c.socket.WriteFrames(batch); err != nil {
				c.Close(CloseAbnormal, "")
			}
		case <-ping.C:
			if err := c.socket.Ping(); err != nil {
				c.Close(CloseAbnormal, "")
			}
		case <-c.ctx.Done():
			c.socket.Close(c.closeCode, c.closeReason)
			return
		}
	}
}
