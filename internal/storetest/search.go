package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
)

// search runs one page of a message search and fails the test on error.
func search(t *testing.T, s chat.Store, user chat.UserID, q string, conv chat.ConversationID, before int64, limit int) []chat.SearchHit {
	t.Helper()
	terms, err := searchtext.Parse(q)
	if err != nil {
		t.Fatalf("searchtext.Parse(%q): %v", q, err)
	}
	hits, err := s.SearchMessages(t.Context(), chat.SearchQuery{User: user, Terms: terms, ConversationID: conv, Before: before, Limit: limit})
	if err != nil {
		t.Fatalf("SearchMessages(user %d, %q, conv %d, before %d): %v", user, q, conv, before, err)
	}
	if len(hits) > limit {
		t.Fatalf("SearchMessages(%q, limit %d) returned %d hits", q, limit, len(hits))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Position >= hits[i-1].Position {
			t.Fatalf("SearchMessages(%q): positions %d then %d, want descending", q, hits[i-1].Position, hits[i].Position)
		}
	}
	if before != 0 && len(hits) > 0 && hits[0].Position >= before {
		t.Fatalf("SearchMessages(%q, before %d): first position %d", q, before, hits[0].Position)
	}
	return hits
}

// searchBodies returns the bodies of every message a search finds, newest first.
func searchBodies(t *testing.T, s chat.Store, user chat.UserID, q string) []string {
	t.Helper()
	var bodies []string
	for _, h := range search(t, s, user, q, 0, 0, chat.MaxSearchPage) {
		bodies = append(bodies, h.Message.Body)
	}
	return bodies
}

func testSearchMessagesGrammar(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	// Newest first: the expected lists below name bodies in reverse order
	// of this list.
	bodies := []string{
		"Deployment done, thanks!",          // 0
		"we deploy now",                     // 1
		"now deploy, later",                 // 2
		"deploy it now",                     // 3
		"redeploy tomorrow",                 // 4
		"Café au lait",                      // 5
		"CAFE OLÉ",                          // 6
		"the cat sat",                       // 7
		"category theory",                   // 8
		"foo-bar.baz@example.com",           // 9
		"Привет, мир",                       // 10
		"Ελλάδα και Αθήνα",                  // 11
		"ＡＢＣ full width",                    // 12
		"release v2.10 is out",              // 13
		"line one\ndeploy\nnow on line two", // 14
		"naïve résumé",                      // 15
		"東京 タワー",                            // 16
	}
	for i, body := range bodies {
		send(t, s, ab.ID, []chat.UserID{a.ID, b.ID}[i%2], body, "", chat.Now())
	}
	want := func(idx ...int) []string {
		var w []string
		for i := len(bodies) - 1; i >= 0; i-- {
			if slices.Contains(idx, i) {
				w = append(w, bodies[i])
			}
		}
		return w
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"deploy", want(0, 1, 2, 3, 14)},                // a word finds the words it begins, not "redeploy"
		{"DEPLOY", want(0, 1, 2, 3, 14)},                // case ignored
		{"deplo", want(0, 1, 2, 3, 14)},                 // prefix
		{"deployment", want(0)},                         // a longer word, not its prefix
		{"deploy now", want(1, 2, 3, 14)},               // every word, any order
		{`"deploy now"`, want(1, 14)},                   // a phrase: in a row, across lines
		{`"now deploy"`, want(2)},                       // phrase order matters
		{`"deploy" now`, want(1, 2, 3, 14)},             // a quoted word is whole: not "Deployment"
		{`"cat"`, want(7)},                              // a quoted word does not find "category"
		{"cat", want(7, 8)},                             // a word does
		{"cafe", want(5, 6)},                            // accents ignored in the text
		{"café", want(5, 6)},                            // and in the query
		{"ole cafe", want(6)},                           // every word
		{"bar", want(9)},                                // punctuation cuts words
		{`"foo bar baz"`, want(9)},                      // and phrases run over it
		{"example com", want(9)},                        //
		{"привет", want(10)},                            // Cyrillic, case ignored
		{"ελλαδα αθηνα", want(11)},                      // Greek, accents and case ignored
		{"abc", want(12)},                               // full-width letters
		{"v2", want(13)},                                // digits are word characters
		{`"v2 10"`, want(13)},                           //
		{"10", want(13)},                                //
		{"naive resume", want(15)},                      //
		{"東京", want(16)},                                // text without spaces: runs between spaces
		{"タワ", want(16)},                                // and their beginnings
		{"deploy missing", nil},                         // every word must match
		{`"deploy later"`, want(2)},                     // punctuation between a phrase's words
		{`"deploy tomorrow"`, nil},                      // a phrase's words are whole: not "redeploy"
		{`"deploy done"`, nil},                          // and in a row
		{"nothinglikethis", nil},                        //
		{`"unclosed phrase`, nil},                       // an unclosed quote runs to the end
		{`"we deploy`, want(1)},                         //
		{"done thanks deploy", want(0)},                 //
		{`"thanks" "done"`, want(0)},                    // two phrases
		{"Deployment, done!!", want(0)},                 // punctuation in the query
		{`"line one deploy now on line two"`, want(14)}, // a long phrase
	} {
		if got := searchBodies(t, s, a.ID, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("search %q found %q, want %q", tc.q, got, tc.want)
		}
	}
}

