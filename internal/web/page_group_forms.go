package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
)

// membersURL is the members page of group id, saying done when set.
func membersURL(id chat.ConversationID, done string) string {
	u := "/c/" + strconv.FormatInt(int64(id), 10) + "/members"
	if done != "" {
		u += "?" + url.Values{"done": {done}}.Encode()
	}
	return u
}

// groupForm runs a members-page form's action on the group in the path,
// then answers by Post/Redirect/Get: 303 to the members page saying done.
// A group the visitor is not in (or a direct conversation) is the 404
// page, a refusal for admins only the 403 page; any other refusal shows
// the members page again with act's error where field says ("title",
// "member" or "add") and the rename box as typed.
func (s *server) groupForm(field, done string, act func(r *http.Request, me chat.User, c chat.ConversationRow) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		c, err := s.groupOf(r, me.ID)
		if err == nil {
			err = parseForm(w, r)
		}
		if err == nil {
			err = act(r, me, c)
		}
		switch code := chat.ErrorCode(err); code {
		case "":
			http.Redirect(w, r, membersURL(c.ID, done), http.StatusSeeOther)
			return
		case chat.EINTERNAL, chat.EFORBIDDEN, chat.EUNAUTHORIZED:
			s.pageError(w, r, err)
			return
		}
		// The group as it is now: the change may have made it gone for the
		// visitor, or it was never theirs.
		c2, err2 := s.groupOf(r, me.ID)
		if err2 != nil {
			s.pageError(w, r, err2)
			return
		}
		v, err2 := s.membersPage(r.Context(), me.ID, c2, "", r.PostFormValue("q"))
		if err2 != nil {
			s.pageError(w, r, err2)
			return
		}
		msg := waitMessage(err)
		switch field {
		case "title":
			v.TitleError = msg
			v.TitleValue = r.PostFormValue("title")
		case "add":
			v.AddError = msg
		default:
			v.MemberError = msg
		}
		setRetryAfter(w, err)
		s.showMembers(w, r, me, v, "", statusOf(chat.ErrorCode(err)))
	})
}

// formUserID reads the one user_id of a form.
func formUserID(r *http.Request) (chat.UserID, error) {
	ids, err := parseUserIDs(r.PostForm["user_id"])
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, chat.Errorf(chat.EINVALID, "choose one person to add")
	}
	return ids[0], nil
}

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

// handleGroupTitleForm renames a group (form: title); admins only.
func (s *server) handleGroupTitleForm() http.Handler {
	return s.groupForm("title", "renamed", func(r *http.Request, me chat.User, c chat.ConversationRow) error {
		_, err := s.service.RenameGroup(r.Context(), me.ID, c.ID, r.PostFormValue("title"))
		return err
	})
}
