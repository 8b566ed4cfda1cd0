package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// The browser tests drive real Chromium (PARLEY_TEST_CHROMIUM) against the
// real server. They wait on the DOM, never on the clock.

// convRow is a li.conversation of the conversation list, by conversation id.
func convRow(id int64) string {
	return fmt.Sprintf(`#conversation-list li.conversation[data-id="%d"]`, id)
}

// messageItem is the li.message of a seq in the open conversation.
func messageItem(seq int64) string {
	return fmt.Sprintf(`#messages li.message[data-seq="%d"]`, seq)
}

// shownMessage is a li.message as the tests read it.
type shownMessage struct {
	Seq     int64  `json:"seq"`
	Body    string `json:"body"`
	Own     bool   `json:"own"`
	Pending bool   `json:"pending"`
	Markup  int    `json:"markup"` // elements inside .body: there must be none
}

// readMessagesJS lists the li.message of #messages in document order.
const readMessagesJS = `$$('#messages li.message').map(li => {
	const body = li.querySelector('.body');
	return {seq: Number(li.dataset.seq || 0), body: body ? body.textContent : null, own: li.classList.contains('own'),
		pending: li.classList.contains('pending'), markup: body ? body.children.length : -1};
})`

func shownMessages(b *browser) []shownMessage {
	b.t.Helper()
	return eval[[]shownMessage](b, readMessagesJS)
}

// conversationID is the id of the conversation the page shows.
func conversationID(b *browser) int64 {
	b.t.Helper()
	b.waitFor("a conversation is open", `/^\/c\/\d+$/.test(location.pathname) && visible('section#conversation') && $('section#conversation').dataset.id`,
		"({url: location.href, section: $('section#conversation') && $('section#conversation').outerHTML.slice(0, 300)})")
	id := eval[int64](b, `Number($('section#conversation').dataset.id)`)
	if path := eval[string](b, `location.pathname`); path != fmt.Sprintf("/c/%d", id) {
		b.t.Fatalf("%s: section#conversation[data-id=%d] on %s", b.name, id, path)
	}
	return id
}

