package web

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// textPart is a run of a message's text: a link when Href is set, plain
// text otherwise. The parts of a text, joined, are the text.
type textPart struct {
	Text string
	Href string
}

// linkify splits a message body into plain text and http(s) links. Nothing
// else becomes a link: no other scheme, no markup. splitLinks in text.js
// applies the same rules, so that the server's rows and the script's are
// the same (TestBrowserMarkupOnce compares them):
//
//   - a link starts with http:// or https:// (any letter case) that does
//     not follow a letter or a digit, and a letter, a digit or "[" follows
//     the "//";
//   - it runs until a space, a control or format character (bidi controls
//     among them), or one of < > " `;
//   - punctuation at its end is left out (. , : ; ! ? ' * _ ~), and so is a
//     closing ) ] } without its opening one in the link: "(see
//     https://example.com/a)." links https://example.com/a.
func linkify(s string) []textPart {
	var parts []textPart
	plain := 0 // where the current run of plain text began
	for i := 0; i < len(s); {
		end, ok := linkAt(s, i)
		if !ok {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
			continue
		}
		if plain < i {
			parts = append(parts, textPart{Text: s[plain:i]})
		}
		parts = append(parts, textPart{Text: s[i:end], Href: linkHref(s[i:end])})
		i, plain = end, end
	}
	if plain < len(s) {
		parts = append(parts, textPart{Text: s[plain:]})
	}
	return parts
}

// linkAt reports whether a link starts at byte i of s, and where it ends.
func linkAt(s string, i int) (int, bool) {
	rest := s[i:]
	var host int
	switch {
	case hasPrefixFold(rest, "https://"):
		host = i + len("https://")
	case hasPrefixFold(rest, "http://"):
		host = i + len("http://")
	default:
		return 0, false
	}
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); isLetterOrDigit(r) {
			return 0, false
		}
	}
	if r, _ := utf8.DecodeRuneInString(s[host:]); !isLetterOrDigit(r) && r != '[' {
		return 0, false
	}
	end := host
	for end < len(s) {
		r, n := utf8.DecodeRuneInString(s[end:])
		if !inLink(r) {
			break
		}
		end += n
	}
	// Trailing punctuation belongs to the sentence, not the link.
	for end > host {
		r, n := utf8.DecodeLastRuneInString(s[:end])
		if strings.ContainsRune(".,:;!?'*_~", r) || unbalanced(s[i:end], r) {
			end -= n
			continue
		}
		break
	}
	return end, true
}

// unbalanced reports whether r closes a bracket that link opens fewer
// times than it closes.
func unbalanced(link string, r rune) bool {
	var open rune
	switch r {
	case ')':
		open = '('
	case ']':
		open = '['
	case '}':
		open = '{'
	default:
		return false
	}
	return strings.Count(link, string(r)) > strings.Count(link, string(open))
}

// inLink reports whether r can be part of a link.
func inLink(r rune) bool {
	switch {
	case r == utf8.RuneError, r == '<', r == '>', r == '"', r == '`':
		return false
	case unicode.In(r, unicode.Z, unicode.Cc, unicode.Cf):
		return false
	}
	return true
}

func isLetterOrDigit(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII letter case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// linkHref is a link's href: its text with every byte outside the URL
// characters html/template leaves alone percent-encoded (a "%" too, unless
// two hex digits follow it), which is how html/template writes a URL into
// an href. hrefOf in text.js does the same, so both sides write the same
// attribute.
func linkHref(link string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(link); i++ {
		c := link[i]
		escape := c == '%' && (i+2 >= len(link) || !isHex(link[i+1]) || !isHex(link[i+2]))
		if !escape && (isHex(c) || 'g' <= c && c <= 'z' || 'G' <= c && c <= 'Z' || strings.IndexByte("-._~!#$&*+,/:;=?@[]%", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
