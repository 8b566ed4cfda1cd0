package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

// freshDatabase creates an empty PostgreSQL database for one test and
// drops it afterwards, and returns it with the Redis URL; the test needs
// both (see testenv.Need).
func freshDatabase(t *testing.T) (dsn, redisURL string) {
	t.Helper()
	redisURL = testenv.Need(t, testenv.Redis)
	return postgresDatabase(t), redisURL
}

// postgresDatabase creates an empty database on the PostgreSQL server of
// PARLEY_TEST_POSTGRES for one test, drops it afterwards, and returns its
// URL.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.Need(t, testenv.Postgres)
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	name := "parley_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// startCluster starts n nodes on one fresh database and one Redis (under a
// prefix of the test's own), with the default limits.
func startCluster(t *testing.T, n int, redisURL func(i int) string, env map[string]string) []*server {
	t.Helper()
	dsn, rURL := freshDatabase(t)
	prefix := "parleytest:" + rand.Text()[:10] + ":"
	nodes := make([]*server, n)
	for i := range nodes {
		r := rURL
		if redisURL != nil {
			r = redisURL(i)
		}
		vars := map[string]string{
			"PARLEY_DB":            dsn,
			"PARLEY_REDIS":         r,
			"PARLEY_REDIS_PREFIX":  prefix,
			"PARLEY_MESSAGE_RATE":  "0.001", // no refill while the test runs
			"PARLEY_MESSAGE_BURST": "20",
		}
		for k, v := range env {
			vars[k] = v
		}
		nodes[i] = startServer(t, vars)
	}
	return nodes
}

// on returns a client of the same person (same cookies) talking to node s.
func (c *client) on(s *server) *client {
	other := *c
	other.srv, other.base = s, s.URL
	return &other
}

// TestTwoNodes: people on different nodes of one cluster talk as if on
// one: messages, typing, read receipts and presence cross; a session made
// on one node works on the other; rate limits and login throttling are
// counted once for the cluster.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, nil, nil)
	alice := register(t, nodes[0], "alice")
	bob := register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)

	a := alice.openTab("alice on node 1")
	b := bob.on(nodes[1]).openTab("bob on node 2")
	if f := a.expect("presence"); f.UserID != bob.user.ID || !f.Online {
		t.Errorf("presence across nodes: %+v", f)
	}
	var users wire.UsersResponse
	alice.call("GET", "/api/v1/users?q=bob", nil, 200, &users)
	if len(users.Users) != 1 || !users.Users[0].Online {
		t.Errorf("node 1 does not see bob (on node 2) online: %+v", users)
	}

	a.send(sendFrame(conv, "c1", "hello from node 1"))
	m := a.message(a.expectPast("ack"))
	if got := b.message(b.expectPast("message")); !reflect.DeepEqual(got, m) {
		t.Errorf("bob got %+v, want %+v", got, m)
	}
	b.send(frame("typing", conv))
	if f := a.expectPast("typing"); f.UserID != bob.user.ID {
		t.Errorf("typing across nodes: %+v", f)
	}
	b.send(frame("read", conv, "seq", m.Seq))
	if f := a.expectPast("read"); f.UserID != bob.user.ID || f.Seq != m.Seq {
		t.Errorf("read receipt across nodes: %+v", f)
	}
	b.expectPast("read")

	// Alice's session, made on node 1, works on node 2.
	var me wire.UserResponse
	alice.on(nodes[1]).call("GET", "/api/v1/me", nil, 200, &me)
	if me.User.ID != alice.user.ID {
		t.Errorf("alice's session on node 2: %+v", me)
	}

	// One burst of 20 for the cluster: 19 more over both nodes, then none.
	sent := 1
	for i := range 24 {
		node := alice
		if i%2 == 1 {
			node = alice.on(nodes[1])
		}
		status, _ := node.do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: fmt.Sprint("burst ", i)})
		if status == http.StatusCreated {
			sent++
		} else if status != http.StatusTooManyRequests {
			t.Fatalf("burst send %d: %d", i, status)
		}
	}
	if sent != 20 {
		t.Errorf("%d messages accepted over two nodes, want one burst of 20", sent)
	}

	// Five failures on node 1 throttle the account on node 2, for the
	// throttle's first wait after the fifth: if the login on node 2 came
	// later than that, it was let in rightly (and its success cleared the
	// count), and the try shows nothing.
	firstWait := chat.DefaultThrottlePolicy().First
	c := newClient(t, nodes[0])
	retrySlow(t, "login throttle across nodes", func(int) bool {
		var fifth time.Time
		for i := range 5 {
			fifth = time.Now()
			if status, raw := c.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: "wrong-password"}); status != 401 {
				t.Fatalf("failure %d on node 1: %d %s", i+1, status, raw)
			}
		}
		status, _ := c.on(nodes[1]).do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "bob", Password: "password-bob"})
		if status != 429 {
			if time.Since(fifth) >= firstWait {
				return false
			}
			t.Errorf("after five failures on node 1, a login on node 2: %d, want 429", status)
		}
		return true
	})

	// Bob leaves node 2: alice on node 1 sees him go.
	b.conn.Close()
	for {
		f := a.next()
		if f.Type == "presence" {
			if f.UserID != bob.user.ID || f.Online {
				t.Errorf("presence: %+v", f)
			}
			break
		}
	}
}

