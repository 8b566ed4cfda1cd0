package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/wire"
)

// The page agrees with the server: after any sequence of events, what a
// page shows (the list's order, unread badges, the title, the open
// conversation's history and "Seen") is what the API says for its user.
// The tests drive two browser sessions of one person, on two nodes of a
// cluster (or one SQLite server), while other people write from either
// node; after each sequence they wait until the page and the API say the
// same, and on failure report every difference.

// listOrderChecked: whether the list's order is compared. The store orders
// its rows by their data, as the server does, so frames from two nodes
// arriving in another order than their messages were stored in still give
// the server's order.
const listOrderChecked = true

// agreeServers is the servers of an agreement test and how to start one
// again where it was.
type agreeServers struct {
	t     *testing.T
	nodes []*server
	env   []map[string]string // each node's configuration
}

// agreeEnv is the configuration of the agreement tests' servers: no limit
// gets in the way of the pages and the test's own polling.
func agreeEnv(extra ...string) map[string]string {
	return browserServerEnv(append([]string{
		"PARLEY_READ_RATE", "100000", "PARLEY_READ_BURST", "100000",
		"PARLEY_LIST_RATE", "100000", "PARLEY_LIST_BURST", "100000",
		"PARLEY_TYPING_RATE", "100000", "PARLEY_TYPING_BURST", "100000",
	}, extra...)...)
}

// startAgreeCluster starts two nodes on one fresh PostgreSQL database and
// one Redis.
func startAgreeCluster(t *testing.T) *agreeServers {
	t.Helper()
	dsn, redisURL := freshDatabase(t)
	prefix := "parleytest:" + rand.Text()[:10] + ":"
	s := &agreeServers{t: t}
	for range 2 {
		env := agreeEnv("PARLEY_DB", dsn, "PARLEY_REDIS", redisURL, "PARLEY_REDIS_PREFIX", prefix)
		s.env = append(s.env, env)
		s.nodes = append(s.nodes, startServer(t, env))
	}
	return s
}

// startAgreeSQLite starts one server on SQLite, twice in the list: both
// sessions use it.
func startAgreeSQLite(t *testing.T) *agreeServers {
	t.Helper()
	env := agreeEnv("PARLEY_DB", t.TempDir()+"/parley.db")
	n := startServer(t, env)
	return &agreeServers{t: t, nodes: []*server{n, n}, env: []map[string]string{env, env}}
}

