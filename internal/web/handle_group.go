package web

import (
	"log/slog"
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// createGroup creates a group from a POST /api/v1/conversations body with
// title and user_ids: 201 {conversation}. The caller is its first admin.
func createGroup(w http.ResponseWriter, r *http.Request, logger *slog.Logger, svc *chat.Service, req startRequest) {
	var title string
	if req.Title != nil {
		title = *req.Title
	}
	var members []chat.UserID
	if req.UserIDs != nil {
		members = make([]chat.UserID, len(*req.UserIDs))
		for i, id := range *req.UserIDs {
			if id <= 0 {
				writeError(w, r, logger, chat.Errorf(chat.EINVALID, "user_ids must be positive integers"))
				return
			}
			members[i] = chat.UserID(id)
		}
	}
	c, err := svc.CreateGroup(r.Context(), callerID(r), title, members)
	if err != nil {
		writeError(w, r, logger, err)
		return
	}
	writeJSON(w, r, logger, http.StatusCreated, wire.ConversationResponse{Conversation: wireConversation(c)})
}

// handleRenameGroup answers PATCH /api/v1/conversations/{id} {title}: 200
// {conversation}, the group as it is now; admins only.
func handleRenameGroup(logger *slog.Logger, svc *chat.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		req, err := decodeJSON[wire.RenameRequest](w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		c, err := svc.RenameGroup(r.Context(), callerID(r), chat.ConversationID(id), req.Title)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeJSON(w, r, logger, http.StatusOK, wire.ConversationResponse{Conversation: wireConversation(c)})
	})
}
