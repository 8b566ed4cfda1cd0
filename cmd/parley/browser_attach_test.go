package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// The attachment tests: files attached in the browser by paste, by the
// attach button's file input and by drop, their uploads (progress,
// cancel, a network cut), and the messages that carry them as the other
// person's page shows them.

// testPNG is an opaque w×h PNG with something in it.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testPDF is a small file that sniffs as application/pdf.
func testPDF() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

// fileJS is a JavaScript expression making a File of data.
func fileJS(name, mediaType string, data []byte) string {
	return fmt.Sprintf(`new File([Uint8Array.from(atob(%q), c => c.charCodeAt(0))], %s, {type: %s})`,
		base64.StdEncoding.EncodeToString(data), jsonString(name), jsonString(mediaType))
}

// pasteFile pastes a file into the composer's box as a clipboard does: a
// paste event whose DataTransfer holds it.
func pasteFile(b *browser, name, mediaType string, data []byte) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.items.add(%s);
		const input = $('#composer-input');
		input.focus();
		return input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`, fileJS(name, mediaType, data)))
}

// dropFile drags a file onto the conversation's messages and drops it.
func dropFile(b *browser, name, mediaType string, data []byte) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.items.add(%s);
		const target = $('#message-scroller');
		target.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));
		target.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
		return !target.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`, fileJS(name, mediaType, data)))
}

// chooseFile picks a file from the disk with the attach button's file
// input, as the file chooser the button opens does.
func chooseFile(b *browser, path string) {
	b.t.Helper()
	b.do("choose "+filepath.Base(path), chromedp.SetUploadFiles(chromedp.CSS("#composer-file"), []string{path}))
}

// throttleUploads slows the page's uploads down to bytesPerSecond, or
// lets them go at full speed again (0).
func throttleUploads(b *browser, bytesPerSecond float64) {
	b.t.Helper()
	conditions := []*network.Conditions{}
	if bytesPerSecond > 0 {
		conditions = append(conditions, &network.Conditions{URLPattern: b.base + "/api/v1/conversations/*/attachments*", UploadThroughput: bytesPerSecond, DownloadThroughput: -1})
	}
	b.do(fmt.Sprintf("uploads at %v B/s", bytesPerSecond), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conditions})
		return err
	}))
}

// chipsJS describes the composer's chips.
const chipsJS = `$$('#composer-files li.chip').map(li => ({name: text(li.querySelector('.chip-name')), cls: li.className,
	status: text(li.querySelector('.chip-status')), progress: li.querySelector('progress').value + '/' + li.querySelector('progress').max}))`

// shownAttachment is a file of a message row as the tests read it.
type shownAttachment struct {
	Kind     string `json:"kind"` // "image" or "file"
	Name     string `json:"name"` // the img's alt, the card's link text
	Href     string `json:"href"`
	Src      string `json:"src"`
	Width    int    `json:"width"`  // the <img>'s width attribute
	Height   int    `json:"height"` // and height
	Loaded   bool   `json:"loaded"` // an image: loaded, with pixels
	Target   string `json:"target"`
	Rel      string `json:"rel"`
	Download string `json:"download"`
	Meta     string `json:"meta"`
}

// attachmentsJS lists the files of a message row.
func attachmentsJS(seq int64) string {
	return fmt.Sprintf(`$$(%q).map(li => {
		const img = li.querySelector('img'), a = li.querySelector('a');
		return img ? {kind: 'image', name: img.alt, href: a.getAttribute('href'), src: img.getAttribute('src'), width: Number(img.getAttribute('width')), height: Number(img.getAttribute('height')),
				loaded: img.complete && img.naturalWidth > 0, target: a.target, rel: a.rel}
			: {kind: 'file', name: text(a), href: a.getAttribute('href'), download: a.getAttribute('download'), meta: text(li.querySelector('.file-meta'))};
	})`, messageItem(seq)+" .attachments > li.attachment")
}

// messageWithFiles waits until a page shows seq carrying n files, and its
// images loaded, and returns them.
func messageWithFiles(b *browser, seq int64, n int) []shownAttachment {
	b.t.Helper()
	js := attachmentsJS(seq)
	b.waitFor(fmt.Sprintf("message %d with %d files", seq, n), fmt.Sprintf(`(l => l.length === %d && l.every(a => a.kind !== 'image' || a.loaded))(%s) && !$(%q).classList.contains('pending')`, n, js, messageItem(seq)),
		fmt.Sprintf(`({files: %s, messages: %s})`, js, readMessagesJS))
	return eval[[]shownAttachment](b, js)
}

// fetchInPage fetches a URL in the page, with its cookies, and returns the
// status and the bytes, base64.
type fetched struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Body   string `json:"body"`
}