// restart stops node i and starts it again on the same address and data;
// the browsers on it reconnect by themselves. while runs between the stop
// and the start.
func (s *agreeServers) restart(i int, while func()) {
	t := s.t
	t.Helper()
	old := s.nodes[i]
	addr := strings.TrimPrefix(old.URL, "http://")
	stopServer(t, old)
	while()
	waitUntil(t, "the address "+addr+" free again", func() bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
	env := map[string]string{}
	for k, v := range s.env[i] {
		env[k] = v
	}
	env["PARLEY_ADDR"] = addr
	n := startServer(t, env)
	for j := range s.nodes {
		if s.nodes[j] == old {
			s.nodes[j] = n
		}
	}
}

// openConversation clicks a conversation's row and waits for it to show.
func (b *browser) openConversation(id int64) {
	b.t.Helper()
	b.click(convRow(id) + " a")
	b.waitFor(fmt.Sprintf("conversation %d open", id),
		fmt.Sprintf(`location.pathname === '/c/%d' && visible('section#conversation') && $('section#conversation').dataset.id === '%d'`, id, id),
		"({url: location.href, open: $('section#conversation') && $('section#conversation').dataset.id})")
}

// backToList closes the open conversation as the back link does.
func (b *browser) backToList() {
	b.t.Helper()
	eval[bool](b, `($('#back-link').click(), true)`)
	b.waitFor("the list, nothing open", `location.pathname === '/' && !visible('section#conversation')`, "location.href")
}

// sendFromPage types a message into the open conversation and presses
// Enter.
func (b *browser) sendFromPage(body string) {
	b.t.Helper()
	b.insertText("#composer-input", body)
	b.pressEnter(false)
}

// setHidden minimizes the page's window, so that the page is hidden as
// when its person switched to another window, or brings it back; and
// waits until the page says so.
func (b *browser) setHidden(hidden bool) {
	b.t.Helper()
	state, want := cdpbrowser.WindowStateNormal, "visible"
	if hidden {
		state, want = cdpbrowser.WindowStateMinimized, "hidden"
	}
	setWindowState(b, state)
	b.waitFor("the page "+want, fmt.Sprintf("document.visibilityState === %q", want), "document.visibilityState")
}

// shownRow is a li.conversation as the tests read it.
type shownRow struct {
	ID      int64  `json:"id"`
	Badge   string `json:"badge"` // the unread badge's text, "" when hidden
	Name    string `json:"name"`
	Preview string `json:"preview"`
}

// shownPage is what a page shows, read from the DOM.
type shownPage struct {
	Title     string         `json:"title"`
	Rows      []shownRow     `json:"rows"`
	Open      int64          `json:"open"` // the open conversation, 0 for none
	Messages  []shownMessage `json:"messages"`
	Seen      []int64        `json:"seen"` // the seqs of the messages "Seen" is under
	Connected bool           `json:"connected"`
}

const readPageJS = `({
	title: document.title,
	rows: $$('#conversation-list li.conversation').map(li => {
		const badge = li.querySelector('.unread');
		return {id: Number(li.dataset.id), badge: badge && !badge.closest('[hidden]') ? badge.textContent.trim() : '',
			name: text(li.querySelector('.name')) || '', preview: li.querySelector('.preview') ? li.querySelector('.preview').textContent : ''};
	}),
	open: visible('section#conversation') ? Number($('section#conversation').dataset.id || 0) : 0,
	messages: visible('section#conversation') ? ` + readMessagesJS + ` : [],
	seen: $$('#messages .seen').filter(s => !s.closest('[hidden]')).map(s => Number(s.closest('li.message') ? s.closest('li.message').dataset.seq : -1)),
	connected: document.body.dataset.connected === 'true',
})`

// serverView is what the API says for a user: the list's first page and
// the messages of one conversation from a seq on.
type serverView struct {
	rows    []wire.ConversationRow
	history []wire.Message // of the open conversation, from the first seq the page shows
}

// readServer asks the API what the page should show, for the conversation
// open (0 for none) from seq from on.
func readServer(c *client, open, from int64) (serverView, error) {
	var v serverView
	status, raw := c.do("GET", "/api/v1/conversations", nil)
	if status != http.StatusOK {
		return v, fmt.Errorf("GET /api/v1/conversations: %d %s", status, raw)
	}
	var list wire.ConversationsResponse
	jsonUnmarshal(raw, &list)
	v.rows = list.Conversations
	if open == 0 {
		return v, nil
	}
	after := max(from-1, 0)
	for {
		status, raw := c.do("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=100", open, after), nil)
		if status != http.StatusOK {
			return v, fmt.Errorf("GET messages of %d: %d %s", open, status, raw)
		}
		var page wire.MessagesResponse
		jsonUnmarshal(raw, &page)
		for _, m := range page.Messages {
			v.history = append(v.history, m)
			after = max(after, m.Seq)
		}
		if !page.HasMore || len(page.Messages) == 0 {
			return v, nil
		}
	}
}

