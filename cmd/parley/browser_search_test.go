package main

import (
	"fmt"
	"slices"
	"testing"
)

// searchResultsJS reads the search page's results: where each links, and
// its marked words.
const searchResultsJS = `$$('#search-results li.search-result').map(li => ({
	href: li.querySelector('a').getAttribute('href'),
	conversation: text(li.querySelector('.search-conversation')),
	sender: text(li.querySelector('.search-sender')),
	body: li.querySelector('.search-body').textContent,
	marks: Array.from(li.querySelectorAll('.search-body mark')).map(m => m.textContent),
	markup: li.querySelector('.search-body').querySelectorAll(':not(mark)').length,
}))`

// TestBrowserSearch: in Chromium, a person signs in, searches from the
// search page, sees the words found marked (whatever their accents and
// case, and bodies of markup as text, no script running), and clicking a
// result opens its conversation at that message.
func TestBrowserSearch(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	alice, bob, carol := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "carol")
	ab, _ := alice.startConversation(bob)
	g := bob.createGroup("Café crew", alice, carol)
	order := bob.send(ab, "Two CAFÉS and a croissant, please", "")
	carol.send(g.ID, `<img src=x onerror="window.__pwned=1;alert(1)"> cafe`, "")
	bob.send(g.ID, "nothing to see here", "")

	b := newBrowser(t, s, "alice", browserOptions{})
	b.logIn("alice", "password-alice")
	b.open("/search")
	b.waitFor("the search form", `visible('form#search-form') && document.activeElement === $('#search-input')`, "document.body.innerText")
	b.typeInto("#search-input", "cafe")
	b.click("#search-form button[type=submit]")
	b.waitFor("the results", `location.search === '?q=cafe' && $$('#search-results li.search-result').length === 2`, searchResultsJS)

	type result struct {
		Href         string   `json:"href"`
		Conversation string   `json:"conversation"`
		Sender       string   `json:"sender"`
		Body         string   `json:"body"`
		Marks        []string `json:"marks"`
		Markup       int      `json:"markup"`
	}
	got := eval[[]result](b, searchResultsJS)
	want := []result{
		{Conversation: "Café crew", Sender: "Carol", Body: `<img src=x onerror="window.__pwned=1;alert(1)"> cafe`, Marks: []string{"cafe"}},
		{Href: fmt.Sprintf("/c/%d?at=%d#m-%d", ab, order.Seq, order.Seq), Conversation: "Bob", Sender: "Bob", Body: "Two CAFÉS and a croissant, please", Marks: []string{"CAFÉS"}},
	}
	want[0].Href = got[0].Href
	if !slices.EqualFunc(got, want, func(a, b result) bool {
		return a.Href == b.Href && a.Conversation == b.Conversation && a.Sender == b.Sender && a.Body == b.Body && slices.Equal(a.Marks, b.Marks) && a.Markup == 0
	}) {
		t.Errorf("the results: %+v, want %+v", got, want)
	}
	b.checkNoScriptRan(s.URL + "/search?q=cafe")

	// A result opens its conversation at the message.
	b.click(fmt.Sprintf(`#search-results li.search-result[data-seq="%d"][data-conversation-id="%d"] a`, order.Seq, ab))
	b.waitPath(fmt.Sprintf("/c/%d", ab))
	if loc := eval[string](b, `location.search + location.hash`); loc != fmt.Sprintf("?at=%d#m-%d", order.Seq, order.Seq) {
		t.Errorf("the result opened %s, want at=%d", loc, order.Seq)
	}
	b.waitFor("the conversation", fmt.Sprintf(`visible('section#conversation') && text('#conversation-title') === 'Bob' && visible(%q)`, messageItem(order.Seq)), readMessagesJS)

	// A refused search says why beside the field.
	b.open("/search")
	b.typeInto("#search-input", `"?!"`)
	b.click("#search-form button[type=submit]")
	b.waitFor("the refusal", `visible('#search-error') && text('#search-error') === 'Search for at least one word.' && $('#search-input').getAttribute('aria-invalid') === 'true' && $('#search-input').value === '"?!"'`,
		`$('#search-form').outerHTML`)
}
