package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// systemRowsJS lists the system lines of the open conversation, in order,
// as the reader sees them.
const systemRowsJS = `$$('#messages li.system').map(li => li.textContent.trim())`

// groupMarkupJS is markupJS without the "New messages" divider: the page
// keeps it where it was when the conversation was opened, while the
// server's page, made after the reader read on, has none.
var groupMarkupJS = strings.Replace(markupJS, "#messages > li,", "#messages > li:not(.unread-divider),", 1)

// groupHeaderJS is what the open conversation's header shows.
const groupHeaderJS = `({title: text('#conversation-title'), status: text('#conversation-status'),
	members: visible('#members-link') ? $('#members-link').getAttribute('href') : null})`

// rowTextJS is what a conversation's row in the list shows: its name and
// preview.
func rowTextJS(id int64) string {
	return fmt.Sprintf(`($(%[1]q) ? {name: text(%[1]q + ' .name'), preview: text(%[1]q + ' .preview')} : null)`, convRow(id))
}

// waitHeader waits until the open conversation's header has a title and
// status line.
func waitHeader(b *browser, title, status string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("the header %q, %q", title, status),
		fmt.Sprintf(`text('#conversation-title') === %s && text('#conversation-status') === %s`, jsonString(title), jsonString(status)), groupHeaderJS)
}

// waitRow waits until a conversation's row in the list has a name and a
// preview.
func waitRow(b *browser, id int64, name, preview string) {
	b.t.Helper()
	row := convRow(id)
	b.waitFor(fmt.Sprintf("the row %q, %q", name, preview),
		fmt.Sprintf(`$(%[1]q) && text(%[1]q + ' .name') === %[2]s && text(%[1]q + ' .preview') === %[3]s`, row, jsonString(name), jsonString(preview)),
		rowTextJS(id))
}

// waitSystemLine waits until the open conversation shows a system line.
func waitSystemLine(b *browser, line string) {
	b.t.Helper()
	b.waitFor("the line "+line, fmt.Sprintf(`$$('#messages li.system').some(li => li.textContent.trim() === %s)`, jsonString(line)), systemRowsJS)
}

