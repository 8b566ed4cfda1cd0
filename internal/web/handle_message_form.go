package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
)

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
