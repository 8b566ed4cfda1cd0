package main

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// countUnavailable counts the unavailable error frames the tab receives.
func countUnavailable(b *browser) *atomic.Int64 {
	var n atomic.Int64
	err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventWebSocketFrameReceived); ok && ev.Response != nil &&
			bytes.Contains(ev.Response.PayloadData, []byte(`"code":"unavailable"`)) {
			n.Add(1)
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to WebSocket frames: %v", b.name, err)
	}
	return &n
}

// TestBrowserSendWaitsOutUnavailable: lines typed while the database is
// cut are refused with unavailable; the page keeps them pending, not "Not
// sent", tries again after the wait the server asks for, and once the
// database is back stores each once, in typed order, without the person
// doing anything.
func TestBrowserSendWaitsOutUnavailable(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	proxy, dsn := viaProxy(t)
	s := startServer(t, browserServerEnv("PARLEY_DB", dsn, "PARLEY_DB_TIMEOUT", "2s"))
	alice := newBrowser(t, s, "alice", browserOptions{})
	const password = "alice-password-1"
	alice.signUp("alice", "Alice", password)
	api := login(t, s, "alice", password)
	bob := register(t, s, "bob")
	conv, _ := api.startConversation(bob)
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	refusals := countUnavailable(alice)

	proxy.Cut()
	lines := []string{"typed while the database is away", "and a second line"}
	typeLines(alice, lines)
	waitUntil(t, "a send refused with unavailable", func() bool { return refusals.Load() > 0 })
	if n := eval[int](alice, `$$('#messages li.message.failed').length`); n != 0 {
		t.Errorf("alice: %d rows shown as not sent while the database is away, want them pending", n)
	}
	proxy.Mend()
	alice.waitFor("both lines stored, in typed order", shownInOrder(lines), readMessagesJS)
	if got := storedBodies(api, conv); !slices.Equal(got, lines) {
		t.Errorf("stored through the API, by seq = %q, want %q (each once, in typed order)", got, lines)
	}
}
