package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/testenv"
)

// countResyncs counts the resync frames the tab's WebSockets receive.
func countResyncs(b *browser) *atomic.Int64 {
	var n atomic.Int64
	err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventWebSocketFrameReceived); ok && ev.Response != nil &&
			bytes.Equal(ev.Response.PayloadData, []byte(`{"type":"resync"}`)) {
			n.Add(1)
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to WebSocket frames: %v", b.name, err)
	}
	return &n
}

// countListFetches counts the conversation list fetches
// (GET /api/v1/conversations) of the tab that have finished: the last step
// of the page's catch-up, which the page load does not make (the server
// renders the list's first page).
func countListFetches(b *browser) *atomic.Int64 {
	var (
		n       atomic.Int64
		mu      sync.Mutex
		pending = map[network.RequestID]bool{}
	)
	err := chromedp.Listen(b.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Request.Method == "GET" && strings.HasSuffix(ev.Request.URL, "/api/v1/conversations") {
				pending[ev.RequestID] = true
			}
		case *network.EventLoadingFinished:
			if pending[ev.RequestID] {
				delete(pending, ev.RequestID)
				n.Add(1)
			}
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to requests: %v", b.name, err)
	}
	return &n
}

// TestBrowserCatchesUpOnResync: alice's page is on a node whose
// connection to Redis is cut while bob, on the other node, sends her a
// message, which therefore never reaches her node. Her WebSocket stays
// open throughout. Once the node is back on Redis it sends her page a
// resync frame, and the page fetches what it missed: the message shows
// without a reload or a reconnect.
func TestBrowserCatchesUpOnResync(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u := mustParse(t, redisURL)
	proxy := testenv.NewFaultProxy(t, u.Host)
	via := *u
	via.Host = proxy.Addr()
	nodes := startCluster(t, 2, func(i int) string {
		if i == 0 {
			return via.String() // alice's node reaches Redis through the proxy
		}
		return redisURL
	}, browserServerEnv())
	alice := newBrowser(t, nodes[0], "alice", browserOptions{})
	const password = "alice-password-1"
	alice.signUp("alice", "Alice", password)
	aliceAPI := login(t, nodes[0], "alice", password)
	bob := register(t, nodes[1], "bob")
	conv, _ := bob.startConversation(aliceAPI)
	first := bob.send(conv, "before the cut", "")
	resyncs, lists := countResyncs(alice), countListFetches(alice)
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	alice.waitFor("the first message", fmt.Sprintf(`$(%q)`, messageItem(first.Seq)), readMessagesJS)
	// The catch-up that follows the hello must be over: else it, not the
	// resync, would find the message sent during the cut.
	waitUntil(t, "the catch-up after alice's hello", func() bool { return lists.Load() > 0 })
	hellos := alice.helloCount()

	proxy.Cut()
	waitUntil(t, "alice's node sees Redis gone", func() bool { return readyStatus(t, nodes[0]) == http.StatusServiceUnavailable })
	missed := bob.send(conv, "while alice's node was cut off", "")
	proxy.Mend()

	waitUntil(t, "a resync frame on alice's page", func() bool { return resyncs.Load() > 0 })
	alice.waitFor("the message her node missed", fmt.Sprintf(`$(%q)`, messageItem(missed.Seq)), readMessagesJS)
	if n := alice.helloCount(); n != hellos {
		t.Errorf("alice's page got %d more hellos: it reconnected, where the resync alone should have caught it up", n-hellos)
	}
}
