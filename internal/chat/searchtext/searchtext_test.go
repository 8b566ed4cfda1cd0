package searchtext_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
)

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,;!? ", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"Café CRÈME brûlée", []string{"cafe", "creme", "brulee"}},
		{"Cafe\u0301", []string{"cafe"}}, // a combining accent, decomposed already
		{"foo-bar.baz@example.com/x?y=1", []string{"foo", "bar", "baz", "example", "com", "x", "y", "1"}},
		{"v2.10 is out", []string{"v2", "10", "is", "out"}},
		{"ＡＢＣ ﬁne ²", []string{"abc", "fine", "2"}},
		{"ΕΛΛΆΔΑ Привет", []string{"ελλαδα", "привет"}},
		{"東京 タワー", []string{"東京", "タワー"}},
		{"line\nbreak\ttab", []string{"line", "break", "tab"}},
		{"👩‍💻 emoji 🎉 only", []string{"emoji", "only"}},
		{"don't", []string{"don", "t"}},
		{"Straße ΟΔΟΣ οδός", []string{"strasse", "οδοσ", "οδοσ"}},
		{"ϲυν ϹΥΝ συν", []string{"συν", "συν", "συν"}}, // lunate sigma: a compatibility form of a cased letter
		{strings.Repeat("x", chat.MaxSearchWord+50) + " y", []string{strings.Repeat("x", chat.MaxSearchWord), "y"}},
	} {
		if got := searchtext.Words(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	word := func(w string) chat.SearchTerm { return chat.SearchTerm{Words: []string{w}} }
	phrase := func(w ...string) chat.SearchTerm { return chat.SearchTerm{Words: w, Phrase: true} }
	for _, tc := range []struct {
		in   string
		want []chat.SearchTerm
	}{
		{"deploy", []chat.SearchTerm{word("deploy")}},
		{"  Deploy   NOW ", []chat.SearchTerm{word("deploy"), word("now")}},
		{`"deploy now" later`, []chat.SearchTerm{phrase("deploy", "now"), word("later")}},
		{`before "in the middle" after`, []chat.SearchTerm{word("before"), phrase("in", "the", "middle"), word("after")}},
		{`"cat"`, []chat.SearchTerm{phrase("cat")}},
		{`"unclosed phrase`, []chat.SearchTerm{phrase("unclosed", "phrase")}},
		{`"" empty quotes`, []chat.SearchTerm{word("empty"), word("quotes")}},
		{`"!!" word`, []chat.SearchTerm{word("word")}},
		{`a"b"c`, []chat.SearchTerm{word("a"), phrase("b"), word("c")}},
		{"foo-bar", []chat.SearchTerm{word("foo"), word("bar")}},
		{strings.Repeat("a", chat.MaxSearchQuery), []chat.SearchTerm{word(strings.Repeat("a", chat.MaxSearchWord))}},
		{strings.TrimSpace(strings.Repeat("t ", chat.MaxSearchTerms)), func() []chat.SearchTerm {
			var ts []chat.SearchTerm
			for range chat.MaxSearchTerms {
				ts = append(ts, word("t"))
			}
			return ts
		}()},
		// A phrase is one term however many words it has.
		{`"` + strings.Repeat("p ", 40) + `" x`, []chat.SearchTerm{phrase(strings.Fields(strings.Repeat("p ", 40))...), word("x")}},
	} {
		got, err := searchtext.Parse(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"",
		"   ",
		`""`,
		"!?., …",
		"🎉",
		strings.Repeat("a", chat.MaxSearchQuery+1),
		strings.Repeat("é", chat.MaxSearchQuery+1),
		strings.TrimSpace(strings.Repeat("t ", chat.MaxSearchTerms+1)),
		strings.Repeat(`"p" `, chat.MaxSearchTerms+1),
		"bad \xff utf-8",
	} {
		terms, err := searchtext.Parse(in)
		if e, ok := errors.AsType[*chat.Error](err); !ok || e.Code != chat.EINVALID || e.Message == "" || terms != nil {
			t.Errorf("Parse(%q) = %+v, %v; want an EINVALID error", in, terms, err)
		}
	}
}

// FuzzParse holds every query to the grammar's promises: refused
// with EINVALID, or 1 to MaxSearchTerms terms of words that are lower-case
// runs of letters, digits and spacing marks, at most MaxSearchWord
// characters, and parsing a query rebuilt from the terms gives them back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"deploy", `"deploy now" later`, `"unclosed`, "Café ΕΛΛΆΔΑ", "東京 タワー", `a"b"c`, "", `""`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := searchtext.Parse(q)
		if err != nil {
			if e, ok := errors.AsType[*chat.Error](err); !ok || e.Code != chat.EINVALID || e.Message == "" || terms != nil {
				t.Fatalf("Parse(%q): %+v, %v", q, terms, err)
			}
			return
		}
		if len(terms) == 0 || len(terms) > chat.MaxSearchTerms || utf8.RuneCountInString(q) > chat.MaxSearchQuery {
			t.Fatalf("Parse(%q) accepted %d terms", q, len(terms))
		}
		var rebuilt []string
		for _, term := range terms {
			if len(term.Words) == 0 || (!term.Phrase && len(term.Words) != 1) {
				t.Fatalf("Parse(%q): term %+v", q, term)
			}
			for _, w := range term.Words {
				if w == "" || utf8.RuneCountInString(w) > chat.MaxSearchWord {
					t.Fatalf("Parse(%q): word %q", q, w)
				}
				for _, r := range w {
					if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r)) || unicode.ToLower(r) != r {
						t.Fatalf("Parse(%q): word %q holds %q", q, w, r)
					}
				}
			}
			s := strings.Join(term.Words, " ")
			if term.Phrase {
				s = `"` + s + `"`
			}
			rebuilt = append(rebuilt, s)
		}
		again, err := searchtext.Parse(strings.Join(rebuilt, " "))
		if err != nil && utf8.RuneCountInString(strings.Join(rebuilt, " ")) <= chat.MaxSearchQuery {
			t.Fatalf("Parse(%q) = %+v, but its rebuilt form is refused: %v", q, terms, err)
		}
		if err == nil && !reflect.DeepEqual(again, terms) {
			t.Fatalf("Parse(%q) = %+v, rebuilt %+v", q, terms, again)
		}
	})
}
