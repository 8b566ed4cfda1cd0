package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/alexedwards/scs/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// handleLogoutAll ends every session of the caller, this one too, and
// closes their WebSockets on every node.
func handleLogoutAll(logger *slog.Logger, svc *chat.Service, sm *scs.SessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := signOutEverywhere(r.Context(), svc, sm, callerID(r)); err != nil {
			writeError(w, r, logger, err)
			return
		}
		logger.InfoContext(r.Context(), "signed out everywhere", "user_id", callerID(r))
		w.WriteHeader(http.StatusNoContent)
	})
}

// signOutEverywhere ends every session of user and this request's.
func signOutEverywhere(ctx context.Context, svc *chat.Service, sm *scs.SessionManager, user chat.UserID) error {
	if err := svc.EndSessions(ctx, user, ""); err != nil {
		return err
	}
	return sm.Destroy(ctx)
}

// handleChangePassword changes the caller's password after checking the
// current one; every other session of theirs ends, and this one goes on
// under a new token.
func handleChangePassword(logger *slog.Logger, svc *chat.Service, sm *scs.SessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.PasswordRequest](w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := changePassword(r.Context(), svc, sm, callerID(r), req.CurrentPassword, req.NewPassword); err != nil {
			writeError(w, r, logger, err)
			return
		}
		logger.InfoContext(r.Context(), "password changed", "user_id", callerID(r))
		w.WriteHeader(http.StatusNoContent)
	})
}

// changePassword changes user's password, renews this session's token (the
// old one may have leaked with the old password) and ends every other
// session of the user. This session's own WebSockets, opened under the old
// token, close with 4001 too; the web app finds itself still signed in and
// reconnects.
func changePassword(ctx context.Context, svc *chat.Service, sm *scs.SessionManager, user chat.UserID, current, next string) error {
	if err := svc.ChangePassword(ctx, user, current, next); err != nil {
		return err
	}
	old := sessionID(sm.Token(ctx))
	if err := sm.RenewToken(ctx); err != nil {
		return err
	}
	if err := svc.EndSessions(ctx, user, sessionID(sm.Token(ctx))); err != nil {
		return err
	}
	// RenewToken deleted the old token's session: its sockets close too.
	return svc.EndSession(ctx, user, old)
}

// handleUpdateMe changes the caller's display name.
func handleUpdateMe(logger *slog.Logger, svc *chat.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.ProfileRequest](w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		u, err := svc.SetDisplayName(r.Context(), callerID(r), req.DisplayName)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeJSON(w, r, logger, http.StatusOK, wire.UserResponse{User: wireUser(u)})
	})
}

// handleCloseAccount closes the caller's account after checking their
// password: every session of theirs ends, this one too.
func handleCloseAccount(logger *slog.Logger, svc *chat.Service, sm *scs.SessionManager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.CloseAccountRequest](w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := closeAccount(r.Context(), svc, sm, callerID(r), req.Password); err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// closeAccount closes user's account and destroys this request's session,
// which the store has already ended, so that its cookie is cleared.
func closeAccount(ctx context.Context, svc *chat.Service, sm *scs.SessionManager, user chat.UserID, password string) error {
	if err := svc.CloseAccount(ctx, user, password); err != nil {
		return err
	}
	return sm.Destroy(ctx)
}
