package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// clearField empties a text field, as a person selecting its text and
// deleting it would, before typing anew.
func (b *browser) clearField(sel string) {
	b.t.Helper()
	b.do("select "+sel, chromedp.Focus(chromedp.CSS(sel)))
	if !eval[bool](b, fmt.Sprintf(`(el => (el.select(), true))($(%q))`, sel)) {
		b.t.Fatalf("%s: cannot select %s", b.name, sel)
	}
	b.do("delete the text of "+sel, chromedp.KeyEvent(kb.Delete))
	b.waitFor(sel+" empty", fmt.Sprintf(`$(%q).value === ''`, sel), fmt.Sprintf(`$(%q).value`, sel))
}

// memberItem is the CSS selector of a member's row on the members page.
func memberItem(c *client) string {
	return fmt.Sprintf("#member-list li[data-id=%q]", strconv.FormatInt(c.user.ID, 10))
}

// TestBrowserGroupPages: ada creates a group through the picker —
// searching, ticking bob, searching again (bob stays ticked), ticking
// carol — and lands in it; on its members page she renames it, adds
// dave, makes bob admin and removes carol, who is then no member (over
// the API); dave leaves through the page and lands on the conversation
// list. Where the main view links to the pages (#new-group-link,
// #members-link), the test goes through the links.
func TestBrowserGroupPages(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	s := startServer(t, browserServerEnv())
	ada, bob, carol, dave := register(t, s, "ada"), register(t, s, "bob"), register(t, s, "carol"), register(t, s, "dave")
	register(t, s, "bobby-tables") // found by "bo" too, never ticked

	b := newBrowser(t, s, "ada", browserOptions{})
	b.logIn("ada", "password-ada")
	b.click("#new-group-link")
	b.waitPath("/groups/new")
	b.waitFor("the new group form", `visible('form#group-form') && visible('#group-title') && text('#group-count') === '0 chosen'`, "document.body.innerText")

	pick := func(c *client) string { return fmt.Sprintf("#pick-%d", c.user.ID) }
	search := func(q string) {
		t.Helper()
		b.clearField("#group-search")
		b.typeInto("#group-search", q)
		b.click("#group-search-button")
		b.waitFor("the search for "+q, fmt.Sprintf(`new URLSearchParams(location.search).get('q') === %q && document.readyState === 'complete' && visible('#group-results')`, q), "location.href")
	}
	b.typeInto("#group-title", "Launch")
	search("bo")
	b.waitFor("bob found", fmt.Sprintf(`visible(%q) && !$(%q)`, pick(bob), pick(carol)), `$('#group-results').outerHTML`)
	b.click(pick(bob))
	b.waitFor("bob ticked, counted at once", fmt.Sprintf(`$(%q).checked && text('#group-count') === '1 chosen'`, pick(bob)), `$('#group-form').outerHTML`)
	search("car")
	b.waitFor("carol found, bob still chosen, the title kept",
		fmt.Sprintf(`visible(%q) && !$(%q).checked && $('#group-chosen %s').checked && $('#group-title').value === 'Launch' && text('#group-count') === '1 chosen'`, pick(carol), pick(carol), pick(bob)),
		`({chosen: $('#group-chosen').outerHTML, title: $('#group-title').value})`)
	b.click(pick(carol))
	b.waitFor("carol ticked, counted at once", fmt.Sprintf(`$(%q).checked && text('#group-count') === '2 chosen'`, pick(carol)), `$('#group-form').outerHTML`)
	b.click("#group-create")
	b.waitFor("the new group open", `/^\/c\/\d+$/.test(location.pathname) && document.readyState === 'complete'`, "location.href")
	g, err := strconv.ParseInt(strings.TrimPrefix(b.location(), s.URL+"/c/"), 10, 64)
	if err != nil {
		t.Fatalf("the group's address: %s", b.location())
	}
	b.waitFor("the group's title", `text('#conversation-title') === 'Launch'`, `$('#conversation-title') && $('#conversation-title').outerHTML`)
	if got := roles(ada.members(g)); !maps(got, map[int64]string{ada.user.ID: "admin", bob.user.ID: "member", carol.user.ID: "member"}) {
		t.Fatalf("the group's members: %v", got)
	}

	members := fmt.Sprintf("/c/%d/members", g)
	b.click("#members-link")
	b.waitPath(members)
	b.waitFor("the members page", fmt.Sprintf(`text('#group-name') === 'Launch' && visible(%q) && visible(%q) && visible(%q) && text(%q).includes('(you)')`,
		memberItem(ada), memberItem(bob), memberItem(carol), memberItem(ada)), `$('main').innerText`)

	// Rename.
	b.clearField("#rename-title")
	b.typeInto("#rename-title", "Launch day")
	b.click("#rename-form button[type=submit]")
	b.waitFor("renamed", `text('#group-name') === 'Launch day' && text('#members-notice') === 'The group is renamed.'`, `({h1: text('#group-name'), notice: text('#members-notice'), error: text('#rename-error')})`)

	// Add dave, found by a search.
	b.typeInto("#add-search-input", "da")
	b.click("#add-search button[type=submit]")
	addDave := fmt.Sprintf("#add-results li[data-id=%q] button.add-button", strconv.FormatInt(dave.user.ID, 10))
	b.waitFor("dave found", fmt.Sprintf(`new URLSearchParams(location.search).get('q') === 'da' && visible(%q)`, addDave), `$('#add-results').outerHTML`)
	b.click(addDave)
	b.waitFor("dave added", fmt.Sprintf(`text('#members-notice') === 'The person is added to the group.' && visible(%q) && text(%q + ' .role') === 'member'`, memberItem(dave), memberItem(dave)),
		`({notice: text('#members-notice'), error: text('#add-error'), list: text('#member-list')})`)

	// Make bob admin.
	b.waitFor("bob a member", fmt.Sprintf(`text(%q) === 'member'`, memberItem(bob)+" .role"), `$('#member-list').outerHTML`)
	b.click(memberItem(bob) + " button.role-button")
	b.waitFor("bob admin", fmt.Sprintf(`text('#members-notice') === 'The member\'s role is changed.' && text(%q) === 'admin' && text(%q).startsWith('Make member')`, memberItem(bob)+" .role", memberItem(bob)+" button.role-button"),
		fmt.Sprintf(`({notice: text('#members-notice'), error: text('#member-error'), bob: $(%q) && $(%q).outerHTML})`, memberItem(bob), memberItem(bob)))

	// Remove carol.
	b.click(memberItem(carol) + " button.remove-button")
	b.waitFor("carol removed", fmt.Sprintf(`text('#members-notice') === 'The member is removed from the group.' && !$(%q) && visible(%q)`, memberItem(carol), memberItem(dave)),
		`({notice: text('#members-notice'), error: text('#member-error'), list: text('#member-list')})`)
	carol.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d", g), nil, http.StatusNotFound, "not_found")
	if got := roles(ada.members(g)); !maps(got, map[int64]string{ada.user.ID: "admin", bob.user.ID: "admin", dave.user.ID: "member"}) {
		t.Errorf("the members after ada's changes: %v", got)
	}
	if rows := bob.conversations(); len(rows) != 1 || rows[0].Title != "Launch day" {
		t.Errorf("bob's list: %+v", rows)
	}

	// Dave leaves, through the page, after saying he means it.
	d := newBrowser(t, s, "dave", browserOptions{})
	d.logIn("dave", "password-dave")
	d.open(members)
	d.waitFor("dave's members page", `text('#group-name') === 'Launch day' && !$('#rename-form') && !$('#add-people') && !$('#leave').open`, `$('main').innerText`)
	d.click("#leave summary")
	d.waitFor("the leave button, explained", `$('#leave').open && visible('#leave-form button') && text('#leave p').includes('no longer see this group')`, `$('#leave').outerHTML`)
	d.click("#leave-form button")
	d.waitPath("/")
	dave.wantError("GET", fmt.Sprintf("/api/v1/conversations/%d", g), nil, http.StatusNotFound, "not_found")
	d.open(members)
	d.waitFor("the members page gone for dave", `text('h1') === 'Page not found'`, "document.body.innerText")
	if got := roles(ada.members(g)); !maps(got, map[int64]string{ada.user.ID: "admin", bob.user.ID: "admin"}) {
		t.Errorf("the members after dave left: %v", got)
	}
}
