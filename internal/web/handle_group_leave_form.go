package web

import "net/http"

// handleGroupLeaveForm takes the visitor out of a group, whoever they
// are, and goes to the conversation list (the group is 404 for them from
// then on): 303 to /.
func (s *server) handleGroupLeaveForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		c, err := s.groupOf(r, me.ID)
		if err == nil {
			err = s.service.RemoveMember(r.Context(), me.ID, c.ID, me.ID)
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.logger.InfoContext(r.Context(), "group left", "conversation_id", c.ID, "user_id", me.ID)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}
