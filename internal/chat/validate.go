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
// of valid UTF-8 with no control or invisible characters (which could
// disguise one person as another, or hide a name altogether), showing at
// least one visible character (see blank). Errors are EINVALID.
func NormalizeDisplayName(s string) (string, error) {
	return normalizeName(s, "display name", MaxDisplayName)
}

// normalizeName trims a name (what says which, for the errors) and checks
// it: 1–max characters of valid UTF-8, no control or invisible characters,
// at least one visible character. Errors are EINVALID.
func normalizeName(s, what string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s must be valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > max {
		return "", Errorf(EINVALID, "%s must be 1 to %d characters", what, max)
	}
	for i, r := range s {
		// Every format character (Cf) is refused, even those that stay
		// visible: none belongs in a name. Variation selectors are
		// default-ignorable too, but they only pick a glyph's style (an
		// emoji's colour form): they cannot hide or reorder anything, and
		// names with emoji need them. So does U+200D ZERO WIDTH JOINER
		// inside an emoji ZWJ sequence (UTS #51 §2.3: 👩‍💻, 🏳️‍🌈), where it
		// joins two pictographs and nothing else.
		if r == zwj && emojiJoin(s[:i], s[i+len(string(zwj)):]) {
			continue
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || blankGlyph(r) ||
			invisible(r) && !unicode.Is(unicode.Variation_Selector, r) {
			return "", Errorf(EINVALID, "%s may not contain control or invisible characters", what)
		}
	}
	if blank(s) {
		return "", Errorf(EINVALID, "%s must show something", what)
	}
	return s, nil
}

// blank reports whether s would render as nothing: it holds no character
// that draws on its own. White space (Unicode's White_Space property),
// invisible characters (see invisible), blank glyphs (U+2800 BRAILLE
// PATTERN BLANK) and combining marks (Mn, Me: with nothing visible to sit on
// they draw nothing, or only a placeholder circle) do not count. Text that
// has a visible character is not blank, whatever invisible characters it
// also holds: an emoji ZWJ sequence or a right-to-left mark in Arabic text
// is what its writer meant.
func blank(s string) bool {
	for _, r := range s {
		if !unicode.Is(unicode.White_Space, r) && !invisible(r) && !blankGlyph(r) && !unicode.In(r, unicode.Mn, unicode.Me) && !unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// invisible reports whether r never draws anything by itself: it is a
// default-ignorable code point (see defaultIgnorable), or a format character
// (Cf) other than those Unicode says stay visible (its
// Prepended_Concatenation_Mark property: U+0600 ARABIC NUMBER SIGN and the
// like). The second part adds what DerivedCoreProperties.txt leaves out of
// Default_Ignorable_Code_Point only because a renderer that does not support
// them should show them: the interlinear annotation characters U+FFF9–U+FFFB
// and the Egyptian hieroglyph format controls, which on their own lay out
// nothing.
func invisible(r rune) bool {
	return defaultIgnorable(r) || unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Prepended_Concatenation_Mark, r)
}

// defaultIgnorable reports whether r has Unicode's Default_Ignorable_Code_Point
// property: what a renderer shows as nothing when it does not support it
// (zero-width and joiner characters, bidi controls, the byte order mark, soft
// hyphen, variation selectors, tag characters, the Hangul fillers U+115F,
// U+1160, U+3164 and U+FFA0, U+034F COMBINING GRAPHEME JOINER, …). The
// package unicode has no table of that derived property (nor has
// golang.org/x/text outside its generators), so it is derived here from the
// properties unicode does have, by the rule written at the head of the
// property in DerivedCoreProperties.txt (Unicode 15):
//
//	Other_Default_Ignorable_Code_Point + Cf + Variation_Selector
//	- White_Space - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark
//
// validate_test.go checks it against the property's list of ranges.
func defaultIgnorable(r rune) bool {
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
		!(0xFFF9 <= r && r <= 0xFFFB) && !(0x13430 <= r && r <= 0x1343F)
}

// blankGlyph reports whether r is a graphic character that no font draws:
// it is neither a space nor default-ignorable, so no Unicode property names
// it, yet it shows as an empty cell, and is the usual way to post a message
// or take a name that looks empty.
func blankGlyph(r rune) bool {
	switch r {
	case '\u2800', // BRAILLE PATTERN BLANK
		'\U0001D159': // MUSICAL SYMBOL NULL NOTEHEAD
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
// valid UTF-8, line endings as "\n", trimmed, 1–4,000 characters, no
// control characters but newline and tab, and something that renders (a
// body that is blank, only invisible characters, is empty). Invisible
// characters among visible ones are kept as typed. It is never
// HTML-escaped: output escapes. Errors are EINVALID.
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
	if blank(s) {
		return "", Errorf(EINVALID, "message is empty: it has only invisible characters")
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

// trimPage cuts rows, read as limit+1 to learn whether more follow, to a
// page of limit, and returns the following page's cursor, next(the page's
// last row), or "" on the last page.
func trimPage[T any](rows []T, limit int, next func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, next(rows[limit-1])
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

// Limits of groups.
const (
	// MaxGroupTitle is the longest group title, in characters.
	MaxGroupTitle = 100
	// DefaultMaxGroupMembers is the default cap on a group's members,
	// its creator included (-max-group-members).
	DefaultMaxGroupMembers = 1000
	// DefaultMemberPage is the default size of a page of members.
	DefaultMemberPage = 50
)

// zwj is U+200D ZERO WIDTH JOINER.
const zwj = '\u200d'

// emojiJoin reports whether a ZWJ between before and after joins two
// emoji: the character before it (past any variation selector or skin-tone
// modifier, which belong to that emoji) and the one after it are both
// symbols (So, as pictographs are). A joiner between letters, or at either
// end, is not part of an emoji sequence.
func emojiJoin(before, after string) bool {
	for before != "" {
		r, n := utf8.DecodeLastRuneInString(before)
		if !unicode.Is(unicode.Variation_Selector, r) && !(r >= 0x1F3FB && r <= 0x1F3FF) {
			break
		}
		before = before[:len(before)-n]
	}
	if before == "" || after == "" {
		return false // DecodeRune's RuneError for nothing is a symbol too
	}
	prev, _ := utf8.DecodeLastRuneInString(before)
	next, _ := utf8.DecodeRuneInString(after)
	return unicode.Is(unicode.So, prev) && unicode.Is(unicode.So, next)
}

// NormalizeGroupTitle trims a group title and checks it by the rules of
// display names: 1–100 characters of valid UTF-8, no control or invisible
// characters (variation selectors aside), showing at least one visible
// character. Errors are EINVALID.
func NormalizeGroupTitle(s string) (string, error) {
	return normalizeName(s, "title", MaxGroupTitle)
}