// TestBrowserTwoPeopleChat is the whole story in two browsers: sign up, find
// each other, talk live with unread counts, typing indicator and read
// receipts, then scroll a long history back to its first message.
func TestBrowserTwoPeopleChat(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice := newBrowser(t, s, "alice", browserOptions{})
	bob := newBrowser(t, s, "bob", browserOptions{})

	// A signed-out visitor is sent to the log-in page, which links to sign-up.
	alice.open("/")
	alice.waitPath("/login")
	alice.waitFor("the log-in form links to /register", `visible('form#login-form') && $('a[href="/register"]')`, "document.body.innerText")

	// The sign-up form shows each field's error next to it.
	alice.open("/register")
	alice.typeInto("#username", "a!")
	alice.typeInto("#password", "short")
	alice.click("form#register-form button[type=submit]")
	alice.waitFor("field errors", `visible('#username-error') && text('#username-error') !== '' && visible('#password-error') && text('#password-error') !== ''`,
		"({url: location.href, errors: $$('[id$=-error]').map(e => e.id + (e.hidden ? ' (hidden)' : '') + ': ' + e.textContent.trim())})")
	if eval[bool](alice, `visible('#display_name-error')`) {
		t.Errorf("alice: #display_name-error shows for an empty (optional) display name: %q", eval[string](alice, `text('#display_name-error')`))
	}

	const alicePassword, bobPassword = "alice-password-1", "bob-password-1"
	alice.signUp("alice", "Alice Liddell", alicePassword)
	bob.signUp("bob", "Bob Builder", bobPassword)
	bob.waitFor("an empty list and the title Parley", `$$('#conversation-list li.conversation').length === 0 && document.title === 'Parley'`,
		"({title: document.title, rows: $$('#conversation-list li').length})")

	// Alice finds Bob in People and starts the conversation.
	alice.click("a#people-link")
	alice.waitPath("/people")
	alice.typeInto("#people-search", "bob")
	alice.waitFor("Bob in the results", `$$('#people-results li.person').length === 1 && text('#people-results li.person .name') === 'Bob Builder'`,
		"$$('#people-results li.person').map(li => li.dataset.id + ' ' + text(li))")
	n := alice.helloCount()
	alice.click("#people-results li.person button.message-button")
	conv := conversationID(alice)
	alice.waitConnected(n)
	alice.waitFor("the open conversation with Bob", `text('#conversation-title') === 'Bob Builder' && ['online', 'offline'].includes(text('#conversation-status'))`,
		"({title: text('#conversation-title'), status: text('#conversation-status')})")

	// Alice writes; Enter sends; her message is acked with seq 1.
	hello := `Hello Bob! <b>not bold</b> & "quotes"`
	alice.typeInto("#composer-input", hello)
	alice.pressEnter(false)
	alice.waitFor("her message acked", fmt.Sprintf(`$$('#messages li.message').length === 1 && $(%q) && $(%q).classList.contains('own') && !$(%q).classList.contains('pending') && $(%q + ' .body').textContent === %s`,
		messageItem(1), messageItem(1), messageItem(1), messageItem(1), jsonString(hello)), readMessagesJS)
	if v := eval[string](alice, `$('#composer-input').value`); v != "" {
		t.Errorf("alice: the composer holds %q after sending", v)
	}
	if !eval[bool](alice, fmt.Sprintf(`text(%q) !== ''`, messageItem(1)+" .time")) {
		t.Errorf("alice: her message has no .time: %s", eval[string](alice, fmt.Sprintf(`$(%q).outerHTML`, messageItem(1))))
	}

	// Bob's list shows it live: unread 1, the preview, Alice online, the
	// tab title.
	row := convRow(conv)
	bob.waitFor("the new conversation in his list", fmt.Sprintf(`visible(%q) && text(%q) === 'Alice Liddell' && $(%q + ' .preview').textContent === %s && visible(%q) && text(%q) === '1' && document.title === '(1) Parley'`,
		row, row+" .name", row, jsonString(hello), row+" .unread", row+" .unread"),
		`({title: document.title, rows: $$('#conversation-list li.conversation').map(li => li.outerHTML)})`)
	if !eval[bool](bob, fmt.Sprintf(`text(%q) !== ''`, row+" .time")) {
		t.Errorf("bob: the row has no .time: %s", eval[string](bob, fmt.Sprintf(`$(%q).outerHTML`, row)))
	}
	bob.waitFor("Alice's online dot", fmt.Sprintf(`$(%q).classList.contains('online') && $(%q)`, row, row+" .online-dot"), fmt.Sprintf(`$(%q).outerHTML`, row))

	// Carol (through the API) writes to Bob too: her conversation goes on
	// top and the title counts both.
	carol := register(t, s, "carol")
	carolConv, _ := carol.startConversation(login(t, s, "bob", bobPassword))
	carol.send(carolConv, "hi from carol", "")
	bob.waitFor("Carol's conversation on top", fmt.Sprintf(`$$('#conversation-list li.conversation').map(li => Number(li.dataset.id)).join() === '%d,%d' && text(%q) === 'Carol' && text(%q) === '1' && !$(%q).classList.contains('online') && document.title === '(2) Parley'`,
		carolConv, conv, convRow(carolConv)+" .name", convRow(carolConv)+" .unread", convRow(carolConv)),
		`({title: document.title, rows: $$('#conversation-list li.conversation').map(li => li.dataset.id + ' ' + li.className + ' ' + text(li))})`)

	// Bob opens Alice's conversation: he sees her message, it is read.
	bob.click(row + " a")
	bob.waitPath(fmt.Sprintf("/c/%d", conv))
	bob.waitFor("Alice's message", fmt.Sprintf(`text('#conversation-title') === 'Alice Liddell' && text('#conversation-status') === 'online' && $(%q) && !$(%q).classList.contains('own') && $(%q + ' .body').textContent === %s`,
		messageItem(1), messageItem(1), messageItem(1), jsonString(hello)),
		`({title: text('#conversation-title'), status: text('#conversation-status'), messages: `+readMessagesJS+`})`)
	bob.waitFor("unread cleared", fmt.Sprintf(`!visible(%q) && document.title === '(1) Parley'`, row+" .unread"),
		fmt.Sprintf(`({title: document.title, unread: $(%q).outerHTML})`, row+" .unread"))

	// Alice sees "Seen" under her message once Bob read it.
	alice.waitFor("Seen under her message", fmt.Sprintf(`$$('#messages .seen').length === 1 && $(%q + ' .seen') && text(%q + ' .seen') === 'Seen' && visible(%q + ' .seen')`,
		messageItem(1), messageItem(1), messageItem(1)), `$('#messages').innerHTML`)

	// Bob types: Alice sees "typing…". Shift+Enter makes a new line, Enter
	// sends.
	bob.typeInto("#composer-input", "Hi Alice,")
	alice.waitFor("typing…", `text('#conversation-status') === 'typing…'`, `text('#conversation-status')`)
	bob.pressEnter(true)
	bob.typeInto("#composer-input", "how are you?")
	if v := eval[string](bob, `$('#composer-input').value`); v != "Hi Alice,\nhow are you?" {
		t.Errorf("bob: after Shift+Enter the composer holds %q", v)
	}
	bob.pressEnter(false)
	reply := "Hi Alice,\nhow are you?"
	alice.waitFor("Bob's reply, live", fmt.Sprintf(`$(%q) && !$(%q).classList.contains('own') && $(%q + ' .body').textContent === %s`,
		messageItem(2), messageItem(2), messageItem(2), jsonString(reply)), readMessagesJS)
	bob.waitFor("his reply acked", fmt.Sprintf(`$(%q) && $(%q).classList.contains('own') && $$('#messages li.pending').length === 0`, messageItem(2), messageItem(2)), readMessagesJS)

	// Alice writes again while Bob looks: "Seen" moves to her newest message.
	alice.typeInto("#composer-input", "Fine, thanks.")
	alice.pressEnter(false)
	bob.waitFor("Alice's second message", fmt.Sprintf(`$(%q) && $(%q + ' .body').textContent === 'Fine, thanks.'`, messageItem(3), messageItem(3)), readMessagesJS)
	alice.waitFor("Seen moves to her newest message", fmt.Sprintf(`$$('#messages .seen').length === 1 && $(%q + ' .seen')`, messageItem(3)), `$('#messages').innerHTML`)
	for _, b := range []*browser{alice, bob} {
		want := []shownMessage{{Seq: 1, Body: hello, Own: b == alice}, {Seq: 2, Body: reply, Own: b == bob}, {Seq: 3, Body: "Fine, thanks.", Own: b == alice}}
		if got := shownMessages(b); !slices.Equal(got, want) {
			t.Errorf("%s: messages %+v, want %+v", b.name, got, want)
		}
	}

	// The composer counts characters near the 4,000 limit only.
	if eval[bool](alice, `visible('#composer-counter')`) {
		t.Errorf("alice: #composer-counter shows for an empty composer: %q", eval[string](alice, `text('#composer-counter')`))
	}
	alice.insertText("#composer-input", strings.Repeat("x", 3990))
	alice.waitFor("the counter near the limit", `visible('#composer-counter') && text('#composer-counter') !== ''`, `$('#composer-counter').outerHTML`)
	eval[bool](alice, `($('#composer-input').value = '', $('#composer-input').dispatchEvent(new Event('input', {bubbles: true})), true)`)
	alice.waitFor("no counter once emptied", `!visible('#composer-counter')`, `$('#composer-counter').outerHTML`)

	// A long history: 500 more messages through the API, then Bob scrolls
	// back to the first one, 50 at a time, keeping his place each time.
	api := login(t, s, "alice", alicePassword)
	bodies := map[int64]string{1: hello, 2: reply, 3: "Fine, thanks."}
	const seeded = 500
	for i := range seeded {
		m := api.send(conv, fmt.Sprintf("history message %d", i+1), "")
		bodies[m.Seq] = m.Body
	}
	last := int64(len(bodies))
	bob.openConnected(fmt.Sprintf("/c/%d", conv))
	bob.waitFor("the newest 50 messages", fmt.Sprintf(`$$('#messages li.message').length === 50 && $(%q) && $(%q)`, messageItem(last), messageItem(last-49)),
		`({n: $$('#messages li.message').length, first: $('#messages li.message') && $('#messages li.message').dataset.seq})`)
	const scroller = `($('#message-scroller') || $('#messages'))`
	bob.waitFor("the view at the newest message", fmt.Sprintf(`(() => { const r = $(%q).getBoundingClientRect(), v = %s.getBoundingClientRect(); return r.bottom <= v.bottom + 1 && r.bottom > v.top; })()`, messageItem(last), scroller),
		fmt.Sprintf(`({item: $(%q).getBoundingClientRect().toJSON(), view: %s.getBoundingClientRect().toJSON()})`, messageItem(last), scroller))
	for loads := 0; ; loads++ {
		first := eval[int64](bob, `Math.min(...$$('#messages li.message').map(li => Number(li.dataset.seq)))`)
		if first == 1 {
			t.Logf("bob: reached seq 1 after %d loads", loads)
			break
		}
		if loads > seeded/50+2 {
			t.Fatalf("bob: still at seq %d after %d loads", first, loads)
		}
		eval[bool](bob, scroller+`.scrollTop = 0, true`)
		bob.waitFor(fmt.Sprintf("the messages before seq %d", first), fmt.Sprintf(`Math.min(...$$('#messages li.message').map(li => Number(li.dataset.seq))) < %d`, first),
			`({scrollTop: `+scroller+`.scrollTop, n: $$('#messages li.message').length})`)
		item := messageItem(first)
		bob.waitFor(fmt.Sprintf("seq %d, the top before the load, still in view", first),
			fmt.Sprintf(`(() => { const r = $(%q).getBoundingClientRect(), v = %s.getBoundingClientRect(); return r.top >= v.top - 1 && r.top < v.bottom; })()`, item, scroller),
			fmt.Sprintf(`({item: $(%q).getBoundingClientRect().toJSON(), view: %s.getBoundingClientRect().toJSON(), scrollTop: %s.scrollTop})`, item, scroller, scroller))
	}
	got := shownMessages(bob)
	var problems []string
	for i, m := range got {
		if m.Seq != int64(i+1) {
			problems = append(problems, fmt.Sprintf("position %d holds seq %d", i, m.Seq))
		} else if want := (shownMessage{Seq: m.Seq, Body: bodies[m.Seq], Own: m.Seq == 2}); m != want {
			problems = append(problems, fmt.Sprintf("seq %d is %+v, want %+v", m.Seq, m, want))
		}
		if len(problems) > 10 {
			break
		}
	}
	if len(got) != len(bodies) || len(problems) > 0 {
		t.Errorf("bob: %d messages after scrolling back, want seqs 1..%d once each, in order: %s", len(got), len(bodies), strings.Join(problems, "; "))
	}
	if !eval[bool](bob, `$('#messages').firstElementChild.matches('li.day')`) {
		t.Errorf("bob: the history does not start with a day separator: %s", eval[string](bob, `$('#messages').firstElementChild.outerHTML`))
	}

	// Alice signs out; a wrong password is refused with the generic error;
	// the right one brings her back.
	alice.click("form#logout-form button[type=submit]")
	alice.waitPath("/login")
	alice.open("/")
	alice.waitPath("/login")
	alice.typeInto("#username", "alice")
	alice.typeInto("#password", "wrong-password")
	alice.click("form#login-form button[type=submit]")
	alice.waitFor("the log-in error", `visible('#form-error') && text('#form-error') === 'invalid username or password'`,
		"({url: location.href, error: $('#form-error') && $('#form-error').outerHTML})")
	eval[bool](alice, `($('#password').value = '', true)`)
	alice.typeInto("#password", alicePassword)
	alice.click("form#login-form button[type=submit]")
	alice.waitPath("/")
	alice.waitFor("her conversation with Bob", fmt.Sprintf(`text(%q) === 'Bob Builder' && $(%q).textContent === %s`,
		row+" .name", row+" .preview", jsonString(bodies[last])), `$('#conversation-list').innerHTML`)
}

