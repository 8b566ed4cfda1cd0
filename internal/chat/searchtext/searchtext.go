// Package searchtext cuts text into the words message search indexes and
// queries into their terms: the one definition both stores and the web
// use, so that every store finds the same messages and the page marks the
// words that were found. It is part of the domain; it is apart from
// internal/chat because it needs Unicode tables (case folding, NFKD) the
// standard library does not have.
package searchtext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/parleychat/parley/internal/chat"
)

// Words returns the words of text as the search index keeps them,
// in order: text is decomposed (NFKD, so "ﬁ" is "fi" and a full-width
// "Ａ" is "a"), case-folded (Unicode full case folding, so "ß" is "ss" and
// a Greek final "ς" or lunate "ϲ" is "σ") and decomposed again, its nonspacing marks dropped (so "Café" is
// "cafe"), lower-cased, and cut into runs of letters, digits and spacing
// marks; each run is a word, cut to chat.MaxSearchWord characters. Both stores
// index these words, and queries are cut the same way, so case and accents
// are ignored alike everywhere.
//
// Changing what it returns for any text needs a migration that indexes
// every message again: the stores remove a message's old words by
// computing them anew (SQLite's contentless index must be told exactly
// the words it holds).
//
// A language written without spaces between words (Chinese, Japanese,
// Thai) gives one word per run of text between punctuation: such text is
// found by the beginning of a run only.
func Words(text string) []string {
	var (
		words []string
		word  strings.Builder
		n     int // characters in word
	)
	flush := func() {
		if word.Len() > 0 {
			words = append(words, word.String())
			word.Reset()
			n = 0
		}
	}
	for _, r := range Fold(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// An accent or other nonspacing mark: dropped, the word goes on.
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r):
			if n < chat.MaxSearchWord {
				word.WriteRune(unicode.ToLower(r))
				n++
			}
		default:
			flush()
		}
	}
	flush()
	return words
}

// Fold is text decomposed (NFKD), case-folded and decomposed again: what
// Words cuts into words before dropping nonspacing marks and lower-casing.
// Decomposing first, then folding, then decomposing again is what makes
// Words of a word give that word back: a compatibility form may decompose
// to a letter with a case ("ϲ" is "ς", which folds to "σ"), and a folded
// letter may decompose further ("ǰ" is "ǰ"). Code that must cut text as
// Words does (the search page marking the words found) folds with it.
func Fold(text string) string {
	return norm.NFKD.String(cases.Fold().String(norm.NFKD.String(text)))
}

// Parse turns a search query into its terms: words, and phrases
// between double quotes (an unclosed quote runs to the end of the query).
// Words and phrases are cut into words by Words; a phrase of one
// word matches that whole word only. A query longer than chat.MaxSearchQuery
// characters, with more than chat.MaxSearchTerms terms, or with no word at all
// is EINVALID.
func Parse(q string) ([]chat.SearchTerm, error) {
	if !utf8.ValidString(q) {
		return nil, chat.Errorf(chat.EINVALID, "search must be valid UTF-8")
	}
	if utf8.RuneCountInString(q) > chat.MaxSearchQuery {
		return nil, chat.Errorf(chat.EINVALID, "search is longer than %d characters", chat.MaxSearchQuery)
	}
	var terms []chat.SearchTerm
	for i, part := range strings.Split(q, `"`) {
		if i%2 == 1 { // between quotes
			if words := Words(part); len(words) > 0 {
				terms = append(terms, chat.SearchTerm{Words: words, Phrase: true})
			}
			continue
		}
		for _, w := range Words(part) {
			terms = append(terms, chat.SearchTerm{Words: []string{w}})
		}
	}
	switch {
	case len(terms) == 0:
		return nil, chat.Errorf(chat.EINVALID, "search for at least one word")
	case len(terms) > chat.MaxSearchTerms:
		return nil, chat.Errorf(chat.EINVALID, "search has more than %d words and phrases", chat.MaxSearchTerms)
	}
	return terms, nil
}