func testSearchDeletedEdited(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	gone := send(t, s, ab.ID, a.ID, "the secret launch code", "", chat.Now())
	kept := send(t, s, ab.ID, b.ID, "launch party friday", "", chat.Now())
	fixed := send(t, s, ab.ID, a.ID, "teh typo", "", chat.Now())
	if got := searchBodies(t, s, b.ID, "launch"); !slices.Equal(got, []string{kept.Body, gone.Body}) {
		t.Fatalf("before the deletion, search launch found %q", got)
	}
	remove(t, s, ab.ID, gone.Seq, a.ID)
	for _, q := range []string{"launch", "secret", `"launch code"`, "code"} {
		for _, u := range []chat.UserID{a.ID, b.ID} {
			for _, h := range search(t, s, u, q, 0, 0, chat.MaxSearchPage) {
				if h.Message.Seq == gone.Seq {
					t.Errorf("user %d: search %q found the deleted message: %+v", u, q, h.Message)
				}
			}
		}
	}
	edit(t, s, ab.ID, fixed.Seq, a.ID, "the fixed text")
	if got := searchBodies(t, s, b.ID, "teh"); got != nil {
		t.Errorf("search by the text before the edit found %q", got)
	}
	hits := search(t, s, b.ID, "fixed", 0, 0, 10)
	if len(hits) != 1 || hits[0].Message.Seq != fixed.Seq || hits[0].Message.Body != "the fixed text" || hits[0].Message.EditedAt.IsZero() {
		t.Fatalf("search by the edited text found %+v, want seq %d as edited", hits, fixed.Seq)
	}
	// An edit keeps the message's place in the results: created order.
	edit(t, s, ab.ID, kept.Seq, b.ID, "launch party saturday, fixed")
	hits = search(t, s, a.ID, "fixed", 0, 0, 10)
	if len(hits) != 2 || hits[0].Message.Seq != fixed.Seq || hits[1].Message.Seq != kept.Seq {
		t.Fatalf("after editing an older message, search found %v, want seq %d then %d", hitSeqs(hits), fixed.Seq, kept.Seq)
	}
	// Deleting an edited message takes its new text out too.
	remove(t, s, ab.ID, fixed.Seq, a.ID)
	if got := searchBodies(t, s, a.ID, "fixed"); !slices.Equal(got, []string{"launch party saturday, fixed"}) {
		t.Errorf("after deleting the edited message, search found %q", got)
	}
}

func hitSeqs(hits []chat.SearchHit) []string {
	var s []string
	for _, h := range hits {
		s = append(s, fmt.Sprintf("%d/%d", h.Message.ConversationID, h.Message.Seq))
	}
	return s
}

