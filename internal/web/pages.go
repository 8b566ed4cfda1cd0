package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	Attachment   attachmentView
	Attachments  []attachmentView
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
	// Attachments are the files the message carries (none on a
	// tombstone).
	Attachments []attachmentView
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
			row.Preview = previewText(me, withFilesPreview(c), n)
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
			if !m.Deleted {
				item.Attachments = attachmentViews(m.Attachments)
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

// attachmentView is a file a message carries, as its row shows it: an
// image (Image) as its thumbnail, at the size it will have (Width,
// Height), linking to the full size; any other file as a card with its
// name, Size and Kind. attachmentItem in attachments.js draws the same.
type attachmentView struct {
	Image        bool
	Name         string
	URL          string
	ThumbnailURL string
	Width        int
	Height       int
	Size         string
	Kind         string
}

// attachmentViews makes the rows' views of a message's files.
func attachmentViews(list []wire.Attachment) []attachmentView {
	if len(list) == 0 {
		return nil
	}
	out := make([]attachmentView, len(list))
	for i, a := range list {
		v := attachmentView{Name: a.Name, URL: a.URL, Size: fileSize(a.Size), Kind: fileKind(a.ContentType)}
		if a.ThumbnailURL != "" && a.Width > 0 && a.Height > 0 {
			v.Image, v.ThumbnailURL = true, a.ThumbnailURL
			v.Width, v.Height = thumbSize(a.Width, a.Height)
		}
		out[i] = v
	}
	return out
}

// The words of files, as messageText, attachmentSummary, fileSize,
// fileKind and thumbSize in format.js say them: a change here is a change
// there.

// withFilesPreview returns c with its last message's body standing for
// its files when it has no text ("📎 photo.png", "📎 2 files"), for the
// list's preview.
func withFilesPreview(c wire.ConversationRow) wire.ConversationRow {
	if m := c.LastMessage; m != nil && m.Body == "" && !m.Deleted && len(m.Attachments) > 0 {
		shown := *m
		shown.Body = attachmentSummary(m.Attachments)
		c.LastMessage = &shown
	}
	return c
}

// attachmentSummary says what a message's files are in a few words:
// "📎 photo.png" for one, "📎 2 files" for more, "" for none.
func attachmentSummary(list []wire.Attachment) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return "📎 " + list[0].Name
	}
	return "📎 " + strconv.Itoa(len(list)) + " files"
}

// fileSize says a file's size for people: "512 bytes", "2.4 MB", "24 MB"
// (units of 1,024; one decimal below 10).
func fileSize(n int64) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1024:
		return strconv.FormatInt(n, 10) + " bytes"
	}
	units := []string{"KB", "MB", "GB", "TB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 9.95 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " " + units[i]
}

// fileKind says a file's kind for people, from its sniffed media type:
// "PDF", "text", "PNG image", else the media type itself.
func fileKind(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	t = strings.ToLower(strings.TrimSpace(t))
	if k := knownKind(t); k != "" {
		return k
	}
	major, minor, _ := strings.Cut(t, "/")
	switch major {
	case "image", "audio", "video", "font":
		if minor != "" {
			return strings.ToUpper(minor) + " " + major
		}
	}
	if t == "" {
		return "file"
	}
	return t
}

// knownKind names the kinds of files people know by name, by media
// type: "" for the others.
func knownKind(mediaType string) string {
	switch mediaType {
	case "application/pdf":
		return "PDF"
	case "application/zip":
		return "ZIP archive"
	case "application/x-gzip":
		return "gzip archive"
	case "application/x-rar-compressed":
		return "RAR archive"
	case "application/octet-stream":
		return "file"
	case "application/json":
		return "JSON"
	case "application/ogg":
		return "Ogg"
	case "application/wasm":
		return "WebAssembly"
	case "application/postscript":
		return "PostScript"
	case "application/vnd.ms-fontobject":
		return "font"
	case "text/plain":
		return "text"
	case "text/html":
		return "HTML"
	case "text/xml":
		return "XML"
	case "text/csv":
		return "CSV"
	case "image/svg+xml":
		return "SVG image"
	}
	return ""
}

// thumbMax is the longest side of a thumbnail, in pixels, as the server
// makes them.
const thumbMax = 400

// thumbSize is the size of an image's thumbnail: the image scaled to fit
// in thumbMax×thumbMax, its aspect ratio kept (each side at least 1
// pixel), never larger than the image. The <img> gets it, so that the
// layout does not move as the thumbnail loads.
func thumbSize(w, h int) (int, int) {
	if w <= thumbMax && h <= thumbMax {
		return w, h
	}
	scale := func(side, den int) int {
		return max(1, int((int64(side)*thumbMax*2+int64(den))/(2*int64(den))))
	}
	if w >= h {
		return thumbMax, scale(h, w)
	}
	return scale(w, h), thumbMax
}
