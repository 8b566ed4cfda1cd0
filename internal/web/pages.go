package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

//go:embed templates static
var assets embed.FS

// pages holds the parsed templates, one set per page, and the static files
// they link to.
type pages struct {
	sets   map[string]*template.Template
	static *staticBundle
}

// parsePages parses every template and loads the static files at start-up,
// so a broken template or a module importing a missing file stops the
// server before it serves anything.
func parsePages() (*pages, error) {
	static, err := loadStatic(assets)
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}, static: static}
	// Each page is a template set of its own: the layout, the rows (the
	// markup the pages and the scripts share) and the page's file.
	for _, name := range []string{"login", "register", "app", "people", "settings", "error", "group-new", "members", "search", "admin"} {
		t, err := template.New(name).ParseFS(assets, "templates/layout.html", "templates/rows.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s template: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	Page  string
	Me    *chat.User

	// Static is the path of this version's static files, /static/{hash};
	// Modules are the script's modules beside main.js, preloaded so that
	// the browser fetches them all at once instead of one import level
	// after another.
	Static  string
	Modules []string
	// State is the data the page's script starts from, in the JSON API's
	// shapes, written into the page as JSON: the script never reads it
	// back from the markup.
	State any
	// Blank holds zero rows: the skeletons the <template> elements hold,
	// which the scripts clone and fill.
	Blank blankRows

	// Forms.
	Error       string
	Notice      string // what a form did, on success
	Username    string
	DisplayName string
	FieldErrors map[string]string
	// BadCredentials marks the log-in form's fields invalid (aria-invalid):
	// Error is about what was typed, not a wait or an outage.
	BadCredentials bool
	// Invitation is the sign-up form's invitation token, from its link.
	Invitation string

	// Admin is the admin page.
	Admin *adminView

	// The main view.
	Conversations []rowView
	Open          *openView

	// People.
	Query   string
	People  []personView
	Next    string
	HasPrev bool

	// The error page.
	Problem *problemView
}

// problemView is what the error page says: a heading, a sentence, and a
// link to somewhere that works.
type problemView struct {
	Heading  string
	Text     string
	LinkHref string
	LinkText string
}

// blankRows are the rows of rows.html with nothing in them, for its
// <template> elements.
type blankRows struct {
	Conversation rowView
	Message      itemView
	Person       personView
}

// appState is the main view's data for its script (State): the
// conversation list as GET /api/v1/conversations gives it and the open
// conversation as GET /api/v1/conversations/{id} and its messages give it.
type appState struct {
	Me            wire.User              `json:"me"`
	Conversations []wire.ConversationRow `json:"conversations"`
	Open          *openState             `json:"open"`
	// Users are the people the page names (senders and system messages
	// of groups, members), so that the script names them as the server
	// did without asking.
	Users []wire.User `json:"users"`
}

// openState is the open conversation in appState.
type openState struct {
	Conversation wire.ConversationRow `json:"conversation"`
	Messages     []wire.Message       `json:"messages"`
	HasMore      bool                 `json:"has_more"`
	// HasNewer: the page was opened at a message (At) and the window stops
	// short of the newest one, which the script fetches when scrolled to.
	HasNewer bool `json:"has_newer"`
	// At is the message the page was opened at (?at=), 0 for the end.
	At int64 `json:"at"`
	// Members is a group's whole member list (GET …/members, every
	// page): the status line and "Seen by …" come from it. Empty for a
	// direct conversation.
	Members []wire.Member `json:"members"`
}

// rowView is a conversation list row as the template shows it.
type rowView struct {
	ID       int64
	Title    string
	Online   bool
	Group    bool // a group: no online dot
	Active   bool // the open conversation
	LastAt   string
	LastTime string
	Preview  string
	Unread   int64
}

// openView is the open conversation as the template shows it.
type openView struct {
	ID    int64
	Title string
	// Status is the line under the title: "online" or "offline", for a
	// group "3 members, 2 online".
	Status string
	Group  bool
	Closed bool // the other person closed their account
	Items  []itemView
	// At is the message the page was opened at, 0 for none: a search
	// result's link goes to its row.
	At int64
}

// itemView is a message, a day separator when Day is set, or the "New
// messages" divider when Divider is set.
type itemView struct {
	Day     string
	Divider bool
	Seq     int64
	// System is a system message's sentence ("Ada added Grace"): the
	// item is a system row when it is set.
	System    []namePart
	Own       bool
	Sender    string     // the sender's name above a group message, "" for none
	Parts     []textPart // the body, its links apart
	CreatedAt string
	Time      string
	Seen      string // "Seen", "Seen by Ada, Grace", or "" for none
	// Deleted: a tombstone, shown as DeletedText; EditedTitle says when
	// its sender last edited it, "" when never (or deleted since).
	Deleted     bool
	EditedTitle string
	// CanEdit and CanDelete: the reader may edit it (their own) or delete
	// it (their own, or anyone's in a group they are an admin of).
	CanEdit   bool
	CanDelete bool
	// Found: the message the page was opened at (?at=), marked so that
	// the reader sees which one the link was to.
	Found bool
}

// DeletedText is what a deleted message's row says.
func (itemView) DeletedText() string { return deletedText }

// editedTitle is the title of a message's "(edited)": when, in UTC, to
// the minute; editedTitle in conversation-view.js writes the same.
func editedTitle(t time.Time) string {
	return "Edited " + t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// canEdit says whether the reader may edit a message: their own text
// message, not deleted (messageActions in conversation-view.js).
func canEdit(me int64, m wire.Message) bool {
	return m.Kind != wire.MessageSystem && !m.Deleted && m.SenderID == me
}

// canDelete says whether the reader may delete a message: their own, or
// anyone's text message in a group they are an admin of.
func canDelete(me int64, m wire.Message, admin bool) bool {
	return m.Kind != wire.MessageSystem && !m.Deleted && (m.SenderID == me || admin)
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
	p.write(w, r, logger, name, status, p.fill(name, data))
}

// fill sets what every page's data holds beside its own: the page's name,
// the static files' prefix and modules, a title, a map of field errors.
func (p *pages) fill(name string, data pageData) pageData {
	data.Page = name
	data.Static = p.static.prefix()
	data.Modules = p.static.modules
	if data.Title == "" {
		data.Title = "Parley"
	}
	if data.FieldErrors == nil {
		data.FieldErrors = map[string]string{}
	}
	return data
}

// write executes page name's layout with data (a pageData, or a struct
// embedding one) into a buffer, then sends it with status.
func (p *pages) write(w http.ResponseWriter, r *http.Request, logger *slog.Logger, name string, status int, data any) {
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

// rowTitle is a conversation's name in the list and the header: its title,
// else the other person's name. The script's titleOf says the same.
func rowTitle(c wire.ConversationRow) string {
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

// rowViews makes the list's rows from the same API rows the page's script
// gets, so that the two cannot disagree.
func rowViews(me int64, list []wire.ConversationRow, openID int64, n names) []rowView {
	now := time.Now().UTC()
	rows := make([]rowView, len(list))
	for i, c := range list {
		row := rowView{
			ID:     c.ID,
			Title:  rowTitle(c),
			Group:  c.Kind == wire.KindGroup,
			Active: c.ID == openID,
			Unread: c.UnreadCount,
		}
		if c.OtherUser != nil {
			row.Online = c.OtherUser.Online
		}
		if m := c.LastMessage; m != nil {
			row.Preview = previewText(me, c, n)
			row.LastAt = m.CreatedAt.Format(time.RFC3339Nano)
			row.LastTime = clock(m.CreatedAt, now)
		}
		rows[i] = row
	}
	return rows
}

func openConversation(me int64, st *openState, n names) *openView {
	c := st.Conversation
	v := &openView{ID: c.ID, Title: rowTitle(c), Group: c.Kind == wire.KindGroup, Status: "offline", At: st.At}
	if c.OtherUser != nil {
		if c.OtherUser.Online {
			v.Status = "online"
		}
		v.Closed = c.OtherUser.Closed
	}
	// "Seen" goes under the newest own message the other person has read;
	// in a group "Seen by …" under the newest one anyone else has read.
	var seen int64
	seenText := "Seen"
	admin := false
	for _, m := range st.Members {
		if m.User.ID == me && m.Role == wire.RoleAdmin {
			admin = v.Group
		}
	}
	if v.Group {
		v.Status = memberStatus(me, c.MemberCount, st.Members)
		seen, seenText = seenBy(me, st.Messages, st.Members)
	} else {
		for _, m := range st.Messages {
			if m.SenderID == me && m.Seq <= c.OtherReadSeq {
				seen = m.Seq
			}
		}
	}
	day := ""
	var prev *wire.Message
	for i, m := range st.Messages {
		sameDay := true
		if d := m.CreatedAt.Format("Monday, January 2, 2006"); d != day {
			day = d
			sameDay = false
			v.Items = append(v.Items, itemView{Day: d})
		}
		// "New messages" goes above the first unread message
		// (unreadDivider in conversation-view.js says the same).
		if m.Seq == c.LastReadSeq+1 && c.LastSeq > c.LastReadSeq {
			v.Items = append(v.Items, itemView{Divider: true})
		}
		item := itemView{Seq: m.Seq, Found: st.At != 0 && m.Seq == st.At}
		switch {
		case m.Kind == wire.MessageSystem:
			item.System = systemParts(me, m, n)
		default:
			item.Own = m.SenderID == me
			item.Parts = linkify(m.Body)
			item.Deleted = m.Deleted
			if m.EditedAt != nil && !m.Deleted {
				item.EditedTitle = editedTitle(*m.EditedAt)
			}
			item.CanEdit = canEdit(me, m)
			item.CanDelete = canDelete(me, m, admin)
			item.CreatedAt = m.CreatedAt.Format(time.RFC3339Nano)
			item.Time = m.CreatedAt.Format("15:04")
			if m.Seq == seen {
				item.Seen = seenText
			}
			if v.Group && showSender(me, prev, m, sameDay) {
				item.Sender = n.name(m.SenderID)
			}
		}
		v.Items = append(v.Items, item)
		prev = &st.Messages[i]
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

// pageError answers a page request that failed with the error page, in
// the layout of every page, with the status of the error's code. A
// conversation that does not exist and one the visitor is not in get the
// same page, byte for byte: the page says nothing of the address asked for.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.LinkHref, p.LinkText = "/login", "Go to the log-in page"
	if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
		p.LinkHref, p.LinkText = "/", "Back to your conversations"
	}
	s.pages.renderProblem(w, r, s.logger, err, p)
}

// problemFor is what the error page says of err; its link is the caller's.
func problemFor(err error) *problemView {
	p := &problemView{}
	switch chat.ErrorCode(err) {
	case chat.ENOTFOUND:
		p.Heading = "Page not found"
		p.Text = "There is no page at this address, or it is not yours to see."
	case chat.EINTERNAL:
		p.Heading = "Something went wrong"
		p.Text = "The server could not answer this time. Try again in a moment."
	default:
		p.Heading = http.StatusText(statusOf(chat.ErrorCode(err)))
		p.Text = waitMessage(err)
	}
	return p
}

// renderProblem answers with the error page saying prob, with the status of
// err's code (and its Retry-After); an internal error is logged with its
// route and cause.
func (p *pages) renderProblem(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error, prob *problemView) {
	code := chat.ErrorCode(err)
	if code == chat.EINTERNAL {
		logger.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	setRetryAfter(w, err)
	p.render(w, r, logger, "error", statusOf(code), pageData{Title: prob.Heading + " · Parley", Problem: prob})
}

// waitMessage is an error's message as a sentence, and for one that says
// when to try again (rate limits, a limiter that cannot answer) how long
// that is, instead of "later": "Too many failed attempts. Try again in 2
// minutes."
func waitMessage(err error) string {
	msg := chat.ErrorMessage(err)
	d := chat.RetryAfter(err)
	if d <= 0 {
		return sentence(msg)
	}
	// The messages say "what: try again later" or "what: slow down"; the
	// part before the colon says what happened.
	what, _, _ := strings.Cut(msg, ":")
	return sentence(what) + " Try again in " + waitPhrase(d) + "."
}

// waitPhrase says a wait in words, rounded up (never shorter than the
// Retry-After header's whole seconds): seconds under two minutes, minutes
// under two hours, else hours.
func waitPhrase(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	up := func(unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	switch {
	case d < 2*time.Minute:
		return plural(up(time.Second), "second")
	case d < 2*time.Hour:
		return plural(up(time.Minute), "minute")
	}
	return plural(up(time.Hour), "hour")
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
		u, err := logIn(r.Context(), s.service, s.sessions, chat.Credentials{Username: data.Username, Password: r.PostFormValue("password"), Addr: clientAddr(r)})
		logLogin(r, s.logger, data.Username, u, err)
		if err != nil {
			if code := chat.ErrorCode(err); code == chat.EINTERNAL {
				s.pageError(w, r, err)
				return
			}
			data.Error = chat.ErrorMessage(err)
			if chat.RetryAfter(err) > 0 {
				data.Error = waitMessage(err)
			}
			data.BadCredentials = chat.ErrorCode(err) == chat.EUNAUTHORIZED
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
			data.Error = waitMessage(err)
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

// aroundPage is how many messages the page holds on each side of the one
// it was opened at (?at=): the context a search result is read in.
const aroundPage = chat.DefaultMsgPage

// parseAt reads ?at=, the message to open a conversation at: 0 when not
// given, else a positive seq.
func parseAt(r *http.Request) (int64, error) {
	raw, ok := r.URL.Query()["at"]
	if !ok {
		return 0, nil
	}
	at, err := strconv.ParseInt(raw[0], 10, 64)
	if err != nil || at <= 0 || len(raw) > 1 {
		return 0, chat.Errorf(chat.EINVALID, "at must be the sequence number of a message")
	}
	return at, nil
}

// openMessages reads the open conversation's window: its newest page, or
// with at the messages around that one (aroundPage before it, aroundPage
// after it). A seq beyond the newest message, or of one that is not there,
// opens at the end as without at.
func openMessages(ctx context.Context, svc *chat.Service, me chat.UserID, c *chat.ConversationRow, at int64) (*openState, error) {
	st := &openState{}
	var msgs []chat.Message
	if at > 0 && at <= c.LastSeq {
		before, err := svc.Messages(ctx, me, c.ID, chat.MessageQuery{BeforeSeq: at + 1, Limit: aroundPage + 1})
		if err != nil {
			return nil, err
		}
		if n := len(before.Messages); n > 0 && before.Messages[n-1].Seq == at {
			after, err := svc.Messages(ctx, me, c.ID, chat.MessageQuery{After: true, AfterSeq: at, Limit: aroundPage})
			if err != nil {
				return nil, err
			}
			msgs = append(before.Messages, after.Messages...)
			st.HasMore, st.HasNewer, st.At = before.HasMore, after.HasMore, at
		}
	}
	if st.At == 0 {
		page, err := svc.Messages(ctx, me, c.ID, chat.MessageQuery{})
		if err != nil {
			return nil, err
		}
		msgs, st.HasMore = page.Messages, page.HasMore
	}
	st.Messages = make([]wire.Message, len(msgs))
	for i, m := range msgs {
		st.Messages[i] = wireMessage(m)
	}
	return st, nil
}

// handleApp shows the conversation list and, for /c/{id}, one
// conversation's newest messages, or with ?at={seq} the messages around
// that one.
func handleApp(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		var open *chat.ConversationRow
		var at int64
		if r.PathValue("id") != "" {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil {
				s.pageError(w, r, chat.NotFound("conversation"))
				return
			}
			if at, err = parseAt(r); err != nil {
				s.pageError(w, r, err)
				return
			}
			c, err := s.service.Conversation(ctx, me.ID, chat.ConversationID(id))
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			open = &c
		}
		list, err := s.service.Conversations(ctx, me.ID, chat.ConversationPageQuery{})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		// The list and the open conversation in their API shapes, with one
		// presence lookup for both; the markup and the script's data are
		// both made from them.
		listed := slices.Clip(list.Conversations)
		if open != nil {
			listed = append(listed, *open)
		}
		rows, err := conversationRows(ctx, s.service, listed)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		state := appState{Me: wireUser(me), Conversations: rows[:len(list.Conversations)]}
		var openID int64
		if open != nil {
			st, err := openMessages(ctx, s.service, me.ID, open, at)
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			st.Conversation = rows[len(rows)-1]
			if st.Conversation.Kind == wire.KindGroup {
				if st.Members, err = allMembers(ctx, s.service, me.ID, open.ID); err != nil {
					s.pageError(w, r, err)
					return
				}
			}
			state.Open = st
			openID = st.Conversation.ID
		}
		n, err := pageNames(ctx, s.service, state.Me, &state)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		state.Users = usersOf(n)
		data := pageData{Me: &me, Conversations: rowViews(state.Me.ID, state.Conversations, openID, n), State: state}
		if state.Open != nil {
			data.Open = openConversation(state.Me.ID, state.Open, n)
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
		page, err := s.service.SearchUsers(r.Context(), me.ID, chat.UserSearch{Query: data.Query, After: q.Get("after")})
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
