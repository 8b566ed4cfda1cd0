package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// notificationRecorder runs before the page's scripts: it wraps
// window.Notification so that every notification the page makes is
// recorded (window.__notifications: title, body and the notification), and
// every permission request with its answer (window.__permissionRequests).
// The notifications themselves are the browser's own.
const notificationRecorder = `(() => {
	const Real = window.Notification;
	const made = [], asked = [];
	Object.defineProperty(window, '__notifications', {value: made});
	Object.defineProperty(window, '__permissionRequests', {value: asked});
	if (!Real) return;
	function Recorded(title, options) {
		const rec = {title, body: options && options.body, n: null};
		made.push(rec);
		rec.n = new Real(title, options);
		return rec.n;
	}
	Object.setPrototypeOf(Recorded, Real);
	Recorded.prototype = Real.prototype;
	Recorded.requestPermission = async (...args) => {
		const answer = await Real.requestPermission(...args);
		asked.push(answer);
		return answer;
	};
	window.Notification = Recorded;
})();`

// setWindowState minimizes the tab's window (its page becomes hidden, as
// when its person switched to another window) or brings it back.
func setWindowState(b *browser, state cdpbrowser.WindowState) {
	b.t.Helper()
	b.do("window "+string(state), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		w, err := chromedp.CallBrowser(ctx, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{TargetID: t.TargetID})
		if err != nil {
			return err
		}
		_, err = chromedp.CallBrowser(ctx, cdpbrowser.SetWindowBounds, cdpbrowser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &cdpbrowser.Bounds{WindowState: state}})
		return err
	}))
}

// conversationRow is one conversation as alice's API shows it.
func conversationRow(c *client, id int64) wire.ConversationRow {
	c.t.Helper()
	var resp wire.ConversationsResponse
	c.call("GET", "/api/v1/conversations", nil, http.StatusOK, &resp)
	for _, row := range resp.Conversations {
		if row.ID == id {
			return row
		}
	}
	c.t.Fatalf("conversation %d is not in %s's list", id, c.user.Username)
	return wire.ConversationRow{}
}

