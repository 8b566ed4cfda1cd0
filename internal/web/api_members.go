package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// handleMembers answers GET /api/v1/conversations/{id}/members: a page of
// the conversation's members, in user ID order, each with whether they
// are online (one presence look-up for the page).
func (s *server) handleMembers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Members(r.Context(), callerID(r), chat.ConversationID(id), r.URL.Query().Get("after"), limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		ids := make([]chat.UserID, len(page.Members))
		for i, m := range page.Members {
			ids[i] = m.UserID
		}
		online, err := s.service.Online(r.Context(), ids)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.MembersResponse{Members: make([]wire.Member, len(page.Members)), Next: optionalString(page.Next)}
		for i, m := range page.Members {
			resp.Members[i] = wireMember(m, online[m.UserID])
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}

// handleAddMember answers POST /api/v1/conversations/{id}/members
// {user_id}: 201 {member}; admins only.
func (s *server) handleAddMember() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.AddMemberRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if req.UserID <= 0 {
			writeError(w, r, s.logger, chat.Errorf(chat.EINVALID, "user_id must be a positive integer"))
			return
		}
		m, err := s.service.AddMember(r.Context(), callerID(r), chat.ConversationID(id), chat.UserID(req.UserID))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusCreated, wire.MemberResponse{Member: s.memberOnline(r.Context(), m)})
	})
}

// handleSetRole answers PATCH /api/v1/conversations/{id}/members/{user_id}
// {role}: 200 {member} with the role they have now; admins only.
func (s *server) handleSetRole() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		user, err := pathUserID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		req, err := decodeJSON[wire.RoleRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		m, err := s.service.SetRole(r.Context(), callerID(r), chat.ConversationID(id), user, chat.Role(req.Role))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.MemberResponse{Member: s.memberOnline(r.Context(), m)})
	})
}

// handleRemoveMember answers DELETE
// /api/v1/conversations/{id}/members/{user_id}: 204. An admin removes
// anyone; anyone removes themselves (leaves).
func (s *server) handleRemoveMember() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		user, err := pathUserID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.service.RemoveMember(r.Context(), callerID(r), chat.ConversationID(id), user); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// memberOnline is m as the API shows a member, with whether they are
// online (offline when presence cannot answer).
func (s *server) memberOnline(ctx context.Context, m chat.MemberInfo) wire.Member {
	online, _ := s.service.Online(ctx, []chat.UserID{m.UserID}) // Online never fails: it answers offline instead
	return wireMember(m, online[m.UserID])
}

// pathUserID reads the {user_id} path segment.
func pathUserID(r *http.Request) (chat.UserID, error) {
	n, err := strconv.ParseInt(r.PathValue("user_id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, chat.Errorf(chat.EINVALID, "user id must be a positive integer")
	}
	return chat.UserID(n), nil
}