// xssPayloads each run alert(1) and/or set window.__pwned, or load a
// /xss-probe URL, if the page ever treats them as markup or code.
var xssPayloads = []string{
	`<script>window.__pwned=1;alert(1)</script>`,
	`<img src=/xss-probe/img onerror="window.__pwned=1;alert(1)">`,
	`<svg onload="window.__pwned=1;alert(1)">`,
	`<svg><script>window.__pwned=1;alert(1)</script></svg>`,
	`<a href="javascript:window.__pwned=1;alert(1)">click</a>`,
	`<iframe srcdoc="<script>parent.__pwned=1;parent.alert(1)</script>"></iframe>`,
	`</script><script>window.__pwned=1;alert(1)</script>`,
	`"><script>window.__pwned=1;alert(1)</script>`,
	`'><img src=/xss-probe/q onerror=alert(1)>`,
	`{{.}}`,
	`{{constructor.constructor('window.__pwned=1;alert(1)')()}}`,
	`${alert(1)}`,
	"`${window.__pwned=1}`",
	`<div style="background:url(javascript:alert(1))">x</div>`,
	`<div style="width:expression(alert(1))">x</div>`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<meta http-equiv="refresh" content="0;url=/xss-probe/meta">`,
	`<base href="/xss-probe/base/">`,
	`\u003cscript\u003ewindow.__pwned=1\u003c/script\u003e`,
	`＜script＞alert(1)＜/script＞`,
	`<scr<script>ipt>alert(1)</scr</script>ipt>`,
	`<body onload=alert(1)>`,
	`<input autofocus onfocus="window.__pwned=1;alert(1)">`,
	`<details open ontoggle="window.__pwned=1;alert(1)">`,
	`<video><source onerror="window.__pwned=1;alert(1)">`,
	`<object data="javascript:alert(1)">`,
	`<embed src="javascript:alert(1)">`,
	`<style>@import '/xss-probe/css';</style>`,
	`<link rel=stylesheet href=/xss-probe/link>`,
	`<!--<img src="--><img src=/xss-probe/c onerror=alert(1)//">`,
	`&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;b&#62;`,
	`javascript:alert(1)`,
	`data:text/html,<script>alert(1)</script>`,
	`"}]};window.__pwned=1;//`,
	`</textarea><script>alert(1)</script>`,
	`</title><script>alert(1)</script>`,
	`<svg><animate onbegin=alert(1) attributeName=x dur=1s>`,
	`<iframe src="javascript:parent.__pwned=1">`,
	`<math><mtext><table><mglyph><style><img src=/xss-probe/m onerror=alert(1)>`,
	`<noscript><p title="</noscript><img src=/xss-probe/n onerror=alert(1)>">`,
	"<script>\nwindow.__pwned=1;\nalert(1)\n</script>",
	`<template><script>alert(1)</script></template><x onclick=alert(1)>x</x>`,
	`<img src=x onerror=&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>`,
	"</script>\u2028<script>window.__pwned=1\u2029</script>",
	`مرحبا <b dir=rtl onmouseover=alert(1)>😀</b> naïve café`,
	"<img src=/xss-probe/long onerror=\"window.__pwned=1;alert(1)\" alt=\"" + strings.Repeat("padding ", 300) + "\">",
}

