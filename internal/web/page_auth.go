package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// parseForm reads a small urlencoded form.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return chat.Errorf(chat.EINVALID, "malformed form")
	}
	return nil
}

// Titles of the two forms.
const (
	loginTitle    = "Log in · Parley"
	registerTitle = "Create an account · Parley"
)

// handleFormPage shows the log-in or sign-up form; someone already signed
// in goes to the app instead.
func (s *server) handleFormPage(page, title string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.pages.render(w, r, s.logger, page, http.StatusOK, pageData{Title: title})
	})
}

func (s *server) handleLoginForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := pageData{Title: loginTitle}
		if err := parseForm(w, r); err != nil {
			data.Error = sentence(chat.ErrorMessage(err))
			s.pages.render(w, r, s.logger, "login", http.StatusBadRequest, data)
			return
		}
		data.Username = r.PostFormValue("username")
		u, err := s.logIn(r.Context(), chat.Credentials{Username: data.Username, Password: r.PostFormValue("password"), Addr: clientAddr(r)})
		s.logLogin(r, data.Username, u, err)
		if err != nil {
			if code := chat.ErrorCode(err); code == chat.EINTERNAL {
				s.pageError(w, r, err)
				return
			}
			// Written as a sentence like every other form error, except
			// the one answer to every wrong username or password, which
			// keeps the very words the API gives.
			data.BadCredentials = chat.ErrorCode(err) == chat.EUNAUTHORIZED
			data.Error = waitMessage(err)
			if data.BadCredentials {
				data.Error = chat.ErrorMessage(err)
			}
			setRetryAfter(w, err)
			s.pages.render(w, r, s.logger, "login", statusOf(chat.ErrorCode(err)), data)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

func (s *server) handleRegisterForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := pageData{Title: registerTitle, FieldErrors: map[string]string{}}
		if err := parseForm(w, r); err != nil {
			data.Error = chat.ErrorMessage(err)
			s.pages.render(w, r, s.logger, "register", http.StatusBadRequest, data)
			return
		}
		data.Username = r.PostFormValue("username")
		data.DisplayName = r.PostFormValue("display_name")
		data.Invitation = r.PostFormValue("invite")
		password := r.PostFormValue("password")
		// Each field's own check, so every error sits next to its field.
		if _, err := chat.NormalizeUsername(data.Username); err != nil {
			data.FieldErrors["username"] = sentence(chat.ErrorMessage(err))
		}
		if data.DisplayName != "" {
			if _, err := chat.NormalizeDisplayName(data.DisplayName); err != nil {
				data.FieldErrors["display_name"] = sentence(chat.ErrorMessage(err))
			}
		}
		if err := chat.ValidatePassword(password); err != nil {
			data.FieldErrors["password"] = sentence(chat.ErrorMessage(err))
		}
		if len(data.FieldErrors) > 0 {
			s.pages.render(w, r, s.logger, "register", http.StatusBadRequest, data)
			return
		}
		u, err := s.service.Register(r.Context(), chat.Registration{Username: data.Username, Password: password, DisplayName: data.DisplayName, Invitation: data.Invitation, Addr: clientAddr(r)})
		if err == nil {
			err = s.signIn(r.Context(), u)
		}
		switch code := chat.ErrorCode(err); code {
		case "":
			s.logger.InfoContext(r.Context(), "user registered", "user_id", u.ID)
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case chat.ECONFLICT:
			data.FieldErrors["username"] = sentence(chat.ErrorMessage(err))
			s.pages.render(w, r, s.logger, "register", http.StatusConflict, data)
		case chat.EINTERNAL:
			s.pageError(w, r, err)
		default:
			data.Error = waitMessage(err)
			setRetryAfter(w, err)
			s.pages.render(w, r, s.logger, "register", statusOf(code), data)
		}
	})
}

func (s *server) handleLogoutForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.signOut(r.Context()); err != nil {
			s.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// handleRegisterPage shows the sign-up form, carrying the invitation
// token of the link it was opened from (?invite=); someone already signed
// in goes to the app instead.
func (s *server) handleRegisterPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		data := pageData{Title: registerTitle, Invitation: r.URL.Query().Get("invite")}
		// Said before anyone fills the form in vain.
		switch s.service.Registration() {
		case chat.RegistrationClosed:
			data.Notice = "Sign-ups are closed: ask an administrator for an account."
		case chat.RegistrationInvite:
			if data.Invitation == "" {
				data.Notice = "Signing up needs an invitation link: ask an administrator for one."
			}
		}
		s.pages.render(w, r, s.logger, "register", http.StatusOK, data)
	})
}
