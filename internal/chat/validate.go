package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of what people type.
const (
	MinUsername     = 3
	MaxUsername     = 32
	MaxDisplayName  = 64
	MinPassword     = 8
	MaxPassword     = 128
	MaxBody         = 4000
	MaxClientID     = 64
	DefaultUserPage = 20
	DefaultConvPage = 30
	DefaultMsgPage  = 50
	MaxPage         = 100
)

// NormalizeUsername returns the canonical (lower-case) form of a username,
// or EINVALID when it is not 3–32 characters of a-z, 0-9, '_', '.', '-'.
func NormalizeUsername(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) < MinUsername || len(s) > MaxUsername {
		return "", Errorf(EINVALID, "username must be %d to %d characters", MinUsername, MaxUsername)
	}
	// Checked byte by byte before lower-casing, so that no other script's
	// letter (the Kelvin sign K lower-cases to k) can spell an existing name.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "", Errorf(EINVALID, "username may contain only letters a-z, digits, '_', '.' and '-'")
		}
	}
	return strings.ToLower(s), nil
}

// NormalizeDisplayName trims a display name and checks it: 1–64 characters
// of valid UTF-8 with no control or invisible formatting characters (which
// could disguise one person as another).
func NormalizeDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "display name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > MaxDisplayName {
		return "", Errorf(EINVALID, "display name must be 1 to %d characters", MaxDisplayName)
	}
	visible := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || blank(r) {
			return "", Errorf(EINVALID, "display name may not contain control or invisible characters")
		}
		visible = visible || !unicode.IsSpace(r)
	}
	if !visible {
		return "", Errorf(EINVALID, "display name must show something")
	}
	return s, nil
}

// blank reports whether r is a letter or symbol that draws nothing: fillers
// that would let a name look empty or like another's.
func blank(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
		'\u2800', // braille pattern blank
		'\u180E': // Mongolian vowel separator
		return true
	}
	return false
}

// ValidatePassword checks a password's length: 8–128 characters. It runs
// before any hashing, so an overlong password costs nothing.
func ValidatePassword(s string) error {
	if len(s) > MaxPassword*utf8.UTFMax {
		return Errorf(EINVALID, "password must be %d to %d characters", MinPassword, MaxPassword)
	}
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "password must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < MinPassword || n > MaxPassword {
		return Errorf(EINVALID, "password must be %d to %d characters", MinPassword, MaxPassword)
	}
	return nil
}

// NormalizeBody checks a message body and returns it as it will be stored:
// valid UTF-8, line endings as "\n", trimmed, 1–4,000 characters, and no
// control characters but newline and tab. It is never HTML-escaped: output
// escapes.
func NormalizeBody(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "message must be valid UTF-8")
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		return "", Errorf(EINVALID, "message is empty")
	}
	if len(s) > MaxBody && utf8.RuneCountInString(s) > MaxBody {
		return "", Errorf(EINVALID, "message is longer than %d characters", MaxBody)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", Errorf(EINVALID, "message may not contain control characters")
		}
	}
	return s, nil
}

// ValidateClientID checks a client-chosen message ID: at most 64 printable
// characters (empty means the send is not idempotent).
func ValidateClientID(s string) error {
	if len(s) > MaxClientID || !utf8.ValidString(s) {
		return Errorf(EINVALID, "client_id must be at most %d characters", MaxClientID)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return Errorf(EINVALID, "client_id may contain only printable characters")
		}
	}
	return nil
}

// pageLimit applies a page size default and checks the range 1..MaxPage.
func pageLimit(limit, def int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 1 || limit > MaxPage {
		return 0, Errorf(EINVALID, "limit must be between 1 and %d", MaxPage)
	}
	return limit, nil
}
