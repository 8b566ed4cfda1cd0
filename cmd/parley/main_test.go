package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Postgres, testenv.Redis, testenv.Chromium))
}

// patience bounds every wait for a condition, and every request: generous,
// because the tests run under -race on small machines that others share,
// where a second's work can take many. It is a deadline for failing, never a
// measure of speed: no test asserts how fast anything is.
const patience = time.Minute

// waitUntil polls cond until it holds, and fails the test if it does not
// within patience.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, patience)
		}
		// The poll interval of this wait on cond, which ends as soon as
		// cond holds.
		time.Sleep(20 * time.Millisecond)
	}
}

// server is a Parley started by run on port 0.
type server struct {
	URL  string
	done chan error
	stop context.CancelFunc
	logs *syncBuffer
	// db is the server's database (PARLEY_DB).
	db string
}

// syncBuffer collects the server's log output.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed by the next Write, when someone waits
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// next returns a channel that the next Write closes.
func (b *syncBuffer) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits until cond holds, checking it again after each line the
// server logs, and fails the test if it does not within patience. cond
// usually reads the log.
func (s *server) waitLog(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		changed := s.logs.next() // before the check, so no line is missed
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s: not within %v", what, patience)
		}
	}
}

// opened counts the server's "websocket opened" lines by user. The server
// logs one (at debug level) once a new connection is counted in its user's
// presence and the user's coming online, if it was that, is published.
func (s *server) opened() map[int64]int {
	n := make(map[int64]int)
	for line := range strings.Lines(s.logs.String()) {
		if !strings.Contains(line, `"msg":"websocket opened"`) {
			continue
		}
		var e struct {
			UserID int64 `json:"user_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil {
			n[e.UserID]++
		}
	}
	return n
}

// startServer runs the real server on a free port with a new database
// (unless env names one) and stops it when the test ends. Servers share
// nothing: tests that start their own may run in parallel.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	vars := map[string]string{
		"PARLEY_ADDR":       "127.0.0.1:0",
		"PARLEY_DB":         filepath.Join(t.TempDir(), "parley.db"),
		"PARLEY_LOG_FORMAT": "json",
		// Tabs wait for the "websocket opened" line (see opened).
		"PARLEY_LOG_LEVEL": "debug",
		// Tests send and sign up faster than people; the limits have tests
		// of their own that set them back.
		"PARLEY_MESSAGE_RATE":  "1000000",
		"PARLEY_MESSAGE_BURST": "1000000",
		"PARLEY_REGISTER_RATE": "1000000",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{done: make(chan error, 1), stop: cancel, logs: &syncBuffer{}, db: vars["PARLEY_DB"]}
	go func() {
		s.done <- run(ctx, []string{"parley"}, func(k string) string { return vars[k] }, s.logs, s.logs)
	}()

	// Wait for the "listening" line, which names the address.
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for s.URL == "" {
		changed := s.logs.next() // before the check, so no line is missed
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				s.URL = "http://" + line.Addr
			}
		}
		if s.URL != "" {
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("server stopped at start: %v\n%s", err, s.logs)
		case <-changed:
		case <-timeout.C:
			t.Fatalf("server did not start within %v:\n%s", patience, s.logs)
		}
	}
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s
}

// client is one person's browser: a cookie jar against one server.
type client struct {
	t    *testing.T
	srv  *server
	base string
	http *http.Client
	user wire.User
}

func newClient(t *testing.T, s *server) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: s, base: s.URL, http: &http.Client{Jar: jar, Timeout: patience}}
}

// do sends a request with an optional JSON body and returns the status and
// the raw answer.
func (c *client) do(method, path string, body any, header ...string) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// call is do that expects the given status and decodes the answer into out.
func (c *client) call(method, path string, body any, wantStatus int, out any) {
	c.t.Helper()
	status, raw := c.do(method, path, body)
	if status != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// wantError checks an error answer's status and code.
func (c *client) wantError(method, path string, body any, wantStatus int, wantCode string) wire.Error {
	c.t.Helper()
	status, raw := c.do(method, path, body)
	var e wire.Error
	if err := json.Unmarshal(raw, &e); err != nil {
		c.t.Fatalf("%s %s: not an error envelope: %s", method, path, raw)
	}
	if status != wantStatus || e.Error.Code != wantCode {
		c.t.Fatalf("%s %s: %d %q, want %d %q: %s", method, path, status, e.Error.Code, wantStatus, wantCode, raw)
	}
	if e.Error.Message == "" {
		c.t.Errorf("%s %s: error without a message", method, path)
	}
	return e
}

func register(t *testing.T, s *server, username string) *client {
	t.Helper()
	c := newClient(t, s)
	var resp wire.UserResponse
	c.call("POST", "/api/v1/auth/register", wire.RegisterRequest{Username: username, Password: "password-" + username, DisplayName: strings.ToUpper(username[:1]) + username[1:]}, http.StatusCreated, &resp)
	c.user = resp.User
	return c
}

func (c *client) startConversation(with *client) (int64, int) {
	c.t.Helper()
	status, raw := c.do("POST", "/api/v1/conversations", wire.StartConversationRequest{UserID: with.user.ID})
	var resp wire.ConversationResponse
	if err := json.Unmarshal(raw, &resp); err != nil || (status != 200 && status != 201) {
		c.t.Fatalf("start conversation: %d %s", status, raw)
	}
	return resp.Conversation.ID, status
}

func (c *client) send(conv int64, body, clientID string) wire.Message {
	c.t.Helper()
	var resp wire.MessageResponse
	c.call("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: body, ClientID: clientID}, http.StatusCreated, &resp)
	return resp.Message
}

func (c *client) conversations() []wire.ConversationRow {
	c.t.Helper()
	var resp wire.ConversationsResponse
	c.call("GET", "/api/v1/conversations", nil, http.StatusOK, &resp)
	return resp.Conversations
}

func (c *client) messages(conv int64, query string) wire.MessagesResponse {
	c.t.Helper()
	var resp wire.MessagesResponse
	c.call("GET", fmt.Sprintf("/api/v1/conversations/%d/messages?%s", conv, query), nil, http.StatusOK, &resp)
	return resp
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sessionCookie returns the session token the client holds.
func sessionCookie(t *testing.T, c *client, s *server) string {
	t.Helper()
	for _, ck := range c.http.Jar.Cookies(mustParse(t, s.URL)) {
		if ck.Name == "parley_session" {
			return ck.Value
		}
	}
	return ""
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func jsonUnmarshal(b []byte, v any) { json.Unmarshal(b, v) }
