package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

const settingsTitle = "Settings · Parley"

// settingsData is the settings page of u, with a notice or field errors.
func settingsData(u chat.User) pageData {
	return pageData{Title: settingsTitle, Me: &u, DisplayName: u.DisplayName, FieldErrors: map[string]string{}}
}

// handleSettings shows the settings page: display name, password, sign
// out everywhere. Plain forms: it works without JavaScript.
func (s *server) handleSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		s.pages.render(w, r, s.logger, "settings", http.StatusOK, settingsData(u))
	})
}

// settingsForm runs a settings form's action for the signed-in user; when
// act succeeds, done answers, else the settings page shows again with
// act's error next to field.
func (s *server) settingsForm(field string, act func(r *http.Request, u chat.User) (chat.User, error), done func(w http.ResponseWriter, r *http.Request, u chat.User)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		data := settingsData(u)
		err := parseForm(w, r)
		if err == nil {
			u, err = act(r, u)
		}
		switch code := chat.ErrorCode(err); code {
		case "":
			done(w, r, u)
		case chat.EINTERNAL:
			s.pageError(w, r, err)
		default:
			data.FieldErrors[field] = waitMessage(err)
			if field == "display_name" {
				data.DisplayName = r.PostFormValue("display_name")
			}
			setRetryAfter(w, err)
			s.pages.render(w, r, s.logger, "settings", statusOf(code), data)
		}
	})
}

// settingsDone shows the settings page again with notice.
func (s *server) settingsDone(notice string) func(w http.ResponseWriter, r *http.Request, u chat.User) {
	return func(w http.ResponseWriter, r *http.Request, u chat.User) {
		data := settingsData(u)
		data.Notice = notice
		s.pages.render(w, r, s.logger, "settings", http.StatusOK, data)
	}
}

func (s *server) handleNameForm() http.Handler {
	return s.settingsForm("display_name", func(r *http.Request, u chat.User) (chat.User, error) {
		return s.service.SetDisplayName(r.Context(), u.ID, r.PostFormValue("display_name"))
	}, s.settingsDone("Your display name is changed."))
}

func (s *server) handlePasswordForm() http.Handler {
	return s.settingsForm("password", func(r *http.Request, u chat.User) (chat.User, error) {
		err := s.changePassword(r.Context(), u.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
		if err == nil {
			s.logger.InfoContext(r.Context(), "password changed", "user_id", u.ID)
		}
		return u, err
	}, s.settingsDone("Your password is changed; your other sessions are signed out."))
}

// handleLogoutAllForm signs the user out everywhere and shows the login
// page.
func (s *server) handleLogoutAllForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		if err := s.signOutEverywhere(r.Context(), u.ID); err != nil {
			s.pageError(w, r, err)
			return
		}
		s.logger.InfoContext(r.Context(), "signed out everywhere", "user_id", u.ID)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// handleCloseForm closes the user's account after checking their password
// and shows the login page, saying so.
func (s *server) handleCloseForm() http.Handler {
	return s.settingsForm("close", func(r *http.Request, u chat.User) (chat.User, error) {
		return u, s.closeAccount(r.Context(), u.ID, r.PostFormValue("password"))
	}, func(w http.ResponseWriter, r *http.Request, _ chat.User) {
		s.pages.render(w, r, s.logger, "login", http.StatusOK, pageData{Title: loginTitle, Notice: "Your account is closed."})
	})
}
