package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
)

//go:embed templates static
var assets embed.FS

// pages holds the parsed templates, one set per page, and the version that
// busts caches of the static files.
type pages struct {
	sets    map[string]*template.Template
	version string
}

// parsePages parses every template at start-up, so a broken one stops the
// server before it serves anything.
func parsePages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range []string{"login", "register", "app", "people", "settings"} {
		t, err := template.New(name).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s template: %w", name, err)
		}
		p.sets[name] = t
	}
	sum := sha256.New()
	err := fs.WalkDir(assets, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		sum.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.version = hex.EncodeToString(sum.Sum(nil))[:12]
	return p, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Page    string
	Version string
	Me      *chat.User

	// Forms.
	Error       string
	Notice      string // what a form did, on success
	Username    string
	DisplayName string
	FieldErrors map[string]string

	// The main view.
	Conversations []rowView
	Open          *openView

	// People.
	Query   string
	People  []personView
	Next    string
	HasPrev bool
}

// rowView is a conversation list row as the template shows it.
type rowView struct {
	ID, OtherID int64
	Title       string
	Online      bool
	LastSeq     int64
	LastAt      string
	LastTime    string
	Preview     string
	Unread      int64
}

// openView is the open conversation as the template shows it.
type openView struct {
	ID, OtherID           int64
	Title                 string
	Online                bool
	Closed                bool // the other person closed their account
	ReadSeq, OtherReadSeq int64
	HasMore               bool
	Items                 []itemView
}

// itemView is a message, or a day separator when Day is set.
type itemView struct {
	Day       string
	Seq       int64
	SenderID  int64
	Own       bool
	Body      string
	CreatedAt string
	Time      string
	Seen      bool
}

// personView is a row of the people directory.
type personView struct {
	ID          int64
	Username    string
	DisplayName string
	Online      bool
}

// render writes a page. It renders into a buffer first, so a template
// error becomes a clean 500 rather than half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, logger *slog.Logger, name string, status int, data pageData) {
	data.Page = name
	data.Version = p.version
	if data.Title == "" {
		data.Title = "Parley"
	}
	if data.FieldErrors == nil {
		data.FieldErrors = map[string]string{}
	}
	var buf bytes.Buffer
	if err := p.sets[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the status is sent; a failed write means the client left
}

func title(c chat.ConversationSummary) string {
	switch {
	case c.Title != "":
		return c.Title
	case c.OtherUser != nil:
		return c.OtherUser.DisplayName
	}
	return "Conversation"
}

// clock formats a time for a list: the time of day when today, else the date.
func clock(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("Jan 2")
}

func rowViews(list []chat.ConversationSummary, online map[chat.UserID]bool) []rowView {
	now := time.Now().UTC()
	rows := make([]rowView, len(list))
	for i, c := range list {
		row := rowView{
			ID:      int64(c.ID),
			Title:   title(c),
			LastSeq: c.LastSeq,
			Unread:  c.UnreadCount(),
		}
		if c.OtherUser != nil {
			row.OtherID = int64(c.OtherUser.ID)
			row.Online = online[c.OtherUser.ID]
		}
		if m := c.LastMessage; m != nil {
			row.Preview = m.Body
			row.LastAt = m.CreatedAt.Format(time.RFC3339Nano)
			row.LastTime = clock(m.CreatedAt, now)
		}
		rows[i] = row
	}
	return rows
}

func openConversation(me chat.UserID, c chat.ConversationSummary, online bool, page chat.MessagePage) *openView {
	v := &openView{
		ID:           int64(c.ID),
		Title:        title(c),
		Online:       online,
		ReadSeq:      c.LastReadSeq,
		OtherReadSeq: c.OtherReadSeq,
		HasMore:      page.HasMore,
	}
	if c.OtherUser != nil {
		v.OtherID = int64(c.OtherUser.ID)
		v.Closed = c.OtherUser.Closed
	}
	// "Seen" goes under the newest own message the other person has read.
	var seen int64
	for _, m := range page.Messages {
		if m.SenderID == me && m.Seq <= c.OtherReadSeq {
			seen = m.Seq
		}
	}
	day := ""
	for _, m := range page.Messages {
		if d := m.CreatedAt.Format("Monday, January 2, 2006"); d != day {
			day = d
			v.Items = append(v.Items, itemView{Day: d})
		}
		v.Items = append(v.Items, itemView{
			Seq:       m.Seq,
			SenderID:  int64(m.SenderID),
			Own:       m.SenderID == me,
			Body:      m.Body,
			CreatedAt: m.CreatedAt.Format(time.RFC3339Nano),
			Time:      m.CreatedAt.Format("15:04"),
			Seen:      m.Seq == seen,
		})
	}
	return v
}

