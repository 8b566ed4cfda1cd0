package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// phoneWidth is the narrowest screen the pages are made for.
const phoneWidth, phoneHeight = 320, 640

// sidewaysJS lists what scrolls sideways: the page itself, or any box of
// it that can scroll (overflow auto or scroll) and is wider inside than out.
const sidewaysJS = `(() => {
	const out = [];
	const doc = document.documentElement;
	if (doc.scrollWidth > innerWidth) out.push('the page: ' + doc.scrollWidth + ' > ' + innerWidth);
	for (const el of document.body.querySelectorAll('*')) {
		const o = getComputedStyle(el).overflowX;
		if ((o === 'auto' || o === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
			out.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + el.className) + ': ' + el.scrollWidth + ' > ' + el.clientWidth);
		}
	}
	return out;
})()`

// widest lists the elements whose right edge is furthest beyond the
// screen, for a failure message.
const widestJS = `$$('body *').filter(el => el.getBoundingClientRect().right > innerWidth + 1).slice(-5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className + ' right=' + Math.round(el.getBoundingClientRect().right))`

// noSideways fails the test when anything on the page scrolls sideways.
func noSideways(b *browser, what string) {
	b.t.Helper()
	if got := eval[[]string](b, sidewaysJS); len(got) > 0 {
		b.t.Errorf("%s: %s scrolls sideways at %d px: %s; beyond the screen: %s", b.name, what, phoneWidth, strings.Join(got, "; "), b.diagnose(widestJS))
	}
}

// wantRoundDots fails the test when a shown online dot is squeezed out of
// its circle by a long name beside it.
func wantRoundDots(b *browser, what string) {
	b.t.Helper()
	const squeezed = `$$('.online-dot').filter(visible).map(d => d.getBoundingClientRect()).filter(r => Math.abs(r.width - r.height) > 0.5).map(r => r.width.toFixed(1) + '×' + r.height.toFixed(1))`
	if got := eval[[]string](b, squeezed); len(got) > 0 {
		b.t.Errorf("%s: %s has squeezed online dots: %v", b.name, what, got)
	}
}

// phone makes the tab a phone's screen, phoneWidth by phoneHeight.
func (b *browser) phone() {
	b.t.Helper()
	b.do("a phone's screen", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(2)))
	b.waitFor("the phone's width", fmt.Sprintf(`innerWidth === %d`, phoneWidth), `innerWidth`)
}