func fetchInPage(b *browser, url string) fetched {
	b.t.Helper()
	return eval[fetched](b, fmt.Sprintf(`fetch(%s).then(async r => {
		const bytes = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (const c of bytes) s += String.fromCharCode(c);
		return {status: r.status, type: r.headers.get('Content-Type') || '', body: btoa(s)};
	})`, jsonString(url)))
}

// attachEnv is the browser tests' configuration, with the upload budget
// lifted too.
func attachEnv(extra ...string) map[string]string {
	return browserServerEnv(append([]string{"PARLEY_UPLOAD_RATE", "1000", "PARLEY_UPLOAD_BURST", "1000"}, extra...)...)
}

// TestBrowserAttach: on one SQLite server, Alice attaches files by paste,
// by the attach button and by drop, cancels an upload, sees one cut off
// by the network go when it is back, and sends; Bob's page shows them.
func TestBrowserAttach(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, attachEnv())
	attachScenario(t, s, s)
}

// TestBrowserAttachTwoNodes: the same with Alice and Bob on two nodes of
// a cluster (PostgreSQL and Redis).
func TestBrowserAttachTwoNodes(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	nodes := startCluster(t, 2, nil, attachEnv())
	attachScenario(t, nodes[0], nodes[1])
}

// attachScenario: Alice on node a, Bob on node b (the same server or two).
func attachScenario(t *testing.T, a, b *server) {
	aliceAPI := register(t, a, "alice")
	bobAPI := register(t, b, "bob")
	conv, _ := aliceAPI.startConversation(bobAPI)
	aliceAPI.send(conv, "files follow", "")

	alice := newBrowser(t, a, "alice", browserOptions{})
	bob := newBrowser(t, b, "bob", browserOptions{})
	alice.logIn("alice", "password-alice")
	bob.logIn("bob", "password-bob")
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	bob.openConnected(fmt.Sprintf("/c/%d", conv))
	for _, p := range []*browser{alice, bob} {
		p.waitFor("the first message", fmt.Sprintf(`$(%q)`, messageItem(1)), readMessagesJS)
	}
	if !eval[bool](alice, `visible('#attach-button') && $('#attach-button').getAttribute('aria-label') === 'Attach files'`) {
		t.Errorf("alice: no attach button: %s", alice.diagnose(`$('#composer').outerHTML`))
	}

	// A pasted image and a chosen PDF upload at once, each as a chip.
	photo := testPNG(t, 600, 300)
	pdf := testPDF()
	pdfPath := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	pasteFile(alice, "photo.png", "image/png", photo)
	chooseFile(alice, pdfPath)
	alice.waitFor("two chips, uploaded", `$$('#composer-files li.chip.done').length === 2 && visible('#composer-files')`, chipsJS)
	names := eval[[]string](alice, `$$('#composer-files .chip-name').map(e => e.textContent)`)
	if strings.Join(names, ",") != "photo.png,report.pdf" {
		t.Errorf("alice: chips %q, want photo.png, report.pdf", names)
	}
	if got := eval[[]string](alice, `$$('#composer-files .chip-remove').map(b => b.getAttribute('aria-label'))`); strings.Join(got, ",") != "Remove photo.png,Remove report.pdf" {
		t.Errorf("alice: the chips' buttons are named %q", got)
	}

	// Files and no text: Enter sends them.
	alice.do("focus the box", chromedp.Focus(chromedp.CSS("#composer-input")))
	alice.pressEnter(false)
	alice.waitFor("the chips gone", `$$('#composer-files li.chip').length === 0 && !visible('#composer-files')`, chipsJS)
	own := messageWithFiles(alice, 2, 2)
	got := messageWithFiles(bob, 2, 2)
	if got[0].Href != own[0].Href || got[1].Href != own[1].Href {
		t.Errorf("the pages link different files: alice %+v, bob %+v", own, got)
	}
	img, card := got[0], got[1]
	if img.Kind != "image" || img.Name != "photo.png" || img.Width != 400 || img.Height != 200 || img.Target != "_blank" || img.Rel != "noopener" || img.Src != img.Href+"/thumbnail" {
		t.Errorf("bob: the image shows as %+v, want the 400×200 thumbnail named photo.png linking to the full size in a new tab", img)
	}
	if card.Kind != "file" || card.Name != "report.pdf" || card.Download != "report.pdf" || card.Meta != fmt.Sprintf("%d bytes · PDF", len(pdf)) {
		t.Errorf("bob: the PDF shows as %+v", card)
	}
	if f := fetchInPage(bob, card.Href); f.Status != 200 || f.Body != base64.StdEncoding.EncodeToString(pdf) {
		t.Errorf("bob: the PDF's link answers %d with %d bytes of base64, want 200 and the file", f.Status, len(f.Body))
	}
	if f := fetchInPage(bob, img.Href); f.Status != 200 || f.Type != "image/png" {
		t.Errorf("bob: the full-size image answers %d %q", f.Status, f.Type)
	}
	if body := eval[string](bob, fmt.Sprintf(`$(%q).textContent`, messageItem(2)+" .body")); body != "" {
		t.Errorf("bob: the message of files alone has the body %q", body)
	}
	bob.waitFor("the preview", fmt.Sprintf(`text(%q) === '📎 2 files'`, convRow(conv)+" .preview"), fmt.Sprintf(`$(%q).outerHTML`, convRow(conv)))

	// The server's page (what a reload shows, and the page without
	// JavaScript) has the same files.
	bob.openConnected(fmt.Sprintf("/c/%d", conv))
	if again := messageWithFiles(bob, 2, 2); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("bob: after a reload the files show as %+v, before as %+v", again, got)
	}

	// The page without JavaScript shows them too.
	_, _, html := bobAPI.page(fmt.Sprintf("/c/%d", conv))
	for _, want := range []string{
		fmt.Sprintf(`<a href="%s" target="_blank" rel="noopener"><img src="%s" alt="photo.png" width="400" height="200"></a>`, img.Href, img.Src),
		fmt.Sprintf(`<a class="file-name" href="%s" download="report.pdf" dir="auto">report.pdf</a><span class="file-meta">%s</span>`, card.Href, card.Meta),
		`<span class="preview">📎 2 files</span>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the server's page lacks %s", want)
		}
	}

	// A dropped file, with text.
	notes := []byte("meeting notes\n")
	dropFile(alice, "notes.txt", "text/plain", notes)
	alice.waitFor("the dropped file's chip", `$$('#composer-files li.chip.done').length === 1 && text('#composer-files .chip-name') === 'notes.txt'`, chipsJS)
	alice.typeInto("#composer-input", "the notes")
	alice.pressEnter(false)
	messageWithFiles(alice, 3, 1)
	if f := messageWithFiles(bob, 3, 1); f[0].Name != "notes.txt" || f[0].Meta != fmt.Sprintf("%d bytes · text", len(notes)) {
		t.Errorf("bob: the dropped file shows as %+v", f[0])
	}
	bob.waitFor("the caption", fmt.Sprintf(`$(%q).textContent === 'the notes' && text(%q) === 'the notes'`, messageItem(3)+" .body", convRow(conv)+" .preview"), readMessagesJS)

	// An upload cancelled before it finishes: nothing is sent, and the
	// next message carries no file.
	big := make([]byte, 3<<20)
	rand.Read(big)
	bigPath := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(bigPath, big, 0o644); err != nil {
		t.Fatal(err)
	}
	throttleUploads(alice, 64<<10)
	chooseFile(alice, bigPath)
	alice.waitFor("the upload under way", `(li => li && !li.classList.contains('done') && visible(li.querySelector('progress')) && li.querySelector('progress').value > 0
		&& li.querySelector('progress').value < li.querySelector('progress').max && li.querySelector('progress').getAttribute('aria-label') === 'Uploading big.bin'
		&& li.querySelector('.chip-remove').getAttribute('aria-label') === 'Cancel upload of big.bin')($('#composer-files li.chip'))`, chipsJS)
	// Send waits for it.
	alice.typeInto("#composer-input", "after the cancel")
	alice.pressEnter(false)
	alice.waitFor("Send waits", `visible('#composer-limit') && text('#composer-limit').includes('wait until the files are uploaded')`, `$('#composer').outerHTML`)
	alice.click("#composer-files .chip-remove")
	alice.waitFor("the chip gone", `$$('#composer-files li.chip').length === 0`, chipsJS)
	throttleUploads(alice, 0)
	alice.do("focus the box", chromedp.Focus(chromedp.CSS("#composer-input")))
	alice.pressEnter(false)
	bob.waitFor("the message after the cancel", fmt.Sprintf(`$(%q) && $(%q).textContent === 'after the cancel' && !$(%q)`, messageItem(4), messageItem(4)+" .body", messageItem(4)+" .attachments"), readMessagesJS)

	// An upload cut off by the network waits on its chip and goes once the
	// network is back.
	pattern := a.URL + "/api/v1/conversations/*/attachments*"
	setOffline(alice, pattern, true)
	pasteFile(alice, "later.png", "image/png", testPNG(t, 40, 30))
	alice.waitFor("the upload waiting", `(li => li && li.classList.contains('waiting') && text(li.querySelector('.chip-status')).startsWith('No connection'))($('#composer-files li.chip'))`, chipsJS)
	setOffline(alice, pattern, false)
	alice.waitFor("the upload done", `$$('#composer-files li.chip.done').length === 1`, chipsJS)
	alice.do("focus the box", chromedp.Focus(chromedp.CSS("#composer-input")))
	alice.pressEnter(false)
	if f := messageWithFiles(bob, 5, 1); f[0].Kind != "image" || f[0].Name != "later.png" || f[0].Width != 40 || f[0].Height != 30 {
		t.Errorf("bob: the image sent after the network came back shows as %+v", f[0])
	}
	bob.waitFor("the preview of one image", fmt.Sprintf(`text(%q) === '📎 later.png'`, convRow(conv)+" .preview"), fmt.Sprintf(`$(%q).outerHTML`, convRow(conv)))

	// The API agrees: each message once, the cancelled file in none.
	msgs := aliceAPI.messages(conv, "").Messages
	var files []string
	for _, m := range msgs {
		for _, f := range m.Attachments {
			files = append(files, fmt.Sprintf("%d:%s", m.Seq, f.Name))
		}
	}
	if len(msgs) != 5 || strings.Join(files, ",") != "2:photo.png,2:report.pdf,3:notes.txt,5:later.png" {
		t.Errorf("the API has %d messages with files %q", len(msgs), files)
	}
	for _, p := range []*browser{alice, bob} {
		for _, line := range p.consoleLog() {
			// The upload made while the network was cut off fails, as it should.
			if p == alice && strings.Contains(line, "ERR_INTERNET_DISCONNECTED") && strings.Contains(line, "/attachments?name=later.png") {
				continue
			}
			t.Errorf("%s: console: %s", p.name, line)
		}
	}
}

// TestBrowserAttachA11y runs axe-core over a conversation with an image
// and a file, and the composer with files attached: one uploaded, one
// uploading, one refused; in the light and the dark color scheme.
func TestBrowserAttachA11y(t *testing.T) {
	chromiumPath(t)
	src := axeSource(t)
	t.Parallel()
	s := startServer(t, attachEnv("PARLEY_MAX_UPLOAD", "1048576"))
	alice := register(t, s, "alice")
	bob := register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	photo := apiAttach(alice, conv, "photo.png", testPNG(t, 300, 500))
	doc := apiAttach(alice, conv, "report.pdf", testPDF())
	apiSendFiles(alice, conv, "The photo and the report", photo.ID, doc.ID)
	bob.send(conv, "Thanks", "")

	b := newA11yBrowser(t, s, "alice")
	b.logIn("alice", "password-alice")
	b.openConnected(fmt.Sprintf("/c/%d", conv))
	messageWithFiles(b, 1, 2)
	pasteFile(b, "done.png", "image/png", testPNG(t, 20, 20))
	b.waitFor("a chip uploaded", `$$('#composer-files li.chip.done').length === 1`, chipsJS)
	tooBig := make([]byte, 2<<20)
	rand.Read(tooBig)
	pasteFile(b, "too-big.bin", "application/octet-stream", tooBig)
	b.waitFor("a chip refused", `$$('#composer-files li.chip.failed').length === 1`, chipsJS)
	throttleUploads(b, 16<<10)
	pasteFile(b, "slow.bin", "application/octet-stream", make([]byte, 512<<10))
	b.waitFor("a chip uploading", `$$('#composer-files li.chip').length === 3 && visible('#composer-files li.chip:last-child progress')`, chipsJS)
	if got := eval[string](b, `text('#composer-files li.chip.failed .chip-status')`); got != "Not uploaded: the file is too large." {
		t.Errorf("the refused file's chip says %q", got)
	}
	for _, scheme := range []string{"light", "dark"} {
		setColorScheme(b, scheme)
		for _, v := range axeRun(b, src) {
			t.Errorf("conversation with files, composer with chips, %s: %s", scheme, v)
		}
	}
	throttleUploads(b, 0)
}

// apiAttach uploads a file to a conversation through the API.
func apiAttach(c *client, conv int64, name string, data []byte) wire.Attachment {
	c.t.Helper()
	var resp wire.AttachmentResponse
	status, raw := c.do("POST", fmt.Sprintf("/api/v1/conversations/%d/attachments?name=%s", conv, url.QueryEscape(name)), string(data))
	if status != http.StatusCreated || json.Unmarshal(raw, &resp) != nil {
		c.t.Fatalf("upload %s: %d %s", name, status, raw)
	}
	return resp.Attachment
}

// apiSendFiles sends a message with uploads through the API.
func apiSendFiles(c *client, conv int64, body string, ids ...int64) wire.Message {
	c.t.Helper()
	var resp wire.MessageResponse
	c.call("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: body, AttachmentIDs: ids}, http.StatusCreated, &resp)
	return resp.Message
}
