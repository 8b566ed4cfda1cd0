package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// paneScroller is the element the history scrolls in.
const paneScroller = `$('#message-scroller')`

// paneAtBottomJS: the end of the history is in view.
const paneAtBottomJS = `(() => { const s = $('#message-scroller'); return s.scrollHeight - s.scrollTop - s.clientHeight < 2; })()`

// paneEmulate sets the tab's time zone and locale: the reader's times are
// then not the server's UTC 24-hour ones.
func paneEmulate(b *browser, zone, locale string) {
	b.t.Helper()
	b.do("emulate "+zone+" "+locale, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale})
		return err
	}))
}

// paneFramesScript records, at each of the first animation frames of every
// document, what the history shows: whether it is visible, how far its end
// is from the view, and whether every time label is the reader's.
const paneFramesScript = `(() => {
	const frames = [];
	Object.defineProperty(window, '__paneFrames', {value: frames});
	const fmt = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit'});
	// The list's times as painted, when the list is on screen.
	const listTimes = () => {
		const l = document.getElementById('conversation-list');
		return l && l.getClientRects().length > 0 ? [...l.querySelectorAll('time')].map(t => t.textContent).join(' | ') : '';
	};
	const tick = () => {
		const s = document.getElementById('message-scroller');
		const times = [...document.querySelectorAll('#messages li.message time')];
		if (s && times.length > 0) {
			const visible = !s.closest('[hidden]') && getComputedStyle(s).visibility !== 'hidden' && s.getClientRects().length > 0;
			const wrong = times.filter(t => t.textContent !== fmt.format(new Date(t.dateTime))).map(t => t.textContent);
			frames.push({visible, from_bottom: s.scrollHeight - s.scrollTop - s.clientHeight, wrong_times: wrong.length, sample: wrong.slice(0, 3), list: listTimes()});
		} else {
			frames.push({visible: false, from_bottom: -1, wrong_times: 0, sample: [], list: listTimes()});
		}
		if (frames.length < 120) requestAnimationFrame(tick);
	};
	requestAnimationFrame(tick);
})();`

type paneFrame struct {
	Visible    bool     `json:"visible"`
	FromBottom float64  `json:"from_bottom"`
	WrongTimes int      `json:"wrong_times"`
	Sample     []string `json:"sample"`
	List       string   `json:"list"` // the list's times, "" while it is not on screen
}

// seedMessages sends n messages through the API, alternating between two
// people, and returns the bodies by seq.
func seedMessages(t *testing.T, a, b *client, conv int64, n int, format string) map[int64]string {
	t.Helper()
	bodies := make(map[int64]string, n)
	for i := range n {
		c := a
		if i%3 == 2 {
			c = b
		}
		m := c.send(conv, fmt.Sprintf(format, i+1), "")
		bodies[m.Seq] = m.Body
	}
	return bodies
}