// TestBrowserXSS sends every payload as a message (live and server
// rendered) and as a display name, and checks that each shows as the text
// it is, that no script ran and that nothing the payloads name was loaded.
func TestBrowserXSS(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice := newBrowser(t, s, "alice", browserOptions{})
	// Bob's browser ignores the CSP, so that escaping alone is tested: a
	// payload that became markup would run there.
	bob := newBrowser(t, s, "bob", browserOptions{bypassCSP: true})

	// The forms put back what was typed: literally.
	const reflected = `"><svg onload=alert(1)>` // fits the username's maxlength
	bob.open("/register")
	bob.typeInto("#username", reflected)
	bob.typeInto("#display_name", reflected)
	bob.typeInto("#password", "bob-password-1")
	bob.click("form#register-form button[type=submit]")
	bob.waitFor("the username error", "visible('#username-error')", "document.body.innerHTML")
	if v := eval[[]string](bob, `[$('#username').value, $('#display_name').value]`); v[0] != reflected || v[1] != reflected {
		t.Errorf("bob: the register form gives back %q, want %q", v, reflected)
	}
	bob.checkNoScriptRan(s.URL + "/register")
	bob.open("/login")
	bob.typeInto("#username", reflected)
	bob.typeInto("#password", "whatever-password")
	bob.click("form#login-form button[type=submit]")
	bob.waitFor("the log-in error", "visible('#form-error')", "document.body.innerHTML")
	if v := eval[string](bob, `$('#username').value`); v != reflected {
		t.Errorf("bob: the log-in form gives back %q, want %q", v, reflected)
	}
	bob.checkNoScriptRan(s.URL + "/login")

	alice.signUp("alice", "Alice", "alice-password-1")
	bob.signUp("bob", "Bob", "bob-password-1")
	aliceAPI := login(t, s, "alice", "alice-password-1")
	bobAPI := login(t, s, "bob", "bob-password-1")
	conv, _ := aliceAPI.startConversation(bobAPI)

	// (a) Live: Bob has the conversation open while the payloads arrive.
	convURL := fmt.Sprintf("%s/c/%d", s.URL, conv)
	for _, b := range []*browser{alice, bob} {
		b.openConnected(fmt.Sprintf("/c/%d", conv))
		b.waitFor("the empty conversation", `visible('#composer-input') && $$('#messages li.message').length === 0`, readMessagesJS)
	}
	want := map[int64]string{}
	const typed = 4 // the first payloads go through Alice's composer
	for i, p := range xssPayloads[:typed] {
		if i == 0 {
			alice.typeInto("#composer-input", p) // key by key
		} else {
			alice.insertText("#composer-input", p) // as a paste
		}
		alice.pressEnter(false)
		seq := int64(i + 1)
		alice.waitFor(fmt.Sprintf("payload %d acked", i), fmt.Sprintf(`$(%q) && !$(%q).classList.contains('pending')`, messageItem(seq), messageItem(seq)), readMessagesJS)
		want[seq] = p
	}
	for _, p := range xssPayloads[typed:] {
		m := aliceAPI.send(conv, p, "")
		if m.Body != p {
			t.Fatalf("the server changed a payload: stored %q, sent %q", m.Body, p)
		}
		want[m.Seq] = p
	}
	if len(want) > 50 {
		t.Fatalf("%d payloads: more than one page of messages", len(want))
	}
	checkPayloads := func(b *browser, when string) {
		t.Helper()
		b.waitFor(when+": every payload", fmt.Sprintf(`$$('#messages li.message:not(.pending)').length === %d`, len(want)), readMessagesJS)
		for _, m := range shownMessages(b) {
			if m.Body != want[m.Seq] || m.Markup != 0 || m.Pending || m.Own != (b == alice) {
				t.Errorf("%s, %s: seq %d shows %+v, want the text %q", b.name, when, m.Seq, m, want[m.Seq])
			}
		}
		b.checkNoScriptRan(convURL)
	}
	checkPayloads(bob, "live")
	checkPayloads(alice, "live")

	// (b) Server rendered: the page as the server wrote it (parsed, never
	// run), then the page as it runs.
	type parsed struct {
		Seq    int64  `json:"seq"`
		Body   string `json:"body"`
		Markup int    `json:"markup"`
	}
	serverHTML := eval[[]parsed](bob, `fetch(location.href).then(r => r.text()).then(html => {
		const doc = new DOMParser().parseFromString(html, 'text/html');
		return Array.from(doc.querySelectorAll('#messages li.message')).map(li => {
			const body = li.querySelector('.body');
			return {seq: Number(li.dataset.seq), body: body ? body.textContent : null, markup: body ? body.children.length : -1};
		});
	})`)
	if len(serverHTML) != len(want) {
		t.Errorf("the server rendered %d messages, want %d", len(serverHTML), len(want))
	}
	for _, m := range serverHTML {
		if m.Body != want[m.Seq] || m.Markup != 0 {
			t.Errorf("server-rendered seq %d: %+v, want the text %q", m.Seq, m, want[m.Seq])
		}
	}
	for _, b := range []*browser{bob, alice} {
		b.open(fmt.Sprintf("/c/%d", conv))
		checkPayloads(b, "reloaded")
	}
	lastPayload := xssPayloads[len(xssPayloads)-1]
	bob.waitFor("the list preview", fmt.Sprintf(`$(%q) && $(%q + ' .preview').textContent === %s && $(%q + ' .preview').children.length === 0`,
		convRow(conv), convRow(conv), jsonString(lastPayload), convRow(conv)), fmt.Sprintf(`$(%q).outerHTML`, convRow(conv)))

	// (c) Display names: each payload short enough is somebody's name, who
	// writes to Bob. Bob watches his list fill live, then reloads it, in
	// batches that fit the list's first page.
	type person struct {
		name string
		id   int64
		conv int64
		api  *client
	}
	var people []person
	for i, p := range xssPayloads {
		// Payloads the name rules refuse (too long, line breaks, invisible
		// characters) cannot be names; they are tested as messages above.
		if name, err := chat.NormalizeDisplayName(p); err != nil || name != p {
			continue
		}
		c := newClient(t, s)
		var resp wire.UserResponse
		c.call("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: fmt.Sprintf("xss%02d", i), Password: "password-xss", DisplayName: p}, 201, &resp)
		c.user = resp.User
		if resp.User.DisplayName != p {
			t.Fatalf("the server changed display name %q to %q", p, resp.User.DisplayName)
		}
		people = append(people, person{name: p, id: int64(c.user.ID), api: c})
	}
	if len(people) < 30 {
		t.Fatalf("only %d payloads fit a display name", len(people))
	}
	type shownName struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Markup int    `json:"markup"`
	}
	checkNames := func(b *browser, where string, got []shownName, batch []person, id func(person) int64) {
		t.Helper()
		byID := map[int64]shownName{}
		for _, n := range got {
			byID[n.ID] = n
		}
		for _, p := range batch {
			n, ok := byID[id(p)]
			if !ok {
				t.Errorf("%s, %s: %q is missing", b.name, where, p.name)
			} else if n.Name != p.name || n.Markup != 0 {
				t.Errorf("%s, %s: %q shows as %+v", b.name, where, p.name, n)
			}
		}
	}
	const rowsJS = `$$('#conversation-list li.conversation').map(li => ({id: Number(li.dataset.id), name: li.querySelector('.name').textContent, markup: li.querySelector('.name').children.length}))`
	byConv := func(p person) int64 { return p.conv }
	bob.openConnected("/")
	for start := 0; start < len(people); start += 20 {
		batch := people[start:min(start+20, len(people))]
		for i := range batch {
			batch[i].conv, _ = batch[i].api.startConversation(bobAPI)
			batch[i].api.send(batch[i].conv, "hello from "+batch[i].api.user.Username, "")
		}
		var ready []string
		for _, p := range batch {
			ready = append(ready, fmt.Sprintf("$(%q)", convRow(p.conv)+" .name"))
		}
		bob.waitFor("the new conversations, live", strings.Join(ready, " && "), rowsJS)
		checkNames(bob, "list, live", eval[[]shownName](bob, rowsJS), batch, byConv)
		bob.checkNoScriptRan(s.URL + "/")
		bob.openConnected("/")
		checkNames(bob, "list, server rendered", eval[[]shownName](bob, rowsJS), batch, byConv)
		bob.checkNoScriptRan(s.URL + "/")
	}

	// The conversation title, opened from the list (the script renders it)
	// and loaded from the server.
	clicked := 0
	for _, p := range people {
		if !eval[bool](bob, fmt.Sprintf("!!$(%q)", convRow(p.conv))) {
			continue // not on the list's first page
		}
		bob.click(convRow(p.conv) + " a")
		bob.waitFor("the conversation open", fmt.Sprintf(`location.pathname === '/c/%d' && $('section#conversation').dataset.id === '%d' && $$('#messages li.message').length === 1`, p.conv, p.conv),
			`({url: location.href, title: text('#conversation-title')})`)
		if got := eval[shownName](bob, `({name: $('#conversation-title').textContent, markup: $('#conversation-title').children.length})`); got.Name != p.name || got.Markup != 0 {
			t.Errorf("bob: opened from the list, the title of %q shows as %+v", p.name, got)
		}
		clicked++
	}
	if clicked == 0 {
		t.Errorf("bob: no conversation to open from the list")
	}
	for _, p := range people {
		bob.open(fmt.Sprintf("/c/%d", p.conv))
		bob.waitFor("the conversation", `visible('section#conversation') && $$('#messages li.message').length === 1`, `document.body.innerHTML.slice(0, 500)`)
		if got := eval[shownName](bob, `({name: $('#conversation-title').textContent, markup: $('#conversation-title').children.length})`); got.Name != p.name || got.Markup != 0 {
			t.Errorf("bob: loaded, the title of %q shows as %+v", p.name, got)
		}
		bob.checkNoScriptRan(fmt.Sprintf("%s/c/%d", s.URL, p.conv))
	}

	// People: search results page by page (the script renders them), and
	// the pages as the server wrote them (parsed, never run).
	byUser := func(p person) int64 { return p.id }
	const resultsJS = `$$('#people-results li.person').map(li => ({id: Number(li.dataset.id), name: li.querySelector('.name').textContent, markup: li.querySelector('.name').children.length}))`
	bob.open("/people")
	bob.typeInto("#people-search", "xss")
	var found []shownName
	for page := 0; ; page++ {
		first := ""
		if len(found) > 0 {
			first = fmt.Sprintf(" && !%s.some(r => r.id === %d)", resultsJS, found[len(found)-1].ID)
		}
		bob.waitFor(fmt.Sprintf("search results, page %d", page+1), `$$('#people-results li.person').length > 0 && $$('#people-results li.person .username').every(u => u.textContent.includes('xss'))`+first, resultsJS)
		found = append(found, eval[[]shownName](bob, resultsJS)...)
		if page > len(people)/20+1 || !eval[bool](bob, `visible('#people-next')`) {
			break
		}
		bob.click("#people-next")
	}
	bob.click("#people-prev")
	bob.waitFor("the previous page", fmt.Sprintf(`visible('#people-next') && %s.some(r => r.id === %d)`, resultsJS, found[len(found)-21].ID), resultsJS)
	if len(found) != len(people) {
		t.Errorf("bob: %d search results for xss over the pages, want %d", len(found), len(people))
	}
	checkNames(bob, "people search", found, people, byUser)
	if !eval[bool](bob, `new URLSearchParams(location.search).get('q') === 'xss' && location.pathname === '/people'`) {
		t.Errorf("bob: the people page moved to %s", bob.location())
	}
	server := eval[[]shownName](bob, `(async () => {
		const out = [];
		let url = '/people?q=xss';
		for (let i = 0; url && i < 10; i++) {
			const doc = new DOMParser().parseFromString(await (await fetch(url)).text(), 'text/html');
			for (const li of doc.querySelectorAll('#people-results li.person')) {
				const name = li.querySelector('.name');
				out.push({id: Number(li.dataset.id), name: name.textContent, markup: name.children.length});
			}
			const next = doc.querySelector('#people-next');
			url = next && !next.hidden ? next.getAttribute('href') : null;
		}
		return out;
	})()`)
	checkNames(bob, "people, server rendered", server, people, byUser)
	// A search for a payload, put back into the page by the server.
	q := people[0].name
	var matches []string
	for _, p := range people {
		if strings.Contains(strings.ToLower(p.name), strings.ToLower(q)) {
			matches = append(matches, fmt.Sprint(p.id))
		}
	}
	bob.open("/people?q=" + url.QueryEscape(q))
	bob.waitFor("the search results", fmt.Sprintf(`$$('#people-results li.person').map(li => li.dataset.id).sort().join() === %s`, jsonString(strings.Join(slices.Sorted(slices.Values(matches)), ","))), resultsJS)
	if v := eval[string](bob, `$('#people-search').value`); v != q {
		t.Errorf("bob: the search box holds %q, want %q", v, q)
	}
	if !eval[bool](bob, fmt.Sprintf(`new URLSearchParams(location.search).get('q') === %s && location.pathname === '/people'`, jsonString(q))) {
		t.Errorf("bob: the people page moved to %s", bob.location())
	}
	bob.checkNoScriptRan(bob.location())

	alice.checkNoScriptRan(convURL)
	if strings.Contains(s.logs.String(), "/xss-probe") {
		var lines []string
		for _, l := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(l, "/xss-probe") {
				lines = append(lines, l)
			}
		}
		t.Errorf("a payload made the browser load a URL:\n%s", strings.Join(lines, "\n"))
	}
}

