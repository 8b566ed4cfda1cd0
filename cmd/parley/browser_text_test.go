package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// textCases are message bodies and the links they must show, in order:
// http(s) URLs and nothing else, without the punctuation around them.
var textCases = []struct {
	body  string
	links []string
}{
	{"see https://example.com/a?b=c&d=e#f now", []string{"https://example.com/a?b=c&d=e#f"}},
	{"end of sentence https://example.com.", []string{"https://example.com"}},
	{"(see https://example.com/a), and https://en.wikipedia.org/wiki/Pole_(disambiguation)!", []string{"https://example.com/a", "https://en.wikipedia.org/wiki/Pole_(disambiguation)"}},
	{`<a href="javascript:alert(1)">https://example.com/x</a>`, []string{"https://example.com/x"}},
	{"javascript:alert(1) data:text/html,<b>x</b> ftp://example.com www.example.com", nil},
	{"xhttps://example.com and HTTP://EXAMPLE.COM/UP", []string{"HTTP://EXAMPLE.COM/UP"}},
	{"שלום! https://example.com/שלום ב-10:00.", []string{"https://example.com/שלום"}},
	{"https://example.com/'q'{x}|y 100% https://example.com/%E2%82%AC", []string{"https://example.com/'q'{x}|y", "https://example.com/%E2%82%AC"}},
	{"two lines https://a.example\nhttps://b.example/ok?", []string{"https://a.example", "https://b.example/ok"}},
}

// textShapeJS is the shape of the message rows of a document, every node
// with its attributes and text (the text of times and day separators left
// out: the script writes them in the reader's zone, the server in UTC).
const textShapeJS = `(root => {
	const shape = n => {
		if (n.nodeType === Node.TEXT_NODE) return JSON.stringify(n.data);
		if (n.nodeType !== Node.ELEMENT_NODE) return '';
		const attrs = [...n.attributes].map(a => a.name === 'class' ? 'class=' + [...n.classList].sort().join('.') : a.name + '=' + JSON.stringify(a.value)).sort();
		const inner = n.localName === 'time' || n.matches('li.day > span') ? '' : [...n.childNodes].map(shape).join('');
		return '<' + [n.localName, ...attrs].join(' ') + '>' + inner + '</' + n.localName + '>';
	};
	return [...root.querySelectorAll('#messages > li')].map(shape);
})`

// textSameRows waits until the message rows the script drew are the
// server's for the same data, node for node, text nodes and links
// included; it fails the test with the difference otherwise.
func textSameRows(t *testing.T, b *browser, when string) {
	t.Helper()
	js := `(async () => {
		const shape = ` + textShapeJS + `;
		const doc = new DOMParser().parseFromString(await (await fetch(location.href)).text(), 'text/html');
		return {server: shape(doc), page: shape(document)};
	})()`
	sameRows(t, b, when, js)
}

// textLink is a link of a message body as the page shows it.
type textLink struct {
	Text   string `json:"text"`
	Href   string `json:"href"`
	Rel    string `json:"rel"`
	Target string `json:"target"`
	// Inline: laid out in its sentence, with no box of its own.
	Inline bool `json:"inline"`
}

const textLinksJS = `$$('#messages li.message').map(li => [...li.querySelectorAll('.body a')].map(a => ({text: a.textContent, href: a.getAttribute('href'), rel: a.getAttribute('rel'), target: a.getAttribute('target'), inline: getComputedStyle(a).display === 'inline' && getComputedStyle(a).borderBottomStyle === 'none'})))`

// checkTextLinks checks that the message rows (the first len(textCases),
// in order) show the links of textCases and no other.
func checkTextLinks(t *testing.T, b *browser, when string) {
	t.Helper()
	shown := eval[[][]textLink](b, textLinksJS)
	if len(shown) < len(textCases) {
		t.Fatalf("%s, %s: %d messages, want %d", b.name, when, len(shown), len(textCases))
	}
	for i, c := range textCases {
		var texts []string
		for _, l := range shown[i] {
			texts = append(texts, l.Text)
			lower := strings.ToLower(l.Href)
			if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") || l.Rel != "noopener noreferrer" || l.Target != "_blank" || !l.Inline {
				t.Errorf("%s, %s: message %d has the link %+v", b.name, when, i+1, l)
			}
		}
		if !slices.Equal(texts, c.links) {
			t.Errorf("%s, %s: message %q shows the links %q, want %q", b.name, when, c.body, texts, c.links)
		}
	}
}

