package web

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// handleChangePassword changes the caller's password after checking the
// current one; every other session of theirs ends, and this one goes on
// under a new token.
func (s *server) handleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.PasswordRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.changePassword(r.Context(), callerID(r), req.CurrentPassword, req.NewPassword); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.InfoContext(r.Context(), "password changed", "user_id", callerID(r))
		w.WriteHeader(http.StatusNoContent)
	})
}

// changePassword changes user's password, renews this session's token (the
// old one may have leaked with the old password) and ends every other
// session of the user. This session's own WebSockets, opened under the old
// token, close with 4001 too; the web app finds itself still signed in and
// reconnects.
func (s *server) changePassword(ctx context.Context, user chat.UserID, current, next string) error {
	if err := s.service.ChangePassword(ctx, user, current, next); err != nil {
		return err
	}
	old := sessionID(s.sessions.Token(ctx))
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	if err := s.service.EndSessions(ctx, user, sessionID(s.sessions.Token(ctx))); err != nil {
		return err
	}
	// RenewToken deleted the old token's session: its sockets close too.
	return s.service.EndSession(ctx, user, old)
}

// handleUpdateMe changes the caller's display name.
func (s *server) handleUpdateMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.ProfileRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		u, err := s.service.SetDisplayName(r.Context(), callerID(r), req.DisplayName)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.UserResponse{User: wireUser(u)})
	})
}

// handleCloseAccount closes the caller's account after checking their
// password: every session of theirs ends, this one too.
func (s *server) handleCloseAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.CloseAccountRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.closeAccount(r.Context(), callerID(r), req.Password); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// closeAccount closes user's account and destroys this request's session,
// which the store has already ended, so that its cookie is cleared.
func (s *server) closeAccount(ctx context.Context, user chat.UserID, password string) error {
	if err := s.service.CloseAccount(ctx, user, password); err != nil {
		return err
	}
	return s.sessions.Destroy(ctx)
}

func (s *server) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.service.User(r.Context(), callerID(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.UserResponse{User: wireUser(u)})
	})
}

func (s *server) handleUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		q := r.URL.Query()
		page, err := s.service.SearchUsers(r.Context(), callerID(r), chat.UserSearch{Query: q.Get("q"), After: q.Get("after"), Limit: limit})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		ids := make([]chat.UserID, len(page.Users))
		for i, u := range page.Users {
			ids[i] = u.ID
		}
		online, err := s.service.Online(r.Context(), ids)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.UsersResponse{Users: make([]wire.Contact, len(page.Users)), Next: optionalString(page.Next)}
		for i, u := range page.Users {
			resp.Users[i] = wire.Contact{User: wireUser(u), Online: online[u.ID]}
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}