// TestBrowserPaneFirstPaint: opening /c/{id} shows the history, from its
// first visible frame on, at its end and with the reader's times; the
// server's UTC times and the top of the history never show.
func TestBrowserPaneFirstPaint(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	ada := newBrowser(t, s, "ada", browserOptions{})
	paneEmulate(ada, "America/New_York", "en-US")
	ada.signUp("ada", "Ada", "ada-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bob := register(t, s, "bob")
	conv, _ := adaAPI.startConversation(bob)
	seedMessages(t, adaAPI, bob, conv, 80, "message %d")

	ada.do("record the frames", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paneFramesScript})
		return err
	}))
	for round := range 3 {
		ada.open(fmt.Sprintf("/c/%d", conv))
		ada.waitFor("the history drawn", `$$('#messages li.message').length >= 50 && window.__paneFrames.some(f => f.visible)`,
			`({frames: window.__paneFrames.length, n: $$('#messages li.message').length})`)
		// The server's page has other times than the reader's: the test
		// would see a frame showing them.
		if !eval[bool](ada, `fetch(location.href).then(r => r.text()).then(html => {
			const fmt = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit'});
			const times = [...html.matchAll(/<time class="time" datetime="([^"]+)">([^<]*)</g)];
			return times.length > 0 && times.every(m => m[2] !== fmt.format(new Date(m[1])));
		})`) {
			t.Fatalf("the server's page shows the reader's times: the test cannot tell them apart")
		}
		frames := eval[[]paneFrame](ada, `window.__paneFrames`)
		first := slices.IndexFunc(frames, func(f paneFrame) bool { return f.Visible })
		for i, f := range frames {
			if f.Visible && (f.FromBottom > 2 || f.WrongTimes > 0) {
				t.Errorf("round %d: frame %d (the history visible from frame %d) shows %+v: not at the end, or times not the reader's", round, i, first, f)
				break
			}
		}
		// The list's times, once painted, are the ones the script writes:
		// no frame shows the server's and then the reader's.
		final := frames[len(frames)-1].List
		for i, f := range frames {
			if f.List != "" && f.List != final {
				t.Errorf("round %d: frame %d shows the list's times %q, later %q", round, i, f.List, final)
				break
			}
		}
		t.Logf("round %d: %d frames recorded, the history visible from frame %d", round, len(frames), first)
	}
}