// TestBrowserServerRestart stops the server under two open conversations and
// starts it again on the same address and database: both pages say they
// reconnect, then recover; a message typed while the server was down is sent
// once, and one sent while a page was away shows up once.
func TestBrowserServerRestart(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	db := t.TempDir() + "/parley.db"
	s := startServer(t, browserServerEnv("PARLEY_DB", db))
	addr := strings.TrimPrefix(s.URL, "http://")
	alice := newBrowser(t, s, "alice", browserOptions{})
	bob := newBrowser(t, s, "bob", browserOptions{})
	alice.signUp("alice", "Alice", "alice-password-1")
	bob.signUp("bob", "Bob", "bob-password-1")
	aliceAPI := login(t, s, "alice", "alice-password-1")
	bobAPI := login(t, s, "bob", "bob-password-1")
	conv, _ := aliceAPI.startConversation(bobAPI)
	aliceAPI.send(conv, "before the restart", "")
	for _, b := range []*browser{alice, bob} {
		b.openConnected(fmt.Sprintf("/c/%d", conv))
		b.waitFor("the conversation, connected", fmt.Sprintf(`$(%q) && !visible('#connection-status')`, messageItem(1)),
			`({status: $('#connection-status').outerHTML, messages: `+readMessagesJS+`})`)
	}

	// The server goes away: both pages say so.
	stopServer(t, s)
	for _, b := range []*browser{alice, bob} {
		b.waitFor("Reconnecting…", `visible('#connection-status') && text('#connection-status') === 'Reconnecting…'`, `$('#connection-status').outerHTML`)
	}

	// Alice's network drops too (DevTools offline emulation: new
	// connections fail), so she stays away after the server is back.
	setOffline(alice, "", true)

	// Alice writes while disconnected: the message waits, marked pending.
	const typed = "written while the server was down"
	alice.typeInto("#composer-input", typed)
	alice.pressEnter(false)
	alice.waitFor("her message pending", fmt.Sprintf(`$$('#messages li.message.own.pending').length === 1 && $('#messages li.message.own.pending .body').textContent === %s`, jsonString(typed)), readMessagesJS)

	// The server comes back on the same address and database. Bob's page
	// reconnects; Bob sends a message from elsewhere (the API) while
	// Alice's page is still away.
	s2 := startServerAt(t, addr, db)
	if s2.URL != s.URL {
		t.Fatalf("restarted at %s, want %s", s2.URL, s.URL)
	}
	bob.waitFor("reconnected", `!visible('#connection-status')`, `$('#connection-status').outerHTML`)
	fromBob := bobAPI.send(conv, "sent while Alice was away", "")
	bob.waitFor("his API message on his page", fmt.Sprintf(`$(%q) && $(%q).classList.contains('own')`, messageItem(fromBob.Seq), messageItem(fromBob.Seq)), readMessagesJS)
	if !eval[bool](alice, `visible('#connection-status') && $$('#messages li.message.own.pending').length === 1`) {
		t.Fatalf("alice: connected while offline? %s", eval[string](alice, `$('#connection-status').outerHTML`))
	}

	// Alice's network is back: her page reconnects, catches up and sends
	// the pending message once.
	setOffline(alice, "", false)
	alice.waitFor("reconnected", `!visible('#connection-status')`, `$('#connection-status').outerHTML`)
	typedSeq := fromBob.Seq + 1
	alice.waitFor("Bob's message and hers, sent", fmt.Sprintf(`$(%q) && $(%q) && $$('#messages li.pending').length === 0`, messageItem(fromBob.Seq), messageItem(typedSeq)), readMessagesJS)
	bob.waitFor("Alice's message", fmt.Sprintf(`$(%q)`, messageItem(typedSeq)), readMessagesJS)

	wantBodies := []string{"before the restart", fromBob.Body, typed}
	for _, b := range []*browser{alice, bob} {
		got := shownMessages(b)
		var want []shownMessage
		for i, body := range wantBodies {
			own := (i != 1) == (b == alice)
			want = append(want, shownMessage{Seq: int64(i + 1), Body: body, Own: own})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: messages %+v, want %+v", b.name, got, want)
		}
	}
	stored := aliceAPI.messages(conv, "")
	if n := len(stored.Messages); n != 3 || stored.Messages[2].Body != typed {
		t.Errorf("stored messages: %+v, want 3 with the pending one once", stored.Messages)
	}
}

