package chat

import (
	"context"
	"slices"
	"strconv"
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
// but not "category"). Words are in the form searchtext.Words gives.
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
	Conversation ConversationRow
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

// Search finds the messages of the caller's conversations (of conv alone
// when it is not 0) that match every one of terms (a query parsed by
// searchtext.Parse), newest first,
// limit of them at most (0 means DefaultSearchPage; above MaxSearchPage is
// EINVALID), continuing after the cursor before when it is not "" (the
// Next of the previous page). Deleted messages and system messages are
// never found; an edited message is found by its text now. A search costs
// a token of the search budget (ERATELIMITED); a refused one costs none.
// ENOTFOUND when conv is set and the caller is not a member of it;
// EINVALID for no terms, more than MaxSearchTerms, a term without words or
// a malformed cursor.
func (s *Service) Search(ctx context.Context, caller UserID, terms []SearchTerm, conv ConversationID, before string, limit int) (SearchPage, error) {
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
	if err := checkSearchTerms(terms); err != nil {
		return SearchPage{}, err
	}
	if conv != 0 {
		if _, err := s.store.Member(ctx, conv, caller); err != nil {
			return SearchPage{}, err
		}
	}
	if err := s.allow(ctx, s.limits.Searches, s.local().Searches, userKey(caller), ActionSearch); err != nil {
		return SearchPage{}, err
	}
	hits, err := s.store.SearchMessages(ctx, SearchQuery{User: caller, Terms: terms, ConversationID: conv, Before: position, Limit: limit + 1})
	if err != nil {
		return SearchPage{}, err
	}
	var page SearchPage
	page.Hits, page.Next = trimPage(hits, limit, func(h SearchHit) string { return strconv.FormatInt(h.Position, 10) })
	return page, nil
}

// checkSearchTerms holds terms to what searchtext.Parse gives: 1 to
// MaxSearchTerms terms, each of one word or, for a phrase, more.
func checkSearchTerms(terms []SearchTerm) error {
	switch {
	case len(terms) == 0:
		return Errorf(EINVALID, "search for at least one word")
	case len(terms) > MaxSearchTerms:
		return Errorf(EINVALID, "search has more than %d words and phrases", MaxSearchTerms)
	}
	for _, t := range terms {
		if len(t.Words) == 0 || (!t.Phrase && len(t.Words) > 1) || slices.Contains(t.Words, "") {
			return Errorf(EINVALID, "a search term must be a word or a phrase of words")
		}
	}
	return nil
}
