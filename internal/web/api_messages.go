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

// handleMessages answers GET /api/v1/conversations/{id}/messages: a page
// of history ascending by seq (before_seq, after_seq or the newest), or,
// with after_version, the messages created, edited or deleted after that
// version, ascending by version: {messages, has_more}. after_version with
// a seq cursor is 400.
func (s *server) handleMessages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		q := chat.MessageQuery{After: r.URL.Query().Has("after_seq"), ByVersion: r.URL.Query().Has("after_version")}
		if q.BeforeSeq, err = queryInt(r, "before_seq"); err == nil {
			if q.AfterSeq, err = queryInt(r, "after_seq"); err == nil {
				if q.AfterVersion, err = queryInt(r, "after_version"); err == nil {
					q.Limit, err = queryLimit(r)
				}
			}
		}
		if err == nil && q.ByVersion && (r.URL.Query().Has("before_seq") || q.After) {
			err = chat.Errorf(chat.EINVALID, "give after_version alone, without before_seq or after_seq")
		}
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Messages(r.Context(), callerID(r), chat.ConversationID(id), q)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.MessagesResponse{Messages: make([]wire.Message, len(page.Messages)), HasMore: page.HasMore}
		for i, m := range page.Messages {
			resp.Messages[i] = wireMessage(m)
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}

func (s *server) handleSend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.SendRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		m, created, err := s.service.Send(r.Context(), callerID(r), chat.SendRequest{ConversationID: chat.ConversationID(id), Body: req.Body, ClientID: req.ClientID, Attachments: attachmentIDs(req.AttachmentIDs)})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, r, s.logger, status, wire.MessageResponse{Message: wireMessage(m)})
	})
}
