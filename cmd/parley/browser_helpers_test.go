package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

// browserWait bounds every wait for the page: generous, because the tests
// run under -race on small CI machines. Nothing asserts how fast anything is.
const browserWait = patience

// chromiumPath returns the browser binary the browser tests need (see
// testenv.Need).
func chromiumPath(t *testing.T) string {
	t.Helper()
	return testenv.Need(t, testenv.Chromium)
}

// browser is one person at their computer: a Chromium process of its own
// with a fresh profile, so nothing (cookies above all) is shared with the
// other people of the test, and one tab.
type browser struct {
	t    *testing.T
	name string
	base string          // the server's URL
	ctx  context.Context // the tab

	mu      sync.Mutex
	dialogs []string // JavaScript dialogs that opened: script ran that should not have
	console []string // console errors, uncaught exceptions, browser log warnings
	hellos  int      // hello frames the page's WebSockets received
}

// browserOptions adjust a new browser.
type browserOptions struct {
	// bypassCSP turns the page's Content-Security-Policy off, so that the
	// XSS checks test the escaping alone: a payload that made it into the
	// DOM as markup would run, and be caught, even though the CSP would
	// have blocked it.
	bypassCSP bool
}

// detectorScript runs in every document before the page's own scripts. It
// records Content-Security-Policy violations: a blocked inline script or
// handler means markup from a payload reached the DOM.
const detectorScript = `(() => {
	const seen = [];
	Object.defineProperty(window, '__cspViolations', {value: seen});
	document.addEventListener('securitypolicyviolation', e => {
		seen.push(e.violatedDirective + ' blocked=' + (e.blockedURI || '') + ' sample=' + (e.sample || ''));
	});
})();`

// newBrowser starts Chromium for one person with the tab on about:blank.
// The browser ends with the test; when the test failed, a screenshot, the
// HTML and the console of the tab are saved first.
func newBrowser(t *testing.T, s *server, name string, opts browserOptions) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	b := &browser{t: t, name: name, base: s.URL}
	ctx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(format string, args ...any) { b.note("chromedp: "+format, args...) }),
		chromedp.WithListener(b.listen))
	b.ctx = ctx
	var dialogsDone sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		dialogsDone.Wait() // the tab's end ends the loop below
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser: no timeout on this context
		t.Fatalf("%s: start %s: %v", name, execPath, err)
	}
	t.Cleanup(b.saveArtifacts)

	// Close every dialog (it would block the page) and remember it.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	dialogsDone.Go(func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s(%q) on %s", ev.Type, ev.Message, ev.URL))
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})

	b.do("install the detector", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if opts.bypassCSP {
			if _, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
				return err
			}
		}
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: detectorScript})
		return err
	}))
	return b
}

// listen runs in the tab's event loop: it must return fast.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.note("exception: %s (%s:%d)", text, d.URL, d.LineNumber+1)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		b.note("console.%s: %s", ev.Type, strings.Join(parts, " "))
	case *network.EventWebSocketFrameReceived:
		if ev.Response != nil && bytes.Contains(ev.Response.PayloadData, []byte(`"type":"hello"`)) {
			b.mu.Lock()
			b.hellos++
			b.mu.Unlock()
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
			b.note("log %s %s: %s %s", e.Level, e.Source, e.Text, e.URL)
		}
	}
}

