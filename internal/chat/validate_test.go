package chat

import (
	"strings"
	"testing"
	"unicode"
)

func TestNormalizeUsername(t *testing.T) {
	for in, want := range map[string]string{
		"alice": "alice", "Alice": "alice", " bob.b-ob_1 ": "bob.b-ob_1", "abc": "abc",
		strings.Repeat("a", 32): strings.Repeat("a", 32),
	} {
		if got, err := NormalizeUsername(in); got != want || err != nil {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ab", strings.Repeat("a", 33), "al ice", "alice!", "ålice", "al\x00ice", "<script>", "\u212Aate"} {
		if _, err := NormalizeUsername(in); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeUsername(%q) = %v; want invalid", in, err)
		}
	}
}

func TestNormalizeDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"Zoë Q": "Zoë Q", "  Bob  ": "Bob", "李雷": "李雷", strings.Repeat("é", 64): strings.Repeat("é", 64),
		"e\u0301":                                "e\u0301",                                // a combining mark on its letter
		"Ada \u2764\ufe0f":                       "Ada \u2764\ufe0f",                       // an emoji's variation selector
		"\u0903":                                 "\u0903",                                 // a spacing mark draws on its own
		"Dev \U0001F469\u200d\U0001F4BB":         "Dev \U0001F469\u200d\U0001F4BB",         // woman technologist: a ZWJ sequence
		"\U0001F3F3\ufe0f\u200d\U0001F308 Pride": "\U0001F3F3\ufe0f\u200d\U0001F308 Pride", // rainbow flag, a selector before the joiner
		"\U0001F468\U0001F3FD\u200d\U0001F469\u200d\U0001F467": "\U0001F468\U0001F3FD\u200d\U0001F469\u200d\U0001F467", // skin tone, two joiners
	} {
		if got, err := NormalizeDisplayName(in); got != want || err != nil {
			t.Errorf("NormalizeDisplayName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "   ", strings.Repeat("é", 65), "a\u202eb", "a\u200bb", "a\u2066b", "tab\there", "new\nline", "\xff", "\u3164", "\u2800\u2800", "a\u2028b", "\u115F\u1160",
		"\u034f", "\u0301", "\u20dd", "\u17b4", "\ufe0f", "Bob\u2800", "Bob\u034f", "\U000E0041", "\ufff9",
		"a\u200db", "\u200d\U0001F4BB", "\U0001F469\u200d", "\U0001F469\u200d\u200d\U0001F4BB", "Ad\u200da \U0001F469", // joiners outside emoji sequences
		"\u0600\u0661", "\u0601"} { // format characters that stay visible, but have no place in a name
		if _, err := NormalizeDisplayName(in); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeDisplayName(%q) = %v; want invalid", in, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, ok := range []string{"12345678", strings.Repeat("p", 128), strings.Repeat("密", 128)} {
		if err := ValidatePassword(ok); err != nil {
			t.Errorf("ValidatePassword(%d chars) = %v", len([]rune(ok)), err)
		}
	}
	for _, bad := range []string{"", "1234567", strings.Repeat("p", 129), strings.Repeat("密", 129), "12345678\xff"} {
		if err := ValidatePassword(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ValidatePassword(%q) = %v; want invalid", bad, err)
		}
	}
}

func TestNormalizeBody(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                      "hello",
		"  <b>hi</b> & bye \n":       "<b>hi</b> & bye",
		"line1\r\nline2\n\tindented": "line1\nline2\n\tindented",
		strings.Repeat("💬", MaxBody): strings.Repeat("💬", MaxBody),
	} {
		if got, err := NormalizeBody(in); got != want || err != nil {
			t.Errorf("NormalizeBody(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// Invisible characters among visible ones are kept as typed.
	for _, in := range []string{
		"\U0001F469\u200d\U0001F4BB",          // woman technologist: an emoji ZWJ sequence
		"\u200fمرحبا\u200f",                   // right-to-left marks around Arabic
		"\u202eabc\u202c",                     // a bidi override with text inside
		"soft\u00adhyphen", "zero\u200bwidth", // format characters inside words
		"\u200bx", "x\ufeff", "\u2800x", "\u3164x", // one visible character is enough
		"e\u0301", "\u0903", "\u0600", "\u2764\ufe0f", "x\u00a0y",
	} {
		if got, err := NormalizeBody(in); got != in || err != nil {
			t.Errorf("NormalizeBody(%q) = %q, %v; want it unchanged", in, got, err)
		}
	}
	for _, in := range []string{
		"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2800", "\u3164", "\uffa0",
		"\u115f", "\u1160", "\u200e", "\u200f", "\u202e", "\u2066", "\u061c", "\u180e", "\u034f",
		"\u0301", "\u20dd", "\u0301\u0308\u0327", // lone marks, Mn and Me
		"\ufe0f", "\U000E0100", "\U000E0041", "\U000E0001", "\u17b4", "\u2065", "\ufff0",
		"\U0001D159", "\U0001D173", "\U0001BCA0", "\ufff9", "\U00013430",
		"\u00a0", "\u3000", "\u2002\u2003", "\u2028", "\u2029", "\u205f", // spaces
		"\u200b\u200b\u200b", " \u200b \n\u2060\t", "\u2800\n\u2800", "\u200d\u0301", "\u3164\u0301",
	} {
		if got, err := NormalizeBody(in); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeBody(%q) = %q, %v; want invalid: it renders as nothing", in, got, err)
		}
	}
	for _, in := range []string{"", " \n\t ", strings.Repeat("a", MaxBody+1), strings.Repeat("💬", MaxBody+1), "bell\a", "nul\x00", "cr\ronly", "esc\x1b[31m", "\xff\xfe"} {
		if _, err := NormalizeBody(in); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeBody(%q) = %v; want invalid", in, err)
		}
	}
}

func TestConversationCursorRoundTrip(t *testing.T) {
	c := ConversationCursor{ActivityAt: Now(), ID: 42}
	got, err := ParseConversationCursor(c.String())
	if err != nil || !got.ActivityAt.Equal(c.ActivityAt) || got.ID != c.ID {
		t.Errorf("round trip of %v gave %v, %v", c, got, err)
	}
	for _, bad := range []string{"x", "1.", ".1", "1.0", "1.-5", "a.b"} {
		if _, err := ParseConversationCursor(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseConversationCursor(%q) = %v; want invalid", bad, err)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Error("nil error has a code")
	}
	e := Errorf(ECONFLICT, "taken")
	if ErrorCode(e) != ECONFLICT || ErrorMessage(e) != "taken" {
		t.Errorf("domain error: %q %q", ErrorCode(e), ErrorMessage(e))
	}
	other := strings.NewReader("").UnreadByte() // an error that is not ours
	if ErrorCode(other) != EINTERNAL || ErrorMessage(other) != "internal error" {
		t.Errorf("foreign error leaks: %q %q", ErrorCode(other), ErrorMessage(other))
	}
}

// DefaultIgnorableRanges is Default_Ignorable_Code_Point as listed in
// Unicode 15.0's DerivedCoreProperties.txt, written out by hand: the
// reference defaultIgnorable, which derives it from other properties, is
// checked against, and the fuzz targets' model of what renders.
var DefaultIgnorableRanges = [][2]rune{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160},
	{0x17B4, 0x17B5}, {0x180B, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E},
	{0x2060, 0x206F}, {0x3164, 0x3164}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
	{0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
	{0xE0000, 0xE0FFF},
}

func TestDefaultIgnorable(t *testing.T) {
	want := func(r rune) bool {
		for _, rg := range DefaultIgnorableRanges {
			if rg[0] <= r && r <= rg[1] {
				return true
			}
		}
		return false
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got := defaultIgnorable(r); got != want(r) {
			t.Errorf("defaultIgnorable(%U) = %t, want %t", r, got, want(r))
		}
	}
}

func TestBlank(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, " ": true, "\u200b": true, "\u034f": true, "\u0301": true, "\u2800": true, "\u3164": true,
		"\u202e": true, "\u200e\u200f": true, "\U0001F469\u200d": false, "a": false, "\u200ba": false,
		"\u0600": false, "\u0903": false, "\ue000": false, "\U0010FFFD": false, "\u0378": false,
	} {
		if got := blank(s); got != want {
			t.Errorf("blank(%q) = %t, want %t", s, got, want)
		}
	}
}
