package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// search runs GET /api/v1/search with the query parameters and expects 200.
func (c *client) search(params url.Values) wire.SearchResponse {
	c.t.Helper()
	var resp wire.SearchResponse
	c.call("GET", "/api/v1/search?"+params.Encode(), nil, http.StatusOK, &resp)
	return resp
}

// searchAll pages through every result of q (in conv when it is not 0),
// limit at a time, and returns the bodies found, newest first.
func (c *client) searchAll(q string, conv int64, limit int) []string {
	c.t.Helper()
	params := url.Values{"q": {q}, "limit": {fmt.Sprint(limit)}}
	if conv != 0 {
		params.Set("conversation_id", fmt.Sprint(conv))
	}
	var bodies []string
	for range 100 {
		page := c.search(params)
		if len(page.Results) > limit {
			c.t.Fatalf("search %q: %d results, limit %d", q, len(page.Results), limit)
		}
		for _, r := range page.Results {
			bodies = append(bodies, r.Message.Body)
		}
		if page.Next == nil {
			return bodies
		}
		params.Set("before", *page.Next)
	}
	c.t.Fatalf("search %q: paging does not end", q)
	return nil
}

// TestSearch: message search over the API on one node (SQLite).
func TestSearch(t *testing.T) {
	t.Parallel()
	searchMessages(t, []*server{startServer(t, nil)})
}

// TestTwoNodesSearch: the same on two nodes of one cluster (PostgreSQL and
// Redis).
func TestTwoNodesSearch(t *testing.T) {
	t.Parallel()
	searchMessages(t, startCluster(t, 2, nil, nil))
}

func searchMessages(t *testing.T, nodes []*server) {
	node := func(i int) *server { return nodes[i%len(nodes)] }
	alice := register(t, node(0), "alice")
	bob := register(t, node(1), "bob")
	carol := register(t, node(0), "carol")
	mallory := register(t, node(1), "mallory")
	ab, _ := alice.startConversation(bob)
	g := alice.createGroup("Café team", bob, carol)
	mc, _ := mallory.startConversation(carol)

	bob.send(ab, "The deployment is done", "")
	alice.send(g.ID, "Who takes the café order?", "")
	carol.send(g.ID, "deploy again tomorrow", "")
	mallory.send(mc, "deploy mallory's secret", "")
	typo := bob.send(ab, "deplyo fixed soon", "")
	gone := alice.send(g.ID, "deploy keys: hunter2", "")

	// Results: newest first, each with its message and its conversation as
	// the searcher's list shows it, the other person's presence included.
	res := alice.on(node(1)).search(url.Values{"q": {"deploy"}})
	if res.Next != nil || len(res.Results) != 3 {
		t.Fatalf("alice's search deploy: %+v, want 3 results on one page", res)
	}
	for i, want := range []struct {
		conv   int64
		body   string
		sender *client
	}{{g.ID, "deploy keys: hunter2", alice}, {g.ID, "deploy again tomorrow", carol}, {ab, "The deployment is done", bob}} {
		r := res.Results[i]
		if r.Message.ConversationID != want.conv || r.Message.Body != want.body || r.Conversation.ID != want.conv {
			t.Errorf("result %d: %+v in %+v, want %q in conversation %d", i, r.Message, r.Conversation, want.body, want.conv)
		}
		if r.Sender != want.sender.user || r.Message.SenderID != want.sender.user.ID {
			t.Errorf("result %d: sender %+v, want %+v", i, r.Sender, want.sender.user)
		}
	}
	if c := res.Results[0].Conversation; c.Kind != "group" || c.Title != "Café team" || c.MemberCount != 3 || c.OtherUser != nil {
		t.Errorf("a group's result names %+v, want the group row", c)
	}
	if c := res.Results[2].Conversation; c.Kind != "direct" || c.OtherUser == nil || c.OtherUser.ID != bob.user.ID || c.OtherUser.DisplayName != "Bob" {
		t.Errorf("a direct conversation's result names %+v, want bob as the other user", c)
	}

	// Case and accents; phrases; paging without repeats or gaps.
	for _, tc := range []struct {
		who  *client
		q    string
		want []string
	}{
		{alice, "CAFE", []string{"Who takes the café order?"}},
		{bob, `"deploy again"`, []string{"deploy again tomorrow"}},
		{carol, "deploy", []string{"deploy keys: hunter2", "deploy mallory's secret", "deploy again tomorrow"}},
		{mallory, "deploy", []string{"deploy mallory's secret"}},
		{mallory, "hunter2", nil},
	} {
		for _, limit := range []int{1, 2, 50} {
			if got := tc.who.searchAll(tc.q, 0, limit); !slices.Equal(got, tc.want) {
				t.Errorf("%s's search %q (limit %d): %q, want %q", tc.who.user.Username, tc.q, limit, got, tc.want)
			}
		}
	}
	if got := carol.searchAll("deploy", g.ID, 50); !slices.Equal(got, []string{"deploy keys: hunter2", "deploy again tomorrow"}) {
		t.Errorf("carol's search in the group: %q", got)
	}

	// An edit is found by its new text only; a deletion is never found.
	bob.on(node(0)).edit(ab, typo.Seq, "deploy fixed soon")
	if got := alice.searchAll("deplyo", 0, 50); got != nil {
		t.Errorf("the text before the edit is still found: %q", got)
	}
	alice.call("DELETE", messagePath(g.ID, gone.Seq), nil, http.StatusNoContent, nil)
	if got := bob.on(node(1)).searchAll("deploy", 0, 50); !slices.Equal(got, []string{"deploy fixed soon", "deploy again tomorrow", "The deployment is done"}) {
		t.Errorf("after an edit and a deletion, bob's search deploy: %q", got)
	}
	if got := carol.searchAll("hunter2", 0, 50); got != nil {
		t.Errorf("a deleted message is found: %q", got)
	}

	// A removed member searches the group no more.
	alice.call("DELETE", fmt.Sprintf("/api/v1/conversations/%d/members/%d", g.ID, carol.user.ID), nil, http.StatusNoContent, nil)
	if got := carol.searchAll("deploy", 0, 50); !slices.Equal(got, []string{"deploy mallory's secret"}) {
		t.Errorf("after her removal, carol's search: %q", got)
	}
	carol.wantError("GET", fmt.Sprintf("/api/v1/search?q=deploy&conversation_id=%d", g.ID), nil, http.StatusNotFound, "not_found")
}

