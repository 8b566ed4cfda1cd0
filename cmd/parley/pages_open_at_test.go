package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// openedState is the part of a main view's page state about the open
// conversation that opening at a message changes.
type openedState struct {
	Open *struct {
		Conversation wire.ConversationRow `json:"conversation"`
		Messages     []wire.Message       `json:"messages"`
		HasMore      bool                 `json:"has_more"`
		HasNewer     bool                 `json:"has_newer"`
		At           int64                `json:"at"`
	} `json:"open"`
}

var (
	pageStateRE = regexp.MustCompile(`(?s)<script type="application/json" id="page-state">(.*?)</script>`)
	rowIDRE     = regexp.MustCompile(`<li id="m-(\d+)"`)
)

// openedPage reads a main view's page: its state and the seqs of its
// message rows (li#m-{seq}), in order.
func openedPage(t *testing.T, body string) (openedState, []string) {
	t.Helper()
	m := pageStateRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no page state in\n%s", body)
	}
	var st openedState
	if err := json.Unmarshal([]byte(m[1]), &st); err != nil {
		t.Fatalf("page state: %v", err)
	}
	var rows []string
	for _, r := range rowIDRE.FindAllStringSubmatch(body, -1) {
		rows = append(rows, r[1])
	}
	return st, rows
}

// TestPagesOpenAt: /c/{id}?at={seq} renders the messages around that one
// (not the newest page), the row marked and its anchor in the page, and
// the state saying the window stops short of the end; a bad at is the 400
// page, one beyond the newest message or of no message opens at the end;
// and opening there moves no read cursor.
func TestPagesOpenAt(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ada, bob := register(t, s, "ada"), register(t, s, "bob")
	conv, _ := ada.startConversation(bob)
	const total = 300
	seedMessages(t, bob, bob, conv, total, "message %d")
	// Ada has read up to 20: 280 unread.
	ada.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", conv), wire.ReadRequest{Seq: 20}, http.StatusNoContent, nil)
	unread := func() int64 {
		for _, row := range ada.conversations() {
			if row.ID == conv {
				return row.UnreadCount
			}
		}
		t.Fatalf("conversation %d not listed", conv)
		return 0
	}
	before := unread()
	if before != total-20 {
		t.Fatalf("%d unread, want %d", before, total-20)
	}

	status, _, body := ada.page(fmt.Sprintf("/c/%d?at=40", conv))
	if status != 200 {
		t.Fatalf("at=40: %d\n%s", status, body)
	}
	st, rows := openedPage(t, body)
	if st.Open == nil || st.Open.At != 40 || !st.Open.HasNewer || st.Open.HasMore {
		t.Fatalf("at=40: state %+v", st.Open)
	}
	if n := len(st.Open.Messages); n != 90 || st.Open.Messages[0].Seq != 1 || st.Open.Messages[n-1].Seq != 90 {
		t.Errorf("at=40: the state holds %d messages, want 1…90", n)
	}
	if len(rows) != 90 || rows[0] != "1" || rows[len(rows)-1] != "90" {
		t.Errorf("at=40: rows %v, want m-1…m-90", rows)
	}
	if !strings.Contains(body, `<li id="m-40" class="message found" aria-current="true" data-seq="40">`) {
		t.Errorf("at=40: m-40 is not marked:\n%s", body)
	}
	if strings.Count(body, `aria-current="true"`) != 1 || strings.Count(body, " found") != 1 {
		t.Errorf("at=40: more than one row marked")
	}
	if strings.Contains(body, fmt.Sprintf(`id="m-%d"`, total)) {
		t.Errorf("at=40: the newest message is in the page")
	}
	// "New messages" above the first unread one, as without at.
	if i, j := strings.Index(body, `class="unread-divider"`), strings.Index(body, `id="m-21"`); i < 0 || j < i || strings.Index(body, `id="m-20"`) > i {
		t.Errorf("at=40: the divider is not between m-20 and m-21")
	}

	// Further in: 50 before, 50 after, older and newer both on the server.
	_, body = ada.pageOK(t, fmt.Sprintf("/c/%d?at=200", conv))
	st, rows = openedPage(t, body)
	if !st.Open.HasMore || !st.Open.HasNewer || len(rows) != 101 || rows[0] != "150" || rows[100] != "250" {
		t.Errorf("at=200: has_more %v, has_newer %v, rows %v…", st.Open.HasMore, st.Open.HasNewer, rows[:min(3, len(rows))])
	}
	// Near the end the window reaches it.
	_, body = ada.pageOK(t, fmt.Sprintf("/c/%d?at=%d", conv, total-10))
	st, rows = openedPage(t, body)
	if st.Open.HasNewer || st.Open.At != total-10 || rows[len(rows)-1] != fmt.Sprint(total) {
		t.Errorf("at=%d: has_newer %v, at %d, last row %s", total-10, st.Open.HasNewer, st.Open.At, rows[len(rows)-1])
	}

	// Beyond the newest message, or no message at all: the end, unmarked.
	for _, at := range []string{"999999", "9223372036854775807"} {
		_, body = ada.pageOK(t, fmt.Sprintf("/c/%d?at=%s", conv, at))
		st, rows = openedPage(t, body)
		if st.Open.At != 0 || st.Open.HasNewer || rows[len(rows)-1] != fmt.Sprint(total) || len(rows) != 50 || strings.Contains(body, "aria-current") {
			t.Errorf("at=%s: at %d, has_newer %v, rows %d ending %s", at, st.Open.At, st.Open.HasNewer, len(rows), rows[len(rows)-1])
		}
	}
	empty, _ := ada.startConversation(register(t, s, "cyd"))
	if _, body = ada.pageOK(t, fmt.Sprintf("/c/%d?at=1", empty)); strings.Contains(body, `id="m-`) {
		t.Errorf("at=1 of an empty conversation: rows in the page")
	}

	// Not a positive integer: the 400 page.
	for _, at := range []string{"abc", "0", "-3", "", "4.5", "1e3", "99999999999999999999"} {
		status, _, body := ada.page(fmt.Sprintf("/c/%d?at=%s", conv, at))
		if status != 400 || !strings.Contains(body, "Bad Request") {
			t.Errorf("at=%q: %d, want the 400 page", at, status)
		}
	}
	if status, _, _ := ada.page(fmt.Sprintf("/c/%d?at=1&at=2", conv)); status != 400 {
		t.Errorf("two at: %d, want 400", status)
	}
	// Someone else's conversation is still the 404 page, at or not.
	if status, _, _ := register(t, s, "eve").page(fmt.Sprintf("/c/%d?at=40", conv)); status != 404 {
		t.Errorf("an outsider at=40: %d, want 404", status)
	}

	// Rendering a page moves no cursor: the script does, at the end.
	if after := unread(); after != before {
		t.Errorf("unread went from %d to %d by opening pages", before, after)
	}
}

// pageOK gets a page and fails unless it is a 200.
func (c *client) pageOK(t *testing.T, path string) (int, string) {
	t.Helper()
	status, _, body := c.page(path)
	if status != 200 {
		t.Fatalf("%s: %d\n%s", path, status, body)
	}
	return status, body
}
