package main

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// outboxRateEnv is the message rate of the outbox tests: low, so that lines
// typed quickly are refused with rate_limited and have to wait. The outbox
// has one send in flight at a time, so it outruns one message a second
// unless a round trip takes longer than that: a busy machine slows it
// down, but not so far.
func outboxRateEnv(extra ...string) map[string]string {
	return browserServerEnv(append([]string{"PARLEY_MESSAGE_RATE", "1", "PARLEY_MESSAGE_BURST", "3"}, extra...)...)
}

// countRateLimited counts the rate_limited error frames the tab receives.
func countRateLimited(b *browser) *atomic.Int64 {
	var n atomic.Int64
	err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventWebSocketFrameReceived); ok && ev.Response != nil &&
			bytes.Contains(ev.Response.PayloadData, []byte(`"code":"rate_limited"`)) {
			n.Add(1)
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to WebSocket frames: %v", b.name, err)
	}
	return &n
}

// storedBodies is every message of a conversation through the API, by seq.
func storedBodies(c *client, conv int64) []string {
	c.t.Helper()
	var bodies []string
	after := int64(0)
	for {
		page := c.messages(conv, fmt.Sprintf("after_seq=%d&limit=100", after))
		msgs := slices.Clone(page.Messages)
		slices.SortFunc(msgs, func(a, b wire.Message) int { return int(a.Seq - b.Seq) })
		for _, m := range msgs {
			bodies = append(bodies, m.Body)
			after = max(after, m.Seq)
		}
		if !page.HasMore || len(msgs) == 0 {
			return bodies
		}
	}
}

// typeLines types each line into the composer and presses Enter, as fast
// as the browser takes keys.
func typeLines(b *browser, lines []string) {
	b.t.Helper()
	for _, line := range lines {
		b.insertText("#composer-input", line)
		b.pressEnter(false)
	}
}

// shownInOrder is an expression: the bodies of the rows shown (stored, then
// pending) are the typed lines in typed order, each once.
func shownInOrder(lines []string) string {
	return fmt.Sprintf(`(() => { const want = %s; const got = $$('#messages li.message .body').map(b => b.textContent);
		return got.length === want.length && got.every((b, i) => b === want[i]) && $$('#messages li.message.pending, #messages li.message.failed').length === 0; })()`,
		jsonList(lines))
}

func jsonList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = jsonString(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestBrowserOutbox: lines typed faster than the message rate are stored
// once each, in typed order, also across a server restart while some wait
// in the outbox; over-long text is explained and not sent.
func TestBrowserOutbox(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	db := t.TempDir() + "/parley.db"
	s := startServer(t, outboxRateEnv("PARLEY_DB", db))
	addr := strings.TrimPrefix(s.URL, "http://")
	alice := newBrowser(t, s, "alice", browserOptions{})
	const password = "alice-password-1"
	alice.signUp("alice", "Alice", password)
	api := login(t, s, "alice", password)
	bob := register(t, s, "bob")
	conv, _ := api.startConversation(bob)
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	if got := conversationID(alice); got != conv {
		t.Fatalf("alice: conversation %d open, want %d", got, conv)
	}
	refusals := countRateLimited(alice)

	// 30 lines typed quickly with Enter: past the burst of 3, so sends are
	// refused with rate_limited and held back; every row shown stays in
	// typed order, and the server stores them in that order, once each.
	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, fmt.Sprintf("line %02d", i))
	}
	typeLines(alice, lines)
	if got := eval[[]string](alice, `$$('#messages li.message .body').map(b => b.textContent)`); !slices.Equal(got, lines) {
		t.Errorf("alice: rows right after typing (stored, then pending) = %q, want the typed lines in order", got)
	}
	alice.waitFor("all 30 stored, in typed order", shownInOrder(lines), readMessagesJS)
	if got := storedBodies(api, conv); !slices.Equal(got, lines) {
		t.Errorf("stored through the API, by seq = %q, want %q", got, lines)
	}
	if refusals.Load() == 0 {
		t.Errorf("no send was refused with rate_limited: the test did not exercise the wait")
	}

	// The server stops while lines wait in the outbox, and comes back: the
	// page resumes the queue in order, with the same client_ids, so a line
	// stored just before the stop (its ack lost) is not stored twice.
	var more []string
	for i := 31; i <= 42; i++ {
		more = append(more, fmt.Sprintf("line %02d", i))
	}
	typeLines(alice, more)
	stopServer(t, s)
	alice.waitFor("Reconnecting…", `visible('#connection-status')`, `$('#connection-status').outerHTML`)
	t.Logf("rows waiting in the outbox at the stop: %d", eval[int](alice, `$$('#messages li.message.pending').length`))
	waitUntil(t, "the address free again", func() bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
	s2 := startServer(t, outboxRateEnv("PARLEY_ADDR", addr, "PARLEY_DB", db))
	if s2.URL != s.URL {
		t.Fatalf("restarted at %s, want %s", s2.URL, s.URL)
	}
	all := append(slices.Clone(lines), more...)
	alice.waitFor("all 42 stored after the restart, in typed order", shownInOrder(all), readMessagesJS)
	api2 := login(t, s2, "alice", password)
	if got := storedBodies(api2, conv); !slices.Equal(got, all) {
		t.Errorf("stored through the API after the restart, by seq = %q, want %q", got, all)
	}

	// Over-long text: past 4,000 characters the composer says by how much,
	// Send is disabled and Enter sends nothing.
	long := strings.Repeat("y", 4100)
	alice.insertText("#composer-input", long)
	alice.waitFor("the over-limit explanation", `visible('#composer-limit') && text('#composer-limit').includes('100 characters too many') && $('#composer button[type=submit]').disabled && $('#composer-input').getAttribute('aria-invalid') === 'true' && getComputedStyle($('#composer button[type=submit]')).cursor === 'not-allowed' && getComputedStyle($('#composer button[type=submit]')).opacity < 1`,
		`({limit: $('#composer-limit').outerHTML, disabled: $('#composer button[type=submit]').disabled})`)
	alice.pressEnter(false)
	if v := eval[string](alice, `$('#composer-input').value`); v != long {
		t.Errorf("alice: Enter changed an over-long composer to %d characters", len(v))
	}
	if n := eval[int](alice, `$$('#messages li.message').length`); n != len(all) {
		t.Errorf("alice: %d rows after Enter on over-long text, want %d (nothing sent)", n, len(all))
	}

	// Back within the limit: the explanation goes, Send is enabled, it sends.
	short := strings.Repeat("y", 4000)
	eval[bool](alice, fmt.Sprintf(`($('#composer-input').value = %s, $('#composer-input').dispatchEvent(new Event('input', {bubbles: true})), true)`, jsonString(short)))
	alice.waitFor("Send enabled within the limit", `!visible('#composer-limit') && !$('#composer button[type=submit]').disabled && !$('#composer-input').hasAttribute('aria-invalid') && getComputedStyle($('#composer button[type=submit]')).opacity === '1'`,
		`({limit: $('#composer-limit').outerHTML, disabled: $('#composer button[type=submit]').disabled})`)
	alice.click("#composer button[type=submit]")
	all = append(all, short)
	alice.waitFor("the 4,000-character message stored", shownInOrder(all), `$$('#messages li.message').length`)
	if got := storedBodies(api2, conv); !slices.Equal(got, all) {
		t.Errorf("stored through the API at the end: %d messages, want %d in typed order", len(got), len(all))
	}
}
