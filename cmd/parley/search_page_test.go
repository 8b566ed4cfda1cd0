package main

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// searchResult is a result of the search page as its markup says it.
type searchResult struct {
	conv, seq    int64
	href         string
	conversation string
	sender       string
	body         string // the body's markup: text escaped, marks as <mark>
}

var searchResultRE = regexp.MustCompile(`(?s)<li class="search-result" data-conversation-id="(\d+)" data-seq="(\d+)">\s*<a href="([^"]*)">\s*` +
	`<span class="search-where"><span class="search-conversation" dir="auto">(.*?)</span> <time class="time" datetime="[^"]+">[^<]+</time></span>\s*` +
	`<span class="search-sender" dir="auto">(.*?)</span>\s*` +
	`<span class="search-body" dir="auto">(.*?)</span>\s*</a>\s*</li>`)

// searchPage reads the results and the Next link of a search page.
func searchPage(t *testing.T, body string) (results []searchResult, next string) {
	t.Helper()
	for _, m := range searchResultRE.FindAllStringSubmatch(body, -1) {
		var r searchResult
		fmt.Sscan(m[1], &r.conv)
		fmt.Sscan(m[2], &r.seq)
		r.href, r.conversation, r.sender, r.body = html.UnescapeString(m[3]), m[4], m[5], m[6]
		results = append(results, r)
	}
	if n := strings.Count(body, `<li class="search-result"`); n != len(results) {
		t.Fatalf("the page has %d results, %d of the expected shape:\n%s", n, len(results), body)
	}
	if m := regexp.MustCompile(`<a id="search-next" class="button" href="([^"]*)">Next</a>`).FindStringSubmatch(body); m != nil {
		next = html.UnescapeString(m[1])
	}
	return results, next
}

// TestSearchPage: GET /search without JavaScript. Results newest first,
// each naming its conversation (a group's title, the other person of a
// direct one) and its sender, linking to the message, with the words found
// marked whatever their case and accents, and phrases marked as a run;
// bodies stay text; pages go on with Next, without repeats or gaps; a
// refused query is said beside the field; what mallory wrote in a
// conversation alice is not in never shows; signed out goes to /login.
func TestSearchPage(t *testing.T) {
	t.Parallel()
	searchPageTest(t, []*server{startServer(t, searchPageEnv)})
}

// TestTwoNodesSearchPage: the same on two nodes of one cluster (PostgreSQL
// and Redis), each page asked of either node.
func TestTwoNodesSearchPage(t *testing.T) {
	t.Parallel()
	searchPageTest(t, startCluster(t, 2, nil, searchPageEnv))
}

// searchPageEnv lets the tests search, and send the pages' worth of
// messages, as fast as they like.
var searchPageEnv = map[string]string{"PARLEY_SEARCH_BURST": "1000", "PARLEY_SEARCH_RATE": "1000", "PARLEY_MESSAGE_BURST": "1000", "PARLEY_MESSAGE_RATE": "1000"}

