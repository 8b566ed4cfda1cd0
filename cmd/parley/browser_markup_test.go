package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// markupJS compares the rows the page's script drew (from the data the
// server put in the page and the events since) with the rows of the page
// as the server renders it now, for the same data: both come from one
// definition per row (templates/rows.html), so they must be the same
// elements, classes, attributes and text. Times are formatted in the
// reader's zone by the script and in UTC by the server, so the text of
// <time> elements and of day separators is left out; their datetime is
// compared.
const markupJS = `(async () => {
	const shape = el => {
		const attrs = [...el.attributes].map(a => a.name === 'class' ? 'class=' + [...el.classList].sort().join('.') : a.name + '=' + JSON.stringify(a.value)).sort();
		const text = el.children.length === 0 && el.localName !== 'time' && !el.matches('li.day > span') ? ' ' + JSON.stringify(el.textContent.trim()) : '';
		return '<' + [el.localName, ...attrs].join(' ') + '>' + text + [...el.children].map(shape).join('') + '</' + el.localName + '>';
	};
	const rows = root => [...root.querySelectorAll('#conversation-list > li, #messages > li, #people-results > li')].map(shape)
		.concat([...root.querySelectorAll('#conversation-title, #conversation-status')].map(shape));
	const doc = new DOMParser().parseFromString(await (await fetch(location.href)).text(), 'text/html');
	return {server: rows(doc), page: rows(document)};
})()`

// sameMarkup waits until the rows the script drew are the rows the server
// renders (the server may not have taken in the page's latest read frame
// yet), and fails the test with the difference if they do not become so.
func sameMarkup(t *testing.T, b *browser, when string) {
	t.Helper()
	sameRows(t, b, when, markupJS)
}

// sameRows waits until js, which returns {server, page} (the rows of the
// server's page for the same address and the rows the script drew, each
// as a string), gives two equal non-empty lists, and fails the test with
// the difference row by row if they do not become so.
func sameRows(t *testing.T, b *browser, when, js string) {
	t.Helper()
	type rows struct {
		Server []string `json:"server"`
		Page   []string `json:"page"`
	}
	var last rows
	var err error
	for deadline := time.Now().Add(browserWait); ; {
		last, err = tryEval[rows](b, js)
		if err == nil && len(last.Server) > 0 && slices.Equal(last.Server, last.Page) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		// The poll interval, not a wait for the condition; each poll loads
		// the page, and 4 a second stay within the list budget (-list-rate);
		// the server may not have taken in the page's latest read frame yet.
		case <-time.After(250 * time.Millisecond):
		case <-b.ctx.Done():
			t.Fatalf("%s, %s: %v", b.name, when, b.ctx.Err())
		}
	}
	if err != nil {
		t.Fatalf("%s, %s: %v", b.name, when, err)
	}
	var diff []string
	for i := range max(len(last.Server), len(last.Page)) {
		var server, page string
		if i < len(last.Server) {
			server = last.Server[i]
		}
		if i < len(last.Page) {
			page = last.Page[i]
		}
		if server != page {
			diff = append(diff, fmt.Sprintf("row %d:\n\tserver %s\n\tscript %s", i, server, page))
		}
	}
	t.Errorf("%s, %s: the script's %d rows differ from the server's %d:\n%s", b.name, when, len(last.Page), len(last.Server), strings.Join(diff, "\n"))
}

// TestBrowserMarkupOnce: the rows the script draws (the conversation list,
// messages with day separators and "Seen", people) are the server's rows
// for the same data: when the page starts from the server's data, after
// live events (a message re-fills a row, a new conversation clones one),
// and on the people page.
func TestBrowserMarkupOnce(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	// DOMParser, which markupJS needs to read the server's page, is a
	// Trusted Types sink: the page's CSP would refuse it. The page's own
	// script runs under the CSP in TestBrowserTrustedTypes.
	ada := newBrowser(t, s, "ada", browserOptions{bypassCSP: true})
	ada.signUp("ada", "Ada <Lovelace>", "ada-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bob, carol, dave := register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave")

	// Bob's reply (seq 3) moves his read cursor past Ada's seq 2: "Seen"
	// goes under it, not under her seq 4.
	conv, _ := bob.startConversation(adaAPI)
	bob.send(conv, "hi Ada", "")
	adaAPI.send(conv, "hi Bob, <b>not bold</b>", "")
	bob.send(conv, "yes", "")
	adaAPI.send(conv, "are you there?", "")
	carolConv, _ := carol.startConversation(adaAPI)
	carol.send(carolConv, "from carol", "")

	// From the server's data: Bob's conversation open (one day, Seen under
	// seq 2), Carol's unread in the list.
	ada.openConnected(fmt.Sprintf("/c/%d", conv))
	ada.waitFor("the conversation drawn", fmt.Sprintf(`$(%q) && $(%q + ' .seen')`, messageItem(4), messageItem(2)), readMessagesJS)
	sameMarkup(t, ada, "the page as it starts")

	// Live: Carol writes again (her row is filled again), Dave starts a
	// conversation (a new row is cloned), Bob reads ("Seen" moves) and
	// writes (a message row is cloned).
	carol.send(carolConv, "again", "")
	daveConv, _ := dave.startConversation(adaAPI)
	dave.send(daveConv, "I am new here", "")
	if status, _ := bob.do("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), map[string]int64{"seq": 4}); status != 204 {
		t.Fatalf("bob's read: %d", status)
	}
	bob.send(conv, "and now?", "")
	ada.waitFor("the live events drawn", fmt.Sprintf(`$(%q) && text(%q) === '2' && $(%q) && $(%q + ' .seen')`,
		messageItem(5), convRow(carolConv)+" .unread", convRow(daveConv), messageItem(4)), `$$('#conversation-list li').map(li => li.outerHTML)`)
	sameMarkup(t, ada, "after live events")

	// The people page: the script searches again on load and draws the
	// results itself.
	ada.open("/people")
	ada.waitFor("the people drawn", `$$('#people-results li.person').length === 3`, `$('#people-results').outerHTML`)
	sameMarkup(t, ada, "the people page")
}
