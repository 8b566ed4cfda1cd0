package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

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
