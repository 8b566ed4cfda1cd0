package main

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/wire"
)

// TestDeadNodeNoticed: a node that stops without disconnecting its users
// (here cut off from Redis, so that its heartbeats stop as a crashed
// node's would) is noticed by the surviving node: the people on it who
// share a conversation with the dead node's users see them go offline,
// and are told to resynchronise, and catching up finds the message the
// dead node stored but could not publish.
func TestDeadNodeNoticed(t *testing.T) {
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
	}, map[string]string{
		"PARLEY_PRESENCE_TTL":  "2s",
		"PARLEY_MESSAGE_RATE":  "1000",
		"PARLEY_MESSAGE_BURST": "1000",
	})
	bob, alice := register(t, nodes[0], "bob"), register(t, nodes[1], "alice")
	conv, _ := alice.startConversation(bob)

	b := bob.openTab("bob on node 1")
	a := alice.openTab("alice on node 2")
	if f := b.expect("presence"); f.UserID != alice.user.ID || !f.Online {
		t.Fatalf("bob: %+v, want alice online", f)
	}
	a.send(sendFrame(conv, "c1", "before"))
	a.expectPast("ack")
	b.expectPast("message")

	// Node 2 dies as far as the cluster can tell: it renews nothing and
	// publishes nothing, and its users are never disconnected there. It
	// still stores what alice sends, which reaches nobody live.
	proxy.Cut()
	lost := alice.send(conv, "stored by the dying node", "")

	var offline, resync bool
	for !offline || !resync {
		switch f := b.next(); f.Type {
		case "presence":
			if f.UserID != alice.user.ID || f.Online {
				t.Fatalf("bob: %+v, want alice offline", f)
			}
			offline = true
		case wire.TypeResync:
			resync = true
		default:
			t.Fatalf("bob: %s frame %+v, want presence offline and resync", f.Type, f)
		}
	}
	// What bob's client does on resync: catch up from the store.
	page := bob.messages(conv, "after_seq=1")
	if len(page.Messages) != 1 || !reflect.DeepEqual(page.Messages[0], lost) {
		t.Errorf("bob's catch-up after the resync: %+v, want the message stored by the dying node", page.Messages)
	}
	var users wire.UsersResponse
	bob.call("GET", "/api/v1/users?q=alice", nil, 200, &users)
	if len(users.Users) != 1 || users.Users[0].Online {
		t.Errorf("node 1 shows alice: %+v, want offline", users.Users)
	}
}
