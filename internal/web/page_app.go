package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// aroundPage is how many messages the page holds on each side of the one
// it was opened at (?at=): the context a search result is read in.
const aroundPage = chat.DefaultMsgPage

// parseAt reads ?at=, the message to open a conversation at: 0 when not
// given, else a positive seq.
func parseAt(r *http.Request) (int64, error) {
	raw, ok := r.URL.Query()["at"]
	if !ok {
		return 0, nil
	}
	at, err := strconv.ParseInt(raw[0], 10, 64)
	if err != nil || at <= 0 || len(raw) > 1 {
		return 0, chat.Errorf(chat.EINVALID, "at must be the sequence number of a message")
	}
	return at, nil
}

// openMessages reads the open conversation's window: its newest page, or
// with at the messages around that one (aroundPage before it, aroundPage
// after it). A seq beyond the newest message, or of one that is not there,
// opens at the end as without at.
func (s *server) openMessages(ctx context.Context, me chat.UserID, c *chat.ConversationRow, at int64) (*openState, error) {
	st := &openState{}
	var msgs []chat.Message
	if at > 0 && at <= c.LastSeq {
		before, err := s.service.Messages(ctx, me, c.ID, chat.MessageQuery{BeforeSeq: at + 1, Limit: aroundPage + 1})
		if err != nil {
			return nil, err
		}
		if n := len(before.Messages); n > 0 && before.Messages[n-1].Seq == at {
			after, err := s.service.Messages(ctx, me, c.ID, chat.MessageQuery{After: true, AfterSeq: at, Limit: aroundPage})
			if err != nil {
				return nil, err
			}
			msgs = append(before.Messages, after.Messages...)
			st.HasMore, st.HasNewer, st.At = before.HasMore, after.HasMore, at
		}
	}
	if st.At == 0 {
		page, err := s.service.Messages(ctx, me, c.ID, chat.MessageQuery{})
		if err != nil {
			return nil, err
		}
		msgs, st.HasMore = page.Messages, page.HasMore
	}
	st.Messages = make([]wire.Message, len(msgs))
	for i, m := range msgs {
		st.Messages[i] = wireMessage(m)
	}
	return st, nil
}

// handleApp shows the conversation list and, for /c/{id}, one
// conversation's newest messages, or with ?at={seq} the messages around
// that one.
func (s *server) handleApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		var open *chat.ConversationRow
		var at int64
		if r.PathValue("id") != "" {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil {
				s.pageError(w, r, chat.NotFound("conversation"))
				return
			}
			if at, err = parseAt(r); err != nil {
				s.pageError(w, r, err)
				return
			}
			c, err := s.service.Conversation(ctx, me.ID, chat.ConversationID(id))
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			open = &c
		}
		list, err := s.service.Conversations(ctx, me.ID, chat.ConversationPageQuery{})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		// The list and the open conversation in their API shapes, with one
		// presence lookup for both; the markup and the script's data are
		// both made from them.
		listed := slices.Clip(list.Conversations)
		if open != nil {
			listed = append(listed, *open)
		}
		rows, err := s.conversationRows(ctx, listed)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		state := appState{Me: wireUser(me), Conversations: rows[:len(list.Conversations)]}
		var openID int64
		if open != nil {
			st, err := s.openMessages(ctx, me.ID, open, at)
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			st.Conversation = rows[len(rows)-1]
			if st.Conversation.Kind == wire.KindGroup {
				if st.Members, err = s.allMembers(ctx, me.ID, open.ID); err != nil {
					s.pageError(w, r, err)
					return
				}
			}
			state.Open = st
			openID = st.Conversation.ID
		}
		n, err := s.pageNames(ctx, state.Me, &state)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		state.Users = usersOf(n)
		data := pageData{Me: &me, Conversations: rowViews(state.Me.ID, state.Conversations, openID, n), State: state}
		if state.Open != nil {
			data.Open = openConversation(state.Me.ID, state.Open, n)
		}
		s.pages.render(w, r, s.logger, "app", http.StatusOK, data)
	})
}

// handleSendForm sends a message from the composer when JavaScript is off.
func (s *server) handleSendForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err == nil {
			err = parseForm(w, r)
		}
		if err == nil {
			_, _, err = s.service.Send(r.Context(), me.ID, chat.SendRequest{ConversationID: chat.ConversationID(id), Body: r.PostFormValue("body")})
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/c/%d", id), http.StatusSeeOther)
	})
}
