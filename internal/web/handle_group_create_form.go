package web

import (
	"fmt"
	"net/http"

	"github.com/parleychat/parley/internal/chat"
)

// handleGroupCreateForm creates a group from the "New group" form (title,
// user_id repeated) as POST /api/v1/conversations does, with the visitor
// as its admin, and goes to it: 303 to /c/{id}. A bad title, nobody or
// too many chosen, an account gone or a throttled visitor get the form
// again with what they typed and ticked, and the error beside its field.
func (s *server) handleGroupCreateForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		v := &newGroupView{}
		err := parseForm(w, r)
		var chosen []chat.UserID
		if err == nil {
			v.Title, v.Query = r.PostFormValue("title"), r.PostFormValue("q")
			chosen, err = parseUserIDs(r.PostForm["user_id"])
		}
		if err == nil {
			// Each field's own check first, so both errors show at once.
			if _, terr := chat.NormalizeGroupTitle(v.Title); terr != nil {
				v.TitleError = sentence(chat.ErrorMessage(terr))
				err = terr
			}
			if !hasOther(chosen, me.ID) {
				v.PeopleError = "Choose at least one person besides you."
				err = chat.Errorf(chat.EINVALID, "a group needs at least one member besides you")
			}
		}
		var c chat.Conversation
		if err == nil {
			c, err = s.service.CreateGroup(r.Context(), me.ID, v.Title, chosen)
		}
		code := chat.ErrorCode(err)
		switch code {
		case "":
			s.logger.InfoContext(r.Context(), "group created", "conversation_id", c.ID, "user_id", me.ID, "members", c.MemberCount)
			http.Redirect(w, r, fmt.Sprintf("/c/%d", c.ID), http.StatusSeeOther)
			return
		case chat.EINTERNAL, chat.EUNAUTHORIZED:
			s.pageError(w, r, err)
			return
		}
		if v.TitleError == "" && v.PeopleError == "" {
			// The service's refusal: too many people, an account gone
			// (ENOTFOUND), a throttle.
			switch code {
			case chat.ENOTFOUND:
				v.PeopleError = goneMessage
			case chat.EINVALID:
				v.PeopleError = sentence(chat.ErrorMessage(err))
			default:
				v.PeopleError = waitMessage(err)
			}
		}
		if perr := s.pickPeople(r.Context(), me.ID, v, chosen, ""); perr != nil {
			s.pageError(w, r, perr)
			return
		}
		setRetryAfter(w, err)
		s.pages.renderGroup(w, r, s.logger, "group-new", statusOf(code), groupPageData{pageData: pageData{Title: newGroupTitle, Me: &me}, NewGroup: v})
	})
}

// hasOther reports whether ids names someone besides me.
func hasOther(ids []chat.UserID, me chat.UserID) bool {
	for _, id := range ids {
		if id != me {
			return true
		}
	}
	return false
}
