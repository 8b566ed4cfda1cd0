package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// user is one account the run uses, signed in through its own cookie jar,
// on one node.
type user struct {
	index  int    // global index: the username is prefix+index
	name   string // username
	id     int64
	base   *url.URL // the node the user's requests and connections go to
	jar    http.CookieJar
	client *http.Client
	conns  []*conn
	conv   *conv // the user's conversation (load mode): direct, or a group
	sends  bool  // the user's connections send (group mode: the first -group-senders of each group)
}

// apiClient makes the run's HTTP API calls, each as one user to the
// user's node.
type apiClient struct {
	tr *http.Transport
	st *stats
}

func newAPIClient(st *stats) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	// After a server restart every connection catches up at once: without
	// a cap each fetch would open a socket of its own, thousands of them,
	// on top of the WebSockets, against the process's open file limit.
	tr.MaxConnsPerHost = 256
	return &apiClient{tr: tr, st: st}
}

// newClient returns an HTTP client with its own cookie jar, for one user.
func (a *apiClient) newClient() (*http.Client, http.CookieJar) {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Transport: a.tr, Jar: jar, Timeout: 30 * time.Second}, jar
}

// httpError is an API answer with an error status.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.message)
}

// statusOf returns the HTTP status of an httpError, or 0.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}

// do sends one API request as u to u's node with in (if not nil) as its
// JSON body and decodes the answer into out (if not nil). A 429 or 503 is
// waited out as its Retry-After says and retried; other error statuses
// come back as *httpError. Every error status is counted, except those in
// expected.
func (a *apiClient) do(ctx context.Context, u *user, method, path string, in, out any, expected ...int) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for {
		req, err := http.NewRequestWithContext(ctx, method, u.base.String()+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := u.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				a.st.addError("http: transport error")
			}
			return err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		_ = resp.Body.Close() // read already: nothing left to lose
		if err != nil {
			return err
		}
		// 429 (over a limit) and 503 (busy hashing passwords) both say
		// when to come back.
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			a.st.addError(fmt.Sprintf("http %d", resp.StatusCode))
			wait := retryAfter(resp.Header.Get("Retry-After"))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if resp.StatusCode >= 300 {
			he := &httpError{status: resp.StatusCode}
			var env wire.Error
			if json.Unmarshal(data, &env) == nil {
				he.code, he.message = env.Error.Code, env.Error.Message
			}
			counted := true
			for _, s := range expected {
				if s == resp.StatusCode {
					counted = false
				}
			}
			if counted {
				a.st.addError("http " + strconv.Itoa(resp.StatusCode))
			}
			return he
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return nil
	}
}

// retryAfter reads a Retry-After header in seconds; it waits at least
// 100 ms and at most a minute, one second when the header is unusable.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(h)
	if err != nil || n < 0 {
		return time.Second
	}
	return min(max(time.Duration(n)*time.Second, 100*time.Millisecond), time.Minute)
}

// signIn registers u, or logs it in when the name is taken (409).
func (a *apiClient) signIn(ctx context.Context, u *user, password string) error {
	var resp wire.UserResponse
	err := a.do(ctx, u, http.MethodPost, "/api/v1/auth/register",
		wire.RegisterRequest{Username: u.name, Password: password}, &resp, http.StatusConflict)
	if statusOf(err) == http.StatusConflict {
		err = a.do(ctx, u, http.MethodPost, "/api/v1/auth/login",
			wire.LoginRequest{Username: u.name, Password: password}, &resp)
		if statusOf(err) == http.StatusUnauthorized {
			return fmt.Errorf("user %s exists with another password: choose another -prefix or the right -password-prefix", u.name)
		}
	}
	if err != nil {
		return fmt.Errorf("sign in %s: %w", u.name, err)
	}
	u.id = resp.User.ID
	return nil
}

// startConversation returns the direct conversation between u and other.
func (a *apiClient) startConversation(ctx context.Context, u, other *user) (wire.Conversation, error) {
	var resp wire.ConversationResponse
	err := a.do(ctx, u, http.MethodPost, "/api/v1/conversations", wire.StartConversationRequest{UserID: other.id}, &resp)
	if err != nil {
		return wire.Conversation{}, fmt.Errorf("start conversation %s-%s: %w", u.name, other.name, err)
	}
	return resp.Conversation, nil
}

// createGroup creates a group with u as its admin and others as its
// members, all named in the one call (the API takes up to the server's
// -max-group-members people at once).
func (a *apiClient) createGroup(ctx context.Context, u *user, title string, others []*user) (wire.Conversation, error) {
	ids := make([]int64, len(others))
	for i, o := range others {
		ids[i] = o.id
	}
	var resp wire.ConversationResponse
	err := a.do(ctx, u, http.MethodPost, "/api/v1/conversations", wire.CreateGroupRequest{Title: title, UserIDs: ids}, &resp)
	if err != nil {
		return wire.Conversation{}, fmt.Errorf("create group %q: %w", title, err)
	}
	if resp.Conversation.Kind != wire.KindGroup || resp.Conversation.MemberCount != len(others)+1 {
		return wire.Conversation{}, fmt.Errorf("create group %q: got a %s conversation of %d members, want a group of %d",
			title, resp.Conversation.Kind, resp.Conversation.MemberCount, len(others)+1)
	}
	return resp.Conversation, nil
}

// messagesAfter calls visit with every message of conversation id after
// seq after, page by page (100 a page), in ascending seq order, read as u
// from u's node.
func (a *apiClient) messagesAfter(ctx context.Context, u *user, id, after int64, visit func(wire.Message)) error {
	if after <= 0 {
		// The server reads after_seq=0 as no cursor (the newest page),
		// so history from the start is read backwards, then forwards
		// from its newest message for whatever came meanwhile.
		var all []wire.Message
		path := fmt.Sprintf("/api/v1/conversations/%d/messages?limit=100", id)
		for {
			var page wire.MessagesResponse
			if err := a.do(ctx, u, http.MethodGet, path, nil, &page); err != nil {
				return err
			}
			all = append(all, page.Messages...)
			if !page.HasMore || len(page.Messages) == 0 {
				break
			}
			path = fmt.Sprintf("/api/v1/conversations/%d/messages?before_seq=%d&limit=100", id, page.Messages[0].Seq)
		}
		if len(all) == 0 {
			return nil // nothing yet: a later call starts from 0 again
		}
		slices.SortFunc(all, func(x, y wire.Message) int { return cmp.Compare(x.Seq, y.Seq) })
		for _, m := range all {
			visit(m)
		}
		after = all[len(all)-1].Seq
	}
	for {
		var page wire.MessagesResponse
		path := fmt.Sprintf("/api/v1/conversations/%d/messages?after_seq=%d&limit=100", id, after)
		if err := a.do(ctx, u, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		for _, m := range page.Messages {
			visit(m)
			after = max(after, m.Seq)
		}
		if !page.HasMore || len(page.Messages) == 0 {
			return nil
		}
	}
}

// forEach calls fn(ctx, i) for i in [0, n) with at most conc calls at once.
// The first error cancels the others' context and is returned, after
// every call has returned.
func forEach(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, conc)
loop:
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
