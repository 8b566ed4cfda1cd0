package chat

import (
	"strings"
	"testing"
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
	for in, want := range map[string]string{"Zoë Q": "Zoë Q", "  Bob  ": "Bob", "李雷": "李雷", strings.Repeat("é", 64): strings.Repeat("é", 64)} {
		if got, err := NormalizeDisplayName(in); got != want || err != nil {
			t.Errorf("NormalizeDisplayName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "   ", strings.Repeat("é", 65), "a\u202eb", "a\u200bb", "a\u2066b", "tab\there", "new\nline", "\xff", "\u3164", "\u2800\u2800", "a\u2028b", "\u115F\u1160"} {
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
