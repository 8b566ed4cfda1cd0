package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

const adminTitle = "Admin · Parley"

// adminView is the admin page: a page of invitations with the form that
// makes one, and a page of accounts.
type adminView struct {
	Invitations     []invitationView
	InvitationsNext string
	Users           []accountView
	UsersNext       string
	// NewLink is the link of the invitation just created: shown this
	// once, since only its token's hash is kept.
	NewLink string
}

// invitationView is a row of the admin page's invitations.
type invitationView struct {
	ID                   int64
	CreatedAt, ExpiresAt string
	Uses, MaxUses        int
	// Status is "usable", "revoked", "expired" or "used up".
	Status string
}

// accountView is a row of the admin page's accounts.
type accountView struct {
	ID                         int64
	Username, DisplayName      string
	Admin, Deactivated, Closed bool
	// Self is the admin looking: they cannot deactivate themselves.
	Self bool
}

// adminTime is how the admin page writes a time.
func adminTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func invitationStatus(inv chat.Invitation, now time.Time) string {
	switch {
	case !inv.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(inv.ExpiresAt):
		return "expired"
	case inv.Uses >= inv.MaxUses:
		return "used up"
	}
	return "usable"
}

// adminData reads what the admin page shows to u, an admin (anyone else
// gets the service's EFORBIDDEN), at the pages the query names.
func (s *server) adminData(r *http.Request, u chat.User) (pageData, error) {
	q := r.URL.Query()
	invs, err := s.service.Invitations(r.Context(), u.ID, q.Get("invitations_after"), 0)
	if err != nil {
		return pageData{}, err
	}
	users, err := s.service.Accounts(r.Context(), u.ID, q.Get("users_after"), 0)
	if err != nil {
		return pageData{}, err
	}
	view := &adminView{InvitationsNext: invs.Next, UsersNext: users.Next}
	now := time.Now()
	for _, inv := range invs.Invitations {
		view.Invitations = append(view.Invitations, invitationView{
			ID: int64(inv.ID), CreatedAt: adminTime(inv.CreatedAt), ExpiresAt: adminTime(inv.ExpiresAt),
			Uses: inv.Uses, MaxUses: inv.MaxUses, Status: invitationStatus(inv, now),
		})
	}
	for _, a := range users.Users {
		view.Users = append(view.Users, accountView{
			ID: int64(a.ID), Username: a.Username, DisplayName: a.DisplayName,
			Admin: a.Admin, Deactivated: a.Deactivated, Closed: a.Closed, Self: a.ID == u.ID,
		})
	}
	return pageData{Title: adminTitle, Me: &u, Admin: view, FieldErrors: map[string]string{}}, nil
}

// handleAdminPage shows the admin page to site admins; anyone else signed
// in gets the 403 error page. Plain forms: it works without JavaScript.
func (s *server) handleAdminPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		data, err := s.adminData(r, u)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.pages.render(w, r, s.logger, "admin", http.StatusOK, data)
	})
}

// adminForm runs an admin form's action for the signed-in user, then
// shows the admin page again with the notice act returns, or act's error
// in the form's place (field). A caller who is not an admin gets the 403
// error page and nothing changes.
func (s *server) adminForm(field string, act func(r *http.Request, u chat.User, view *adminView) (notice string, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		if err := parseForm(w, r); err != nil {
			s.pageError(w, r, err)
			return
		}
		if admin, err := s.service.IsAdmin(r.Context(), u.ID); err != nil || !admin {
			if err == nil {
				err = chat.Errorf(chat.EFORBIDDEN, "only site admins may do this")
			}
			s.pageError(w, r, err)
			return
		}
		view := &adminView{}
		notice, actErr := act(r, u, view)
		if chat.ErrorCode(actErr) == chat.EINTERNAL {
			s.pageError(w, r, actErr)
			return
		}
		data, err := s.adminData(r, u)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		data.Admin.NewLink = view.NewLink
		status := http.StatusOK
		if actErr != nil {
			status = statusOf(chat.ErrorCode(actErr))
			data.FieldErrors[field] = waitMessage(actErr)
		} else {
			data.Notice = notice
		}
		s.pages.render(w, r, s.logger, "admin", status, data)
	})
}

// formCount reads a form field that is a whole number from 1 to max, or
// empty or 0 for the default (def), as the API's fields are; what names it
// in the one message that refuses anything else.
func formCount(r *http.Request, name, what string, max, def int) (int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, chat.Errorf(chat.EINVALID, "%s must be a whole number from 1 to %d (empty or 0: %d)", what, max, def)
	}
	return n, nil
}

func (s *server) handleAdminInvitationForm() http.Handler {
	return s.adminForm("invitation", func(r *http.Request, u chat.User, view *adminView) (string, error) {
		uses, err := formCount(r, "max_uses", "the accounts it admits", chat.MaxInvitationUses, 1)
		if err != nil {
			return "", err
		}
		defaultHours := int(chat.DefaultInvitationLifetime / time.Hour)
		hours, err := formCount(r, "expires_hours", "the hours it stays valid", int(chat.MaxInvitationLifetime/time.Hour), defaultHours)
		if err != nil {
			return "", err
		}
		_, token, err := s.service.CreateInvitation(r.Context(), u.ID, chat.NewInvitation{MaxUses: uses, Lifetime: time.Duration(hours) * time.Hour})
		if err != nil {
			return "", err
		}
		view.NewLink = invitationLink(r, token)
		return "Invitation created. Copy its link now: it is not shown again.", nil
	})
}

func (s *server) handleAdminRevokeForm() http.Handler {
	return s.adminForm("invitations", func(r *http.Request, u chat.User, _ *adminView) (string, error) {
		id, err := pathNumber(r, "id", "invitation id")
		if err != nil {
			return "", err
		}
		if _, err := s.service.RevokeInvitation(r.Context(), u.ID, chat.InvitationID(id)); err != nil {
			return "", err
		}
		return "Invitation revoked.", nil
	})
}

// handleAdminAccountForm deactivates or reactivates an account (change)
// from the admin page.
func (s *server) handleAdminAccountForm(deactivate bool) http.Handler {
	return s.adminForm("users", func(r *http.Request, u chat.User, _ *adminView) (string, error) {
		id, err := pathNumber(r, "id", "user id")
		if err != nil {
			return "", err
		}
		change, done := s.service.Reactivate, "reactivated: they can sign in again"
		if deactivate {
			change, done = s.service.Deactivate, "deactivated: their sessions have ended"
		}
		a, err := change(r.Context(), u.ID, chat.UserID(id))
		if err != nil {
			return "", err
		}
		return "@" + a.Username + " is " + done + ".", nil
	})
}