// disagreement lists how a page differs from what the API says for its
// user (me), the page meant to show conversation wantOpen (0: the list
// alone).
func disagreement(me int64, page shownPage, srv serverView, wantOpen int64) []string {
	var diffs []string
	if !page.Connected {
		diffs = append(diffs, "not connected")
	}
	var wantIDs, gotIDs []int64
	byID := map[int64]wire.ConversationRow{}
	total := int64(0)
	for _, r := range srv.rows {
		wantIDs = append(wantIDs, r.ID)
		byID[r.ID] = r
		total += r.UnreadCount
	}
	for _, r := range page.Rows {
		gotIDs = append(gotIDs, r.ID)
	}
	if listOrderChecked && !slices.Equal(gotIDs, wantIDs) {
		diffs = append(diffs, fmt.Sprintf("list order %v, the API's %v", gotIDs, wantIDs))
	}
	for _, r := range page.Rows {
		want, ok := byID[r.ID]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("row %d: not in the API's list", r.ID))
			continue
		}
		badge := ""
		if want.UnreadCount > 0 {
			badge = fmt.Sprint(want.UnreadCount)
		}
		if r.Badge != badge {
			diffs = append(diffs, fmt.Sprintf("row %d: unread badge %q, want %q (last_seq %d, last_read_seq %d)", r.ID, r.Badge, badge, want.LastSeq, want.LastReadSeq))
		}
		preview := ""
		if want.LastMessage != nil {
			preview = want.LastMessage.Body
		}
		if r.Preview != preview {
			diffs = append(diffs, fmt.Sprintf("row %d: preview %q, want %q", r.ID, r.Preview, preview))
		}
	}
	title := "Parley"
	if total > 99 {
		title = "(99+) Parley"
	} else if total > 0 {
		title = fmt.Sprintf("(%d) Parley", total)
	}
	if page.Title != title {
		diffs = append(diffs, fmt.Sprintf("title %q, want %q", page.Title, title))
	}
	if page.Open != wantOpen {
		diffs = append(diffs, fmt.Sprintf("conversation %d open, want %d", page.Open, wantOpen))
	}
	if wantOpen == 0 || page.Open != wantOpen {
		return diffs
	}

	// The open conversation: its newest messages, each once, in seq order,
	// as stored; nothing left unsent; "Seen" under the newest own message
	// the other person has read.
	row := byID[wantOpen]
	var want []shownMessage
	seen := []int64{}
	for _, m := range srv.history {
		want = append(want, shownMessage{Seq: m.Seq, Body: m.Body, Own: m.SenderID == me})
		if m.SenderID == me && m.Seq <= row.OtherReadSeq {
			seen = []int64{m.Seq}
		}
	}
	if !slices.Equal(page.Messages, want) {
		diffs = append(diffs, fmt.Sprintf("conversation %d: history %s, the API's %s", wantOpen, messagesDiff(page.Messages, want), summarize(want)))
	}
	if len(page.Messages) > 0 && page.Messages[0].Seq > max(1, row.LastSeq-49) {
		diffs = append(diffs, fmt.Sprintf("conversation %d: history starts at seq %d, short of the newest page", wantOpen, page.Messages[0].Seq))
	}
	if len(page.Messages) == 0 && row.LastSeq > 0 {
		diffs = append(diffs, fmt.Sprintf("conversation %d: no messages shown, last_seq %d", wantOpen, row.LastSeq))
	}
	if !slices.Equal(page.Seen, seen) {
		diffs = append(diffs, fmt.Sprintf("conversation %d: \"Seen\" under seqs %v, want %v (other_read_seq %d)", wantOpen, page.Seen, seen, row.OtherReadSeq))
	}
	return diffs
}

// messagesDiff says where two message lists first differ.
func messagesDiff(got, want []shownMessage) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%s, at position %d %+v where the API has %+v", summarize(got), i, got[i], want[i])
		}
	}
	return summarize(got)
}

// summarize describes a message list by its seqs.
func summarize(ms []shownMessage) string {
	if len(ms) == 0 {
		return "empty"
	}
	var pending int
	var seqs []string
	for _, m := range ms {
		if m.Pending || m.Seq == 0 {
			pending++
			continue
		}
		seqs = append(seqs, fmt.Sprint(m.Seq))
	}
	s := fmt.Sprintf("%d messages, seqs [%s]", len(ms), strings.Join(seqs, " "))
	if len(seqs) > 12 {
		s = fmt.Sprintf("%d messages, seqs [%s … %s]", len(ms), strings.Join(seqs[:4], " "), strings.Join(seqs[len(seqs)-4:], " "))
	}
	if pending > 0 {
		s += fmt.Sprintf(", %d not stored", pending)
	}
	return s
}

// waitAgree waits until the page shows what the API says for api's user,
// with conversation wantOpen open (0 for none), and fails the test with
// every difference when it does not within browserWait. It is the check
// after each sequence of events, once they have all happened.
func (b *browser) waitAgree(what string, api *client, wantOpen int64) {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	var diffs []string
	for {
		page, err := tryEval[shownPage](b, readPageJS)
		if err != nil {
			diffs = []string{"reading the page: " + err.Error()}
		} else {
			from := int64(0)
			for _, m := range page.Messages {
				if m.Seq > 0 {
					from = m.Seq
					break
				}
			}
			var srv serverView
			if srv, err = readServer(api, wantOpen, from); err != nil {
				diffs = []string{"asking the API: " + err.Error()}
			} else if diffs = disagreement(api.user.ID, page, srv, wantOpen); len(diffs) == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: %s: the page disagrees with the API after %v:\n\t%s", b.name, what, browserWait, strings.Join(diffs, "\n\t"))
		}
		// The poll interval of this wait for agreement.
		time.Sleep(100 * time.Millisecond)
	}
}

