package main

import (
	"fmt"
	"strings"
	"testing"
)

// The Content-Security-Policy requires Trusted Types for every script sink
// (require-trusted-types-for 'script') and allows no policy (trusted-types
// 'none'): a string assigned to innerHTML, insertAdjacentHTML, a script's
// src or given to eval throws instead of becoming markup or code. The app
// writes text with textContent and builds elements with createElement, so it
// needs none of those sinks. TestBrowserTrustedTypes proves it in Chromium.

// policyReports are the lines of a browser's console that a
// Content-Security-Policy or Trusted Types report makes: a violation, or a
// directive the browser could not parse.
func policyReports(b *browser) []string {
	var out []string
	for _, line := range b.consoleLog() {
		l := strings.ToLower(line)
		if strings.Contains(l, "content security policy") || strings.Contains(l, "trusted") {
			out = append(out, line)
		}
	}
	return out
}

// noViolations fails the test when the page recorded a
// securitypolicyviolation event (the detector script, installed before the
// page's own scripts, listens for them) or the console reported one.
func noViolations(t *testing.T, b *browser, when string) {
	t.Helper()
	if v := eval[[]string](b, `window.__cspViolations || []`); len(v) > 0 {
		t.Errorf("%s, %s: securitypolicyviolation events on %s: %q", b.name, when, b.location(), v)
	}
	if r := policyReports(b); len(r) > 0 {
		t.Errorf("%s, %s: the console reported:\n\t%s", b.name, when, strings.Join(r, "\n\t"))
	}
}

// TestBrowserTrustedTypes: under the Trusted Types policy the pages load,
// two people sign up, find each other, chat live and scroll back through
// history, with no violation reported; and the policy is in force: a string
// given to a sink is refused and reported, and no policy may be created.
func TestBrowserTrustedTypes(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice := newBrowser(t, s, "alice", browserOptions{})
	bob := newBrowser(t, s, "bob", browserOptions{})

	alice.open("/login")
	alice.waitFor("the log-in form", `visible('form#login-form')`, "document.body && document.body.innerText.slice(0, 300)")
	noViolations(t, alice, "the log-in page")

	const alicePassword, bobPassword = "alice-password-tt", "bob-password-tt"
	alice.signUp("alice", "Alice Liddell", alicePassword)
	noViolations(t, alice, "after signing up")
	bob.signUp("bob", "Bob Builder", bobPassword)
	noViolations(t, bob, "after signing up")

	// The people directory builds its rows in script.
	alice.click("a#people-link")
	alice.waitPath("/people")
	alice.typeInto("#people-search", "bob")
	alice.waitFor("Bob in the results", `$$('#people-results li.person').length === 1 && text('#people-results li.person .name') === 'Bob Builder'`,
		"$$('#people-results li.person').map(li => text(li))")
	noViolations(t, alice, "searching people")
	n := alice.helloCount()
	alice.click("#people-results li.person button.message-button")
	conv := conversationID(alice)
	alice.waitConnected(n)

	// History to page through: more than one page of 50.
	api := login(t, s, "alice", alicePassword)
	for i := range 60 {
		api.send(conv, fmt.Sprintf("history <i>%d</i>", i+1), "")
	}

	// Bob's list learns of the conversation live; he opens it and scrolls
	// back to the first message.
	row := convRow(conv)
	bob.waitFor("the conversation in his list", fmt.Sprintf(`visible(%q) && text(%q) === 'history <i>60</i>'`, row, row+" .preview"),
		`$$('#conversation-list li.conversation').map(li => text(li))`)
	bob.click(row + " a")
	bob.waitPath(fmt.Sprintf("/c/%d", conv))
	bob.waitFor("the newest page", fmt.Sprintf(`$(%q)`, messageItem(60)), readMessagesJS)
	bob.waitFor("scrolled back to the first message", fmt.Sprintf(`($('#message-scroller').scrollTop = 0, !!$(%q))`, messageItem(1)),
		`$$('#messages li.message').length`)

	// Live both ways, through the WebSocket.
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	alice.typeInto("#composer-input", `Hello <img src=x onerror="window.__pwned=1">`)
	alice.pressEnter(false)
	bob.waitFor("Alice's message, live", fmt.Sprintf(`$(%q) && $(%q + ' .body').textContent.startsWith('Hello <img')`, messageItem(61), messageItem(61)), readMessagesJS)
	bob.typeInto("#composer-input", "Hi Alice")
	alice.waitFor("typing…", `text('#conversation-status') === 'typing…'`, `text('#conversation-status')`)
	bob.pressEnter(false)
	alice.waitFor("Bob's reply, live", fmt.Sprintf(`$(%q) && $(%q + ' .body').textContent === 'Hi Alice'`, messageItem(62), messageItem(62)), readMessagesJS)

	for _, b := range []*browser{alice, bob} {
		noViolations(t, b, "after chatting")
		b.checkNoScriptRan(fmt.Sprintf("%s/c/%d", s.URL, conv))
	}

	// The policy is in force: a string given to a sink throws and is
	// reported, through the same channels checked above; and no policy can
	// be made to launder one.
	type probe struct {
		InnerHTML string `json:"innerHTML"`
		Adjacent  string `json:"adjacent"`
		ScriptSrc string `json:"scriptSrc"`
		Policy    string `json:"policy"`
		Markup    int    `json:"markup"`
	}
	got := eval[probe](bob, `(() => {
		const attempt = f => { try { f(); return 'allowed'; } catch (e) { return e.name; } };
		const box = document.createElement('div');
		return {
			innerHTML: attempt(() => { box.innerHTML = '<b id="tt-probe">x</b>'; }),
			adjacent: attempt(() => { box.insertAdjacentHTML('beforeend', '<b id="tt-probe">x</b>'); }),
			scriptSrc: attempt(() => { document.createElement('script').src = '/static/chat.js'; }),
			policy: attempt(() => { trustedTypes.createPolicy('launder', {createHTML: s => s}); }),
			markup: box.children.length,
		};
	})()`)
	if got.InnerHTML != "TypeError" || got.Adjacent != "TypeError" || got.ScriptSrc != "TypeError" || got.Markup != 0 {
		t.Errorf("a string reached a sink: %+v, want TypeError for each and no markup", got)
	}
	if got.Policy == "allowed" {
		t.Errorf("a Trusted Types policy could be created: %+v", got)
	}
	bob.waitFor("the refusals reported as violations", `(window.__cspViolations || []).some(v => v.startsWith('require-trusted-types-for'))`, `window.__cspViolations`)
	waitUntil(t, "bob: the refused sinks reported on the console", func() bool { return len(policyReports(bob)) > 0 })
}
