package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/internal/wire"
)

// The fault tests' clients do what docs/protocol.md asks of a client, and
// nothing more: a member keeps one WebSocket open, reconnects when it
// drops, and catches up with after_seq after a reconnect, a gap or a
// resync frame; a sender resends the same client_id after an
// `unavailable` answer. What they count is what a person would notice:
// an acked message that never showed up.

// faultPause is how long a client waits before trying again after a
// failed dial or fetch: the back-off of a real client, not a wait for a
// condition.
const faultPause = 100 * time.Millisecond

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// faultMember is one member's connection to one conversation, through
// one node.
type faultMember struct {
	name string
	c    *client // the member's cookies and node
	conv int64

	mu         sync.Mutex
	live       map[int64]int  // message frames by seq
	caught     map[int64]bool // seqs learnt only by catch-up
	wm         int64          // every seq ≤ wm is known
	above      map[int64]bool // known seqs > wm
	dups       int            // message frames for a seq already known
	resyncs    int            // resync frames
	reconnects int            // sessions after the first
	hellos     int
	problems   []string
}

// watchConversation opens name's connection on c's node and keeps it
// (reconnecting) until the test ends; the member has every message up to
// seq from already (0: none).
func watchConversation(t *testing.T, name string, c *client, conv, from int64) *faultMember {
	t.Helper()
	m := &faultMember{name: name, c: c, conv: conv, wm: from, live: map[int64]int{}, caught: map[int64]bool{}, above: map[int64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitUntil(t, name+" connects", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.hellos > 0
	})
	return m
}

func (m *faultMember) note(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.problems) < 20 {
		m.problems = append(m.problems, fmt.Sprintf(format, args...))
	}
}

// know records seq and moves the watermark; m.mu is held.
func (m *faultMember) know(seq int64) {
	if seq <= m.wm {
		return
	}
	m.above[seq] = true
	for m.above[m.wm+1] {
		delete(m.above, m.wm+1)
		m.wm++
	}
}

func (m *faultMember) known(seq int64) bool { return seq <= m.wm || m.above[seq] }

// run connects and reconnects until ctx ends.
func (m *faultMember) run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		d := websocket.Dialer{HandshakeTimeout: wsWait, Jar: m.c.http.Jar}
		h := http.Header{"Origin": {m.c.base}}
		ws, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(m.c.base, "http")+"/ws", h)
		if err != nil {
			if resp != nil {
				resp.Body.Close()
			}
			pause(ctx, faultPause)
			continue
		}
		stop := context.AfterFunc(ctx, func() { ws.Close() })
		helloed := m.session(ctx, ws, first)
		stop()
		ws.Close()
		if helloed {
			first = false
		}
		if ctx.Err() == nil {
			m.mu.Lock()
			m.reconnects++
			m.mu.Unlock()
			pause(ctx, faultPause)
		}
	}
}

// session reads one connection's frames until it fails; it reports
// whether the server said hello.
func (m *faultMember) session(ctx context.Context, ws *websocket.Conn, first bool) (helloed bool) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return helloed
		}
		var f wire.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			m.note("undecodable frame %s", data)
			continue
		}
		switch f.Type {
		case wire.TypeHello:
			helloed = true
			m.mu.Lock()
			m.hellos++
			m.mu.Unlock()
			if !first {
				m.catchUp(ctx)
			}
		case wire.TypeResync:
			m.mu.Lock()
			m.resyncs++
			m.mu.Unlock()
			m.catchUp(ctx)
		case wire.TypeMessage:
			msg, err := f.ChatMessage()
			if err != nil || msg.ConversationID != m.conv {
				continue
			}
			m.mu.Lock()
			if m.known(msg.Seq) {
				m.dups++
			}
			m.live[msg.Seq]++
			m.know(msg.Seq)
			gap := len(m.above) > 0
			m.mu.Unlock()
			if gap {
				// A seq above the last one plus one: fetch what is
				// between, as the protocol says.
				m.catchUp(ctx)
			}
		}
	}
}

// catchUp fetches the messages after the watermark, retrying until it
// succeeds or ctx ends.
func (m *faultMember) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.fetchAfter(ctx)
		if err == nil {
			return
		}
		pause(ctx, faultPause)
	}
}