// TestBrowserTextLinksAndBidi: http(s) URLs in messages are links, opening
// elsewhere, and nothing else is; the script's rows (from the page's data
// and live) are the server's, links included; right-to-left text lays out
// right to left, in bodies and names.
func TestBrowserTextLinksAndBidi(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	// DOMParser, which reads the server's page here, is a Trusted Types
	// sink: the page's CSP would refuse it (TestBrowserTrustedTypes runs
	// the page's own script under the CSP).
	ada := newBrowser(t, s, "ada", browserOptions{bypassCSP: true})
	ada.signUp("ada", "Ada", "ada-password-1")
	adaAPI := login(t, s, "ada", "ada-password-1")
	bob := register(t, s, "bob")
	conv, _ := bob.startConversation(adaAPI)
	for _, c := range textCases {
		bob.send(conv, c.body, "")
	}
	adaAPI.send(conv, "ok", "") // read up to here: no "New messages" to tell apart

	// Drawn by the script from the page's data.
	ada.openConnected(fmt.Sprintf("/c/%d", conv))
	ada.waitFor("the messages", fmt.Sprintf(`$$('#messages li.message').length === %d`, len(textCases)+1), readMessagesJS)
	checkTextLinks(t, ada, "from the page's data")
	textSameRows(t, ada, "from the page's data")
	for i, m := range shownMessages(ada) {
		if i < len(textCases) && m.Body != textCases[i].body {
			t.Errorf("message %d shows the text %q, want %q", i+1, m.Body, textCases[i].body)
		}
	}

	// Live: the same bodies again, each row cloned by the script.
	for _, c := range textCases {
		bob.send(conv, c.body, "")
	}
	ada.waitFor("the live messages", fmt.Sprintf(`$$('#messages li.message').length === %d`, 2*len(textCases)+1), readMessagesJS)
	textSameRows(t, ada, "after live messages")
	if n := eval[int](ada, `$$('#messages .body a').length`); n != 2*eval[int](ada, fmt.Sprintf(`$$('#messages li.message:nth-child(-n+%d) .body a').length`, len(textCases)+1)) {
		t.Errorf("the live rows show other links than the first ones: %d links in all", n)
	}
	ada.checkNoScriptRan(fmt.Sprintf("%s/c/%d", s.URL, conv))

	// Right to left: the Hebrew message's paragraph runs right to left, so
	// its closing "10:00." is at its left end; an English one runs left to
	// right.
	type dir struct {
		Hebrew  string  `json:"hebrew"`
		English string  `json:"english"`
		TimeX   float64 `json:"time_x"`
		WordX   float64 `json:"word_x"`
	}
	hebrew := slices.IndexFunc(textCases, func(c struct {
		body  string
		links []string
	}) bool {
		return strings.HasPrefix(c.body, "שלום")
	})
	got := eval[dir](ada, fmt.Sprintf(`(() => {
		const bodies = $$('#messages li.message .body');
		const he = bodies[%d], en = bodies[0];
		const rectOf = (el, s) => { const node = [...el.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).find(n => n.data.includes(s)); const r = document.createRange(); const i = node.data.indexOf(s); r.setStart(node, i); r.setEnd(node, i + s.length); return r.getBoundingClientRect(); };
		return {hebrew: getComputedStyle(he).direction, english: getComputedStyle(en).direction, time_x: rectOf(he, '10:00.').left, word_x: rectOf(he, 'שלום').left};
	})()`, hebrew))
	if got.Hebrew != "rtl" || got.English != "ltr" || got.TimeX >= got.WordX {
		t.Errorf("directions: %+v, want the Hebrew body rtl with 10:00. left of שלום, the English one ltr", got)
	}

	// A name written right to left: the header's title runs right to left.
	dan := register(t, s, "dan")
	if status, raw := dan.do("PATCH", "/api/v1/me", map[string]string{"display_name": "דן כהן"}); status != 200 {
		t.Fatalf("rename dan: %d %s", status, raw)
	}
	danConv, _ := dan.startConversation(adaAPI)
	dan.send(danConv, "שלום עדה", "")
	ada.openConnected(fmt.Sprintf("/c/%d", danConv))
	ada.waitFor("Dan's conversation", `text('#conversation-title') === 'דן כהן' && $$('#messages li.message').length === 1`, `text('#conversation-title')`)
	if d := eval[string](ada, `getComputedStyle($('#conversation-title')).direction + ' ' + getComputedStyle($('#messages li.message .body')).direction`); d != "rtl rtl" {
		t.Errorf("the title and the body of a Hebrew conversation run %q, want rtl rtl", d)
	}
}
