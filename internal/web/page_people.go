package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
)

func (s *server) handlePeople() http.Handler {
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
func (s *server) handleMessageForm() http.Handler {
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