// unread is a conversation's unread count as the API says.
func unread(api *client, conv int64) int64 {
	api.t.Helper()
	for _, r := range api.conversations() {
		if r.ID == conv {
			return r.UnreadCount
		}
	}
	api.t.Fatalf("conversation %d not in the list", conv)
	return 0
}

// sendConcurrently sends count messages as each sender to its
// conversation, all senders at once, and returns when all are stored. A
// sender is a person's client on some node.
type sender struct {
	c    *client
	conv int64
	tag  string
}

func sendConcurrently(t *testing.T, count int, senders ...sender) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(senders)*count)
	for _, s := range senders {
		wg.Go(func() {
			for i := range count {
				status, err := postMessage(s.c, s.conv, fmt.Sprintf("%s %d", s.tag, i+1))
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("%s: status %d", s.tag, status)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent send: %v", err)
	}
}

// countLateFrames counts the message frames that reach a tab after a
// frame of a later seq of the same conversation: the out-of-order arrivals
// the agreement tests are about (the count depends on timing, so it is
// only logged).
func countLateFrames(b *browser) *atomic.Int64 {
	var n atomic.Int64
	var mu sync.Mutex
	newest := map[int64]int64{}
	err := chromedp.Listen(b.ctx, func(ev any) {
		e, ok := ev.(*network.EventWebSocketFrameReceived)
		if !ok || e.Response == nil {
			return
		}
		var f wire.ServerFrame
		if json.Unmarshal(e.Response.PayloadData, &f) != nil || (f.Type != "message" && f.Type != "ack") {
			return
		}
		m, err := f.ChatMessage()
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if m.Seq < newest[m.ConversationID] {
			n.Add(1)
		}
		newest[m.ConversationID] = max(newest[m.ConversationID], m.Seq)
	})
	if err != nil {
		b.t.Fatalf("%s: listen to WebSocket frames: %v", b.name, err)
	}
	return &n
}

// TestBrowserAgreeTwoNodes: one person in two browsers, one on each node
// of a cluster, while others write from both nodes.
func TestBrowserAgreeTwoNodes(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	agreeScenario(t, startAgreeCluster(t))
}

// TestBrowserAgreeSQLite: the same, both browsers on one SQLite server.
func TestBrowserAgreeSQLite(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	agreeScenario(t, startAgreeSQLite(t))
}

// agreeScenario drives the sequences of the agreement tests: s.nodes[0]
// serves the first browser and the API checks, s.nodes[1] the second.
func agreeScenario(t *testing.T, s *agreeServers) {
	n0, n1 := s.nodes[0], s.nodes[1]
	const password = "password-alice"
	alice := register(t, n0, "alice")
	bob := register(t, n0, "bob")
	carol := register(t, n1, "carol")
	dave := register(t, n1, "dave")
	convA, _ := bob.startConversation(alice)
	convC, _ := carol.startConversation(alice)
	for i := range 3 {
		bob.send(convA, fmt.Sprintf("bob before %d", i+1), "")
	}
	carol.send(convC, "carol before", "")

	b1 := newBrowser(t, n0, "alice on node 1", browserOptions{})
	b2 := newBrowser(t, n1, "alice on node 2", browserOptions{})
	b1.logIn("alice", password)
	b2.logIn("alice", password)
	late1, late2 := countLateFrames(b1), countLateFrames(b2)
	defer func() {
		t.Logf("message frames that arrived after a later seq: %d on the first page, %d on the second", late1.Load(), late2.Load())
	}()
	api := alice // on node 1, which stays up
	b1.waitAgree("signed in", api, 0)
	b2.waitAgree("signed in", api, 0)

	// A reply from the other session: each sees the other's message as its
	// own, read, in the list and in the open conversation.
	b1.openConversation(convA)
	b2.openConversation(convC)
	b1.waitAgree("A opened", api, convA)
	b2.waitAgree("C opened", api, convC)
	b2.backToList()
	b2.openConversation(convA)
	b2.sendFromPage("reply from the second session")
	b1.waitAgree("a reply from the other session", api, convA)
	b2.waitAgree("its own reply", api, convA)
	b1.sendFromPage("reply from the first session")
	b2.waitAgree("a reply from the other session", api, convA)
	b1.waitAgree("its own reply", api, convA)

	// Bob reads, on either node: "Seen" moves under alice's newest message
	// he has read, in both sessions.
	bobTab := bob.on(n1).openTab("bob on node 2")
	bobTab.send(frame("read", convA, "seq", 4))
	b1.waitAgree("bob read seq 4", api, convA)
	b2.waitAgree("bob read seq 4", api, convA)
	last := bob.messages(convA, "limit=1").Messages[0].Seq
	bobTab.send(frame("read", convA, "seq", last))
	b1.waitAgree("bob read everything", api, convA)
	b2.waitAgree("bob read everything", api, convA)

	// Many messages at once, to three conversations, from senders on both
	// nodes (bob on both), while dave starts a conversation: frames reach
	// the pages out of seq order and out of time order.
	b2.backToList()
	b2.openConversation(convC)
	convD, _ := dave.startConversation(alice)
	sendConcurrently(t, 15,
		sender{bob, convA, "bob on node 1"},
		sender{bob.on(n1), convA, "bob on node 2"},
		sender{carol, convC, "carol on node 2"},
		sender{carol.on(n0), convC, "carol on node 1"},
		sender{dave, convD, "dave on node 2"},
		sender{dave.on(n0), convD, "dave on node 1"},
	)
	b1.waitAgree("after concurrent sends", api, convA)
	b2.waitAgree("after concurrent sends", api, convC)
	if n := unread(api, convD); n != 30 {
		t.Errorf("conversation D: %d unread through the API, want 30", n)
	}

	// A read in one session: the other drops the unread count, the badge
	// and the title.
	b1.backToList()
	b1.openConversation(convD)
	b1.waitAgree("D read", api, convD)
	b2.waitAgree("D read in the other session", api, convC)
	if n := unread(api, convD); n != 0 {
		t.Errorf("conversation D: %d unread after reading it, want 0", n)
	}

	// A hidden session does not read: its open conversation's messages
	// arrive, and stay unread in both sessions until it shows again.
	b1.backToList()
	b2.backToList()
	b2.openConversation(convA)
	b2.setHidden(true)
	sendConcurrently(t, 5, sender{bob.on(n1), convA, "bob while hidden"}, sender{carol, convC, "carol while hidden"})
	b2.waitAgree("messages to a hidden page", api, convA)
	b1.waitAgree("messages while the other session is hidden", api, 0)
	if n := unread(api, convA); n != 5 {
		t.Errorf("conversation A: %d unread while the page showing it is hidden, want 5", n)
	}
	b2.setHidden(false)
	b2.waitAgree("shown again: read", api, convA)
	b1.waitAgree("read in the other session", api, 0)
	if n := unread(api, convA); n != 0 {
		t.Errorf("conversation A: %d unread after its page showed again, want 0", n)
	}

	// The second node goes away and comes back while messages flow: its
	// page reconnects and catches up (on two nodes, over more than one
	// page of missed messages, and a read of the other session and of bob
	// it missed); a conversation started meanwhile shows in both.
	eve := register(t, n0, "eve")
	var convE int64
	var sent atomic.Int64
	stopFlow := make(chan struct{})
	var flow sync.WaitGroup
	flow.Go(func() {
		// Bob's pace: a message every 50 ms, the flow the reconnect
		// happens in.
		pace := time.NewTicker(50 * time.Millisecond)
		defer pace.Stop()
		for i := 1; ; i++ {
			select {
			case <-stopFlow:
				return
			case <-pace.C:
			}
			// Refused while the node is away (one node): sent again later.
			if status, err := postMessage(bob, convA, fmt.Sprintf("bob during the restart %d", i)); err == nil && status == http.StatusCreated {
				sent.Add(1)
			}
		}
	})
	defer func() {
		select {
		case <-stopFlow:
		default:
			close(stopFlow)
		}
		flow.Wait()
	}()
	waitUntil(t, "messages flowing", func() bool { return sent.Load() >= 3 })
	newConversation := func() {
		convE, _ = eve.startConversation(alice)
		eve.send(convE, "eve while a node was away", "")
	}
	hellos := b2.helloCount()
	twoNodes := n1 != n0
	s.restart(1, func() {
		b2.waitFor("Reconnecting…", `visible('#connection-status')`, `$('#connection-status').outerHTML`)
		if twoNodes {
			// On the node that stayed.
			newConversation()
			for i := range 120 {
				bob.send(convA, fmt.Sprintf("bob while node 2 was away %d", i+1), "")
			}
			bob.call("POST", fmt.Sprintf("/api/v1/conversations/%d/read", convA), map[string]int64{"seq": 3}, http.StatusNoContent, nil)
			b1.openConversation(convC)
			b1.waitAgree("C read while the other node is away", api, convC)
			b1.backToList()
		}
	})
	if !twoNodes {
		newConversation()
	}
	b2.waitConnected(hellos)
	mark := sent.Load()
	waitUntil(t, "messages flowing after the restart", func() bool { return sent.Load() >= mark+3 })
	close(stopFlow)
	flow.Wait()
	t.Logf("bob sent %d messages while the node restarted", sent.Load())
	b2.waitAgree("after the restart", api, convA)
	b1.waitAgree("after the other node's restart", api, 0)
	if n := unread(api, convE); n != 1 {
		t.Errorf("conversation E: %d unread, want 1", n)
	}
}

// postMessage sends a message through the API without failing the test: for
// goroutines, and for a node that may be away.
func postMessage(c *client, conv int64, body string) (int, error) {
	raw, err := json.Marshal(wire.SendRequest{Body: body})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/messages", c.base, conv), bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sessionCookieExpiry is when the tab's session cookie expires (seconds
// since the epoch), 0 when the browser holds none.
func (b *browser) sessionCookieExpiry() float64 {
	b.t.Helper()
	var expires float64
	b.do("read the session cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if c.Name == "parley_session" {
				expires = c.Expires
			}
		}
		return nil
	}))
	return expires
}