// TestRedisTrouble: when the connection to Redis breaks, /readyz says so,
// messages are still stored, and once it is back the nodes resubscribe on
// their own: live delivery resumes and the missed message is there to catch
// up on.
func TestRedisTrouble(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Need(t, testenv.Redis)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewFaultProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	nodes := startCluster(t, 2, func(i int) string {
		if i == 1 {
			return viaProxy.String() // node 2 reaches Redis through the proxy
		}
		return redisURL
	}, map[string]string{"PARLEY_MESSAGE_RATE": "1000", "PARLEY_MESSAGE_BURST": "1000"})
	alice, bob := register(t, nodes[0], "alice"), register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)
	b := bob.on(nodes[1]).openTab("bob on node 2")
	alice.send(conv, "before", "")
	b.expectPast("message")

	proxy.Cut()
	ready := func(s *server) int {
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitUntil(t, "/readyz on node 2 says Redis is gone", func() bool { return ready(nodes[1]) == http.StatusServiceUnavailable })
	if ready(nodes[0]) != 200 {
		t.Error("node 1, still connected, is not ready")
	}
	missed := alice.send(conv, "while node 2 was cut off", "")
	// Node 2 still stores messages and answers lists without Redis.
	bobs := bob.on(nodes[1]).send(conv, "sent through node 2 while it was cut off", "")
	var users wire.UsersResponse
	bob.on(nodes[1]).call("GET", "/api/v1/users", nil, 200, &users)

	proxy.Mend()
	waitUntil(t, "node 2 reconnects to Redis", func() bool { return ready(nodes[1]) == http.StatusOK })
	// Live delivery resumes once node 2 has subscribed again, which nothing
	// outside shows: alice sends one more message at a time until one
	// reaches bob's tab. Any of those may be the first to arrive, or one of
	// the two sent during the outage. Before it, node 2 tells bob's tab to
	// catch up: what was published while it was cut off never reached it.
	sent := map[int64]bool{missed.Seq: true, bobs.Seq: true}
	deadline := time.Now().Add(patience)
	resynced := false
	for i := 0; ; i++ {
		sent[alice.send(conv, fmt.Sprint("after ", i), "").Seq] = true
		poll := time.NewTimer(100 * time.Millisecond)
		select {
		case f := <-b.frames:
			poll.Stop()
			if f.Type == wire.TypeResync {
				resynced = true
				continue
			}
			if !resynced {
				t.Errorf("bob's tab got %s before being told to catch up", f.Type)
			}
			if got := b.message(f); !sent[got.Seq] {
				t.Fatalf("bob got seq %d, which was not sent", got.Seq)
			}
		case <-poll.C:
			if time.Now().After(deadline) {
				t.Fatalf("live delivery did not resume within %v after Redis came back", patience)
			}
			continue
		}
		break
	}
	page := bob.on(nodes[1]).messages(conv, "after_seq=1")
	if len(page.Messages) < 2 || !reflect.DeepEqual(page.Messages[0], missed) || !reflect.DeepEqual(page.Messages[1], bobs) {
		t.Errorf("catch-up after the outage: %+v", page.Messages)
	}
}