func testSearchMembersOnly(t *testing.T, s chat.Store) {
	a, b, c, d := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol"), NewUser(t, s, "dave")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	cd := direct(t, s, c.ID, d.ID, chat.Now())
	g := newGroup(t, s, "Budget planning", a, b, c)
	send(t, s, ab.ID, a.ID, "budget draft for bob", "", chat.Now())
	send(t, s, cd.ID, c.ID, "budget gossip between carol and dave", "", chat.Now())
	send(t, s, g.ID, b.ID, "budget in the group", "", chat.Now())

	for _, tc := range []struct {
		user chat.UserID
		want []string
	}{
		{a.ID, []string{"budget in the group", "budget draft for bob"}},
		{b.ID, []string{"budget in the group", "budget draft for bob"}},
		{c.ID, []string{"budget in the group", "budget gossip between carol and dave"}},
		{d.ID, []string{"budget gossip between carol and dave"}},
	} {
		// The group's title is in its system message, which is never found.
		if got := searchBodies(t, s, tc.user, "budget"); !slices.Equal(got, tc.want) {
			t.Errorf("user %d: search budget found %q, want %q", tc.user, got, tc.want)
		}
	}
	// One conversation alone.
	hits := search(t, s, a.ID, "budget", ab.ID, 0, 10)
	if len(hits) != 1 || hits[0].Message.ConversationID != ab.ID {
		t.Errorf("search budget in conversation %d found %v", ab.ID, hitSeqs(hits))
	}
	if hits := search(t, s, a.ID, "budget", cd.ID, 0, 10); len(hits) != 0 {
		t.Errorf("search in a conversation alice is not in found %v", hitSeqs(hits))
	}
	// A removed member finds nothing of the group from then on.
	change(t, "remove carol")(s.RemoveMember(t.Context(), g.ID, a.ID, c.ID, chat.Now()))
	if got := searchBodies(t, s, c.ID, "budget"); !slices.Equal(got, []string{"budget gossip between carol and dave"}) {
		t.Errorf("after her removal, carol's search found %q", got)
	}
	if hits := search(t, s, c.ID, "budget", g.ID, 0, 10); len(hits) != 0 {
		t.Errorf("after her removal, carol's search in the group found %v", hitSeqs(hits))
	}
	// Someone added later finds the whole history, as they can read it.
	change(t, "add dave")(s.AddMember(t.Context(), g.ID, a.ID, d.ID, 0, chat.Now()))
	if got := searchBodies(t, s, d.ID, "budget"); !slices.Equal(got, []string{"budget in the group", "budget gossip between carol and dave"}) {
		t.Errorf("after joining, dave's search found %q", got)
	}
}