// TestSearchRefusals: bad searches get 400 with a message and cost nothing;
// past the search budget, 429 with Retry-After.
func TestSearchRefusals(t *testing.T) {
	t.Parallel()
	// One token in 100 s: the bucket holds still while the test runs.
	s := startServer(t, map[string]string{"PARLEY_SEARCH_RATE": "0.01", "PARLEY_SEARCH_BURST": "3"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "hello there", "")

	tooLong := strings.Repeat("a", 257)
	manyTerms := strings.TrimSpace(strings.Repeat("w ", 17))
	for _, q := range []string{
		"q=",
		"q=" + url.QueryEscape("?!, …"),
		"q=" + url.QueryEscape(`""`),
		"q=" + tooLong,
		"q=" + url.QueryEscape(manyTerms),
		"q=hello&limit=51",
		"q=hello&limit=0",
		"q=hello&limit=x",
		"q=hello&before=x",
		"q=hello&before=-1",
		"q=hello&before=0",
		"q=hello&conversation_id=x",
		"q=hello&conversation_id=-4",
	} {
		alice.wantError("GET", "/api/v1/search?"+q, nil, http.StatusBadRequest, "invalid")
	}
	for _, q := range []string{"q=hello&conversation_id=0", "q=hello&conversation_id=987654321"} {
		alice.wantError("GET", "/api/v1/search?"+q, nil, http.StatusNotFound, "not_found")
	}
	// At the limits, not over them: 256 characters, 16 terms.
	if got := alice.search(url.Values{"q": {tooLong[1:]}}); len(got.Results) != 0 {
		t.Errorf("a 256-character word found %+v", got)
	}
	if got := alice.search(url.Values{"q": {"hello " + strings.Repeat("q ", 15)}}); len(got.Results) != 0 {
		t.Errorf("16 terms found %+v", got)
	}
	// Those took two of the three tokens: the refusals above took none.
	if got := alice.searchAll("hello", 0, 20); !slices.Equal(got, []string{"hello there"}) {
		t.Errorf("search hello: %q", got)
	}
	status, raw := alice.do("GET", "/api/v1/search?q=hello", nil)
	if status != http.StatusTooManyRequests || !strings.Contains(string(raw), `"rate_limited"`) {
		t.Errorf("a search past the budget: %d %s, want 429 rate_limited", status, raw)
	}
	// The budget is per user.
	if got := bob.searchAll("hello", conv, 20); !slices.Equal(got, []string{"hello there"}) {
		t.Errorf("bob's search: %q", got)
	}
}