// countMeAnswers counts the 200 answers to GET /api/v1/me the tab gets.
func countMeAnswers(b *browser) *atomic.Int64 {
	var n atomic.Int64
	err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventResponseReceived); ok && ev.Response != nil &&
			strings.HasSuffix(ev.Response.URL, "/api/v1/me") && ev.Response.Status == http.StatusOK {
			n.Add(1)
		}
	})
	if err != nil {
		b.t.Fatalf("%s: listen to responses: %v", b.name, err)
	}
	return &n
}

// TestBrowserAgreeCookieRefresh: a page that chats over the WebSocket past
// the session's idle timeout keeps its cookie (the session is alive on the
// server, so a reload finds the person signed in); a page nobody uses
// idles out and goes to the log-in page.
func TestBrowserAgreeCookieRefresh(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	const idle = 6 * time.Second
	s := startServer(t, agreeEnv("PARLEY_SESSION_IDLE", idle.String()))
	register(t, s, "alice")
	bob := register(t, s, "bob")
	alice := newBrowser(t, s, "alice", browserOptions{})
	alice.logIn("alice", "password-alice")
	api := login(t, s, "alice", "password-alice")
	conv, _ := api.startConversation(bob)
	if got := api.openTab("alice's API tab").hello.SessionIdleMS; got != idle.Milliseconds() {
		t.Errorf("hello: session_idle_ms %d, want %d", got, idle.Milliseconds())
	}
	refreshes := countMeAnswers(alice)
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	alice.waitAgree("the conversation open", api, conv)

	// Chat over the socket alone until the cookie the last page load set
	// would have expired: each round waits for the message to be stored.
	first := alice.sessionCookieExpiry()
	if first <= 0 {
		t.Fatalf("alice: no persistent session cookie after the page load (expires %v)", first)
	}
	expired := time.Unix(int64(first)+1, 0)
	rounds := 0
	for time.Now().Before(expired) || rounds < 3 {
		rounds++
		alice.sendFromPage(fmt.Sprintf("chatting %d", rounds))
		alice.waitFor(fmt.Sprintf("message %d stored", rounds), fmt.Sprintf(`$(%q) && $$('#messages li.pending').length === 0`, messageItem(int64(rounds))), readMessagesJS)
		if rounds > 1000 {
			t.Fatalf("alice: %d rounds and the first cookie's expiry (%v) not reached", rounds, expired)
		}
	}
	if got := alice.sessionCookieExpiry(); got <= first {
		t.Errorf("alice: after chatting past the first cookie's expiry (%v) the cookie expires at %v: not moved (%d answers to GET /api/v1/me)", first, got, refreshes.Load())
	}
	t.Logf("%d rounds of chat, %d cookie refreshes", rounds, refreshes.Load())

	// A reload is still signed in, and shows what the server has (asked
	// through a new session: the test's own has idled out meanwhile).
	alice.openConnected(fmt.Sprintf("/c/%d", conv))
	api = login(t, s, "alice", "password-alice")
	alice.waitAgree("reloaded after chatting past the idle timeout", api, conv)

	// Nobody uses the page: its session idles out, cookie and all.
	alice.waitPath("/login")
}
