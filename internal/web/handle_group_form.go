package web

import (
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
