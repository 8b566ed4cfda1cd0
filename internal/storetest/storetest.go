// Package storetest is the conformance suite every chat.Store implementation
// passes. An implementation's own test calls Run with a constructor of fresh,
// empty stores:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) chat.Store { return newTestStore(t) })
//	}
//
// The suite talks to the store directly, as the Service would after it has
// validated its input, so a failure points at the store and not at the rules
// above it.
package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Run runs the conformance suite against stores made by newStore; each call
// of newStore must return a new, empty store (cleaned up by the caller via
// t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) chat.Store) {
	// Every leaf test gets its own store, so tests neither see each other's
	// rows nor depend on the order they run in.
	type test struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", []test{
			{"CreateAndRead", testUsersCreateAndRead},
			{"DuplicateUsername", testUsersDuplicate},
			{"SetPasswordHash", testUsersSetPasswordHash},
		}},
		{"SearchUsers", []test{
			{"Match", testSearchMatch},
			{"Wildcards", testSearchWildcards},
			{"Paging", testSearchPaging},
		}},
		{"DirectConversation", []test{
			{"Concurrent", testDirectConcurrent},
			{"Members", testDirectMembers},
			{"Contacts", testContacts},
		}},
		{"CreateMessage", []test{
			{"ConcurrentSeq", testSendConcurrentSeq},
			{"ReadCursor", testSendReadCursor},
			{"NonMember", testSendNonMember},
			{"Idempotent", testSendIdempotent},
			{"ConcurrentRetries", testSendConcurrentRetries},
			{"TimesFollowSeq", testSendTimesFollowSeq},
		}},
		{"CreateMessages", []test{
			{"Mixed", testBatchMixed},
			{"RefusedClientID", testBatchRefusedClientID},
			{"Concurrent", testBatchConcurrent},
		}},
		{"Messages", []test{
			{"Paging", testMessagesPaging},
		}},
		{"EditDelete", []test{
			{"VersionsDense", testEditVersionsDense},
			{"AfterVersionPaging", testEditAfterVersionPaging},
			{"DeletedErased", testEditDeletedErased},
			{"Rules", testEditRules},
		}},
		{"Retention", []test{
			{"Expired", testRetentionExpired},
			{"Erase", testRetentionErase},
		}},
		{"SearchMessages", []test{
			{"Grammar", testSearchMessagesGrammar},
			{"DeletedAndEdited", testSearchDeletedEdited},
			{"MembersOnly", testSearchMembersOnly},
			{"HitConversation", testSearchHitConversation},
			{"ClosedSender", testSearchClosedSender},
			{"Paging", testSearchMessagesPaging},
			{"LongMessages", testSearchLongMessages},
		}},
		{"MarkRead", []test{
			{"Cursor", testMarkRead},
		}},
		{"Conversations", []test{
			{"ListAndUnread", testConversationsList},
			{"Paging", testConversationsPaging},
			{"One", testConversationOne},
		}},
		{"Groups", []test{
			{"Create", testGroupCreate},
			{"CreateRefused", testGroupCreateRefused},
			{"Rename", testGroupRename},
			{"AddMember", testGroupAdd},
			{"RemoveAndLeave", testGroupRemove},
			{"SetRole", testGroupSetRole},
			{"LastAdminPromotion", testGroupPromotion},
			{"Authorization", testGroupAuthorization},
			{"ListMembers", testGroupListMembers},
			{"RemovedAccessEndsAtOnce", testGroupRemovedAccess},
			{"ConcurrentChanges", testGroupConcurrentChanges},
			{"CapUnderConcurrency", testGroupCapConcurrent},
			{"ConcurrentSenders", testGroupConcurrentSenders},
			{"DirectConversations", testGroupDirectUnchanged},
			{"CloseAccount", testGroupCloseAccount},
			{"CloseAccountConcurrent", testGroupCloseAccountConcurrent},
		}},
		{"Recipients", []test{
			{"EveryChange", testRecipients},
			{"AcrossRemoval", testRecipientsAcrossRemoval},
		}},
		{"Attachments", []test{
			{"Visibility", testAttachmentsVisibility},
			{"Send", testAttachmentsSend},
			{"Refused", testAttachmentsRefused},
			{"Delete", testAttachmentsDelete},
			{"DropPending", testAttachmentsDropPending},
			{"ConcurrentClaims", testAttachmentsConcurrentClaims},
		}},
		{"Ping", []test{
			{"OK", testPing},
		}},
		{"Access", nil},
	}
	for _, a := range accessTests() {
		groups[len(groups)-1].tests = append(groups[len(groups)-1].tests, test{a.name, a.fn})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newStore(t))
				})
			}
		})
	}
}