// TestBrowserCatchUpOnFirstConnect: what happens between the server
// rendering a page and the page's WebSocket opening must not be lost. The
// page's first WebSocket is held off (DevTools network emulation, for the
// /ws URL only) while a message arrives in the open conversation and
// another person starts a conversation; once it connects the page must
// show both, as it does after a reconnect.
func TestBrowserCatchUpOnFirstConnect(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	bob := newBrowser(t, s, "bob", browserOptions{})
	bob.signUp("bob", "Bob", "bob-password-1")
	bobAPI := login(t, s, "bob", "bob-password-1")
	alice, carol := register(t, s, "alice"), register(t, s, "carol")
	conv, _ := alice.startConversation(bobAPI)
	alice.send(conv, "before the page", "")

	ws := "ws" + strings.TrimPrefix(s.URL, "http") + "/ws"
	setOffline(bob, ws, true)
	n := bob.helloCount()
	bob.open(fmt.Sprintf("/c/%d", conv))
	bob.waitFor("the rendered conversation", fmt.Sprintf(`$(%q)`, messageItem(1)), readMessagesJS)
	bob.waitFor("Reconnecting…", `visible('#connection-status')`, `$('#connection-status').outerHTML`)

	second := alice.send(conv, "while the page was connecting", "")
	carolConv, _ := carol.startConversation(bobAPI)
	carol.send(carolConv, "hi from carol", "")

	setOffline(bob, ws, false)
	bob.waitConnected(n)
	bob.waitFor("connected", `!visible('#connection-status')`, `$('#connection-status').outerHTML`)
	missed := fmt.Sprintf(`$(%q)`, messageItem(second.Seq))
	newRow := fmt.Sprintf(`$(%q) && text(%q) === '1'`, convRow(carolConv), convRow(carolConv)+" .unread")
	if bob.poll(missed+" && "+newRow, browserWait) != nil {
		if !eval[bool](bob, "!!("+missed+")") {
			t.Errorf("bob: seq %d, sent before the page's first connection, is not shown: %s", second.Seq, bob.diagnose(readMessagesJS))
		}
		if !eval[bool](bob, "!!("+newRow+")") {
			t.Errorf("bob: Carol's conversation, started before the page's first connection, is not listed with 1 unread: %s", bob.diagnose(`$$('#conversation-list li.conversation').map(li => li.outerHTML)`))
		}
	}
}

// setOffline makes new connections to URLs that match a pattern (every URL
// for "") fail, or lets them through again. Connections already open, the
// page's WebSocket among them, are not closed by it.
func setOffline(b *browser, urlPattern string, offline bool) {
	b.t.Helper()
	conditions := []*network.Conditions{}
	if offline {
		conditions = append(conditions, &network.Conditions{URLPattern: urlPattern, Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	b.do(fmt.Sprintf("offline=%v for %q", offline, urlPattern), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conditions})
		return err
	}))
}
