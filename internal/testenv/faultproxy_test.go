package testenv

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// echoServer listens on a loopback port and writes back what each
// connection sends, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c); c.Close() })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// patience bounds every read that should succeed, so that a broken proxy
// fails the test instead of hanging it.
const patience = 10 * time.Second

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo writes msg on c and reads it back.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	readBack(t, c, msg)
}

func readBack(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("read back %q: %q, %v", msg, buf, err)
	}
}

// wantClosed checks that the proxy closed c: a read ends with an error
// other than running out of time.
func wantClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	n, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: read %d bytes, %v; want the connection closed", what, n, err)
	}
}

func TestFaultProxyCut(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	old := dial(t, p.Addr())
	echo(t, old, "before")

	p.Cut()
	wantClosed(t, old, "a connection open at the cut")
	wantClosed(t, dial(t, p.Addr()), "a connection made after the cut")

	p.Mend()
	echo(t, dial(t, p.Addr()), "after")
}

func TestFaultProxyStall(t *testing.T) {
	p := NewFaultProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	echo(t, c, "before")

	p.Stall()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	// A stalled proxy never forwards, so this read can only end at its
	// deadline: the deadline bounds the check, it does not wait for
	// anything to happen.
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a stalled proxy: %d bytes, %v; want nothing until the deadline", n, err)
	}
	late := dial(t, p.Addr())
	if _, err := late.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}

	p.Mend()
	readBack(t, c, "held")
	readBack(t, late, "new")
	echo(t, c, "after")
}
