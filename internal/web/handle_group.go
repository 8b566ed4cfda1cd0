package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// createGroup creates a group from a POST /api/v1/conversations body with
// title and user_ids: 201 {conversation}. The caller is its first admin.
func (s *server) createGroup(w http.ResponseWriter, r *http.Request, req startRequest) {
	var title string
	if req.Title != nil {
		title = *req.Title
	}
	var members []chat.UserID
	if req.UserIDs != nil {
		members = make([]chat.UserID, len(*req.UserIDs))
		for i, id := range *req.UserIDs {
			if id <= 0 {
				writeError(w, r, s.logger, chat.Errorf(chat.EINVALID, "user_ids must be positive integers"))
				return
			}
			members[i] = chat.UserID(id)
		}
	}
	c, err := s.service.CreateGroup(r.Context(), callerID(r), title, members)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, r, s.logger, http.StatusCreated, wire.ConversationResponse{Conversation: wireConversation(c)})
}

// handleRenameGroup answers PATCH /api/v1/conversations/{id} {title}: 200
// {conversation}, the group as it is now; admins only.
func (s *server) handleRenameGroup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.RenameRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		c, err := s.service.RenameGroup(r.Context(), callerID(r), chat.ConversationID(id), req.Title)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.ConversationResponse{Conversation: wireConversation(c)})
	})
}