func (m *faultMember) fetchAfter(ctx context.Context) error {
	for {
		m.mu.Lock()
		after := m.wm
		m.mu.Unlock()
		var page wire.MessagesResponse
		if err := getJSON(ctx, m.c, fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=100", m.conv, after), &page); err != nil {
			return err
		}
		m.mu.Lock()
		for _, msg := range page.Messages {
			if !m.known(msg.Seq) {
				m.caught[msg.Seq] = true
				m.know(msg.Seq)
			}
		}
		m.mu.Unlock()
		if !page.HasMore || len(page.Messages) == 0 {
			return nil
		}
	}
}

// has reports whether the member has every seq in seqs.
func (m *faultMember) has(seqs []int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range seqs {
		if !m.known(s) {
			return false
		}
	}
	return true
}

// memberCount is what one member got of the acked messages.
type memberCount struct {
	live, caught, lost, dups, resyncs, reconnects int
	missing                                       []int64
}

func (m *faultMember) count(acked []int64) memberCount {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := memberCount{dups: m.dups, resyncs: m.resyncs, reconnects: m.reconnects}
	for _, s := range acked {
		switch {
		case m.live[s] > 0:
			n.live++
		case m.caught[s]:
			n.caught++
		default:
			n.lost++
			if len(n.missing) < 20 {
				n.missing = append(n.missing, s)
			}
		}
	}
	return n
}

// getJSON GETs path from c's node and decodes a 200 answer into out.
func getJSON(ctx context.Context, c *client, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// faultSender posts messages to one conversation through its node, one
// at a time, and keeps what was acked and every refusal it saw.
type faultSender struct {
	name string
	c    *client
	conv int64

	mu      sync.Mutex
	acked   map[int64]string // seq → client_id
	refused map[string]int   // "503 unavailable" → count
	n       int
}

func newFaultSender(name string, c *client, conv int64) *faultSender {
	return &faultSender{name: name, c: c, conv: conv, acked: map[int64]string{}, refused: map[string]int{}}
}

// errRefused is a send refused for good (not `unavailable`).
var errRefused = errors.New("send refused")

// attempt is one send: the stored message and the status when it was
// acked (201 new, 200 a resend of a stored one), or the refusal's status,
// code and Retry-After.
type attempt struct {
	msg        wire.Message
	status     int
	code       string
	retryAfter time.Duration
}

func (a attempt) acked() bool { return a.status == http.StatusOK || a.status == http.StatusCreated }

// try sends one message once and records an ack or a refusal.
func (s *faultSender) try(ctx context.Context, clientID, body string) (attempt, error) {
	raw, err := json.Marshal(wire.SendRequest{Body: body, ClientID: clientID})
	if err != nil {
		return attempt{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/conversations/%d/messages", s.c.base, s.conv), strings.NewReader(string(raw)))
	if err != nil {
		return attempt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.c.http.Do(req)
	if err != nil {
		return attempt{}, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return attempt{}, err
	}
	a := attempt{status: resp.StatusCode}
	if a.acked() {
		var mr wire.MessageResponse
		if err := json.Unmarshal(answer, &mr); err != nil {
			return attempt{}, err
		}
		a.msg = mr.Message
		s.mu.Lock()
		s.acked[mr.Message.Seq] = clientID
		s.mu.Unlock()
		return a, nil
	}
	var e wire.Error
	_ = json.Unmarshal(answer, &e) // an answer that is not an envelope is counted with an empty code
	a.code = e.Error.Code
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		a.retryAfter = time.Duration(n) * time.Second
	}
	s.refuse(fmt.Sprintf("%d %s", a.status, a.code))
	return a, nil
}

// post sends one message until it is acked: an `unavailable` answer is
// waited out as its Retry-After says (at most a second here, to keep the
// test short) and the same client_id sent again, until ctx ends; any
// other refusal is errRefused.
func (s *faultSender) post(ctx context.Context, clientID, body string) (attempt, error) {
	for {
		a, err := s.try(ctx, clientID, body)
		switch {
		case ctx.Err() != nil:
			return attempt{}, ctx.Err()
		case err != nil:
			s.refuse("transport error")
			pause(ctx, faultPause)
			continue
		case a.acked():
			return a, nil
		case a.status != http.StatusServiceUnavailable || a.code != "unavailable":
			return a, fmt.Errorf("%w: %d %s", errRefused, a.status, a.code)
		}
		pause(ctx, min(max(a.retryAfter, faultPause), time.Second))
	}
}

func (s *faultSender) refuse(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[what]++
}

// faultInFlight bounds a sender's sends waiting for an answer: the stream
// goes on at its pace while a dependency makes answers slow.
const faultInFlight = 16

// run posts a new message every interval, each in its own goroutine (at
// most faultInFlight at once: a tick finding them all busy is skipped),
// until ctx ends; it returns once every send has. A send in progress when
// ctx ends counts only if it was acked.
func (s *faultSender) run(ctx context.Context, interval time.Duration) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, faultInFlight)
	// The ticker paces the sends (a steady stream): it waits for no
	// condition.
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case slots <- struct{}{}:
			s.mu.Lock()
			s.n++
			id := fmt.Sprintf("%s-%d", s.name, s.n)
			s.mu.Unlock()
			wg.Go(func() {
				defer func() { <-slots }()
				// A refusal other than unavailable is counted (the test
				// fails on it) and the stream goes on.
				if _, err := s.post(ctx, id, "message "+id); err != nil && ctx.Err() == nil && !errors.Is(err, errRefused) {
					s.refuse(err.Error())
				}
			})
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *faultSender) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

func (s *faultSender) refusals() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.refused))
	for k, n := range s.refused {
		out[k] = n
	}
	return out
}

