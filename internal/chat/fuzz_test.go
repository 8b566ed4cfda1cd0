package chat_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
)

// The fuzz targets below hold the normalizers of what people type to the
// rules of docs/api.md ("Rules for what people type"). Run one with
//
//	go test -run '^$' -fuzz '^FuzzNormalizeBody$' -fuzztime 5m -parallel 1 ./internal/chat/
//
// Seed inputs live in testdata/fuzz/<FuzzName>/ as well as in f.Add calls;
// any crasher the fuzzer writes there stays as a regression test.

// wantInvalid fails unless err is a *chat.Error with code EINVALID and the
// normalized result is empty.
func wantInvalid(t *testing.T, fn, in, got string, err error) {
	t.Helper()
	e, ok := errors.AsType[*chat.Error](err)
	if !ok {
		t.Fatalf("%s(%q): error %v (%T) is not a *chat.Error", fn, in, err, err)
	}
	if e.Code != chat.EINVALID {
		t.Fatalf("%s(%q): error code %q, want %q", fn, in, e.Code, chat.EINVALID)
	}
	if e.Message == "" {
		t.Fatalf("%s(%q): error without a message", fn, in)
	}
	if got != "" {
		t.Fatalf("%s(%q): returned %q along with error %v", fn, in, got, err)
	}
}

// checkText holds a normalized result to the rules every field shares:
// valid UTF-8, trimmed, between min and max runes, and no control character
// except those in allowed.
func checkText(t *testing.T, fn, in, got string, min, max int, allowed string) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Fatalf("%s(%q) = %q: not valid UTF-8", fn, in, got)
	}
	if n := utf8.RuneCountInString(got); n < min || n > max {
		t.Fatalf("%s(%q) = %q: %d characters, want %d to %d", fn, in, got, n, min, max)
	}
	if strings.TrimSpace(got) != got {
		t.Fatalf("%s(%q) = %q: not trimmed", fn, in, got)
	}
	for i, r := range got {
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			t.Fatalf("%s(%q) = %q: control character %U at byte %d", fn, in, got, r, i)
		}
	}
}

func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{
		"alice", "Alice", " bob.b-ob_1 ", "abc", "ab", "", "   ",
		strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("A", 32) + " ",
		"al ice", "alice!", "ålice", "al\x00ice", "<script>", "\xff\xfe", "ALICE\t\n",
		"\u212Aate",       // KELVIN SIGN lower-cases to ASCII 'k'
		"\u0130stanbul",   // dotted capital I lower-cases to "i̇"
		"a\u200bb",        // zero-width space
		"\u00a0abc\u3000", // non-ASCII spaces around
		"..-", "___", "0123456789",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := chat.NormalizeUsername(in)
		if err != nil {
			wantInvalid(t, "NormalizeUsername", in, got, err)
			// Whatever is a valid username once trimmed and lower-cased,
			// written in ASCII to begin with, must be accepted.
			if s := strings.TrimSpace(in); len(s) >= chat.MinUsername && len(s) <= chat.MaxUsername && asciiUsername(asciiLower(s)) {
				t.Fatalf("NormalizeUsername(%q) refused a valid username: %v", in, err)
			}
			return
		}
		checkText(t, "NormalizeUsername", in, got, chat.MinUsername, chat.MaxUsername, "")
		if len(got) < chat.MinUsername || len(got) > chat.MaxUsername {
			t.Fatalf("NormalizeUsername(%q) = %q: %d bytes", in, got, len(got))
		}
		if !asciiUsername(got) {
			t.Fatalf("NormalizeUsername(%q) = %q: characters outside [a-z0-9_.-]", in, got)
		}
		again, err := chat.NormalizeUsername(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeUsername is not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
		// Usernames differing only in letter case are one name.
		if upper, err := chat.NormalizeUsername(strings.ToUpper(got)); err != nil || upper != got {
			t.Fatalf("NormalizeUsername(%q) = %q, %v; want %q", strings.ToUpper(got), upper, err, got)
		}
	})
}