// TestBrowserPaneUnread: "New messages" above the first unread message on
// opening, which stays while the conversation is open and is gone on
// opening it again; "↓ N new messages" while scrolled up, which scrolls to
// the end; no read while the tab is hidden; "typing…" gone as soon as that
// person's message comes; a loading state as soon as another conversation
// is chosen.
func TestBrowserPaneUnread(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	ada := newBrowser(t, s, "ada", browserOptions{})
	ada.signUp("ada", "Ada", "ada-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bob, carol := register(t, s, "bob"), register(t, s, "carol")
	conv, _ := adaAPI.startConversation(bob)
	seedMessages(t, adaAPI, bob, conv, 60, "earlier %d")
	adaAPI.send(conv, "read up to here", "") // seq 61: Ada's, so read
	carolConv, _ := carol.startConversation(adaAPI)
	carol.send(carolConv, "hello from carol", "")
	for i := range 5 {
		bob.send(conv, fmt.Sprintf("unread %d", i+1), "") // seq 62..66
	}

	// Opened from the server's page: the divider sits above seq 62.
	const dividerAbove = `(seq => { const d = $('#messages li.unread-divider'); const m = d && d.nextElementSibling; return $$('#messages li.unread-divider').length === 1 && text(d) === 'New messages' && m && m.matches('li.message') && m.dataset.seq === String(seq); })`
	ada.openConnected(fmt.Sprintf("/c/%d", conv))
	ada.waitFor("New messages above seq 62", dividerAbove+`(62)`, `$$('#messages > li').slice(-8).map(li => li.className + ' ' + (li.dataset.seq || ''))`)
	waitUntil(t, "ada's read cursor at 66", func() bool { return paneReadSeq(adaAPI, conv) == 66 })
	bob.send(conv, "while open", "") // seq 67: read at once, the divider stays
	ada.waitFor("seq 67 drawn, the divider still above seq 62", fmt.Sprintf(`$(%q) && %s(62)`, messageItem(67), dividerAbove), `$$('#messages > li').slice(-8).map(li => li.className + ' ' + (li.dataset.seq || ''))`)

	// Another conversation: a loading state at once (the list's rows are
	// clicked while the answers are held back), then Carol's conversation,
	// opened by the script: its divider is cloned there.
	paneHoldMessages(ada, true)
	ada.click(convRow(carolConv) + " a")
	ada.waitFor("the loading state", fmt.Sprintf(`visible('#conversation-loading') && $$('#messages > li').length === 0 && text('#conversation-title') === 'Carol' && location.pathname === '/c/%d'`, carolConv),
		`({loading: $('#conversation-loading').outerHTML, n: $$('#messages > li').length, title: text('#conversation-title')})`)
	paneHoldMessages(ada, false)
	ada.waitFor("Carol's conversation with its divider", fmt.Sprintf(`!visible('#conversation-loading') && $$('#messages li.message').length === 1 && %s(1)`, dividerAbove),
		`$('#messages').outerHTML`)

	// Back to Bob's: read, so no divider.
	ada.click(convRow(conv) + " a")
	ada.waitFor("Bob's conversation, no divider", fmt.Sprintf(`$(%q) && $$('#messages li.unread-divider').length === 0`, messageItem(67)), `$$('#messages > li').slice(-4).map(li => li.outerHTML)`)
	ada.waitFor("at the end", paneAtBottomJS, paneScroller+`.scrollTop`)

	// Scrolled up, messages arrive: the button counts them; the cursor stays.
	eval[bool](ada, paneScroller+`.scrollTop = 0, true`)
	ada.waitFor("scrolled up", `!`+paneAtBottomJS+` && !visible('#new-messages')`, `({top: `+paneScroller+`.scrollTop, pill: $('#new-messages').outerHTML})`)
	bob.send(conv, "new 1", "")
	bob.send(conv, "new 2", "")
	ada.waitFor("↓ 2 new messages", `visible('#new-messages') && text('#new-messages') === '↓ 2 new messages'`, `$('#new-messages').outerHTML`)
	if got := paneReadSeq(adaAPI, conv); got != 67 {
		t.Errorf("ada's read cursor moved to %d while she was scrolled up, want 67", got)
	}
	ada.click("#new-messages")
	ada.waitFor("at the end, the button gone", fmt.Sprintf(`%s && !visible('#new-messages') && $(%q)`, paneAtBottomJS, messageItem(69)), `({top: `+paneScroller+`.scrollTop, pill: $('#new-messages').outerHTML})`)
	waitUntil(t, "ada's read cursor at 69", func() bool { return paneReadSeq(adaAPI, conv) == 69 })

	// Hidden tab: messages come and show, the cursor stays; visible again,
	// it moves. Bob's own socket hears every read of the conversation: the
	// typing frame Ada's page sends after the message is drawn comes after
	// any read frame it sent before.
	bobTab := bob.openTab("bob")
	paneSetHidden(ada, true)
	bob.send(conv, "while hidden", "")
	ada.waitFor("seq 70 drawn", fmt.Sprintf(`$(%q)`, messageItem(70)), readMessagesJS)
	ada.typeInto("#composer-input", "x")
	for {
		f := bobTab.next()
		if f.Type == "read" && f.UserID == int64(adaAPI.user.ID) {
			t.Errorf("ada's page read up to %d while the tab was hidden", f.Seq)
		}
		if f.Type == "typing" && f.UserID == int64(adaAPI.user.ID) {
			break
		}
	}
	if got := paneReadSeq(adaAPI, conv); got != 69 {
		t.Errorf("ada's read cursor moved to %d while the tab was hidden, want 69", got)
	}
	paneSetHidden(ada, false)
	waitUntil(t, "ada's read cursor at 70 once visible", func() bool { return paneReadSeq(adaAPI, conv) == 70 })
	eval[bool](ada, `($('#composer-input').value = '', true)`)

	// "typing…" goes as soon as Bob's message comes, not seconds later.
	bobTab.send(frame("typing", conv))
	ada.waitFor("typing…", `text('#conversation-status') === 'typing…'`, `text('#conversation-status')`)
	bob.send(conv, "done typing", "")
	ada.waitFor("seq 71 and no typing…", fmt.Sprintf(`$(%q) && text('#conversation-status') !== 'typing…'`, messageItem(71)), `text('#conversation-status')`)
	if got := eval[string](ada, `text('#conversation-status')`); got != "offline" && got != "online" {
		t.Errorf("status %q after the message, want online or offline", got)
	}
}

// paneReadSeq is a member's read cursor, as the API says.
func paneReadSeq(c *client, conv int64) int64 {
	c.t.Helper()
	for _, row := range c.conversations() {
		if row.ID == conv {
			return row.LastReadSeq
		}
	}
	c.t.Fatalf("conversation %d not in %s's list", conv, c.user.Username)
	return 0
}

// paneSetHidden makes the page hidden (or visible again) as a tab in the
// background is: document.visibilityState and document.hidden say so and
// visibilitychange fires (headless Chromium has no background tabs).
func paneSetHidden(b *browser, hidden bool) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => {
		const hidden = %t;
		Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => hidden ? 'hidden' : 'visible'});
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
		document.dispatchEvent(new Event('visibilitychange'));
		return true;
	})()`, hidden))
}

// paneHoldMessages holds back (or lets through again) the page's requests
// for messages: while held, a newly opened conversation stays loading.
func paneHoldMessages(b *browser, hold bool) {
	b.t.Helper()
	script := `(() => { window.__paneHold = window.__paneHold || {held: [], on: false, fetch: window.fetch};
		window.__paneHold.on = %t;
		if (!window.__paneHold.on) { window.__paneHold.held.splice(0).forEach(go => go()); }
		window.fetch = (input, init) => {
			const h = window.__paneHold;
			if (!h.on || !String(input).includes('/messages')) return h.fetch.call(window, input, init);
			return new Promise(resolve => h.held.push(() => resolve(h.fetch.call(window, input, init))));
		};
		return true; })()`
	eval[bool](b, fmt.Sprintf(script, hold))
}

// TestBrowserPaneLongHistory: scrolling through 5,000 messages to the
// first and back to the newest keeps a bounded number of rows in the page,
// always a run of consecutive messages in order, and shows every message
// on the way. At 4× CPU slowdown it then logs how long Enter takes to
// paint the new row (keydown to the next animation frame after the row
// appears): a figure for BENCHMARKS.md, not a check.
func TestBrowserPaneLongHistory(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	ada := newBrowser(t, s, "ada", browserOptions{})
	ada.signUp("ada", "Ada", "ada-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bob := register(t, s, "bob")
	conv, _ := adaAPI.startConversation(bob)
	const total = 5000
	bodies := seedMessages(t, adaAPI, bob, conv, total, "history %d")
	if len(bodies) != total {
		t.Fatalf("seeded %d messages, want %d", len(bodies), total)
	}
	ada.openConnected(fmt.Sprintf("/c/%d", conv))
	ada.waitFor("the newest message at the end", fmt.Sprintf(`$(%q) && %s`, messageItem(total), paneAtBottomJS), readMessagesJS)

	type window struct {
		Seqs   []int64  `json:"seqs"`
		Bodies []string `json:"bodies"`
		Rows   int      `json:"rows"` // every li of the list
	}
	const windowJS = `({seqs: $$('#messages li.message').map(li => Number(li.dataset.seq)), bodies: $$('#messages li.message .body').map(b => b.textContent), rows: $$('#messages > li').length})`
	seen := map[int64]bool{}
	most := 0
	check := func(when string) window {
		t.Helper()
		w := eval[window](ada, windowJS)
		most = max(most, len(w.Seqs))
		for i, seq := range w.Seqs {
			if i > 0 && seq != w.Seqs[i-1]+1 {
				t.Fatalf("%s: the rows are not consecutive messages in order: seq %d after %d", when, seq, w.Seqs[i-1])
			}
			if w.Bodies[i] != bodies[seq] {
				t.Fatalf("%s: seq %d shows %q, want %q", when, seq, w.Bodies[i], bodies[seq])
			}
			seen[seq] = true
		}
		// A bound a reader never notices, but what keeps the page fast:
		// far fewer rows than messages scrolled through.
		if len(w.Seqs) > 1000 || w.Rows > 1100 {
			t.Fatalf("%s: %d messages (%d rows) in the page", when, len(w.Seqs), w.Rows)
		}
		return w
	}
	check("opened")

	// Up to the first message, a page at a time.
	for loads := 0; ; loads++ {
		w := check(fmt.Sprintf("scrolling up, load %d", loads))
		first := w.Seqs[0]
		if first == 1 {
			break
		}
		if loads > total/50 {
			t.Fatalf("still at seq %d after %d loads", first, loads)
		}
		eval[bool](ada, paneScroller+`.scrollTop = 0, true`)
		ada.waitFor(fmt.Sprintf("the messages before seq %d", first), fmt.Sprintf(`Number($('#messages li.message').dataset.seq) < %d`, first),
			`({top: `+paneScroller+`.scrollTop, first: $('#messages li.message').dataset.seq})`)
	}
	if w := check("at the first message"); slices.Contains(w.Seqs, total) {
		t.Errorf("the newest message is still in the page at the first one: the rows are not bounded")
	}
	if !eval[bool](ada, `$('#messages').firstElementChild.matches('li.day')`) {
		t.Errorf("the history does not start with a day separator")
	}

	// Back down to the newest, a page at a time.
	for loads := 0; ; loads++ {
		w := check(fmt.Sprintf("scrolling down, load %d", loads))
		last := w.Seqs[len(w.Seqs)-1]
		if last == total {
			break
		}
		if loads > total/50 {
			t.Fatalf("still at seq %d after %d loads", last, loads)
		}
		eval[bool](ada, paneScroller+`.scrollTop = `+paneScroller+`.scrollHeight, true`)
		ada.waitFor(fmt.Sprintf("the messages after seq %d", last), fmt.Sprintf(`Number($('#messages li.message:last-of-type').dataset.seq) > %d`, last),
			`({top: `+paneScroller+`.scrollTop, last: $('#messages li.message:last-of-type').dataset.seq})`)
	}
	for seq := int64(1); seq <= total; seq++ {
		if !seen[seq] {
			t.Fatalf("seq %d never showed while scrolling through", seq)
		}
	}
	t.Logf("at most %d messages in the page while scrolling through %d", most, total)

	// A message typed now goes at the end, in view.
	eval[bool](ada, paneScroller+`.scrollTop = `+paneScroller+`.scrollHeight, true`)
	ada.waitFor("at the end", paneAtBottomJS, paneScroller+`.scrollTop`)
	ada.insertText("#composer-input", "after the long scroll")
	ada.pressEnter(false)
	ada.waitFor("the new message stored, in view at the end", fmt.Sprintf(`$(%q) && $(%q + ' .body').textContent === 'after the long scroll' && %s`, messageItem(total+1), messageItem(total+1), paneAtBottomJS), readMessagesJS)
	bodies[total+1] = "after the long scroll"
	check("after sending")

	// Enter-to-paint at 4× CPU slowdown, logged only.
	ada.do("slow the CPU down 4×", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 4})
		return err
	}))
	eval[bool](ada, `(() => {
		const box = $('#composer-input');
		window.__paneEnter = [];
		box.addEventListener('keydown', e => {
			if (e.key !== 'Enter' || e.shiftKey) return;
			const before = $$('#messages li.message').length;
			const down = e.timeStamp;
			const seen = new MutationObserver(() => {
				if ($$('#messages li.message').length === before) return;
				seen.disconnect();
				requestAnimationFrame(() => window.__paneEnter.push(performance.now() - down));
			});
			seen.observe($('#messages'), {childList: true});
		}, {capture: true});
		return true;
	})()`)
	const presses = 21
	for i := range presses {
		ada.insertText("#composer-input", fmt.Sprintf("timed %d", i+1))
		ada.pressEnter(false)
		ada.waitFor("the timed row drawn", fmt.Sprintf(`window.__paneEnter.length === %d`, i+1), `window.__paneEnter`)
	}
	times := eval[[]float64](ada, `window.__paneEnter`)
	sort.Float64s(times)
	t.Logf("Enter-to-paint at 4× CPU slowdown, %d messages scrolled through, at most %d in the page: median %.1f ms of %d (min %.1f, max %.1f)",
		total, most, times[len(times)/2], len(times), times[0], times[len(times)-1])
	ada.do("CPU back to full speed", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 1})
		return err
	}))
	ada.waitFor("every timed message stored", `$$('#messages li.message.pending').length === 0`, readMessagesJS)
}
