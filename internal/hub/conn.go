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
	// channel so that an idle connection holds no buffer at all; and no
	// goroutine writes it while it is empty (see startWriter), so that an
	// idle connection holds no writer's stack either.
	mu       sync.Mutex
	queue    [][]byte
	maxQueue int
	live     bool        // the hub serves it: frames may be written
	writing  bool        // a writer goroutine is running
	pingDue  bool        // the pinger asks the writer for a ping
	finished bool        // the socket is closed: no writer starts again
	pinger   *time.Timer // asks for a ping every ping interval, while live

	closeOnce   sync.Once
	closeCode   int
	closeReason string
	writerDone  chan struct{} // closed when the socket is closed
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
	c.startWriter()
	c.mu.Unlock()
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
		c.kick()
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
		c.kick()
	})
}

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// kick starts a writer, if none runs, to do what is pending (frames, a
// ping, the close).
func (c *Conn) kick() {
	c.mu.Lock()
	c.startWriter()
	c.mu.Unlock()
}

// goLive lets frames be written, starting with those queued already (the
// hello heads them), and starts the pinger. c.hub.wg counts the
// connection's reader already, so that it is above zero whenever a writer
// is added to it.
func (c *Conn) goLive(pingInterval time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = true
	c.pinger = time.AfterFunc(pingInterval, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.finished {
			return
		}
		c.pingDue = true
		c.startWriter()
		c.pinger.Reset(pingInterval)
	})
	c.startWriter()
}

// startWriter starts the connection's writer, unless one runs already, the
// connection is not live yet or has finished, or there is nothing to do.
// c.mu is held. One writer at most runs at a time, and it takes the queue
// whole, so frames leave in the order they were queued.
func (c *Conn) startWriter() {
	if c.writing || !c.live || c.finished {
		return
	}
	if len(c.queue) == 0 && !c.pingDue && c.ctx.Err() == nil {
		return
	}
	c.writing = true
	c.hub.wg.Add(1)
	go func() {
		defer c.hub.wg.Done()
		c.write(c.hub.cfg.WriteTimeout)
	}()
}

// write is the connection's writer: it takes everything queued and
// flushes it in one write, sends a ping when one is due, and on close
// sends the close frame and closes the socket. It ends when there is
// nothing left to do. A write or ping that does not finish within
// writeTimeout means the peer is not reading: the connection is closed as
// too slow.
func (c *Conn) write(writeTimeout time.Duration) {
	for {
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.queue = nil
			c.finished = true
			c.writing = false
			c.mu.Unlock()
			c.pinger.Stop()
			// The connection is over whether or not the close frame
			// reaches the peer: nothing to do with an error here.
			_ = c.socket.Close(c.closeCode, c.closeReason)
			close(c.writerDone)
			return
		}
		batch, ping := c.queue, c.pingDue
		c.queue, c.pingDue = nil, false
		if len(batch) == 0 && !ping {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if len(batch) > 0 {
			c.failed(c.socket.WriteFrames(batch, time.Now().Add(writeTimeout)), "write timed out")
		}
		if ping && c.ctx.Err() == nil {
			c.failed(c.socket.Ping(time.Now().Add(writeTimeout)), "ping timed out")
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
