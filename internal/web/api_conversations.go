package web

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// handleStartConversation answers POST /api/v1/conversations, which
// either starts (or finds) the direct conversation with a user, for a
// body {user_id}, or creates a group, for a body {title, user_ids}: the
// keys given say which.
func (s *server) handleStartConversation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[startRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		direct := req.UserID != nil
		group := req.Title != nil || req.UserIDs != nil
		switch {
		case direct && group:
			err = chat.Errorf(chat.EINVALID, "give user_id for a direct conversation, or title and user_ids for a group, not both")
		case group:
			s.createGroup(w, r, req)
			return
		case !direct:
			err = chat.Errorf(chat.EINVALID, "give user_id for a direct conversation, or title and user_ids for a group")
		case *req.UserID <= 0:
			err = chat.Errorf(chat.EINVALID, "user_id must be a positive integer")
		}
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		c, created, err := s.service.StartDirect(r.Context(), callerID(r), chat.UserID(*req.UserID))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, r, s.logger, status, wire.ConversationResponse{Conversation: wireConversation(c)})
	})
}

// startRequest is the body of POST /api/v1/conversations, either shape:
// wire.StartConversationRequest (user_id) or wire.CreateGroupRequest
// (title, user_ids). A nil field was not given.
type startRequest struct {
	UserID  *int64   `json:"user_id,omitempty"`
	Title   *string  `json:"title,omitempty"`
	UserIDs *[]int64 `json:"user_ids,omitempty"`
}

func (s *server) handleConversations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Conversations(r.Context(), callerID(r), chat.ConversationPageQuery{Before: r.URL.Query().Get("before"), Limit: limit})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		rows, err := s.conversationRows(r.Context(), page.Conversations)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.ConversationsResponse{Conversations: rows, Next: optionalString(page.Next)}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}

func (s *server) handleConversation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		c, err := s.service.Conversation(r.Context(), callerID(r), chat.ConversationID(id))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		rows, err := s.conversationRows(r.Context(), []chat.ConversationRow{c})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.ConversationRowResponse{Conversation: rows[0]})
	})
}

// conversationRows turns list rows into their JSON shape, with whether each
// other participant is online (one presence lookup for the page).
func (s *server) conversationRows(ctx context.Context, list []chat.ConversationRow) ([]wire.ConversationRow, error) {
	others := make([]chat.UserID, 0, len(list))
	for _, c := range list {
		if c.OtherUser != nil {
			others = append(others, c.OtherUser.ID)
		}
	}
	online, err := s.service.Online(ctx, others)
	if err != nil {
		return nil, err
	}
	rows := make([]wire.ConversationRow, len(list))
	for i, c := range list {
		rows[i] = wireConversationRow(c)
		if c.OtherUser != nil {
			rows[i].OtherUser.Online = online[c.OtherUser.ID]
		}
	}
	return rows, nil
}

func (s *server) handleRead() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.ReadRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if _, _, err := s.service.MarkRead(r.Context(), callerID(r), chat.ConversationID(id), req.Seq); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

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
