package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// socketsScript runs before the page's own scripts: it keeps every
// WebSocket the page opens in window.__sockets, so that a test can drop
// the connection as a network failure would (DevTools' offline emulation
// does not close a WebSocket already open).
const socketsScript = `(() => {
	const Native = window.WebSocket;
	const all = [];
	Object.defineProperty(window, '__sockets', {value: all});
	window.WebSocket = class extends Native {
		constructor(...args) { super(...args); all.push(this); }
	};
})();`

// keepSockets installs socketsScript in the tab's next documents.
func keepSockets(b *browser) {
	b.t.Helper()
	b.do("keep the page's WebSockets", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: socketsScript})
		return err
	}))
}

// dropConnection keeps the tab from connecting to the server's /ws and
// closes the WebSocket it has: the page is disconnected until
// setOffline(b, ws, false).
func dropConnection(b *browser, ws string) {
	b.t.Helper()
	setOffline(b, ws, true)
	eval[bool](b, `(window.__sockets.forEach(s => s.close()), true)`)
	b.waitFor("Reconnecting…", `visible('#connection-status')`, `$('#connection-status').outerHTML`)
}

// countChangeFetches counts the tab's requests for changes by version
// (GET …/messages?after_version=).
func countChangeFetches(b *browser) *atomic.Int64 {
	var n atomic.Int64
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil && strings.Contains(e.Request.URL, "after_version=") {
			n.Add(1)
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to requests: %v", b.name, err)
	}
	return &n
}

// markRead moves c's read cursor in conv to seq.
func markRead(c *client, conv, seq int64) {
	c.t.Helper()
	c.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), wire.ReadRequest{Seq: seq}, http.StatusNoContent, nil)
}

// editedRow is a message row as the edit tests read it.
type editedRow struct {
	Seq     int64  `json:"seq"`
	Body    string `json:"body"`
	Own     bool   `json:"own"`
	Deleted bool   `json:"deleted"`
	Edited  string `json:"edited"` // the "(edited)" title, "" when it is not shown
	Edit    bool   `json:"edit"`   // an Edit action is offered
	Delete  bool   `json:"delete"` // a Delete action is offered
}

const readEditedRowsJS = `$$('#messages li.message').map(li => {
	const edited = li.querySelector('.edited');
	const offered = sel => { const b = li.querySelector(sel); return !!b && !b.closest('[hidden]') && getComputedStyle(b).display !== 'none'; };
	return {seq: Number(li.dataset.seq || 0), body: li.querySelector('.body').textContent, own: li.classList.contains('own'),
		deleted: li.classList.contains('deleted'), edited: edited && !edited.hidden ? edited.title : '',
		edit: offered('.edit-button'), delete: offered('.delete-button')};
})`

// rowJS is an expression: the edited row of seq, or null.
func rowJS(seq int64) string {
	return fmt.Sprintf(`(%s).find(r => r.seq === %d) || null`, readEditedRowsJS, seq)
}

// waitBody waits until the row of seq shows body, marked edited or not.
func waitBody(b *browser, seq int64, body string, edited bool) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("seq %d reads %q (edited %v)", seq, body, edited),
		fmt.Sprintf(`(r => r && r.body === %s && !r.deleted && (r.edited !== '') === %v)(%s)`, jsonString(body), edited, rowJS(seq)), readEditedRowsJS)
}

// waitTombstone waits until the row of seq is a deleted message's.
func waitTombstone(b *browser, seq int64) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("seq %d deleted", seq),
		fmt.Sprintf(`(r => r && r.deleted && r.body === 'This message was deleted' && r.edited === '' && !r.edit && !r.delete)(%s)`, rowJS(seq)), readEditedRowsJS)
}

// waitPreview waits until a conversation's list row previews text.
func waitPreview(b *browser, conv int64, text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("conversation %d previews %q", conv, text),
		fmt.Sprintf(`text(%q) === %s`, convRow(conv)+" .preview", jsonString(text)), `$$('#conversation-list .preview').map(p => p.textContent)`)
}

