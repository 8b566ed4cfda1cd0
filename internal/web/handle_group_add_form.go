package web

import (
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// handleGroupAddForm adds one person to a group (form: user_id); admins
// only. Someone already a member, or a full group, is refused beside
// "Add people".
func (s *server) handleGroupAddForm() http.Handler {
	return s.groupForm("add", "added", func(r *http.Request, me chat.User, c chat.ConversationRow) error {
		id, err := formUserID(r)
		if err != nil {
			return err
		}
		_, err = s.service.AddMember(r.Context(), me.ID, c.ID, id)
		return err
	})
}