// logSenders logs what each sender saw, when the test failed before its
// report.
func logSenders(t *testing.T, senders ...*faultSender) {
	if !t.Failed() {
		return
	}
	for _, s := range senders {
		s.mu.Lock()
		t.Logf("%s: %d sent, %d acked, refusals %v", s.name, s.n, len(s.acked), s.refused)
		s.mu.Unlock()
	}
}

// startSenders runs each sender until the returned stop is called; stop
// joins them.
func startSenders(interval time.Duration, senders ...*faultSender) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() { s.run(ctx, interval) })
	}
	return func() { cancel(); wg.Wait() }
}

// deliveryReport checks what the members and the database have of the
// acked messages and logs the numbers: acked, stored, delivered (live +
// by catch-up), lost, duplicated. Members must have been connected
// throughout or reconnected; every one counts.
func deliveryReport(t *testing.T, reader *client, conv int64, after int64, senders []*faultSender, members []*faultMember) {
	t.Helper()
	acked := map[int64]string{}
	for _, s := range senders {
		s.mu.Lock()
		for seq, id := range s.acked {
			acked[seq] = id
		}
		s.mu.Unlock()
	}
	seqs := make([]int64, 0, len(acked))
	for seq := range acked {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)

	// Wait, bounded, until every member has every acked message; the
	// numbers below say what is missing if one never does.
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		all := true
		for _, m := range members {
			all = all && m.has(seqs)
		}
		if all {
			break
		}
		// The poll interval of this wait, which ends as soon as every
		// member has every message.
		time.Sleep(20 * time.Millisecond) // poll interval: the loop checks every member's messages
	}

	stored := map[int64]string{}
	ctx := context.Background()
	for cursor := after; ; {
		var page wire.MessagesResponse
		if err := getJSON(ctx, reader, fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=100", conv, cursor), &page); err != nil {
			t.Fatalf("reading the database back: %v", err)
		}
		for _, m := range page.Messages {
			stored[m.Seq] = m.ClientID
			cursor = max(cursor, m.Seq)
		}
		if !page.HasMore || len(page.Messages) == 0 {
			break
		}
	}
	var inDB int
	for _, seq := range seqs {
		if stored[seq] == acked[seq] {
			inDB++
		} else {
			t.Errorf("acked seq %d (client_id %s) is not in the database (stored there: %q)", seq, acked[seq], stored[seq])
		}
	}
	var live, caught, lost, dups int
	for _, m := range members {
		n := m.count(seqs)
		live, caught, lost, dups = live+n.live, caught+n.caught, lost+n.lost, dups+n.dups
		t.Logf("%s: %d live, %d by catch-up, %d lost %v, %d duplicated; %d resync frames, %d reconnects",
			m.name, n.live, n.caught, n.lost, n.missing, n.dups, n.resyncs, n.reconnects)
		if n.lost > 0 {
			t.Errorf("%s never got %d acked messages (first seqs %v), live or by catch-up", m.name, n.lost, n.missing)
		}
		m.mu.Lock()
		for _, p := range m.problems {
			t.Errorf("%s: %s", m.name, p)
		}
		m.mu.Unlock()
	}
	for _, s := range senders {
		t.Logf("%s: %d acked, refusals %v", s.name, s.ackedCount(), s.refusals())
	}
	t.Logf("acked=%d stored=%d delivered=%d (live %d, catch-up %d) lost=%d duplicated=%d",
		len(seqs), inDB, live+caught, live, caught, lost, dups)
}