func testSearchHitConversation(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	g := newGroup(t, s, "Ops", a, b, c)
	m1 := send(t, s, ab.ID, b.ID, "pager duty swap?", "", chat.Now())
	m2 := send(t, s, g.ID, c.ID, "pager rota is out", "", chat.Now())
	send(t, s, g.ID, a.ID, "thanks", "", chat.Now())
	hits := search(t, s, a.ID, "pager", 0, 0, 10)
	if len(hits) != 2 {
		t.Fatalf("search pager found %v, want 2 hits", hitSeqs(hits))
	}
	for i, want := range []chat.Message{m2, m1} {
		h := hits[i]
		if !equalMessage(h.Message, want) {
			t.Errorf("hit %d: message %+v, want %+v", i, h.Message, want)
		}
		sender, err := s.UserByID(t.Context(), want.SenderID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		if !h.Sender.CreatedAt.Equal(sender.CreatedAt) {
			t.Errorf("hit %d: sender created at %v, want %v", i, h.Sender.CreatedAt, sender.CreatedAt)
		}
		h.Sender.CreatedAt = sender.CreatedAt
		if h.Sender != sender {
			t.Errorf("hit %d: sender %+v, want %+v", i, h.Sender, sender)
		}
		row, err := s.Conversation(t.Context(), a.ID, want.ConversationID)
		if err != nil {
			t.Fatalf("Conversation: %v", err)
		}
		got := h.Conversation
		if got.ID != row.ID || got.Kind != row.Kind || got.Title != row.Title || got.LastSeq != row.LastSeq ||
			got.LastReadSeq != row.LastReadSeq || got.MemberCount != row.MemberCount ||
			(got.OtherUser == nil) != (row.OtherUser == nil) || (got.OtherUser != nil && *got.OtherUser != *row.OtherUser) {
			t.Errorf("hit %d: conversation %+v, want the list's row %+v", i, got, row)
		}
	}
}

func testSearchClosedSender(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	m := send(t, s, ab.ID, b.ID, "farewell everyone", "", chat.Now())
	if _, err := s.CloseUser(t.Context(), b.ID, chat.Now()); err != nil {
		t.Fatalf("CloseUser: %v", err)
	}
	hits := search(t, s, a.ID, "farewell", 0, 0, 10)
	if len(hits) != 1 || hits[0].Message.Seq != m.Seq {
		t.Fatalf("after the sender closed their account, search found %v, want their message", hitSeqs(hits))
	}
	if got := hits[0].Sender; got.ID != b.ID || !got.Closed || got.DisplayName != chat.ClosedDisplayName {
		t.Errorf("the closed sender is %+v, want closed, named %q", got, chat.ClosedDisplayName)
	}
}

func testSearchMessagesPaging(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	ac := direct(t, s, a.ID, c.ID, chat.Now())
	g := newGroup(t, s, "All", a, b, c)
	convs := []chat.ConversationID{ab.ID, ac.ID, g.ID}
	var want []string // newest first
	for i := range 40 {
		conv := convs[i%3]
		body := fmt.Sprintf("standup note %d", i)
		if i%4 == 3 {
			body = fmt.Sprintf("unrelated %d", i)
		}
		m := send(t, s, conv, a.ID, body, "", chat.Now())
		if i%4 != 3 {
			want = append([]string{fmt.Sprintf("%d/%d", m.ConversationID, m.Seq)}, want...)
		}
	}
	for _, limit := range []int{1, 7, 30, 50} {
		var got []string
		before := int64(0)
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			hits := search(t, s, a.ID, "standup note", 0, before, limit)
			got = append(got, hitSeqs(hits)...)
			if len(hits) < limit {
				break
			}
			before = hits[len(hits)-1].Position
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: pages gave %v, want %v (no repeats, no gaps, newest first)", limit, got, want)
		}
	}
	// Paging within one conversation.
	var got []string
	before := int64(0)
	for {
		hits := search(t, s, a.ID, "standup", g.ID, before, 3)
		got = append(got, hitSeqs(hits)...)
		if len(hits) < 3 {
			break
		}
		before = hits[len(hits)-1].Position
	}
	var wantG []string
	for _, k := range want {
		var conv, seq int64
		if _, err := fmt.Sscanf(k, "%d/%d", &conv, &seq); err == nil && chat.ConversationID(conv) == g.ID {
			wantG = append(wantG, k)
		}
	}
	if !slices.Equal(got, wantG) {
		t.Errorf("paging in the group gave %v, want %v", got, wantG)
	}
}

func testSearchLongMessages(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	ab := direct(t, s, a.ID, b.ID, chat.Now())
	long := ""
	for i := range chat.MaxBody / 8 {
		long += fmt.Sprintf("w%05d ", i) // 500 distinct words of 7 characters
	}
	hugeWord := ""
	for range chat.MaxBody / 2 {
		hugeWord += "x"
	}
	send(t, s, ab.ID, a.ID, long, "", chat.Now())
	send(t, s, ab.ID, a.ID, hugeWord+" tail", "", chat.Now())
	if got := searchBodies(t, s, b.ID, `"w00498 w00499"`); len(got) != 1 {
		t.Errorf("a phrase at the end of a long message found %d messages, want 1", len(got))
	}
	if got := searchBodies(t, s, b.ID, "w00250"); len(got) != 1 {
		t.Errorf("a word inside a long message found %d messages, want 1", len(got))
	}
	if got := searchBodies(t, s, b.ID, "xxxxxxxx tail"); len(got) != 1 {
		t.Errorf("a prefix of a %d-character word found %d messages, want 1", len(hugeWord), len(got))
	}
}