// TestBrowserEveryWidth: at 320 px nothing on any page scrolls sideways,
// whatever people typed: the longest names without a space, words of
// thousands of letters, long URLs, in the list, the header, the messages,
// people, message search, settings, "New group" and a group's members
// page, the forms and their errors, the not-found page. Long
// names are cut with an ellipsis or wrapped, never hidden entirely. Then
// the server goes away under an open conversation: at phone width, where
// the list is hidden, "Reconnecting…" shows and the header stops saying
// "online".
func TestBrowserEveryWidth(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	db := t.TempDir() + "/parley.db"
	s := startServer(t, browserServerEnv("PARLEY_DB", db))
	longName := strings.Repeat("W", 64) // the longest display name, and the widest letter
	other := newClient(t, s)
	var resp wire.UserResponse
	other.call("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: strings.Repeat("m", 32), Password: "password-other", DisplayName: strings.Repeat("M", 64)}, 201, &resp)
	other.user = resp.User
	me := newClient(t, s)
	me.call("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: "w" + strings.Repeat("_", 31), Password: "password-me-1", DisplayName: longName}, 201, &resp)
	me.user = resp.User
	conv, _ := other.startConversation(me)
	longWord := strings.Repeat("Supercalifragilistic", 100)
	longURL := "https://example.com/" + strings.Repeat("path/", 100) + "?q=" + strings.Repeat("x", 300)
	other.send(conv, longWord, "")
	me.send(conv, longURL, "")
	other.send(conv, "short, then "+longURL+" and "+longWord, "")
	group := me.createGroup(strings.Repeat("W", 100), other).ID
	for i := range 5 {
		third := register(t, s, fmt.Sprintf("third%d", i))
		c, _ := third.startConversation(me)
		third.send(c, strings.Repeat("Ü", 3000), "")
	}

	b := newBrowser(t, s, "phone", browserOptions{})
	b.phone()

	// Signed out: the forms, with what was typed put back and their errors.
	b.open("/login")
	b.typeInto("#username", strings.Repeat("x", 200))
	b.typeInto("#password", strings.Repeat("y", 200))
	b.click("form#login-form button[type=submit]")
	b.waitFor("the log-in error", `visible('#form-error')`, `$('#login-form').outerHTML`)
	noSideways(b, "the log-in page with an error")
	b.open("/register")
	b.typeInto("#username", strings.Repeat("m", 32))
	b.typeInto("#display_name", longName)
	b.typeInto("#password", "password-long-1")
	b.click("form#register-form button[type=submit]")
	b.waitFor("the taken username", `visible('#username-error')`, `$('#register-form').outerHTML`)
	noSideways(b, "the sign-up page with an error")
	b.open("/no/such/" + strings.Repeat("z", 500))
	b.waitFor("the not-found page", `visible('main h1')`, "document.body.innerText")
	noSideways(b, "the not-found page")

	// Signed in: the list, the open conversation, people, settings.
	b.logIn(me.user.Username, "password-me-1")
	b.waitFor("the list", fmt.Sprintf(`visible(%q)`, convRow(conv)), `$('#conversation-list').outerHTML`)
	noSideways(b, "the list")
	wantEllipsis(b, "the list's names", convRow(conv)+" .name")
	wantEllipsis(b, "the header's name", ".sidebar .bar .me")

	b.click(convRow(conv) + " a")
	b.waitFor("the conversation", `visible('section#conversation') && $$('#messages li.message').length === 3 && !visible('.sidebar')`, readMessagesJS)
	noSideways(b, "the conversation")
	wantEllipsis(b, "the conversation's title", "#conversation-title")
	b.insertText("#composer-input", longWord)
	b.pressEnter(false)
	b.waitFor("the sent word", `$$('#messages li.message:not(.pending)').length === 4`, readMessagesJS)
	noSideways(b, "the conversation after sending a long word")

	b.open("/people?q=" + strings.Repeat("m", 3))
	b.waitFor("the people", `$$('#people-results li.person').length > 0`, `$('#people-results').outerHTML`)
	noSideways(b, "people")
	wantEllipsis(b, "a person's name", "#people-results li.person .name")
	wantRoundDots(b, "people")
	b.insertText("#people-search", strings.Repeat("q", 300))
	noSideways(b, "people, searching for a long word")

	b.open("/search?q=supercalifragilistic")
	b.waitFor("the search results", `$$('#search-results li.search-result').length === 3 && $$('#search-results mark').length === 3`, `$('#search-results').outerHTML`)
	noSideways(b, "search results")
	wantEllipsis(b, "a result's conversation name", "#search-results .search-conversation")
	b.insertText("#search-input", strings.Repeat("q", 300))
	b.click("#search-form button[type=submit]")
	b.waitFor("the search's error", `visible('#search-error') && $('#search-input').value.length > 300`, `$('#search-form').outerHTML`)
	noSideways(b, "search with an error")

	b.open("/settings")
	b.waitFor("the settings", `visible('form#name-form')`, "document.body.innerText")
	noSideways(b, "settings")
	b.insertText("#close_password", "wrong-password")
	b.click("form#close-form button[type=submit]")
	b.waitFor("the error", `visible('#close-error')`, `$('#close-form').outerHTML`)
	noSideways(b, "settings with an error")

	b.open("/groups/new?q=" + strings.Repeat("m", 3))
	b.waitFor("the picker", `$$('#group-results li.person').length > 0`, `$('#group-form').outerHTML`)
	noSideways(b, "new group")
	wantEllipsis(b, "a person's name in the picker", "#group-results li.person .name")
	wantRoundDots(b, "new group")
	b.insertText("#group-title", strings.Repeat("W", 100))
	b.click("#group-create")
	b.waitFor("the new group's error", `visible('#group-people-error') && $('#group-title').value.length === 100`, `$('#group-form').outerHTML`)
	noSideways(b, "new group with an error")

	b.open(fmt.Sprintf("/c/%d/members", group))
	b.waitFor("the members page", `$$('#member-list li.person').length === 2`, `$('main').outerHTML`)
	noSideways(b, "the members page")
	wantRoundDots(b, "the members page")
	wantEllipsis(b, "the group's name", "#group-name")
	wantEllipsis(b, "a member's name", "#member-list li.person .name")
	b.click("#leave summary")
	b.waitFor("the leave button", `$('#leave').open && visible('#leave-form button')`, `$('#leave').outerHTML`)
	noSideways(b, "the members page, leaving")
	b.clearField("#rename-title")
	b.click("#rename-form button[type=submit]")
	b.waitFor("the rename error", `visible('#rename-error')`, `$('#rename-form').outerHTML`)
	noSideways(b, "the members page with an error")

	b.open("/c/99999")
	b.waitFor("the not-found page", `visible('main h1')`, "document.body.innerText")
	noSideways(b, "the not-found page, signed in")

	// The other person is online; the server stops under the open
	// conversation: at phone width the page says it reconnects, and does
	// not go on saying "online".
	other.openTab("other")
	b.openConnected(fmt.Sprintf("/c/%d", conv))
	b.waitFor("the other person online", `visible('#conversation-status') && text('#conversation-status') === 'online' && !visible('#connection-status')`,
		`({status: $('#conversation-status').outerHTML, connection: $('#connection-status').outerHTML})`)
	stopServer(t, s)
	b.waitFor("Reconnecting… at phone width", `visible('#connection-status') && text('#connection-status') === 'Reconnecting…' && !visible('.sidebar')`,
		`({connection: $('#connection-status').outerHTML, rect: $('#connection-status').getBoundingClientRect().toJSON()})`)
	if eval[bool](b, `visible('#conversation-status') && text('#conversation-status') === 'online'`) {
		t.Errorf("phone: offline, the header still says online")
	}
	if r := eval[[]float64](b, `(r => [r.top, r.bottom, r.left, r.right])($('#connection-status').getBoundingClientRect())`); r[0] < 0 || r[1] > phoneHeight || r[2] < 0 || r[3] > phoneWidth {
		t.Errorf("phone: Reconnecting… is off the screen at %v", r)
	}
	noSideways(b, "the conversation, offline")

	// Back: the strip goes, and the other person's state shows again.
	startServerAt(t, strings.TrimPrefix(s.URL, "http://"), db)
	b.waitFor("reconnected", `!visible('#connection-status') && visible('#conversation-status')`,
		`({connection: $('#connection-status').outerHTML, status: $('#conversation-status').outerHTML})`)
}

// wantEllipsis fails the test when an element that shows a long name is
// wider inside than out without being cut with an ellipsis, or shows
// nothing at all.
func wantEllipsis(b *browser, what, sel string) {
	b.t.Helper()
	type box struct {
		Shown    bool    `json:"shown"`
		Width    float64 `json:"width"`
		Inner    float64 `json:"inner"`
		Outer    float64 `json:"outer"`
		Overflow string  `json:"overflow"`
	}
	got := eval[box](b, fmt.Sprintf(`(el => ({shown: visible(el), width: el.getBoundingClientRect().width, inner: el.scrollWidth, outer: el.clientWidth, overflow: getComputedStyle(el).textOverflow}))($(%q))`, sel))
	if !got.Shown || got.Width < 20 || (got.Inner > got.Outer+1 && got.Overflow != "ellipsis") {
		b.t.Errorf("%s: %s (%s) shows as %+v, want it visible and cut with an ellipsis", b.name, what, sel, got)
	}
}
