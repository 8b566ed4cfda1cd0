package chat

import (
	"context"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits of message search.
const (
	// MaxSearchQuery is the longest search query, in characters.
	MaxSearchQuery = 256
	// MaxSearchTerms is the most terms (words and phrases) a query holds.
	MaxSearchTerms = 16
	// DefaultSearchPage and MaxSearchPage bound a page of search results.
	DefaultSearchPage = 20
	MaxSearchPage     = 50
	// MaxSearchWord is the longest word the index keeps, in characters:
	// a longer word is indexed (and searched) by its first MaxSearchWord
	// characters.
	MaxSearchWord = 100
)

// SearchTerm is one term of a search: a word, which matches any word it
// begins ("deplo" finds "deployment"), or a quoted phrase, whose words
// match whole words in a row ("\"deploy now\"", and "\"cat\"" finds "cat"
// but not "category"). Words are in the form SearchWords gives.
type SearchTerm struct {
	Words  []string
	Phrase bool
}

// SearchQuery is a message search: Store.SearchMessages's input, checked
// by the Service first.
type SearchQuery struct {
	// User is who searches: only conversations they are a member of now
	// are searched.
	User UserID
	// Terms are ANDed: a message matches when it matches every one.
	Terms []SearchTerm
	// ConversationID, when not 0, searches that conversation alone.
	ConversationID ConversationID
	// Before, when not 0, is the Position of the last result of the
	// previous page: the page continues with older messages.
	Before int64
	Limit  int
}

// SearchHit is a message found, with its sender and its conversation as
// the searcher's conversation list shows it.
type SearchHit struct {
	Message Message
	// Sender is the message's sender as their account is now (a closed
	// one too).
	Sender       User
	Conversation ConversationSummary
	// Position orders the results, newest message first: it grows with
	// the order in which messages were created and does not change when a
	// message is edited. It is the cursor SearchQuery.Before takes.
	Position int64
}

// SearchPage is a page of search results, newest first.
type SearchPage struct {
	Hits []SearchHit
	// Next is the cursor of the next (older) page, "" when this is the
	// last.
	Next string
}

// SearchWords returns the words of text as the search index keeps them,
// in order: text is case-folded (Unicode full case folding, so "ß" is "ss"
// and a Greek final "ς" is "σ"), decomposed (NFKD, so "ﬁ" is "fi" and a
// full-width "Ａ" is "a"), its nonspacing marks dropped (so "Café" is
// "cafe"), lower-cased, and cut into runs of letters, digits and spacing
// marks; each run is a word, cut to MaxSearchWord characters. Both stores
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
func SearchWords(text string) []string {
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
	for _, r := range norm.NFKD.String(cases.Fold().String(text)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// An accent or other nonspacing mark: dropped, the word goes on.
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r):
			if n < MaxSearchWord {
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

// ParseSearch turns a search query into its terms: words, and phrases
// between double quotes (an unclosed quote runs to the end of the query).
// Words and phrases are cut into words by SearchWords; a phrase of one
// word matches that whole word only. A query longer than MaxSearchQuery
// characters, with more than MaxSearchTerms terms, or with no word at all
// is EINVALID.
func ParseSearch(q string) ([]SearchTerm, error) {
	if !utf8.ValidString(q) {
		return nil, Errorf(EINVALID, "search must be valid UTF-8")
	}
	if utf8.RuneCountInString(q) > MaxSearchQuery {
		return nil, Errorf(EINVALID, "search is longer than %d characters", MaxSearchQuery)
	}
	var terms []SearchTerm
	for i, part := range strings.Split(q, `"`) {
		if i%2 == 1 { // between quotes
			if words := SearchWords(part); len(words) > 0 {
				terms = append(terms, SearchTerm{Words: words, Phrase: true})
			}
			continue
		}
		for _, w := range SearchWords(part) {
			terms = append(terms, SearchTerm{Words: []string{w}})
		}
	}
	switch {
	case len(terms) == 0:
		return nil, Errorf(EINVALID, "search for at least one word")
	case len(terms) > MaxSearchTerms:
		return nil, Errorf(EINVALID, "search has more than %d words and phrases", MaxSearchTerms)
	}
	return terms, nil
}

// Search finds the messages of the caller's conversations (of conv alone
// when it is not 0) that match q (ParseSearch's grammar), newest first,
// limit of them at most (0 means DefaultSearchPage; above MaxSearchPage is
// EINVALID), continuing after the cursor before when it is not "" (the
// Next of the previous page). Deleted messages and system messages are
// never found; an edited message is found by its text now. A search costs
// a token of the search budget (ERATELIMITED); a refused one costs none.
// ENOTFOUND when conv is set and the caller is not a member of it;
// EINVALID for a query ParseSearch refuses or a malformed cursor.
func (s *Service) Search(ctx context.Context, caller UserID, q string, conv ConversationID, before string, limit int) (SearchPage, error) {
	switch {
	case limit == 0:
		limit = DefaultSearchPage
	case limit < 1 || limit > MaxSearchPage:
		return SearchPage{}, Errorf(EINVALID, "limit must be between 1 and %d", MaxSearchPage)
	}
	var position int64
	if before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n <= 0 {
			return SearchPage{}, Errorf(EINVALID, "before must be the next of a previous page")
		}
		position = n
	}
	if conv < 0 {
		return SearchPage{}, NotFound("conversation")
	}
	terms, err := ParseSearch(q)
	if err != nil {
		return SearchPage{}, err
	}
	if conv != 0 {
		if _, err := s.store.Member(ctx, conv, caller); err != nil {
			return SearchPage{}, err
		}
	}
	if err := s.allow(ctx, s.limits.Searches, s.local().Searches, userKey(caller), "message searches"); err != nil {
		return SearchPage{}, err
	}
	hits, err := s.store.SearchMessages(ctx, SearchQuery{User: caller, Terms: terms, ConversationID: conv, Before: position, Limit: limit + 1})
	if err != nil {
		return SearchPage{}, err
	}
	page := SearchPage{Hits: hits}
	if len(hits) > limit {
		page.Hits = hits[:limit]
		page.Next = strconv.FormatInt(page.Hits[limit-1].Position, 10)
	}
	return page, nil
}