func searchPageTest(t *testing.T, nodes []*server) {
	node := func(i int) *server { return nodes[i%len(nodes)] }
	alice, bob, carol, mallory := register(t, node(0), "alice"), register(t, node(1), "bob"), register(t, node(0), "carol"), register(t, node(1), "mallory")
	ab, _ := alice.startConversation(bob)
	g := alice.createGroup("Café <team>", bob, carol)
	mc, _ := mallory.startConversation(carol)

	deployment := bob.send(ab, "The deployment is done", "")
	order := carol.send(g.ID, "Who takes the CAFÉ order?", "")
	now := alice.send(g.ID, "We deploy now; café later, not now deploy", "")
	xss := carol.send(g.ID, `<img src=x onerror=alert(1)> deploy`, "")
	mallory.send(mc, "deploy mallory's cafe secret", "")

	// The form alone, before a search.
	status, _, body := alice.page("/search")
	wantPage(t, "the search page", status, body, 200,
		`<form id="search-form" class="search-form" method="get" action="/search" role="search" novalidate>`,
		`<label for="search-input">`, `<input id="search-input" name="q" type="search" value=""`)
	if strings.Contains(body, `id="search-results"`) || strings.Contains(body, "Nothing found.") {
		t.Errorf("the page shows results before a search:\n%s", body)
	}

	// Accents and case: "cafe" marks "CAFÉ" and "café", newest first, in
	// the group, each with its sender; the query stays in the field.
	status, _, body = alice.on(node(1)).page("/search?q=cafe")
	wantPage(t, "search cafe", status, body, 200, `<input id="search-input" name="q" type="search" value="cafe"`)
	results, next := searchPage(t, body)
	want := []searchResult{
		{conv: g.ID, seq: now.Seq, href: fmt.Sprintf("/c/%d?at=%d#m-%d", g.ID, now.Seq, now.Seq), conversation: "Café &lt;team&gt;", sender: "You", body: "We deploy now; <mark>café</mark> later, not now deploy"},
		{conv: g.ID, seq: order.Seq, href: fmt.Sprintf("/c/%d?at=%d#m-%d", g.ID, order.Seq, order.Seq), conversation: "Café &lt;team&gt;", sender: "Carol", body: "Who takes the <mark>CAFÉ</mark> order?"},
	}
	if !slices.Equal(results, want) || next != "" {
		t.Errorf("search cafe: %+v, next %q; want %+v", results, next, want)
	}

	// Words that begin longer ones, a direct conversation named by the
	// other person, a body of markup shown as text.
	status, _, body = alice.page("/search?q=DEPLO")
	results, _ = searchPage(t, body)
	want = []searchResult{
		{conv: g.ID, seq: xss.Seq, conversation: "Café &lt;team&gt;", sender: "Carol", body: "&lt;img src=x onerror=alert(1)&gt; <mark>deploy</mark>"},
		{conv: g.ID, seq: now.Seq, conversation: "Café &lt;team&gt;", sender: "You", body: "We <mark>deploy</mark> now; café later, not now <mark>deploy</mark>"},
		{conv: ab, seq: deployment.Seq, conversation: "Bob", sender: "Bob", body: "The <mark>deployment</mark> is done"},
	}
	for i := range results {
		results[i].href = ""
	}
	if status != 200 || !slices.Equal(results, want) {
		t.Errorf("search DEPLO: %d %+v, want %+v", status, results, want)
	}
	status, _, body = alice.page("/search?q=" + url.QueryEscape("onerror img"))
	results, _ = searchPage(t, body)
	if status != 200 || len(results) != 1 || results[0].body != "&lt;<mark>img</mark> src=x <mark>onerror</mark>=alert(1)&gt; deploy" {
		t.Errorf("search onerror img: %d %+v", status, results)
	}
	if strings.Contains(body, "<img src=x") || strings.Contains(body, "<team>") {
		t.Errorf("user text reached the page as markup:\n%s", body)
	}

	// A phrase marks its run of words, and only where they are in a row.
	status, _, body = alice.page("/search?q=" + url.QueryEscape(`"DEPLOY now"`))
	results, _ = searchPage(t, body)
	if status != 200 || len(results) != 1 || results[0].body != "We <mark>deploy now</mark>; café later, not now deploy" {
		t.Errorf(`search "deploy now": %d %+v`, status, results)
	}

	// Nothing found.
	status, _, body = alice.page("/search?q=zebra")
	if results, next := searchPage(t, body); status != 200 || len(results) != 0 || next != "" || !strings.Contains(body, `<p id="search-empty" class="empty">Nothing found.</p>`) {
		t.Errorf("search zebra: %d %+v\n%s", status, results, body)
	}

	// Mallory's conversation is not alice's: its messages never show to
	// her, while mallory finds them.
	for _, q := range []string{"mallory", "secret", "deploy", "cafe"} {
		_, _, body := alice.page("/search?q=" + q)
		results, _ := searchPage(t, body)
		for _, r := range results {
			if r.conv == mc || strings.Contains(r.body, "secret") {
				t.Errorf("alice's search %q shows mallory's conversation: %+v", q, r)
			}
		}
	}
	_, _, body = mallory.page("/search?q=deploy")
	if results, _ := searchPage(t, body); len(results) != 1 || results[0].conv != mc || results[0].conversation != "Carol" || results[0].sender != "You" {
		t.Errorf("mallory's search deploy: %+v", results)
	}

	// Refused queries: the form again, the reason beside the field.
	for _, tc := range []struct{ q, msg string }{
		{`""`, "Search for at least one word."},
		{"?!", "Search for at least one word."},
		{"", "Search for at least one word."},
		{strings.Repeat("a", 257), "Search is longer than 256 characters."},
		{strings.TrimSpace(strings.Repeat("w ", 17)), "Search has more than 16 words and phrases."},
	} {
		status, _, body := alice.page("/search?q=" + url.QueryEscape(tc.q))
		wantPage(t, fmt.Sprintf("search %q", tc.q), status, body, http.StatusBadRequest,
			`<p id="search-error" class="field-error" role="alert">`+tc.msg+`</p>`,
			`value="`+html.EscapeString(tc.q)+`"`, `aria-describedby="search-error search-hint" aria-invalid="true"`)
		if strings.Contains(body, `id="search-results"`) {
			t.Errorf("search %q: a refused search shows results", tc.q)
		}
	}
	// A cursor that is not one, and a query string that is not text, are
	// the 400 page.
	for _, path := range []string{"/search?q=cafe&before=x", "/search?q=cafe&before=-1", "/search?q=%00", "/search?q=caf%C3", "/search?q=%zz"} {
		if status, _, body := alice.page(path); status != http.StatusBadRequest || !strings.Contains(body, "<h1>Bad Request</h1>") {
			t.Errorf("GET %s: %d\n%s", path, status, body)
		}
	}

	// Pages: 45 more messages, 20 a page, newest first, Next to the
	// older ones, each message once.
	var sent []int64
	for i := range 45 {
		sent = append(sent, bob.send(ab, fmt.Sprintf("paging message %d", i), "").Seq)
	}
	slices.Reverse(sent)
	var seen []int64
	path := "/search?q=paging"
	for page := 0; path != ""; page++ {
		if page > 3 {
			t.Fatal("paging does not end")
		}
		status, _, body := alice.on(node(page)).page(path)
		results, next := searchPage(t, body)
		if status != 200 || len(results) != min(20, 45-20*page) {
			t.Fatalf("page %d: %d, %d results", page+1, status, len(results))
		}
		if first := strings.Contains(body, `<a id="search-first" class="button" href="/search?q=paging">Newest</a>`); first != (page > 0) {
			t.Errorf("page %d: a link to the newest results: %v", page+1, first)
		}
		for _, r := range results {
			seen = append(seen, r.seq)
		}
		if next != "" && !strings.HasPrefix(next, "/search?q=paging&before=") {
			t.Fatalf("page %d: Next is %q", page+1, next)
		}
		path = next
	}
	if !slices.Equal(seen, sent) {
		t.Errorf("the pages show seqs %v, want %v", seen, sent)
	}

	// Signed out: the log-in page.
	if status, header, _ := newClient(t, node(1)).page("/search?q=cafe"); status != http.StatusSeeOther || header.Get("Location") != "/login" {
		t.Errorf("signed out: %d %q", status, header.Get("Location"))
	}
}

// TestSearchPageRateLimited: past the search budget the page says how long
// to wait, as the other pages do, with the form and Retry-After; refused
// queries cost nothing of it.
func TestSearchPageRateLimited(t *testing.T) {
	t.Parallel()
	// One token in 100 s: the bucket holds still while the test runs.
	s := startServer(t, map[string]string{"PARLEY_SEARCH_RATE": "0.01", "PARLEY_SEARCH_BURST": "1"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "hello there", "")

	if status, _, _ := alice.page("/search?q=%22%22"); status != http.StatusBadRequest {
		t.Errorf("a refused query: %d", status)
	}
	_, _, body := alice.page("/search?q=hello")
	if results, _ := searchPage(t, body); len(results) != 1 {
		t.Fatalf("the first search: %+v\n%s", results, body)
	}
	status, header, body := alice.page("/search?q=hello")
	wantPage(t, "a search past the budget", status, body, http.StatusTooManyRequests,
		`<p id="search-wait" class="form-error search-wait" role="alert">Too many message searches. Try again in `,
		`<input id="search-input" name="q" type="search" value="hello"`)
	if header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if strings.Contains(body, `id="search-results"`) {
		t.Error("a throttled search shows results")
	}
}