// TestBrowserAttention: with notifications turned on (the button, the
// permission granted), Alice's tab is hidden with her conversation with
// Bob open. Bob and Carol write: the title counts every unread message,
// the open conversation's too, the icon carries a badge, each message
// shows a notification with its conversation's name and text, and her
// read cursor does not move. Clicking Carol's notification opens Carol's
// conversation; back in view, what she sees is read, and the title and
// the icon come back once nothing is unread.
func TestBrowserAttention(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	conv, _ := bob.startConversation(alice)
	carolConv, _ := carol.startConversation(alice)
	bob.send(conv, "before", "")
	carol.send(carolConv, "hello from carol", "")

	b := newBrowser(t, s, "alice", browserOptions{})
	b.do("record notifications", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: notificationRecorder})
		return err
	}))
	b.logIn("alice", "password-alice")
	b.waitFor("two unread, in the title and on the icon", `document.title === '(2) Parley' && $('link[rel="icon"]').href.startsWith('data:image/png')`,
		`({title: document.title, icon: $('link[rel="icon"]').href.slice(0, 60)})`)

	// Notifications: the button asks the browser, whose person allows them.
	b.waitFor("the notifications button", `visible('#notify-button') && text('#notify-button') === 'Turn on notifications' && Notification.permission === 'default'`,
		`({offer: $('#notify-offer').outerHTML, permission: Notification.permission})`)
	b.do("allow notifications", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{Origin: s.URL, Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted})
		return err
	}))
	// A script's click: the button may already be gone, the page having
	// seen the permission change.
	eval[bool](b, `($('#notify-button').click(), true)`)
	b.waitFor("notifications on, the button gone", `Notification.permission === 'granted' && window.__permissionRequests.includes('granted') && !visible('#notify-button')`,
		`({offer: $('#notify-offer').outerHTML, permission: Notification.permission, asked: window.__permissionRequests})`)

	// Alice reads Bob's conversation, then her window goes to the background.
	b.click(convRow(conv) + " a")
	b.waitFor("Bob's conversation, read", fmt.Sprintf(`location.pathname === '/c/%d' && $(%q) && document.title === '(1) Parley'`, conv, messageItem(1)),
		`({title: document.title, url: location.href})`)
	waitUntil(t, "alice's read cursor at 1", func() bool { return conversationRow(alice, conv).LastReadSeq == 1 })
	setWindowState(b, cdpbrowser.WindowStateMinimized)
	b.waitFor("the tab hidden", `document.visibilityState === 'hidden'`, `document.visibilityState`)

	bob.send(conv, "are you there?", "")
	bob.send(conv, "hello?", "")
	carol.send(carolConv, "me too", "")
	b.waitFor("four unread: the open conversation's count", fmt.Sprintf(`document.title === '(4) Parley' && $(%q)`, messageItem(3)),
		`({title: document.title, messages: `+readMessagesJS+`})`)
	b.waitFor("a badge on the icon", `$('link[rel="icon"]').href.startsWith('data:image/png')`, `$('link[rel="icon"]').href.slice(0, 60)`)
	type note struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	b.waitFor("three notifications", `window.__notifications.length === 3`, `window.__notifications.map(n => n.title + ': ' + n.body)`)
	got := eval[[]note](b, `window.__notifications.map(n => ({title: n.title, body: n.body}))`)
	want := []note{{"Bob", "are you there?"}, {"Bob", "hello?"}, {"Carol", "me too"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alice: notifications %+v, want %+v", got, want)
	}
	if row := conversationRow(alice, conv); row.LastReadSeq != 1 || row.UnreadCount != 2 {
		t.Errorf("alice's hidden tab moved her read cursor: last_read_seq %d, unread %d; want 1 and 2", row.LastReadSeq, row.UnreadCount)
	}

	// Clicking Carol's notification opens her conversation; in view again,
	// it is read, and Bob's is not open any more.
	eval[bool](b, `(window.__notifications[2].n.dispatchEvent(new Event('click')), true)`)
	b.waitFor("Carol's conversation", fmt.Sprintf(`location.pathname === '/c/%d' && $('section#conversation').dataset.id === '%d'`, carolConv, carolConv), `location.href`)
	setWindowState(b, cdpbrowser.WindowStateNormal)
	b.waitFor("in view, Carol's read", `document.visibilityState === 'visible' && document.title === '(2) Parley'`, `({title: document.title, state: document.visibilityState})`)
	waitUntil(t, "alice's read cursor in Carol's conversation", func() bool { return conversationRow(alice, carolConv).UnreadCount == 0 })
	b.click(convRow(conv) + " a")
	b.waitFor("nothing unread: the title and the icon as they were", `document.title === 'Parley' && /\/static\/[0-9a-f]+\/favicon\.svg$/.test($('link[rel="icon"]').href)`,
		`({title: document.title, icon: $('link[rel="icon"]').href.slice(0, 60)})`)
	// The read goes to the server on its own (a frame): wait for it.
	waitUntil(t, "alice's read cursor at 3 in Bob's conversation", func() bool { return conversationRow(alice, conv).LastReadSeq == 3 })
	// In view, a new message shows no notification.
	bob.send(conv, "seen live", "")
	b.waitFor("the live message", fmt.Sprintf(`$(%q)`, messageItem(4)), readMessagesJS)
	if n := eval[int](b, `window.__notifications.length`); n != 3 {
		t.Errorf("alice: %d notifications after a message in view, want 3", n)
	}
	noViolations(t, b, "the badge on the icon")

	// A group's notification has the group's name, and says who wrote.
	setWindowState(b, cdpbrowser.WindowStateMinimized)
	b.waitFor("the tab hidden again", `document.visibilityState === 'hidden'`, `document.visibilityState`)
	group := carol.createGroup("Team", alice, bob)
	bob.send(group.ID, "team?", "")
	b.waitFor("the group's notification", `window.__notifications.length === 4`, `window.__notifications.map(n => n.title + ': ' + n.body)`)
	if got := eval[note](b, `({title: window.__notifications[3].title, body: window.__notifications[3].body})`); got != (note{"Team", "Bob: team?"}) {
		t.Errorf("alice: the group's notification is %+v, want %+v", got, note{"Team", "Bob: team?"})
	}
}