// signedIn returns the signed-in user, or redirects to the login page.
func (s *server) signedIn(w http.ResponseWriter, r *http.Request) (chat.User, bool) {
	id := chat.UserID(s.sessions.GetInt64(r.Context(), sessionUserKey))
	if id != 0 {
		u, err := s.service.User(r.Context(), id)
		if err == nil {
			return u, true
		}
		if chat.ErrorCode(err) != chat.ENOTFOUND {
			s.pageError(w, r, err)
			return chat.User{}, false
		}
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return chat.User{}, false
}

// pageError answers a page request that failed.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	code := chat.ErrorCode(err)
	if code == chat.EINTERNAL {
		s.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	http.Error(w, chat.ErrorMessage(err), statusOf(code))
}

// sentence capitalizes an error message for a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:] + "."
}

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
func handleFormPage(s *server, page, title string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.pages.render(w, r, s.logger, page, http.StatusOK, pageData{Title: title})
	})
}

func handleLoginForm(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := pageData{Title: loginTitle}
		if err := parseForm(w, r); err != nil {
			data.Error = chat.ErrorMessage(err)
			s.pages.render(w, r, s.logger, "login", http.StatusBadRequest, data)
			return
		}
		data.Username = r.PostFormValue("username")
		u, err := s.service.Login(r.Context(), data.Username, r.PostFormValue("password"), clientAddr(r))
		if err == nil {
			err = signIn(r.Context(), s.sessions, u)
		}
		logLogin(r, s.logger, data.Username, u, err)
		if err != nil {
			if code := chat.ErrorCode(err); code == chat.EINTERNAL {
				s.pageError(w, r, err)
				return
			}
			data.Error = chat.ErrorMessage(err)
			setRetryAfter(w, err)
			s.pages.render(w, r, s.logger, "login", statusOf(chat.ErrorCode(err)), data)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

func handleRegisterForm(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := pageData{Title: registerTitle, FieldErrors: map[string]string{}}
		if err := parseForm(w, r); err != nil {
			data.Error = chat.ErrorMessage(err)
			s.pages.render(w, r, s.logger, "register", http.StatusBadRequest, data)
			return
		}
		data.Username = r.PostFormValue("username")
		data.DisplayName = r.PostFormValue("display_name")
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
		u, err := s.service.Register(r.Context(), data.Username, password, data.DisplayName, clientAddr(r))
		if err == nil {
			err = signIn(r.Context(), s.sessions, u)
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
			data.Error = sentence(chat.ErrorMessage(err))
			setRetryAfter(w, err)
			s.pages.render(w, r, s.logger, "register", statusOf(code), data)
		}
	})
}

func handleLogoutForm(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := signOut(r.Context(), s.logger, s.service, s.sessions); err != nil {
			s.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// handleApp shows the conversation list and, for /c/{id}, one
// conversation's newest messages.
func handleApp(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		var open *chat.ConversationSummary
		if r.PathValue("id") != "" {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil {
				s.pageError(w, r, chat.NotFound("conversation"))
				return
			}
			c, err := s.service.Conversation(ctx, me.ID, chat.ConversationID(id))
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			open = &c
		}
		list, err := s.service.Conversations(ctx, me.ID, "", 0)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		ids := make([]chat.UserID, 0, len(list.Conversations)+1)
		for _, c := range list.Conversations {
			if c.OtherUser != nil {
				ids = append(ids, c.OtherUser.ID)
			}
		}
		if open != nil && open.OtherUser != nil {
			ids = append(ids, open.OtherUser.ID)
		}
		online, err := s.service.Online(ctx, ids)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		data := pageData{Me: &me, Conversations: rowViews(list.Conversations, online)}
		if open != nil {
			page, err := s.service.Messages(ctx, me.ID, open.ID, chat.MessageQuery{})
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			isOnline := open.OtherUser != nil && online[open.OtherUser.ID]
			data.Open = openConversation(me.ID, *open, isOnline, page)
		}
		s.pages.render(w, r, s.logger, "app", http.StatusOK, data)
	})
}

// handleSendForm sends a message from the composer when JavaScript is off.
func handleSendForm(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err == nil {
			err = parseForm(w, r)
		}
		if err == nil {
			_, _, err = s.service.Send(r.Context(), me.ID, chat.SendRequest{ConversationID: chat.ConversationID(id), Body: r.PostFormValue("body")})
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/c/%d", id), http.StatusSeeOther)
	})
}

func handlePeople(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		data := pageData{Title: "People · Parley", Me: &me, Query: q.Get("q"), HasPrev: q.Get("after") != ""}
		page, err := s.service.SearchUsers(r.Context(), me.ID, data.Query, q.Get("after"), 0)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		ids := make([]chat.UserID, len(page.Users))
		for i, u := range page.Users {
			ids[i] = u.ID
		}
		online, err := s.service.Online(r.Context(), ids)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		for _, u := range page.Users {
			data.People = append(data.People, personView{ID: int64(u.ID), Username: u.Username, DisplayName: u.DisplayName, Online: online[u.ID]})
		}
		data.Next = page.Next
		s.pages.render(w, r, s.logger, "people", http.StatusOK, data)
	})
}

// handleMessageForm opens (or starts) the direct conversation with a person.
func handleMessageForm(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			s.pageError(w, r, chat.NotFound("user"))
			return
		}
		c, _, err := s.service.StartDirect(r.Context(), me.ID, chat.UserID(id))
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/c/%d", c.ID), http.StatusSeeOther)
	})
}

func handleStatic() http.Handler {
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// URLs carry the content's version, so a day's caching is safe.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
