package web

import (
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// handleEditMessage answers PATCH
// /api/v1/conversations/{id}/messages/{seq} {body}: 200 {message} as it is
// now, edited_at set; the sender only (403 for another member, 404 for a
// non-member, an unknown seq or a deleted message, 400 for a system
// message, a seq that is not a positive integer or a body a send would
// refuse).
func (s *server) handleEditMessage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, seq, err := messagePath(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.EditRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		m, err := s.service.EditMessage(r.Context(), callerID(r), id, seq, req.Body)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.MessageResponse{Message: wireMessage(m)})
	})
}

// handleDeleteMessage answers DELETE
// /api/v1/conversations/{id}/messages/{seq}: 204, the body erased; the
// sender or an admin of the group (403 otherwise, 404 for a non-member or
// an unknown seq, 400 for a system message). Deleting a message deleted
// already is 204 too: a retried DELETE succeeds.
func (s *server) handleDeleteMessage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, seq, err := messagePath(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if _, err := s.service.DeleteMessage(r.Context(), callerID(r), id, seq); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// messagePath reads the {id} and {seq} path segments of a message's
// address: its conversation (as pathID) and its seq, a positive integer
// (EINVALID otherwise; a seq with no message is the service's ENOTFOUND).
func messagePath(r *http.Request) (chat.ConversationID, int64, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, 0, err
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return 0, 0, chat.Errorf(chat.EINVALID, "seq must be a positive integer")
	}
	return chat.ConversationID(id), seq, nil
}
