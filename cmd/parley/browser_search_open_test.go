package main

import (
	"fmt"
	"testing"
)

// TestBrowserSearchOpenAt: a result for an old message of a long
// conversation, followed from the search page (the Search link of the
// main view first), opens the conversation at that message: in view,
// marked, with the messages around it and not the newest ones, and the
// read cursor where it was. Scrolling down fetches newer pages until the
// newest message, and only then does the cursor move; another
// conversation chosen from the list, and this one chosen again, open at
// their ends.
func TestBrowserSearchOpenAt(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	conv, _ := alice.startConversation(bob)
	const total, found = 300, 40
	for i := int64(1); i <= total; i++ {
		body := fmt.Sprintf("history %d", i)
		if i == found {
			body = "the zebra crossing"
		}
		if m := bob.send(conv, body, ""); m.Seq != i {
			t.Fatalf("message %d stored as seq %d", i, m.Seq)
		}
	}
	other, _ := alice.startConversation(carol)
	carol.send(other, "hello from Carol", "")
	unread := func() int64 {
		for _, row := range alice.conversations() {
			if row.ID == conv {
				return row.UnreadCount
			}
		}
		t.Fatalf("conversation %d not listed", conv)
		return 0
	}

	b := newBrowser(t, s, "alice", browserOptions{})
	b.logIn("alice", "password-alice")
	b.waitFor("the Search link", `visible('#search-link') && $('#search-link').getAttribute('href') === '/search'`, `$('header.bar').outerHTML`)
	b.click("#search-link")
	b.waitPath("/search")
	b.typeInto("#search-input", "zebra")
	b.click("#search-form button[type=submit]")
	b.waitFor("the result", `$$('#search-results li.search-result').length === 1`, searchResultsJS)
	n := b.helloCount()
	b.click(fmt.Sprintf(`#search-results li.search-result[data-seq="%d"] a`, found))
	b.waitPath(fmt.Sprintf("/c/%d", conv))
	b.waitConnected(n)

	// The message in view and marked, its neighbours loaded, the newest not.
	inView := fmt.Sprintf(`(() => { const li = $('#m-%d'), s = $('#message-scroller'); if (!li || !s.classList.contains('ready') || !visible(li)) return false;
		const a = li.getBoundingClientRect(), b = s.getBoundingClientRect(); return a.top >= b.top && a.bottom <= b.bottom; })()`, found)
	b.waitFor("the message found, in view and marked", inView+fmt.Sprintf(` && $('#m-%d').matches('li.message.found[aria-current="true"]')`, found),
		`({rows: $$('#messages li.message').length, first: $('#messages li.message') && $('#messages li.message').dataset.seq, top: $('#message-scroller').scrollTop, found: $$('.found').map(e => e.id)})`)
	type window struct {
		Seqs  []int64 `json:"seqs"`
		Found []string
	}
	const windowJS = `({seqs: $$('#messages li.message').map(li => Number(li.dataset.seq)), found: $$('#messages .found, #messages [aria-current]').map(li => li.id)})`
	w := eval[window](b, windowJS)
	if len(w.Seqs) == 0 || w.Seqs[0] > found-10 || w.Seqs[len(w.Seqs)-1] < found+10 || w.Seqs[len(w.Seqs)-1] >= total {
		t.Errorf("opened at %d: rows %d…%d, want the messages around it and not the newest", found, w.Seqs[0], w.Seqs[len(w.Seqs)-1])
	}
	for i, seq := range w.Seqs {
		if i > 0 && seq != w.Seqs[i-1]+1 {
			t.Fatalf("the rows are not consecutive: %d after %d", seq, w.Seqs[i-1])
		}
	}
	if len(w.Found) != 1 || w.Found[0] != fmt.Sprintf("m-%d", found) {
		t.Errorf("marked rows %v, want m-%d alone", w.Found, found)
	}
	if got := eval[string](b, fmt.Sprintf(`text('#m-%d .body')`, found)); got != "the zebra crossing" {
		t.Errorf("m-%d says %q", found, got)
	}
	if got := unread(); got != total {
		t.Errorf("opened at %d: %d unread, want %d (the end was never in view)", found, got, total)
	}

	// Down to the newest message, a page at a time.
	for loads := 0; ; loads++ {
		last := eval[int64](b, `Number($$('#messages li.message').at(-1).dataset.seq)`)
		if last == total {
			break
		}
		if loads > total/50 {
			t.Fatalf("still at seq %d after %d loads", last, loads)
		}
		if got := unread(); got != total {
			t.Fatalf("scrolled to %d: %d unread, want %d (the end is not in view yet)", last, got, total)
		}
		eval[bool](b, paneScroller+`.scrollTop = `+paneScroller+`.scrollHeight, true`)
		b.waitFor(fmt.Sprintf("the messages after seq %d", last), fmt.Sprintf(`Number($$('#messages li.message').at(-1).dataset.seq) > %d`, last),
			`({top: `+paneScroller+`.scrollTop, last: $$('#messages li.message').at(-1).dataset.seq})`)
	}
	eval[bool](b, paneScroller+`.scrollTop = `+paneScroller+`.scrollHeight, true`)
	b.waitFor("the end in view", paneAtBottomJS, `({top: `+paneScroller+`.scrollTop, height: `+paneScroller+`.scrollHeight})`)
	waitUntil(t, "the read cursor at the end", func() bool { return unread() == 0 })

	// Another conversation from the list, then this one again: at their ends.
	b.click(convRow(other) + " a")
	b.waitFor("the other conversation", `text('#conversation-title') === 'Carol' && $$('#messages li.message').length === 1 && text('#messages li.message .body') === 'hello from Carol'`, readMessagesJS)
	b.click(convRow(conv) + " a")
	b.waitFor("the conversation again, at its end", fmt.Sprintf(`text('#conversation-title') === 'Bob' && $('#m-%d') && %s && !$('#m-%d') && !$('#messages .found')`, total, paneAtBottomJS, found), windowJS)
	if loc := eval[string](b, `location.pathname + location.search`); loc != fmt.Sprintf("/c/%d", conv) {
		t.Errorf("chosen from the list: %s", loc)
	}
}