func testPing(t *testing.T, s chat.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// Seed helpers

// NewUser stores a user with the given (lower-case) username, the username as
// display name, the password hash "hash" and chat.Now() as creation time, and
// returns it. It fails the test on error.
func NewUser(t testing.TB, s chat.Store, username string) chat.User {
	t.Helper()
	return newUser(t, s, username, username)
}

func newUser(t testing.TB, s chat.Store, username, displayName string) chat.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), chat.User{Username: username, DisplayName: displayName, CreatedAt: chat.Now()}, "hash")
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// direct returns the direct conversation of a and b, which must be new.
func direct(t *testing.T, s chat.Store, a, b chat.UserID, now time.Time) chat.Conversation {
	t.Helper()
	c, created, err := s.DirectConversation(t.Context(), a, b, now)
	if err != nil {
		t.Fatalf("DirectConversation(%d, %d): %v", a, b, err)
	}
	if !created {
		t.Fatalf("DirectConversation(%d, %d): created = false for a new pair", a, b)
	}
	return c
}

// send stores a new message and checks that it comes back as given, with a
// seq.
func send(t *testing.T, s chat.Store, conv chat.ConversationID, sender chat.UserID, body, clientID string, at time.Time) chat.Message {
	t.Helper()
	in := chat.Message{ConversationID: conv, SenderID: sender, Body: body, ClientID: clientID, CreatedAt: at}
	st, err := s.CreateMessage(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateMessage(conv %d, sender %d, client_id %q): %v", conv, sender, clientID, err)
	}
	if !st.Changed {
		t.Fatalf("CreateMessage(conv %d, sender %d, client_id %q): created = false for a new message", conv, sender, clientID)
	}
	m := st.Message
	in.Seq = m.Seq
	if m.Seq < 1 || !equalMessage(m, in) {
		t.Fatalf("CreateMessage returned %+v, want %+v with a seq ≥ 1", m, in)
	}
	checkRecipients(t, s, "CreateMessage", conv, st.Recipients)
	return m
}

// checkRecipients checks that the recipients a change returned are the
// conversation's members, in ascending order, as Members reads them now
// (no change came between).
func checkRecipients(t *testing.T, s chat.Store, what string, conv chat.ConversationID, got []chat.UserID) {
	t.Helper()
	want, err := s.Members(t.Context(), conv)
	if err != nil {
		t.Fatalf("Members(%d): %v", conv, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s in conversation %d: recipients %v, want its members %v in ascending order", what, conv, got, want)
	}
}

// storedMessage returns the message and whether it is new from what
// CreateMessage returned.
func storedMessage(st chat.Stored, err error) (chat.Message, bool, error) {
	return st.Message, st.Changed, err
}

func messages(t *testing.T, s chat.Store, conv chat.ConversationID, q chat.MessageQuery) []chat.Message {
	t.Helper()
	msgs, err := s.Messages(t.Context(), conv, q)
	if err != nil {
		t.Fatalf("Messages(%d, %+v): %v", conv, q, err)
	}
	return msgs
}

func conversations(t *testing.T, s chat.Store, q chat.ConversationQuery) []chat.ConversationRow {
	t.Helper()
	rows, err := s.Conversations(t.Context(), q)
	if err != nil {
		t.Fatalf("Conversations(%+v): %v", q, err)
	}
	return rows
}

// readCursor returns the user's LastReadSeq in the conversation.
func readCursor(t *testing.T, s chat.Store, conv chat.ConversationID, user chat.UserID) int64 {
	t.Helper()
	m, err := s.Member(t.Context(), conv, user)
	if err != nil {
		t.Fatalf("Member(%d, %d): %v", conv, user, err)
	}
	return m.LastReadSeq
}

// wantCode checks the domain error code of err.
func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := chat.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// Times are compared with Equal: a store may hand back another *Location
// for the same instant.

func equalUser(a, b chat.User) bool {
	return a.ID == b.ID && a.Username == b.Username && a.DisplayName == b.DisplayName && a.CreatedAt.Equal(b.CreatedAt)
}

// equalMessage compares messages field by field; a Kind of "" is
// chat.MessageText, as stores read it.
func equalMessage(a, b chat.Message) bool {
	return a.ConversationID == b.ConversationID && a.Seq == b.Seq && a.SenderID == b.SenderID &&
		a.Body == b.Body && a.ClientID == b.ClientID && a.CreatedAt.Equal(b.CreatedAt) &&
		kindOf(a) == kindOf(b) && equalSystem(a.System, b.System)
}

func kindOf(m chat.Message) chat.MessageKind {
	if m.Kind == "" {
		return chat.MessageText
	}
	return m.Kind
}

func equalSystem(a, b *chat.SystemEvent) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// checkMessages reports every difference between a page and what it should
// hold.
func checkMessages(t *testing.T, what string, got, want []chat.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got seqs %v, want %v", what, seqs(got), seqs(want))
		return
	}
	for i := range got {
		if !equalMessage(got[i], want[i]) {
			t.Errorf("%s: message %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func seqs(msgs []chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func describeRows(rows []chat.ConversationRow) string {
	s := ""
	for _, r := range rows {
		s += fmt.Sprintf("{id %d at %s} ", r.ID, r.ActivityAt().Format(time.RFC3339Nano))
	}
	return s
}
