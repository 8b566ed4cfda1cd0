package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// wireInvitation is inv as the API shows it; token and link are "" except
// at creation.
func wireInvitation(inv chat.Invitation, token, link string) wire.Invitation {
	w := wire.Invitation{
		ID:        int64(inv.ID),
		Token:     token,
		URL:       link,
		CreatedAt: inv.CreatedAt,
		ExpiresAt: inv.ExpiresAt,
		MaxUses:   inv.MaxUses,
		Uses:      inv.Uses,
		Usable:    inv.Usable(time.Now()),
	}
	if inv.CreatedBy != 0 {
		by := int64(inv.CreatedBy)
		w.CreatedBy = &by
	}
	if !inv.RevokedAt.IsZero() {
		at := inv.RevokedAt
		w.RevokedAt = &at
	}
	return w
}

// invitationLink is the registration page's address with the token, on
// the origin the request came to.
func invitationLink(r *http.Request, token string) string {
	u := url.URL{Scheme: requestScheme(r), Host: r.Host, Path: "/register", RawQuery: url.Values{"invite": {token}}.Encode()}
	return u.String()
}

// newInvitation checks the API's max_uses and expires_in (seconds): each
// is 0 (absent: the default) or in range, and anything else is refused
// with one message per field, whichever way it is out of range.
func newInvitation(req wire.CreateInvitationRequest) (chat.NewInvitation, error) {
	if req.MaxUses < 0 || req.MaxUses > chat.MaxInvitationUses {
		return chat.NewInvitation{}, chat.Errorf(chat.EINVALID, "max_uses must be from 1 to %d (absent or 0: 1)", chat.MaxInvitationUses)
	}
	minSeconds, maxSeconds := int64(chat.MinInvitationLifetime/time.Second), int64(chat.MaxInvitationLifetime/time.Second)
	if req.ExpiresIn != 0 && (req.ExpiresIn < minSeconds || req.ExpiresIn > maxSeconds) {
		return chat.NewInvitation{}, chat.Errorf(chat.EINVALID, "expires_in must be from %d to %d seconds (absent or 0: %d, 7 days)",
			minSeconds, maxSeconds, int64(chat.DefaultInvitationLifetime/time.Second))
	}
	return chat.NewInvitation{MaxUses: req.MaxUses, Lifetime: time.Duration(req.ExpiresIn) * time.Second}, nil
}

func (s *server) handleCreateInvitation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[wire.CreateInvitationRequest](w, r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		n, err := newInvitation(req)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		inv, token, err := s.service.CreateInvitation(r.Context(), callerID(r), n)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusCreated, wire.InvitationResponse{Invitation: wireInvitation(inv, token, invitationLink(r, token))})
	})
}

func (s *server) handleInvitations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Invitations(r.Context(), callerID(r), r.URL.Query().Get("after"), limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.InvitationsResponse{Invitations: make([]wire.Invitation, len(page.Invitations)), Next: optionalString(page.Next)}
		for i, inv := range page.Invitations {
			resp.Invitations[i] = wireInvitation(inv, "", "")
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}

func (s *server) handleRevokeInvitation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathNumber(r, "id", "invitation id")
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if _, err := s.service.RevokeInvitation(r.Context(), callerID(r), chat.InvitationID(id)); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// pathNumber reads the path segment name, a positive integer (what names
// it in the error).
func pathNumber(r *http.Request, name, what string) (int64, error) {
	n, err := parsePositive(r.PathValue(name))
	if err != nil {
		return 0, chat.Errorf(chat.EINVALID, "%s must be a positive integer", what)
	}
	return n, nil
}

// wireAccount is u as site admins see it.
func wireAccount(u chat.User) wire.Account {
	return wire.Account{User: wireUser(u), Admin: u.Admin, Deactivated: u.Deactivated, CreatedAt: u.CreatedAt}
}

// parsePositive parses a positive decimal integer.
func parsePositive(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, strconv.ErrSyntax
	}
	return n, nil
}

func (s *server) handleAccounts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		page, err := s.service.Accounts(r.Context(), callerID(r), r.URL.Query().Get("after"), limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		resp := wire.AccountsResponse{Users: make([]wire.Account, len(page.Users)), Next: optionalString(page.Next)}
		for i, u := range page.Users {
			resp.Users[i] = wireAccount(u)
		}
		writeJSON(w, r, s.logger, http.StatusOK, resp)
	})
}

// handleAccountChange answers POST /api/v1/admin/users/{id}/deactivate or
// …/reactivate with change.
func (s *server) handleAccountChange(change func(ctx context.Context, caller, user chat.UserID) (chat.User, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathNumber(r, "id", "user id")
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		u, err := change(r.Context(), callerID(r), chat.UserID(id))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusOK, wire.AccountResponse{User: wireAccount(u)})
	})
}
