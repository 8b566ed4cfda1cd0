package web

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat/searchtext"
)

// marked writes parts with the marked runs in [brackets], for comparing.
func marked(parts []markPart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Mark {
			b.WriteString("[" + p.Text + "]")
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// TestHighlight: the words a query finds are marked whole, as written,
// whatever case folding, accents and compatibility forms did to them.
func TestHighlight(t *testing.T) {
	for _, tc := range []struct{ q, body, want string }{
		{"deplo", "The deployment is done", "The [deployment] is done"},
		{"cafe", "Who takes the Café order? CAFÉ!", "Who takes the [Café] order? [CAFÉ]!"},
		{"CAFÉ", "cafe\u0301 or cafe", "[cafe\u0301] or [cafe]"},
		{"strasse", "Die Straße, die STRASSE", "Die [Straße], die [STRASSE]"},
		{"fine", "ﬁne and Ｆｉｎｅ", "[ﬁne] and [Ｆｉｎｅ]"},
		{`"deploy now"`, "we deploy now, not now deploy nor deploy it now", "we [deploy now], not now deploy nor deploy it now"},
		{`"deploy now"`, "deploy   now", "[deploy   now]"},
		{`"cat"`, "cat category Cat", "[cat] category [Cat]"},
		{"foo baz", "foo-bar.baz", "[foo]-bar.[baz]"},
		{"don", "don't", "[don]'t"},
		{"img onerror", `<img src=x onerror=alert(1)>`, `<[img] src=x [onerror]=alert(1)>`},
		{"1", "½ cup", "[½] cup"},
		{"2", "½ cup", "[½] cup"},
		{"a b", "a b", "[a] [b]"},
		{`"a b" a`, "a b c", "[a b] c"},
		{"east", "東京タワー", "東京タワー"},
		{"東京", "東京タワー in 東京", "[東京タワー] in [東京]"},
		{"zzz", "nothing here", "nothing here"},
		{"x", "", ""},
		{"σοφοσ", "ΣΟΦΟΣ σοφος", "[ΣΟΦΟΣ] [σοφος]"},
		{strings.Repeat("a", 100), strings.Repeat("a", 150) + " b", "[" + strings.Repeat("a", 150) + "] b"},
	} {
		terms, err := searchtext.Parse(tc.q)
		if err != nil {
			t.Fatalf("searchtext.Parse(%q): %v", tc.q, err)
		}
		if got := marked(highlight(tc.body, terms)); got != tc.want {
			t.Errorf("highlight(%q, %q) = %q, want %q", tc.body, tc.q, got, tc.want)
		}
	}
}

// FuzzSearchHighlight holds the page's cutting of a body into words to
// searchtext.Words (the words the index keeps, in order), and its marks to
// the text: the runs put together are the body, marks fall between
// characters, and every word a word term begins is inside a mark.
func FuzzSearchHighlight(f *testing.F) {
	for _, s := range [][2]string{
		{"Café CAFE cafe\u0301", "cafe"},
		{"Straße ﬁne Ｆｉｎｅ ½ ǅ İstanbul ΣΟΦΟΣ", `"strasse fine" 1`},
		{"<img src=x onerror=alert(1)>", "img onerror"},
		{"a\u0300\u0316b x\u0f73y \u0344z", "a b"},
		{"東京タワー ﾀﾜｰ ｶﾞ", "東京 タワ"},
		{"don't foo-bar.baz", `"bar baz`},
		{"\u1100\u1161\u11a8 각", "각"},
		{strings.Repeat("é", 120) + " x", strings.Repeat("e", 100)},
		{"e\u0301\u0301\u0301", "e"},
		{"\u0301abc", "abc"},
		{"ǈ ǉ Ǉ", "lj"},
		{"\U0001d165\U0001d16d\U0001d166", "a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, body, q string) {
		if !utf8.ValidString(body) {
			return // a message body is valid UTF-8 (the service checks it)
		}
		words := searchableWords(body)
		got := make([]string, len(words))
		for i, w := range words {
			got[i] = w.word
			if w.start < 0 || w.end > len(body) || w.start >= w.end || !utf8.RuneStart(body[w.start]) || (w.end < len(body) && !utf8.RuneStart(body[w.end])) {
				t.Fatalf("searchableWords(%q): word %q at [%d:%d]", body, w.word, w.start, w.end)
			}
			if i > 0 && w.start < words[i-1].start {
				t.Fatalf("searchableWords(%q): words out of order: %+v", body, words)
			}
		}
		if want := searchtext.Words(body); !slices.Equal(got, want) {
			t.Fatalf("searchableWords(%q) = %q, searchtext.Words = %q", body, got, want)
		}
		terms, err := searchtext.Parse(q)
		if err != nil {
			return
		}
		parts := highlight(body, terms)
		var whole strings.Builder
		var spans [][2]int
		for i, p := range parts {
			if p.Text == "" || (i > 0 && p.Mark == parts[i-1].Mark) {
				t.Fatalf("highlight(%q, %q): runs %+v", body, q, parts)
			}
			if p.Mark {
				spans = append(spans, [2]int{whole.Len(), whole.Len() + len(p.Text)})
			}
			whole.WriteString(p.Text)
		}
		if whole.String() != body {
			t.Fatalf("highlight(%q, %q) loses text: %+v", body, q, parts)
		}
		for _, term := range terms {
			if term.Phrase {
				continue
			}
			for _, w := range words {
				if !strings.HasPrefix(w.word, term.Words[0]) {
					continue
				}
				if !slices.ContainsFunc(spans, func(s [2]int) bool { return s[0] <= w.start && w.end <= s[1] }) {
					t.Fatalf("highlight(%q, %q): %q at [%d:%d] is not marked: %+v", body, q, w.word, w.start, w.end, parts)
				}
			}
		}
	})
}
