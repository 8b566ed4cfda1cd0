package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// pressKey presses a key without text (Escape, Tab…) in the focused
// element, as a keyboard does.
func (b *browser) pressKey(key string, code int64) {
	b.t.Helper()
	b.do("press "+key, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	}))
}

// logIn signs in through the log-in form and waits for the main view.
func (b *browser) logIn(username, password string) {
	b.t.Helper()
	b.open("/login")
	b.waitFor("the log-in form", `visible('form#login-form')`, "document.body && document.body.innerText.slice(0, 300)")
	b.typeInto("#username", username)
	b.typeInto("#password", password)
	n := b.helloCount()
	b.click("form#login-form button[type=submit]")
	b.waitFor("log-in lands on /", "location.pathname === '/' && document.readyState === 'complete'",
		"({url: location.href, error: $('#form-error') && $('#form-error').textContent})")
	b.waitConnected(n)
}

// focusedJS describes the element that has the keyboard focus.
const focusedJS = `(el => el ? el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + (el.getAttribute('href') || '') : 'nothing')(document.activeElement)`

// TestBrowserKeyboard: opening a conversation, from the list or by its
// address, puts the keyboard focus in the composer, and sending with Enter
// leaves it there; at phone width Esc (or the back link) goes back from the
// conversation to the list, onto the conversation's row, and Esc on the
// list does nothing.
func TestBrowserKeyboard(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	conv, _ := bob.startConversation(alice)
	carolConv, _ := carol.startConversation(alice)
	bob.send(conv, "hi", "")
	carol.send(carolConv, "hello", "")

	b := newBrowser(t, s, "alice", browserOptions{})
	b.logIn("alice", "password-alice")

	// Opened from the list: the focus is in the composer.
	b.click(convRow(conv) + " a")
	b.waitFor("the composer focused", fmt.Sprintf(`location.pathname === '/c/%d' && document.activeElement === $('#composer-input')`, conv), focusedJS)
	b.typeInto("#composer-input", "typed at once")
	b.pressEnter(false)
	b.waitFor("sent, the focus kept", fmt.Sprintf(`$(%q) && document.activeElement === $('#composer-input') && $('#composer-input').value === ''`, messageItem(2)), focusedJS)
	b.typeInto("#composer-input", "and again")
	b.pressEnter(false)
	b.waitFor("sent again", fmt.Sprintf(`$(%q) && document.activeElement === $('#composer-input')`, messageItem(3)), focusedJS)

	// Opened by its address: the same.
	b.openConnected(fmt.Sprintf("/c/%d", carolConv))
	b.waitFor("the composer focused on load", `document.activeElement === $('#composer-input')`, focusedJS)

	// At desktop width Esc leaves the conversation open.
	b.pressKey("Escape", 27)
	if !eval[bool](b, fmt.Sprintf(`location.pathname === '/c/%d' && visible('section#conversation')`, carolConv)) {
		t.Errorf("alice: Esc at desktop width closed the conversation (%s)", b.location())
	}

	// At phone width the conversation takes the screen; Esc goes back to
	// the list, with the focus on the conversation's row.
	b.phone()
	b.waitFor("the conversation alone", `visible('section#conversation') && !visible('.sidebar')`, `({section: visible('section#conversation'), sidebar: visible('.sidebar')})`)
	b.pressKey("Escape", 27)
	b.waitFor("back to the list", fmt.Sprintf(`location.pathname === '/' && visible('.sidebar') && !visible('section#conversation') && document.activeElement === $(%q)`, convRow(carolConv)+" a"),
		`({url: location.href, focused: `+focusedJS+`})`)
	b.pressKey("Escape", 27)
	if !eval[bool](b, `location.pathname === '/' && visible('.sidebar')`) {
		t.Errorf("alice: Esc on the list moved to %s", b.location())
	}
	// Enter on the focused row opens it again, the focus in the composer.
	b.pressEnter(false)
	b.waitFor("the conversation again", fmt.Sprintf(`location.pathname === '/c/%d' && document.activeElement === $('#composer-input')`, carolConv), focusedJS)
	// The back link goes to the list too, the focus on the row.
	b.click("#back-link")
	b.waitFor("back to the list by the link", fmt.Sprintf(`location.pathname === '/' && visible('.sidebar') && document.activeElement === $(%q)`, convRow(carolConv)+" a"),
		`({url: location.href, focused: `+focusedJS+`})`)
}