// TestBrowserEditDelete: Ada edits her messages in place (Edit, and Up
// arrow in the empty composer: Esc cancels, Enter saves, a refusal is
// said in the editor) and deletes one after a question in its row; Bob
// sees each change live, his list's preview too, and is offered no Edit
// on her messages. Bob's connection drops while Ada edits, deletes and
// sends: back, his page catches up by version, without a reload, and
// shows what a reload shows. In a group its admin deletes another
// member's message; a member who is not an admin is offered no Delete.
func TestBrowserEditDelete(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	ada := newBrowser(t, s, "ada", browserOptions{})
	// Bob's page is compared with the server's (markupJS needs DOMParser,
	// which the page's Trusted Types policy refuses); Ada's runs under it.
	bob := newBrowser(t, s, "bob", browserOptions{bypassCSP: true})
	keepSockets(bob)
	ada.signUp("ada", "Ada", "ada-password-1")
	bob.signUp("bob", "Bob", "bob-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bobAPI := login(t, s, "bob", "bob-password-1")
	conv, _ := adaAPI.startConversation(bobAPI)
	typo := adaAPI.send(conv, "helo wrld", "")
	bobAPI.send(conv, "hi Ada", "")
	doomed := adaAPI.send(conv, "delete me", "")
	last := adaAPI.send(conv, "last one", "")
	// Bob has read them: no "New messages" divider, which stays while the
	// conversation is open, where a reload would have none.
	markRead(bobAPI, conv, last.Seq)
	for _, b := range []*browser{ada, bob} {
		b.openConnected(fmt.Sprintf("/c/%d", conv))
		b.waitFor("the conversation", fmt.Sprintf(`$(%q)`, messageItem(last.Seq)), readMessagesJS)
	}

	// Who is offered what: Ada may edit and delete her own messages and
	// not Bob's; Bob is offered nothing on hers.
	got := eval[[]editedRow](ada, readEditedRowsJS)
	for _, r := range got {
		if r.Edit != r.Own || r.Delete != r.Own || r.Edited != "" || r.Deleted {
			t.Errorf("ada: row %+v: want Edit and Delete on her own messages only, nothing edited", r)
		}
	}
	for _, r := range eval[[]editedRow](bob, readEditedRowsJS) {
		if r.Edit != r.Own || r.Delete != r.Own {
			t.Errorf("bob: row %+v: want Edit and Delete on his own message only", r)
		}
	}

	// Edit, with the button: the body becomes the editor with the text,
	// the focus in it; Save stores it, both pages show it "(edited)".
	ada.click(messageItem(typo.Seq) + " .edit-button")
	ada.waitFor("the editor", fmt.Sprintf(`visible('#message-edit-input') && $('#message-edit-input').value === 'helo wrld' && document.activeElement === $('#message-edit-input') && !visible(%q)`, messageItem(typo.Seq)+" .body"),
		`$(`+jsonString(messageItem(typo.Seq))+`).outerHTML`)
	eval[bool](ada, `($('#message-edit-input').select(), true)`)
	ada.insertText("#message-edit-input", "hello world")
	ada.click(".message-editor .save-edit")
	for _, b := range []*browser{ada, bob} {
		waitBody(b, typo.Seq, "hello world", true)
	}
	ada.waitFor("the editor gone, the focus back on Edit", `!$('.message-editor') && document.activeElement === $(`+jsonString(messageItem(typo.Seq)+" .edit-button")+`)`, `document.activeElement && document.activeElement.outerHTML`)
	if m := adaAPI.messages(conv, "").Messages[typo.Seq-1]; m.Body != "hello world" || m.EditedAt == nil {
		t.Errorf("stored after Save: %+v, want the new body, edited", m)
	}
	if title := eval[editedRow](ada, rowJS(typo.Seq)).Edited; !strings.HasPrefix(title, "Edited ") || !strings.HasSuffix(title, " UTC") {
		t.Errorf("ada: the \"(edited)\" title is %q, want when it was edited", title)
	}

	// Up arrow in the empty composer edits her last message; Esc leaves it
	// as it was, the focus back in the composer.
	ada.do("focus the composer", chromedp.Focus(chromedp.CSS("#composer-input")))
	ada.pressKey("ArrowUp", 38)
	ada.waitFor("the editor on her last message", fmt.Sprintf(`visible(%q) && document.activeElement === $('#message-edit-input') && $('#message-edit-input').value === 'last one'`, messageItem(last.Seq)+" .message-editor"),
		`({active: document.activeElement && document.activeElement.outerHTML, rows: `+readEditedRowsJS+`})`)
	ada.insertText("#message-edit-input", " (not kept)")
	ada.pressKey("Escape", 27)
	ada.waitFor("cancelled", `!$('.message-editor') && document.activeElement === $('#composer-input') && visible('section#conversation')`, `document.activeElement && document.activeElement.outerHTML`)
	waitBody(ada, last.Seq, "last one", false)

	// A body the server refuses (only a zero-width space: it renders as
	// nothing) is said in the editor; nothing changes.
	ada.pressKey("ArrowUp", 38)
	ada.waitFor("the editor again", `document.activeElement === $('#message-edit-input')`, `document.activeElement && document.activeElement.outerHTML`)
	eval[bool](ada, `($('#message-edit-input').select(), true)`)
	ada.insertText("#message-edit-input", "\u200b")
	ada.pressEnter(false)
	ada.waitFor("the refusal in the editor", `visible('#message-edit-error') && text('#message-edit-error').startsWith('Not saved:') && $('#message-edit-input').getAttribute('aria-invalid') === 'true'`,
		`$('.message-editor') && $('.message-editor').outerHTML`)
	if m := adaAPI.messages(conv, "").Messages[last.Seq-1]; m.Body != "last one" || m.EditedAt != nil {
		t.Errorf("stored after a refused edit: %+v, want it unchanged", m)
	}

	// Past 4,000 characters the editor says by how much, and Save is off.
	eval[bool](ada, `($('#message-edit-input').select(), true)`)
	ada.insertText("#message-edit-input", strings.Repeat("y", 4001))
	ada.waitFor("the limit said", `text('#message-edit-error').includes('1 character too many') && $('.message-editor .save-edit').disabled`,
		`$('.message-editor') && $('.message-editor').outerHTML.slice(0, 300)`)
	ada.pressEnter(false)
	if m := adaAPI.messages(conv, "").Messages[last.Seq-1]; m.Body != "last one" {
		t.Errorf("stored after Enter on over-long text: %d characters, want it unchanged", len(m.Body))
	}

	// Enter saves (Shift+Enter makes a new line).
	eval[bool](ada, `($('#message-edit-input').select(), true)`)
	ada.insertText("#message-edit-input", "last one,")
	ada.pressEnter(true)
	ada.insertText("#message-edit-input", "edited")
	ada.pressEnter(false)
	for _, b := range []*browser{ada, bob} {
		waitBody(b, last.Seq, "last one,\nedited", true)
		waitPreview(b, conv, "last one,\nedited")
	}
	ada.waitFor("the focus back in the composer", `!$('.message-editor') && document.activeElement === $('#composer-input')`, `document.activeElement && document.activeElement.outerHTML`)

	// Delete asks in the row: Cancel keeps the message, Delete deletes it;
	// both pages show the tombstone.
	ada.click(messageItem(doomed.Seq) + " .delete-button")
	ada.waitFor("the question", fmt.Sprintf(`visible(%q) && text(%q) === 'Delete this message?' && document.activeElement === $(%q)`,
		messageItem(doomed.Seq)+" .delete-confirm", messageItem(doomed.Seq)+" .delete-question", messageItem(doomed.Seq)+" .confirm-delete"), `$(`+jsonString(messageItem(doomed.Seq))+`).outerHTML`)
	ada.click(messageItem(doomed.Seq) + " .cancel-delete")
	ada.waitFor("the question gone", `!$('.delete-confirm')`, `$(`+jsonString(messageItem(doomed.Seq))+`).outerHTML`)
	waitBody(ada, doomed.Seq, "delete me", false)
	ada.click(messageItem(doomed.Seq) + " .delete-button")
	ada.click(messageItem(doomed.Seq) + " .confirm-delete")
	for _, b := range []*browser{ada, bob} {
		waitTombstone(b, doomed.Seq)
	}
	if m := adaAPI.messages(conv, "").Messages[doomed.Seq-1]; !m.Deleted || m.Body != "" {
		t.Errorf("stored after Delete: %+v, want a tombstone", m)
	}

	// Bob's connection drops; meanwhile Ada edits a message, deletes
	// another and sends a new one. Back, his page shows all three without
	// a reload, having asked for the changes by version.
	sameMarkup(t, bob, "before the drop")
	ws := "ws" + strings.TrimPrefix(s.URL, "http") + "/ws"
	fetches := countChangeFetches(bob)
	eval[bool](bob, `(window.__notReloaded = true)`)
	n := bob.helloCount()
	dropConnection(bob, ws)
	adaAPI.edit(conv, typo.Seq, "hello world, again")
	adaAPI.call("DELETE", messagePath(conv, last.Seq), nil, http.StatusNoContent, nil)
	away := adaAPI.send(conv, "while you were away", "")
	setOffline(bob, ws, false)
	bob.waitConnected(n)
	waitBody(bob, typo.Seq, "hello world, again", true)
	waitTombstone(bob, last.Seq)
	waitBody(bob, away.Seq, "while you were away", false)
	waitPreview(bob, conv, "while you were away")
	if !eval[bool](bob, `window.__notReloaded === true`) {
		t.Errorf("bob: the page reloaded to catch up")
	}
	if fetches.Load() == 0 {
		t.Errorf("bob: no GET …/messages?after_version= after the reconnect")
	}

	// What a reload shows: the server's rows for the same data are the
	// script's, and a reload shows the same messages.
	sameMarkup(t, bob, "after the catch-up")
	before := eval[[]editedRow](bob, readEditedRowsJS)
	bob.openConnected(fmt.Sprintf("/c/%d", conv))
	bob.waitFor("the reloaded conversation", fmt.Sprintf(`$(%q) && !window.__notReloaded`, messageItem(away.Seq)), readMessagesJS)
	if after := eval[[]editedRow](bob, readEditedRowsJS); !slices.Equal(after, before) {
		t.Errorf("bob: rows after a reload\n\t%+v\nbefore it\n\t%+v", after, before)
	}
	waitPreview(bob, conv, "while you were away")

	// A group: its admin (Ada) deletes Carol's message; Bob, a member, is
	// offered no Delete on it, and both see the tombstone and the preview.
	carol := register(t, s, "carol")
	group := adaAPI.createGroup("Team", bobAPI, carol).ID
	carols := carol.send(group, "carol's message", "")
	markRead(bobAPI, group, carols.Seq)
	for _, b := range []*browser{ada, bob} {
		b.openConnected(fmt.Sprintf("/c/%d", group))
		b.waitFor("the group", fmt.Sprintf(`$(%q)`, messageItem(carols.Seq)), readMessagesJS)
	}
	ada.waitFor("Delete offered to the admin, Edit not", fmt.Sprintf(`(r => r && r.delete && !r.edit)(%s)`, rowJS(carols.Seq)), readEditedRowsJS)
	if r := eval[editedRow](bob, rowJS(carols.Seq)); r.Edit || r.Delete {
		t.Errorf("bob: Carol's message offers %+v to a member who is not an admin, want nothing", r)
	}
	ada.click(messageItem(carols.Seq) + " .delete-button")
	ada.click(messageItem(carols.Seq) + " .confirm-delete")
	for _, b := range []*browser{ada, bob} {
		waitTombstone(b, carols.Seq)
		waitPreview(b, group, "This message was deleted")
	}
	sameMarkup(t, bob, "a group message deleted by its admin")

	for _, b := range []*browser{ada, bob} {
		b.checkNoScriptRan(b.location())
	}
}
