package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
	"github.com/parleychat/parley/internal/wire"
)

// handleSearch answers GET /api/v1/search?q=…&conversation_id=…&before=…&limit=…:
// {results:[{message, sender, conversation}], next}, newest first. q follows
// searchtext.Parse; conversation_id, when given, limits the search to
// that conversation (404 for a non-member, as everywhere); before is the
// next of the previous page. 400 for a bad query, 429 past the search
// budget.
func (s *server) handleSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		conv, err := queryInt(r, "conversation_id")
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if conv == 0 && r.URL.Query().Has("conversation_id") {
			writeError(w, r, s.logger, chat.NotFound("conversation"))
			return
		}
		q := r.URL.Query()
		terms, err := searchtext.Parse(q.Get("q"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Search(r.Context(), callerID(r), terms, chat.ConversationID(conv), q.Get("before"), limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		// One row per conversation found, with one presence lookup for them
		// all.
		index := make(map[chat.ConversationID]int)
		var convs []chat.ConversationRow
		for _, h := range page.Hits {
			if _, ok := index[h.Conversation.ID]; !ok {
				index[h.Conversation.ID] = len(convs)
				convs = append(convs, h.Conversation)
			}
		}
		rows, err := s.conversationRows(r.Context(), convs)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.SearchResponse{Results: make([]wire.SearchResult, len(page.Hits)), Next: optionalString(page.Next)}
		for i, h := range page.Hits {
			resp.Results[i] = wire.SearchResult{Message: wireMessage(h.Message), Sender: wireUser(h.Sender), Conversation: rows[index[h.Conversation.ID]]}
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}
