package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
)

// searchPageData is what the search page's template gets.
type searchPageData struct {
	pageData
	Search searchView
}

// searchView is the search page: the form as sent, and a page of results.
type searchView struct {
	Query string
	// QueryError is why the query was refused, shown beside the field;
	// Wait says how long to wait past the search budget.
	QueryError string
	Wait       string
	// Searched: a search ran, so the page says "Nothing found." when
	// Results is empty.
	Searched bool
	Results  []searchResultView
	Next     string // the cursor of the next, older page; "" on the last
	HasPrev  bool   // this is not the newest page
}

// searchResultView is a message found: where, who, when, and its body with
// the words the query found in <mark>.
type searchResultView struct {
	ConversationID int64
	Seq            int64
	Conversation   string // the group's title, or the other person's name
	Sender         string // "You" for the reader's own messages
	CreatedAt      string
	Time           string
	Parts          []markPart
}

// markPart is a run of a message's body, marked when the search found it.
type markPart struct {
	Text string
	Mark bool
}

const searchTitle = "Search · Parley"

// handleSearchPage shows the message search: GET /search?q=…&before=…, the
// form and, when q is given, a page of results newest first (the same as
// GET /api/v1/search), each a link to its message in its conversation. A
// query the grammar refuses shows its reason beside the field (400); past
// the search budget the page says how long to wait (429).
func (s *server) handleSearchPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		data := searchPageData{pageData: pageData{Title: searchTitle, Me: &me}}
		v := &data.Search
		v.Query = q.Get("q")
		if !q.Has("q") {
			s.renderSearch(w, r, http.StatusOK, data)
			return
		}
		// The query is parsed here too, for its terms (what to mark) and so
		// that a refusal of the query, which goes beside the field, is told
		// apart from one of the cursor.
		terms, err := searchtext.Parse(v.Query)
		if err != nil {
			v.QueryError = sentence(chat.ErrorMessage(err))
			s.renderSearch(w, r, statusOf(chat.ErrorCode(err)), data)
			return
		}
		page, err := s.service.Search(r.Context(), me.ID, terms, 0, q.Get("before"), 0)
		switch chat.ErrorCode(err) {
		case "":
		case chat.ERATELIMITED:
			v.Wait = waitMessage(err)
			setRetryAfter(w, err)
			s.renderSearch(w, r, http.StatusTooManyRequests, data)
			return
		default:
			s.pageError(w, r, err)
			return
		}
		v.Searched = true
		v.Next = page.Next
		v.HasPrev = q.Get("before") != ""
		for _, h := range page.Hits {
			m := h.Message
			res := searchResultView{
				ConversationID: int64(m.ConversationID),
				Seq:            m.Seq,
				Conversation:   rowTitle(wireConversationRow(h.Conversation)),
				Sender:         h.Sender.DisplayName,
				CreatedAt:      m.CreatedAt.Format(time.RFC3339Nano),
				Time:           m.CreatedAt.Format("Jan 2, 2006, 15:04"),
				Parts:          highlight(m.Body, terms),
			}
			if m.SenderID == me.ID {
				res.Sender = "You"
			}
			v.Results = append(v.Results, res)
		}
		s.renderSearch(w, r, http.StatusOK, data)
	})
}

// renderSearch writes the search page as render writes the others.
func (s *server) renderSearch(w http.ResponseWriter, r *http.Request, status int, data searchPageData) {
	data.pageData = s.pages.fill("search", data.pageData)
	s.pages.write(w, r, s.logger, "search", status, data)
}

// bodyWord is a word of a message as the search index keeps it, with the
// bytes of the original text it comes from.
type bodyWord struct {
	word       string
	start, end int
}

// searchableWords cuts text into the words searchtext.Words gives, in the
// same order, and says where each lies in text, so that a word found can
// be marked in the text as written. Case folding and NFKD change lengths
// ("ß" is "ss", "ﬁ" is "fi", "é" loses its accent), so text is normalized
// a piece at a time: pieces end at NFKD's boundaries, where the
// normalization of the whole is the normalizations of its pieces put end
// to end. A word spans the whole pieces it comes from, marks dropped after
// it included; a piece that holds several words ("½" is "1" and "2") is
// in each.
func searchableWords(text string) []bodyWord {
	var (
		words  []bodyWord
		word   strings.Builder
		n      int // characters in word
		inWord bool
		start  int
		end    int
	)
	flush := func() {
		if inWord {
			words = append(words, bodyWord{word: word.String(), start: start, end: end})
			word.Reset()
			n = 0
			inWord = false
		}
	}
	for i := 0; i < len(text); {
		j := i + norm.NFKD.NextBoundaryInString(text[i:], true)
		if j <= i {
			_, size := utf8.DecodeRuneInString(text[i:])
			j = i + size
		}
		for _, r := range searchtext.Fold(text[i:j]) {
			switch {
			case unicode.Is(unicode.Mn, r):
				// Dropped, as searchtext.Words drops it: the word goes on.
			case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r):
				if !inWord {
					inWord = true
					start = i
				}
				if n < chat.MaxSearchWord {
					word.WriteRune(unicode.ToLower(r))
					n++
				}
				end = j
			default:
				flush()
			}
		}
		if inWord {
			end = j
		}
		i = j
	}
	flush()
	return words
}

// highlight cuts body into runs, marking the words terms find: a word
// term marks every word it begins, a phrase each run of words it matches
// (the words and what lies between them). Whole words are marked, as
// written, never part of one.
func highlight(body string, terms []chat.SearchTerm) []markPart {
	words := searchableWords(body)
	var spans [][2]int
	for _, t := range terms {
		if !t.Phrase && len(t.Words) == 1 {
			for _, w := range words {
				if strings.HasPrefix(w.word, t.Words[0]) {
					spans = append(spans, [2]int{w.start, w.end})
				}
			}
			continue
		}
		k := len(t.Words)
		for i := 0; k > 0 && i+k <= len(words); i++ {
			match := true
			for j, tw := range t.Words {
				if words[i+j].word != tw {
					match = false
					break
				}
			}
			if match {
				spans = append(spans, [2]int{words[i].start, words[i+k-1].end})
			}
		}
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var parts []markPart
	pos := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		// Spans that overlap or touch are one mark.
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		if start > pos {
			parts = append(parts, markPart{Text: body[pos:start]})
		}
		parts = append(parts, markPart{Text: body[start:end], Mark: true})
		pos = end
	}
	if pos < len(body) {
		parts = append(parts, markPart{Text: body[pos:]})
	}
	return parts
}