func (b *browser) note(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.console = append(b.console, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// consoleLog returns what the page reported on its console so far.
func (b *browser) consoleLog() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// artifactDir is where the evidence of a failure goes: never inside the
// repository.
func artifactDir() string {
	if d := os.Getenv("PARLEY_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "parley-browser-failures")
}

// saveArtifacts saves, when the test failed, a screenshot, the HTML and the
// console of the tab.
func (b *browser) saveArtifacts() {
	if !b.t.Failed() {
		return
	}
	dir := artifactDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("%s: no artifacts: %v", b.name, err)
		return
	}
	base := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+"-"+b.name)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		b.t.Logf("%s: screenshot: %v", b.name, err)
	} else if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		b.t.Logf("%s: screenshot: %v", b.name, err)
	} else {
		b.t.Logf("%s: screenshot of the page at the failure: %s.png", b.name, base)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.documentElement.outerHTML`))
	if err == nil && os.WriteFile(base+".html", []byte(html), 0o644) == nil {
		b.t.Logf("%s: HTML of the page: %s.html", b.name, base)
	}
	if c := b.consoleLog(); len(c) > 0 {
		b.t.Logf("%s: console:\n\t%s", b.name, strings.Join(c, "\n\t"))
	}
}

// do runs actions on the tab within browserWait, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v (page %s)", b.name, what, err, b.location())
	}
}

// location is the tab's URL, for messages.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// jsPrelude gives every expression small helpers, without a global in the
// page: $ and $$ query, visible tells whether an element shows, text is an
// element's trimmed textContent (null when there is none).
const jsPrelude = `const $ = s => document.querySelector(s);
const $$ = s => Array.from(document.querySelectorAll(s));
const visible = el => { if (typeof el === 'string') el = $(el); return !!el && !el.closest('[hidden]') && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'; };
const text = s => { const el = typeof s === 'string' ? $(s) : s; return el ? el.textContent.trim() : null; };
`

// wrapJS turns an expression into one that can use the prelude.
func wrapJS(expr string) string {
	return "(() => {\n" + jsPrelude + "return (" + expr + ");\n})()"
}

// eval evaluates an expression (with the prelude) and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := tryEval[T](b, expr)
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v (page %s)", b.name, expr, err, b.location())
	}
	return v
}

func tryEval[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](wrapJS(expr), chromedp.EvalAwaitPromise))
}

// waitFor polls the page until cond (an expression, with the prelude) is
// truthy. On timeout it fails the test with the value of diag, an
// expression that shows what the page has instead.
func (b *browser) waitFor(what, cond, diag string) {
	b.t.Helper()
	if err := b.poll(cond, browserWait); err != nil {
		b.t.Fatalf("%s: %s: not within %v (%v); page %s has %s", b.name, what, browserWait, err, b.location(), b.diagnose(diag))
	}
}

// diagnose evaluates an expression that shows what the page has, for a
// failure message.
func (b *browser) diagnose(diag string) string {
	if diag == "" {
		return "?"
	}
	raw, err := tryEval[[]byte](b, diag)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

// poll evaluates cond until it is truthy or the time is up. Errors while the
// page navigates count as "not yet".
func (b *browser) poll(cond string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		ok, err := tryEval[bool](b, "!!("+cond+")")
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("last error: %w", last)
			}
			return errors.New("still false")
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-b.ctx.Done():
			return b.ctx.Err()
		}
	}
}

// open navigates to a path of the server and waits for the load.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// helloCount is how many hello frames the tab's WebSockets got so far.
func (b *browser) helloCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hellos
}

// waitConnected waits for a hello frame beyond the first n: the page's
// WebSocket is open and the server delivers events to it from then on.
// (The DOM shows no sign of a first connection: #connection-status is
// hidden before it, too.)
func (b *browser) waitConnected(n int) {
	b.t.Helper()
	waitUntil(b.t, b.name+": a WebSocket hello", func() bool { return b.helloCount() > n })
}

// openConnected opens a page and waits until its WebSocket is open.
func (b *browser) openConnected(path string) {
	b.t.Helper()
	n := b.helloCount()
	b.open(path)
	b.waitConnected(n)
}

// waitPath waits until the tab shows the path (after a redirect, a form
// post, a click on a link) and its document is loaded.
func (b *browser) waitPath(path string) {
	b.t.Helper()
	b.waitFor("arrive at "+path, fmt.Sprintf("location.pathname === %q && document.readyState === 'complete'", path), "location.href")
}

// typeInto focuses an element and types text into it, key by key.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.do(fmt.Sprintf("type into %s", sel), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// insertText types text into the focused element in one go (as an input
// method or a paste does): fast for long text, and the page gets its input
// events.
func (b *browser) insertText(sel, text string) {
	b.t.Helper()
	b.do(fmt.Sprintf("insert text into %s", sel),
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}))
}

// pressEnter presses Enter (with Shift when shift is set) in the focused
// element as a keyboard does: one keyDown that carries the text, so the
// page's keydown handler can prevent the new line.
func (b *browser) pressEnter(shift bool) {
	b.t.Helper()
	var mods int64
	if shift {
		mods = int64(chromedp.ModifierShift)
	}
	b.do("press Enter", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", Modifiers: mods,
				WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text, p.UnmodifiedText = "\r", "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	}))
}

// click clicks the first element that matches a CSS selector.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// signUp registers through the /register form and lands on /, connected.
func (b *browser) signUp(username, displayName, password string) {
	b.t.Helper()
	b.open("/register")
	b.waitFor("the register form", "visible('form#register-form')", "document.body && document.body.innerText.slice(0, 300)")
	b.typeInto("#username", username)
	b.typeInto("#display_name", displayName)
	b.typeInto("#password", password)
	n := b.helloCount()
	b.click("form#register-form button[type=submit]")
	b.waitFor("sign-up lands on /", "location.pathname === '/' && document.readyState === 'complete'",
		"({url: location.href, errors: $$('[id$=-error]').map(e => e.id + ': ' + e.textContent.trim())})")
	b.waitConnected(n)
}

// checkNoScriptRan fails the test when a dialog opened, window.__pwned is
// set or the tab is no longer on wantURL.
func (b *browser) checkNoScriptRan(wantURL string) {
	b.t.Helper()
	b.mu.Lock()
	dialogs := append([]string(nil), b.dialogs...)
	b.mu.Unlock()
	if len(dialogs) > 0 {
		b.t.Errorf("%s: script ran: dialogs %q", b.name, dialogs)
	}
	type state struct {
		Pwned string   `json:"pwned"`
		URL   string   `json:"url"`
		Title string   `json:"title"`
		CSP   []string `json:"csp"`
	}
	st := eval[state](b, `({pwned: typeof window.__pwned === 'undefined' ? '' : String(window.__pwned), url: location.href, title: document.title, csp: window.__cspViolations || []})`)
	if st.Pwned != "" {
		b.t.Errorf("%s: script ran: window.__pwned = %s", b.name, st.Pwned)
	}
	if st.URL != wantURL {
		b.t.Errorf("%s: the page moved to %s, want %s", b.name, st.URL, wantURL)
	}
	if strings.Contains(st.Title, "XSS") {
		b.t.Errorf("%s: script ran: document.title = %q", b.name, st.Title)
	}
	if len(st.CSP) > 0 {
		b.t.Errorf("%s: Content-Security-Policy violations (markup from a payload reached the page?): %q", b.name, st.CSP)
	}
}

// login signs in through the API, for seeding data as a person who signed
// up in the browser.
func login(t *testing.T, s *server, username, password string) *client {
	t.Helper()
	c := newClient(t, s)
	var resp wire.UserResponse
	c.call("POST", "/api/v1/auth/login", wire.LoginRequest{Username: username, Password: password}, http.StatusOK, &resp)
	c.user = resp.User
	return c
}

// browserServerEnv is the configuration of the servers of the browser
// tests: the rate limits are lifted, because the tests seed hundreds of
// messages and dozens of accounts from one address in a few seconds. Extra
// variables are added to it.
func browserServerEnv(extra ...string) map[string]string {
	env := map[string]string{
		"PARLEY_MESSAGE_RATE":  "100000",
		"PARLEY_MESSAGE_BURST": "100000",
		"PARLEY_REGISTER_RATE": "100000",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// startServerAt starts a server on a given address and database file: the
// same ones as a server that just stopped, so that browsers reconnect to it.
func startServerAt(t *testing.T, addr, db string) *server {
	t.Helper()
	// The old listener is closed once run returned; wait until the port can
	// be bound again, rather than fail on a slow close.
	deadline := time.Now().Add(browserWait)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("address %s stays taken: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return startServer(t, browserServerEnv("PARLEY_ADDR", addr, "PARLEY_DB", db))
}

// stopServer stops a server gracefully, as TestOperations does.
func stopServer(t *testing.T, s *server) {
	t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run returned %v on shutdown", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(browserWait):
		t.Fatal("server did not stop")
	}
}

// jsonString quotes a Go string as a JavaScript string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
