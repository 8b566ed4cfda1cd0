package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// handleGroupRemoveForm removes the member in the path from a group;
// admins only (leaving is handleGroupLeaveForm).
func (s *server) handleGroupRemoveForm() http.Handler {
	return s.groupForm("member", "removed", func(r *http.Request, me chat.User, c chat.ConversationRow) error {
		user, err := pathUserID(r)
		if err != nil {
			return err
		}
		if user == me.ID {
			// Removing oneself is leaving: it has its own button, which
			// says what it does.
			return chat.Errorf(chat.EINVALID, "to leave the group, use Leave group")
		}
		return s.service.RemoveMember(r.Context(), me.ID, c.ID, user)
	})
}
