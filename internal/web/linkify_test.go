package web

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"unicode/utf8"
)

// linkifyCases are texts and the links found in them. The browser test
// TestBrowserMarkupOnce sends the same kind of texts through text.js.
var linkifyCases = []struct {
	text  string
	links []string
}{
	{"no link here", nil},
	{"https://example.com", []string{"https://example.com"}},
	{"see http://example.com/a?b=c&d=e#f now", []string{"http://example.com/a?b=c&d=e#f"}},
	{"HTTPS://EXAMPLE.COM/X", []string{"HTTPS://EXAMPLE.COM/X"}},
	{"end of sentence https://example.com.", []string{"https://example.com"}},
	{"list https://a.example, https://b.example; done", []string{"https://a.example", "https://b.example"}},
	{"(see https://example.com/a)", []string{"https://example.com/a"}},
	{"(see https://example.com/a).", []string{"https://example.com/a"}},
	{"https://en.wikipedia.org/wiki/Pole_(disambiguation)", []string{"https://en.wikipedia.org/wiki/Pole_(disambiguation)"}},
	{"[https://example.com/x]", []string{"https://example.com/x"}},
	{"really?! https://example.com/?!", []string{"https://example.com/"}},
	{`"https://example.com/q"`, []string{"https://example.com/q"}},
	{"<https://example.com/tag>", []string{"https://example.com/tag"}},
	{"`https://example.com/code`", []string{"https://example.com/code"}},
	{"javascript:alert(1)", nil},
	{"data:text/html,<script>alert(1)</script>", nil},
	{`<a href="javascript:alert(1)">https://example.com</a>`, []string{"https://example.com"}},
	{"ftp://example.com mailto:a@example.com", nil},
	{"xhttps://example.com", nil},
	{"https://", nil},
	{"https:// example.com", nil},
	{"https://-example", nil},
	{"http://[::1]:8080/x", []string{"http://[::1]:8080/x"}},
	{"שלום! https://example.com/שלום ב-10:00.", []string{"https://example.com/שלום"}},
	{"مرحبا https://مثال.إختبار/مسار؟", []string{"https://مثال.إختبار/مسار؟"}},
	{"https://example.com/\u202eevil", []string{"https://example.com/"}},
	{"https://a.example\nhttps://b.example", []string{"https://a.example", "https://b.example"}},
	{"https://a.example\u00a0b", []string{"https://a.example"}},
	{"2 links:https://a.example/https://b.example", []string{"https://a.example/https://b.example"}},
	{"https://example.com/'quoted'", []string{"https://example.com/'quoted"}},
	{"https://example.com/100%", []string{"https://example.com/100%"}},
}

func TestLinkify(t *testing.T) {
	for _, c := range linkifyCases {
		parts := linkify(c.text)
		var links []string
		var joined strings.Builder
		for _, p := range parts {
			joined.WriteString(p.Text)
			if p.Href != "" {
				links = append(links, p.Text)
			}
		}
		if joined.String() != c.text {
			t.Errorf("linkify(%q): parts join to %q", c.text, joined.String())
		}
		if strings.Join(links, "\n") != strings.Join(c.links, "\n") {
			t.Errorf("linkify(%q): links %q, want %q", c.text, links, c.links)
		}
	}
}

// TestLinkHrefAsTemplateWrites: html/template writes a link's href into the
// page as linkHref makes it, so the server's attribute is the one text.js
// sets.
func TestLinkHrefAsTemplateWrites(t *testing.T) {
	tmpl := template.Must(template.New("a").Parse(`<a href="{{.}}">`))
	for _, link := range []string{
		"https://example.com/a?b=c&d=e#f",
		"https://en.wikipedia.org/wiki/Pole_(disambiguation)",
		"https://example.com/שלום",
		"http://[::1]:8080/x",
		"https://example.com/'q'{x}|y\\z^w",
		"https://example.com/100%",
		"https://example.com/%E2%82%AC",
		"https://example.com/%zz%4",
	} {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, linkHref(link)); err != nil {
			t.Fatal(err)
		}
		want := `<a href="` + template.HTMLEscapeString(linkHref(link)) + `">`
		if buf.String() != want {
			t.Errorf("%q: the template writes %s, want %s", link, buf.String(), want)
		}
	}
}

func FuzzLinkify(f *testing.F) {
	for _, c := range linkifyCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // message bodies are valid UTF-8
		}
		var joined strings.Builder
		for i, p := range linkify(s) {
			joined.WriteString(p.Text)
			if p.Text == "" {
				t.Fatalf("linkify(%q): empty part %d", s, i)
			}
			if p.Href == "" {
				continue
			}
			lower := strings.ToLower(p.Text)
			if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
				t.Fatalf("linkify(%q): link %q is not http(s)", s, p.Text)
			}
			if strings.ContainsAny(p.Text, "<>\"` \n\t") {
				t.Fatalf("linkify(%q): link %q holds a character that ends links", s, p.Text)
			}
			if r, _ := utf8.DecodeLastRuneInString(p.Text); strings.ContainsRune(".,:;!?'*_~", r) {
				t.Fatalf("linkify(%q): link %q ends in punctuation", s, p.Text)
			}
			for j := 0; j < len(p.Href); j++ {
				if c := p.Href[j]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"'<>()`, c) >= 0 {
					t.Fatalf("linkify(%q): href %q holds byte %q", s, p.Href, c)
				}
			}
		}
		if joined.String() != s {
			t.Fatalf("linkify(%q): parts join to %q", s, joined.String())
		}
	})
}