// asciiUsername reports whether s has only the characters a username may
// have: a-z, 0-9, '_', '.', '-'.
func asciiUsername(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func FuzzNormalizeDisplayName(f *testing.F) {
	for _, s := range []string{
		"Zoë Q", "  Bob  ", "李雷", "Alice <3", "", "   ", "x",
		strings.Repeat("é", 64), strings.Repeat("é", 65), " " + strings.Repeat("é", 64) + "\n",
		"a\u202eb",  // RIGHT-TO-LEFT OVERRIDE
		"a\u200bb",  // ZERO WIDTH SPACE
		"a\u2066b",  // LEFT-TO-RIGHT ISOLATE
		"\ufeffBob", // BYTE ORDER MARK
		"a\u00adb",  // SOFT HYPHEN
		"tab\there", "new\nline", "nul\x00", "del\x7f", "c1\u0085x", "\xff", "a\xc3",
		"\u2028Bob\u2029", "\u3000Bob\u3000", "\U0001F4AC chat", "e\u0301",
		"\u034f",                                                         // COMBINING GRAPHEME JOINER: default-ignorable, a mark
		"\u0301",                                                         // a lone combining mark
		"\u2800",                                                         // BRAILLE PATTERN BLANK
		"Ada \u2764\ufe0f",                                               // an emoji with its variation selector
		"Dev \U0001F469\u200d\U0001F4BB", "a\u200db", "\U0001F469\u200d", // joiners in and out of emoji sequences
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := chat.NormalizeDisplayName(in)
		if err != nil {
			wantInvalid(t, "NormalizeDisplayName", in, got, err)
			// Plain letters, digits and inner spaces of the right length
			// must be accepted.
			if s := strings.TrimSpace(in); s != "" && utf8.RuneCountInString(s) <= chat.MaxDisplayName && plainName(s) {
				t.Fatalf("NormalizeDisplayName(%q) refused a plain name: %v", in, err)
			}
			return
		}
		checkText(t, "NormalizeDisplayName", in, got, 1, chat.MaxDisplayName, "")
		for i, r := range got {
			if r == '\u200d' && emojiJoined(got, i) {
				continue // inside an emoji ZWJ sequence
			}
			if unicode.Is(unicode.Cf, r) {
				t.Fatalf("NormalizeDisplayName(%q) = %q: format character %U at byte %d", in, got, r, i)
			}
			if ignorable(r) && !unicode.Is(unicode.Variation_Selector, r) || blankGlyph(r) {
				t.Fatalf("NormalizeDisplayName(%q) = %q: invisible character %U at byte %d", in, got, r, i)
			}
		}
		if !strings.ContainsFunc(got, draws) {
			t.Fatalf("NormalizeDisplayName(%q) = %q: nothing in it renders", in, got)
		}
		if want := strings.TrimSpace(in); got != want {
			t.Fatalf("NormalizeDisplayName(%q) = %q: changed more than the surrounding space (want %q)", in, got, want)
		}
		again, err := chat.NormalizeDisplayName(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeDisplayName is not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

// plainName reports whether s holds only letters, digits and ASCII spaces.
func plainName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' {
			return false
		}
		switch r {
		case '\u115F', '\u1160', '\u3164', '\uFFA0': // Hangul fillers: letters that draw nothing
			return false
		}
	}
	return true
}

func FuzzNormalizeBody(f *testing.F) {
	for _, s := range []string{
		"hello", "  hello  ", "", " \n\t ", "line 1\r\nline 2", "a\rb", "a\r\r\nb", "\r\n\r\nx\r\n",
		"<script>alert(1)</script>\n\t& \"quoted\" 💬", "nul\x00", "esc\x1b[31m", "del\x7f", "c1\u0085x", "\u0085x\u0085",
		"\xff", "a\xc3", "bidi \u202e override", "zero\u200bwidth",
		strings.Repeat("a", 4000), strings.Repeat("a", 4001), strings.Repeat("é", 4000), strings.Repeat("é", 4001),
		" " + strings.Repeat("x", 4000) + " ", strings.Repeat("\r\n", 10) + "x",
		"\u200b", "\u2060", "\ufeff", "\u00ad", "\u2800", "\u3164", "\u115f", "\u200e\u200f", "\u202e",
		"\u0301", "\u034f", "\U000E0041", " \u200b\n\u2060 ", "\u2800\u2800\n\u2800",
		"\U0001F469\u200d\U0001F4BB", "\u200fمرحبا\u200f", "e\u0301", "\u0600",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := chat.NormalizeBody(in)
		if err != nil {
			wantInvalid(t, "NormalizeBody", in, got, err)
			// Printable ASCII that is not blank and fits must be accepted.
			if s := strings.TrimSpace(in); s != "" && len(s) <= chat.MaxBody && printableASCII(s) {
				t.Fatalf("NormalizeBody(%q) refused a plain message: %v", in, err)
			}
			// So must any valid body with something in it that renders.
			s := strings.TrimSpace(strings.ReplaceAll(in, "\r\n", "\n"))
			if utf8.ValidString(s) && utf8.RuneCountInString(s) <= chat.MaxBody && strings.ContainsFunc(s, draws) &&
				!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
				t.Fatalf("NormalizeBody(%q) refused a message with visible characters: %v", in, err)
			}
			return
		}
		checkText(t, "NormalizeBody", in, got, 1, chat.MaxBody, "\n\t")
		if !strings.ContainsFunc(got, draws) {
			t.Fatalf("NormalizeBody(%q) = %q: nothing in it renders", in, got)
		}
		if strings.Contains(got, "\r") {
			t.Fatalf("NormalizeBody(%q) = %q: carriage return kept", in, got)
		}
		if want := strings.TrimSpace(strings.ReplaceAll(in, "\r\n", "\n")); got != want {
			t.Fatalf("NormalizeBody(%q) = %q: not the text as typed (want %q)", in, got, want)
		}
		again, err := chat.NormalizeBody(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeBody is not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

// draws reports whether r renders as something on its own: not white
// space, not a control, not default-ignorable (by the hand-written table of
// Unicode's list, chat.DefaultIgnorableRanges), not any other format
// character but those Unicode marks as visible (Prepended_Concatenation_Mark),
// not a combining mark (Mn, Me) that would need a base, not a blank glyph.
func draws(r rune) bool {
	switch {
	case unicode.IsSpace(r), unicode.Is(unicode.White_Space, r), unicode.IsControl(r):
		return false
	case ignorable(r), blankGlyph(r), unicode.In(r, unicode.Mn, unicode.Me):
		return false
	case unicode.Is(unicode.Cf, r):
		return unicode.Is(unicode.Prepended_Concatenation_Mark, r)
	}
	return true
}

// ignorable reports whether r is in chat.DefaultIgnorableRanges.
func ignorable(r rune) bool {
	for _, rg := range chat.DefaultIgnorableRanges {
		if rg[0] <= r && r <= rg[1] {
			return true
		}
	}
	return false
}

// blankGlyph reports whether r is a graphic character that draws an empty
// cell.
func blankGlyph(r rune) bool { return r == '\u2800' || r == '\U0001D159' }

// printableASCII reports whether s holds only printable ASCII, newlines and
// tabs.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' || c > '~') && c != '\n' && c != '\t' {
			return false
		}
	}
	return true
}

// asciiLower lower-cases A-Z only: what a username may be typed as.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// emojiJoined reports whether the ZWJ at byte i of s sits between two
// symbols (So), variation selectors and skin-tone modifiers before it
// aside: the one place a name may hold one.
func emojiJoined(s string, i int) bool {
	before := []rune(s[:i])
	for len(before) > 0 {
		r := before[len(before)-1]
		if !unicode.Is(unicode.Variation_Selector, r) && (r < 0x1F3FB || r > 0x1F3FF) {
			break
		}
		before = before[:len(before)-1]
	}
	after := []rune(s[i+3:])
	return len(before) > 0 && len(after) > 0 && unicode.Is(unicode.So, before[len(before)-1]) && unicode.Is(unicode.So, after[0])
}
