package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// signIn starts a fresh session for u: the token is renewed so a token
// planted before login is worthless after it.
func (s *server) signIn(ctx context.Context, u chat.User) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserKey, int64(u.ID))
	return nil
}

// logIn checks a login and signs this request's session in: the session
// gets a fresh token and is bound to the account in the same step that
// finds the account still open and its password still the one checked
// (chat.Service.LoginSession), so a password change or closure racing the
// login never leaves it a session.
func (s *server) logIn(ctx context.Context, c chat.Credentials) (chat.User, error) {
	u, err := s.service.LoginSession(ctx, c, func(ctx context.Context) (string, time.Time, error) {
		if err := s.sessions.RenewToken(ctx); err != nil {
			return "", time.Time{}, err
		}
		return sessionID(s.sessions.Token(ctx)), s.sessions.Deadline(ctx), nil
	})
	if err != nil {
		return u, err
	}
	s.sessions.Put(ctx, sessionUserKey, int64(u.ID))
	return u, nil
}

func (s *server) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.RegisterRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		u, err := s.service.Register(r.Context(), chat.Registration{Username: req.Username, Password: req.Password, DisplayName: req.DisplayName, Invitation: req.Invitation, Addr: clientAddr(r)})
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := s.signIn(r.Context(), u); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.InfoContext(r.Context(), "user registered", "user_id", u.ID)
		writeJSON(w, r, s.logger, http.StatusCreated, wire.UserResponse{User: wireUser(u)})
	})
}

func (s *server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.LoginRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		u, err := s.logIn(r.Context(), chat.Credentials{Username: req.Username, Password: req.Password, Addr: clientAddr(r)})
		s.logLogin(r, req.Username, u, err)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.UserResponse{User: wireUser(u)})
	})
}

// logLogin logs a login attempt (the API's or the form's) that ended with
// err: "login succeeded" at Info with the user's ID; at Warn, "login failed"
// (wrong name or password), "login throttled" (with retry_after) or "login
// refused" (any other refusal, with its code). Each names the client address
// (clientAddr: the real client's, behind trusted proxies) and the submitted
// username when it is a valid name, normalized; anything else typed there
// may be a password typed in the wrong field, and the password is never
// logged. An internal error is not a verdict on the credentials: it is
// logged with its cause where it is answered (writeError, pageError).
func (s *server) logLogin(r *http.Request, username string, u chat.User, err error) {
	attrs := []slog.Attr{slog.String("addr", clientAddr(r).String())}
	if name, nerr := chat.NormalizeUsername(username); nerr == nil {
		attrs = append(attrs, slog.String("username", name))
	}
	switch chat.ErrorCode(err) {
	case "":
		attrs = append(attrs, slog.Int64("user_id", int64(u.ID)))
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "login succeeded", attrs...)
	case chat.EINTERNAL:
		// Logged with its cause where it is answered.
	case chat.ERATELIMITED:
		attrs = append(attrs, slog.Duration("retry_after", chat.RetryAfter(err)))
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "login throttled", attrs...)
	case chat.EUNAUTHORIZED:
		if u.ID != 0 {
			attrs = append(attrs, slog.Int64("user_id", int64(u.ID)))
		}
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "login failed", attrs...)
	default:
		// Refused before the password was judged (the server is
		// overloaded, the request is malformed): not a failure to count.
		attrs = append(attrs, slog.String("code", chat.ErrorCode(err)))
		if d := chat.RetryAfter(err); d > 0 {
			attrs = append(attrs, slog.Duration("retry_after", d))
		}
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "login refused", attrs...)
	}
}

func (s *server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.signOut(r.Context()); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// signOut destroys the session and closes its WebSockets, on whichever
// node they are.
func (s *server) signOut(ctx context.Context) error {
	user := chat.UserID(s.sessions.GetInt64(ctx, sessionUserKey))
	session := sessionID(s.sessions.Token(ctx))
	if err := s.sessions.Destroy(ctx); err != nil {
		return err
	}
	if user != 0 {
		if err := s.service.EndSession(ctx, user, session); err != nil {
			s.logger.ErrorContext(ctx, "end session", "user_id", user, "err", err)
		}
	}
	return nil
}

// handleLogoutAll ends every session of the caller, this one too, and
// closes their WebSockets on every node.
func (s *server) handleLogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.signOutEverywhere(r.Context(), callerID(r)); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.InfoContext(r.Context(), "signed out everywhere", "user_id", callerID(r))
		w.WriteHeader(http.StatusNoContent)
	})
}

// signOutEverywhere ends every session of user and this request's.
func (s *server) signOutEverywhere(ctx context.Context, user chat.UserID) error {
	if err := s.service.EndSessions(ctx, user, ""); err != nil {
		return err
	}
	return s.sessions.Destroy(ctx)
}
