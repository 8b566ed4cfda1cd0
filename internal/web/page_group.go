package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
)

// groupPageData is what the group pages' templates get: every page's data
// and the page's own view (one of the two is set).
type groupPageData struct {
	pageData
	NewGroup *newGroupView
	Group    *membersView
}

// newGroupView is the "New group" page: the form as the person left it
// (title, search, who is chosen) and a page of the people directory.
type newGroupView struct {
	Title      string
	TitleError string
	// PeopleError is about who is chosen: nobody, too many, an account
	// that is gone.
	PeopleError string
	Query       string
	// Chosen are the people ticked so far, whichever page of the directory
	// they were ticked on; People is this page of the directory without them.
	Chosen  []pickView
	People  []pickView
	Next    string
	HasPrev bool
}

// pickView is a person of the picker, ticked when Chosen.
type pickView struct {
	personView
	Chosen bool
	// Member: already in the group (the "Add people" list).
	Member bool
	// Invalid: the picker has an error (aria-invalid on every box).
	Invalid bool
}

// membersView is a group's members page.
type membersView struct {
	ID          int64
	Title       string
	MemberCount int
	// Admin: the visitor is one of the group's admins, who rename, add,
	// remove and change roles.
	Admin   bool
	Members []memberView
	Next    string // the next page of members, "" on the last
	HasPrev bool
	// The forms: the rename box as typed and each form's error.
	TitleValue  string
	TitleError  string
	MemberError string
	AddError    string
	// The "Add people" search and its page of the directory.
	Query      string
	People     []pickView
	PeopleNext string
}

// memberView is a row of the member list.
type memberView struct {
	personView
	Admin bool
	You   bool
	// OnlyAdmin: the group's one admin, who cannot step down (the page
	// offers no "Make member"); known when every member is on the page.
	OnlyAdmin bool
}

// Titles of the group pages.
const newGroupTitle = "New group · Parley"

func membersTitle(title string) string { return "Members of " + title + " · Parley" }

// groupNotices are the notes a members page shows after a form's
// redirect (?done=…): fixed words, so the address carries nothing a
// visitor could be made to read.
var groupNotices = map[string]string{
	"created": "The group is created.",
	"renamed": "The group is renamed.",
	"added":   "The person is added to the group.",
	"role":    "The member's role is changed.",
	"removed": "The member is removed from the group.",
}

// renderGroup writes a group page as render writes the others.
func (p *pages) renderGroup(w http.ResponseWriter, r *http.Request, logger *slog.Logger, name string, status int, data groupPageData) {
	data.pageData = p.fill(name, data.pageData)
	p.write(w, r, logger, name, status, data)
}

// parseUserIDs reads the repeated user_id values of a group form: each a
// positive decimal user ID, repeats dropped, in the order given. Errors:
// EINVALID for a value that is not one.
func parseUserIDs(values []string) ([]chat.UserID, error) {
	ids := make([]chat.UserID, 0, len(values))
	seen := make(map[chat.UserID]bool, len(values))
	for _, v := range values {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, chat.Errorf(chat.EINVALID, "a choice is not a person of the directory")
		}
		if id := chat.UserID(n); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// maxShownChosen caps the people the picker shows as chosen: the
// default cap of a group's members.
const maxShownChosen = chat.DefaultMaxGroupMembers

// goneMessage is the picker's error for a chosen account that is gone.
const goneMessage = "One of the people chosen no longer has an account: they are taken off the list."

// pickPeople fills the picker of v: the chosen people (those whose
// account is gone are dropped, and named in PeopleError unless it says
// something already) and the page of the directory for v.Query after
// after, without them.
func (s *server) pickPeople(ctx context.Context, me chat.UserID, v *newGroupView, chosen []chat.UserID, after string) error {
	if len(chosen) > maxShownChosen {
		// Each one shown is a look-up: a page does not make thousands.
		chosen = chosen[:maxShownChosen]
		if v.PeopleError == "" {
			v.PeopleError = fmt.Sprintf("At most %d people can be chosen here.", maxShownChosen)
		}
	}
	var users []chat.User
	for _, id := range chosen {
		u, err := s.service.User(ctx, id)
		switch {
		case chat.ErrorCode(err) == chat.ENOTFOUND, err == nil && u.Closed:
			// An account gone since it was ticked: off the list, said once.
			if v.PeopleError == "" {
				v.PeopleError = goneMessage
			}
			continue
		case err != nil:
			return err
		case u.ID == me:
			continue // the visitor is the group's admin, not a choice
		}
		users = append(users, u)
	}
	page, err := s.service.SearchUsers(ctx, me, chat.UserSearch{Query: v.Query, After: after})
	if err != nil {
		return err
	}
	ids := make([]chat.UserID, 0, len(users)+len(page.Users))
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	for _, u := range page.Users {
		ids = append(ids, u.ID)
	}
	online, err := s.service.Online(ctx, ids)
	if err != nil {
		return err
	}
	picked := map[chat.UserID]bool{}
	for _, u := range users {
		picked[u.ID] = true
		v.Chosen = append(v.Chosen, pickView{personView: person(u, online[u.ID]), Chosen: true})
	}
	for _, u := range page.Users {
		if !picked[u.ID] {
			v.People = append(v.People, pickView{personView: person(u, online[u.ID])})
		}
	}
	v.Next = page.Next
	v.HasPrev = after != ""
	if v.PeopleError != "" {
		for i := range v.Chosen {
			v.Chosen[i].Invalid = true
		}
		for i := range v.People {
			v.People[i].Invalid = true
		}
	}
	return nil
}

func person(u chat.User, online bool) personView {
	return personView{ID: int64(u.ID), Username: u.Username, DisplayName: u.DisplayName, Online: online}
}

// handleGroupNewPage shows the "New group" page. Its one form both
// searches (GET back here, with what is ticked and typed so far) and
// creates (POST /groups), so a browser without JavaScript keeps the
// choices from one search to the next. Query: title, q, user_id
// (repeated: the people chosen), after (the directory's page).
func (s *server) handleGroupNewPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		v := &newGroupView{Title: q.Get("title"), Query: q.Get("q")}
		chosen, err := parseUserIDs(q["user_id"])
		if err != nil {
			v.PeopleError = sentence(chat.ErrorMessage(err))
		}
		if err := s.pickPeople(r.Context(), me.ID, v, chosen, q.Get("after")); err != nil {
			s.pageError(w, r, err)
			return
		}
		s.pages.renderGroup(w, r, s.logger, "group-new", http.StatusOK, groupPageData{pageData: pageData{Title: newGroupTitle, Me: &me}, NewGroup: v})
	})
}

