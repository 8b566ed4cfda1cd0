package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// handleGroupTitleForm renames a group (form: title); admins only.
func (s *server) handleGroupTitleForm() http.Handler {
	return s.groupForm("title", "renamed", func(r *http.Request, me chat.User, c chat.ConversationRow) error {
		_, err := s.service.RenameGroup(r.Context(), me.ID, c.ID, r.PostFormValue("title"))
		return err
	})
}
