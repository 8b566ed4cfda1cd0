package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// handleGroupRoleForm gives the member in the path a role (form: role,
// "admin" or "member"); admins only. The only admin stepping down is
// refused beside the member list.
func (s *server) handleGroupRoleForm() http.Handler {
	return s.groupForm("member", "role", func(r *http.Request, me chat.User, c chat.ConversationRow) error {
		user, err := pathUserID(r)
		if err != nil {
			return err
		}
		_, err = s.service.SetRole(r.Context(), me.ID, c.ID, user, chat.Role(r.PostFormValue("role")))
		return err
	})
}