// groupOf returns the group id names in a path, as the visitor sees it:
// ENOTFOUND for a bad ID, a conversation they are not in or a direct
// conversation (whose two members do not change: it has no members page).
func (s *server) groupOf(r *http.Request, me chat.UserID) (chat.ConversationRow, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return chat.ConversationRow{}, chat.NotFound("conversation")
	}
	c, err := s.service.Conversation(r.Context(), me, chat.ConversationID(id))
	if err != nil {
		return c, err
	}
	if c.Kind != chat.KindGroup {
		return c, chat.NotFound("conversation")
	}
	return c, nil
}

// membersPage builds the members page of group c for me: the page of
// members after after and, for an admin, the directory's page for query
// in "Add people".
func (s *server) membersPage(ctx context.Context, me chat.UserID, c chat.ConversationRow, after, query string) (*membersView, error) {
	mine, err := s.service.Membership(ctx, me, c.ID)
	if err != nil {
		return nil, err
	}
	v := &membersView{ID: int64(c.ID), Title: c.Title, TitleValue: c.Title, MemberCount: c.MemberCount, Admin: mine.Role == chat.RoleAdmin, Query: query, HasPrev: after != ""}
	page, err := s.service.Members(ctx, me, c.ID, after, 0)
	if err != nil {
		return nil, err
	}
	v.Next = page.Next
	ids := make([]chat.UserID, 0, len(page.Members))
	for _, m := range page.Members {
		ids = append(ids, m.UserID)
	}
	var found chat.UserPage
	if v.Admin {
		if found, err = s.service.SearchUsers(ctx, me, chat.UserSearch{Query: query}); err != nil {
			return nil, err
		}
		for _, u := range found.Users {
			ids = append(ids, u.ID)
		}
	}
	online, err := s.service.Online(ctx, ids)
	if err != nil {
		return nil, err
	}
	member := map[chat.UserID]bool{}
	for _, m := range page.Members {
		member[m.UserID] = true
		v.Members = append(v.Members, memberView{personView: person(m.User, online[m.UserID]), Admin: m.Role == chat.RoleAdmin, You: m.UserID == me})
	}
	// Who is a member already is known only when every member is on this
	// page; otherwise adding one again says so.
	whole := after == "" && page.Next == ""
	if admins := slices.IndexFunc(v.Members, func(m memberView) bool { return m.Admin }); whole && admins >= 0 &&
		!slices.ContainsFunc(v.Members[admins+1:], func(m memberView) bool { return m.Admin }) {
		v.Members[admins].OnlyAdmin = true
	}
	for _, u := range found.Users {
		v.People = append(v.People, pickView{personView: person(u, online[u.ID]), Member: whole && member[u.ID]})
	}
	v.PeopleNext = found.Next
	return v, nil
}

// showMembers renders the members page of c with v's forms as they are
// and status.
func (s *server) showMembers(w http.ResponseWriter, r *http.Request, me chat.User, v *membersView, notice string, status int) {
	s.pages.renderGroup(w, r, s.logger, "members", status, groupPageData{pageData: pageData{Title: membersTitle(v.Title), Me: &me, Notice: notice}, Group: v})
}

// handleGroupMembersPage shows a group's members page: the title (a
// rename form for admins), the members page by page (after), "Add people"
// for admins (q searches the directory), and "Leave group". A direct
// conversation has none: 404, as for a conversation the visitor is not in.
func (s *server) handleGroupMembersPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		c, err := s.groupOf(r, me.ID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		q := r.URL.Query()
		v, err := s.membersPage(r.Context(), me.ID, c, q.Get("after"), q.Get("q"))
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.showMembers(w, r, me, v, groupNotices[q.Get("done")], http.StatusOK)
	})
}