// TestBrowserGroupConversation: a group of three, two of them in browsers
// (Ada, its admin, and Bob) and one over the API (Carol), as each sees it:
// the group's row (title, "Carol: …" previews), its header ("3 members, 2
// online", following presence), sender names above others' messages,
// "Seen by …", two people typing, the lines of members added, removed or
// gone and of a rename (live, and the same after a reload: the server's
// rows are the script's), the rename in list and header, the group
// leaving the list of a member removed while looking at it and coming
// back when he is added again, and the header and list at 320 px.
func TestBrowserGroupConversation(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	// DOMParser, which markupJS needs to read the server's page, is a
	// Trusted Types sink: the CSP would refuse it (TestBrowserTrustedTypes
	// runs the page's own script under it).
	ada := newBrowser(t, s, "ada", browserOptions{bypassCSP: true})
	bob := newBrowser(t, s, "bob", browserOptions{bypassCSP: true})
	ada.signUp("ada", "Ada", "ada-password-1")
	bob.signUp("bob", "Bob", "bob-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bobAPI := login(t, s, "bob", "bob-password-1")
	carol, dave := register(t, s, "carol"), register(t, s, "dave")

	// The group is made over the API: it joins both lists live.
	g := adaAPI.createGroup("Ops", bobAPI, carol).ID
	waitRow(ada, g, "Ops", "You added Carol")
	waitRow(bob, g, "Ops", "Ada added Carol")
	if eval[bool](ada, fmt.Sprintf(`visible(%q)`, convRow(g)+" .online-dot")) {
		t.Error("ada: a group's row shows an online dot")
	}

	// Carol writes: the previews name her.
	carol.send(g, "hello from carol", "")
	waitRow(ada, g, "Ops", "Carol: hello from carol")
	waitRow(bob, g, "Ops", "Carol: hello from carol")

	// Both open it: title, members and who is online (Carol has no
	// WebSocket open), the Members link.
	ada.openConversation(g)
	bob.openConversation(g)
	waitHeader(ada, "Ops", "3 members, 2 online")
	waitHeader(bob, "Ops", "3 members, 2 online")
	if got := eval[string](ada, `visible('#members-link') ? $('#members-link').getAttribute('href') : ''`); got != fmt.Sprintf("/c/%d/members", g) {
		t.Errorf("ada: the Members link goes to %q", got)
	}
	// The history starts with the group's making.
	waitSystemLine(ada, "You created the group “Ops”")
	waitSystemLine(bob, "Ada created the group “Ops”")
	waitSystemLine(bob, "Ada added you")

	// Messages from the pages: each sees the other's with the sender's
	// name above it, their own without; the list says "You: …".
	bob.sendFromPage("hi all")
	ada.sendFromPage("hello team")
	senderOf := func(b *browser, body string) string {
		b.t.Helper()
		js := fmt.Sprintf(`(() => { const li = $$('#messages li.message').find(li => text(li.querySelector('.body')) === %s); return li ? {sender: li.querySelector('.sender') ? text(li.querySelector('.sender')) : '', dir: li.querySelector('.sender') ? li.querySelector('.sender').getAttribute('dir') : ''} : null; })()`, jsonString(body))
		b.waitFor("the message "+body, js, readMessagesJS)
		type sender struct {
			Sender string `json:"sender"`
			Dir    string `json:"dir"`
		}
		got := eval[sender](b, js)
		if got.Sender != "" && got.Dir != "auto" {
			b.t.Errorf("%s: the sender's name of %q has dir=%q, want auto", b.name, body, got.Dir)
		}
		return got.Sender
	}
	for _, tc := range []struct {
		b            *browser
		body, sender string
	}{
		{ada, "hello from carol", "Carol"}, {ada, "hi all", "Bob"}, {ada, "hello team", ""},
		{bob, "hello from carol", "Carol"}, {bob, "hi all", ""}, {bob, "hello team", "Ada"},
	} {
		if got := senderOf(tc.b, tc.body); got != tc.sender {
			t.Errorf("%s: %q shows the sender %q, want %q", tc.b.name, tc.body, got, tc.sender)
		}
	}
	waitRow(ada, g, "Ops", "You: hello team")
	waitRow(bob, g, "Ops", "Ada: hello team")

	// Read receipts: Bob's page reads as it shows the message, Carol over
	// the API.
	seen := `({seen: $$('#messages .seen').map(s => [s.closest('li').querySelector('.body') && text(s.closest('li').querySelector('.body')), text(s)])})`
	ada.waitFor("Seen by Bob", `$$('#messages .seen').length === 1 && text('#messages .seen') === 'Seen by Bob' && text($('#messages .seen').closest('li').querySelector('.body')) === 'hello team'`, seen)
	last := adaAPI.messages(g, "").Messages
	carol.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", g), wire.ReadRequest{Seq: last[len(last)-1].Seq}, http.StatusNoContent, nil)
	ada.waitFor("Seen by Bob, Carol", `$$('#messages .seen').length === 1 && text('#messages .seen') === 'Seen by Bob, Carol'`, seen)
	sameRows(t, ada, "the group as Ada sees it", groupMarkupJS)
	sameRows(t, bob, "the group as Bob sees it", groupMarkupJS)

	// Presence: Bob goes away and comes back.
	bob.do("leave the page", chromedp.Navigate("about:blank"))
	waitHeader(ada, "Ops", "3 members, 1 online")
	bob.openConnected(fmt.Sprintf("/c/%d", g))
	waitHeader(ada, "Ops", "3 members, 2 online")
	waitHeader(bob, "Ops", "3 members, 2 online")

	// Typing: Bob in his page, Carol over a WebSocket of her own (which
	// makes her online). Typing shows for a few seconds after each typing
	// frame: they type again until Ada sees both at once.
	carolTab := carol.openTab("carol")
	twoTyping := `text('#conversation-status') === 'Bob and Carol are typing…'`
	for deadline := time.Now().Add(browserWait); ; {
		bob.insertText("#composer-input", "x")
		carolTab.send(map[string]any{"type": "typing", "conversation_id": g})
		if ada.poll(twoTyping, 2500*time.Millisecond) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ada: never saw both typing; status %s", ada.diagnose(groupHeaderJS))
		}
	}
	// Each one's entry goes with their message.
	bob.pressEnter(false)
	carol.send(g, "done typing", "")
	waitHeader(ada, "Ops", "3 members, 3 online")
	carolTab.conn.Close() // Carol goes offline (the test's cleanup ends the tab)
	waitHeader(ada, "Ops", "3 members, 2 online")

	// Membership changes over the API show as lines, live, in both pages
	// (Dave, unknown to the pages until now, is named all the same).
	adaAPI.call("POST", membersPath(g), wire.AddMemberRequest{UserID: dave.user.ID}, http.StatusCreated, nil)
	waitSystemLine(ada, "You added Dave")
	waitSystemLine(bob, "Ada added Dave")
	waitHeader(ada, "Ops", "4 members, 2 online")
	waitHeader(bob, "Ops", "4 members, 2 online")
	adaAPI.call("DELETE", memberPath(g, carol), nil, http.StatusNoContent, nil)
	waitSystemLine(ada, "You removed Carol")
	waitSystemLine(bob, "Ada removed Carol")
	dave.call("DELETE", memberPath(g, dave), nil, http.StatusNoContent, nil)
	waitSystemLine(ada, "Dave left")
	waitSystemLine(bob, "Dave left")
	waitHeader(ada, "Ops", "2 members, 2 online")
	adaAPI.call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g), wire.RenameRequest{Title: "Ops team"}, http.StatusOK, nil)
	waitSystemLine(ada, "You renamed the group to “Ops team”")
	waitSystemLine(bob, "Ada renamed the group to “Ops team”")
	waitHeader(ada, "Ops team", "2 members, 2 online")
	waitHeader(bob, "Ops team", "2 members, 2 online")
	waitRow(ada, g, "Ops team", "You renamed the group to “Ops team”")
	waitRow(bob, g, "Ops team", "Ada renamed the group to “Ops team”")
	// Carol's message still names her, removed as she is.
	if got := senderOf(bob, "hello from carol"); got != "Carol" {
		t.Errorf("bob: Carol's message shows the sender %q after her removal", got)
	}

	// The script's rows are the server's: compared with the server's page
	// for the same address, then after a reload.
	sameRows(t, ada, "after the changes", groupMarkupJS)
	sameRows(t, bob, "after the changes", groupMarkupJS)
	// Sender names, system lines and "Seen by" break no accessibility
	// rule, in either color scheme (when axe-core is installed: npm ci;
	// TestBrowserA11y says when it must be).
	if src, err := os.ReadFile(filepath.Join("..", "..", axeScript)); err == nil {
		for _, scheme := range []string{"dark", "light"} {
			setColorScheme(ada, scheme)
			for _, v := range axeRun(ada, string(src)) {
				t.Errorf("ada, an open group in the %s scheme: %s", scheme, v)
			}
		}
	}
	live := eval[string](bob, "JSON.stringify("+systemRowsJS+")")
	bob.openConnected(fmt.Sprintf("/c/%d", g))
	bob.waitFor("the reloaded lines", fmt.Sprintf(`JSON.stringify(%s) === %s`, systemRowsJS, jsonString(live)), systemRowsJS)
	waitHeader(bob, "Ops team", "2 members, 2 online")
	sameRows(t, bob, "after a reload", groupMarkupJS)

	// Bob is removed while he looks at the group: it leaves his list and
	// his page goes back to the list.
	adaAPI.call("DELETE", memberPath(g, bobAPI), nil, http.StatusNoContent, nil)
	waitSystemLine(ada, "You removed Bob")
	waitHeader(ada, "Ops team", "1 member, 1 online")
	bob.waitFor("the group gone from Bob's page", fmt.Sprintf(`!$(%q) && location.pathname === '/' && !visible('section#conversation') && visible('.placeholder')`, convRow(g)),
		`({url: location.href, rows: $$('#conversation-list li').map(li => li.dataset.id), open: visible('section#conversation')})`)
	waitRow(ada, g, "Ops team", "You removed Bob")

	// Added again, he gets the group back in his list, live.
	adaAPI.call("POST", membersPath(g), wire.AddMemberRequest{UserID: bobAPI.user.ID}, http.StatusCreated, nil)
	waitRow(bob, g, "Ops team", "Ada added you")
	waitHeader(ada, "Ops team", "2 members, 2 online")

	// The words the steps above did not show, from the page's own module
	// (TestGroupWords holds the server's to the same).
	words := eval[[]string](ada, `import($('link[rel=modulepreload][href$="/format.js"]').href).then(f => [
		f.seenByText(['Bob', 'Carol', 'Dave', 'Eve']), f.seenByText(['Bob', 'Carol', 'Dave']),
		f.typingText(['Bob', 'Carol', 'Dave']), f.typingText(['Bob']), f.memberStatus(1, 1, [])])`)
	if want := []string{"Seen by 4", "Seen by Bob, Carol, Dave", "Several people are typing…", "Bob is typing…", "1 member, 1 online"}; !slices.Equal(words, want) {
		t.Errorf("format.js says %q, want %q", words, want)
	}

	// At 320 px, with a title of one long word, the header with its
	// Members link and the sidebar with New group fit: nothing scrolls
	// sideways.
	long := strings.Repeat("W", 100)
	adaAPI.call("PATCH", fmt.Sprintf("/api/v1/conversations/%d", g), wire.RenameRequest{Title: long}, http.StatusOK, nil)
	ada.phone()
	waitHeader(ada, long, "2 members, 2 online")
	within := func(sel string) string {
		return fmt.Sprintf(`visible(%[1]q) && $(%[1]q).getBoundingClientRect().right <= innerWidth && $(%[1]q).getBoundingClientRect().left >= 0`, sel)
	}
	ada.waitFor("the Members link on the screen", within("#members-link"), fmt.Sprintf(`$(%q).getBoundingClientRect().toJSON()`, "#members-link"))
	noSideways(ada, "an open group")
	ada.backToList()
	ada.waitFor("New group on the screen", within("#new-group-link")+" && "+within("#people-link"), `$$('.sidebar > .bar > *').map(el => el.getBoundingClientRect().toJSON())`)
	noSideways(ada, "the list with a group")
}
