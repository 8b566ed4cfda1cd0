package chat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// membersStore answers Members; every other Store method is unused here.
type membersStore struct {
	Store
	members map[ConversationID][]UserID
}

func (s membersStore) Members(_ context.Context, id ConversationID) ([]UserID, error) {
	return s.members[id], nil
}

type recordingBroker struct {
	Broker
	events []Event
}

func (b *recordingBroker) Publish(_ context.Context, ev Event) error {
	b.events = append(b.events, ev)
	return nil
}

type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)    { return p, nil }
func (plainHasher) Verify(h, p string) (bool, error) { return h == p, nil }

func TestTypingIsForwardedAtMostEveryTwoSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broker := &recordingBroker{}
		svc, err := NewService(ServiceConfig{
			Store:  membersStore{members: map[ConversationID][]UserID{1: {10, 20}, 2: {10, 30}}},
			Hasher: plainHasher{},
			Broker: broker,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		typing := func(user UserID, conv ConversationID) {
			t.Helper()
			if err := svc.Typing(ctx, user, conv); err != nil {
				t.Fatal(err)
			}
		}
		typing(10, 1)                                                   // forwarded
		time.Sleep(1900 * time.Millisecond)                             //
		typing(10, 1)                                                   // too soon
		typing(20, 1)                                                   // another user: forwarded
		typing(10, 2)                                                   // another conversation: forwarded
		time.Sleep(100 * time.Millisecond)                              // 2 s after the first
		typing(10, 1)                                                   // forwarded again
		if err := svc.Typing(ctx, 30, 1); ErrorCode(err) != ENOTFOUND { // not a member
			t.Errorf("typing in a conversation one is not in: %v", err)
		}

		want := []struct {
			user UserID
			conv ConversationID
			to   UserID
		}{{10, 1, 20}, {20, 1, 10}, {10, 2, 30}, {10, 1, 20}}
		if len(broker.events) != len(want) {
			t.Fatalf("published %d typing events, want %d: %+v", len(broker.events), len(want), broker.events)
		}
		for i, w := range want {
			ev := broker.events[i]
			if ev.Type != EventTyping || ev.UserID != w.user || ev.ConversationID != w.conv || len(ev.To) != 1 || ev.To[0] != w.to {
				t.Errorf("event %d: %+v, want %+v", i, ev, w)
			}
		}
	})
}

func TestTypingGateForgetsIdleEntries(t *testing.T) {
	g := newTypingGate(2 * time.Second)
	start := time.Now()
	for i := range 5000 {
		g.allow(UserID(i), 1, start.Add(time.Duration(i)*time.Second))
	}
	if n := len(g.last); n > 2048 {
		t.Errorf("the gate holds %d entries for people who stopped typing long ago", n)
	}
}

// countingHasher counts the hashing work done.
type countingHasher struct{ hashes, verifies int }

func (h *countingHasher) Hash(p string) (string, error) { h.hashes++; return "h:" + p, nil }
func (h *countingHasher) Verify(hash, p string) (bool, error) {
	h.verifies++
	return hash == "h:"+p, nil
}

// usersStore knows one user, alice.
type usersStore struct{ Store }

func (usersStore) UserCredentials(_ context.Context, name string) (User, string, error) {
	if name == "alice" {
		return User{ID: 1, Username: "alice"}, "h:right password", nil
	}
	return User{}, "", NotFound("user")
}

func (usersStore) CreateUser(_ context.Context, u User, _ string) (User, error) {
	if u.Username == "alice" {
		return User{}, Errorf(ECONFLICT, "username %q is taken", u.Username)
	}
	u.ID = 2
	return u, nil
}

// TestNoUserEnumeration: every login does the same hashing work and fails
// the same way, whether the account exists or not; a taken name is
// reported only after the work a new one costs.
func TestNoUserEnumeration(t *testing.T) {
	h := &countingHasher{}
	svc, err := NewService(ServiceConfig{Store: usersStore{}, Hasher: h, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var first error
	for _, name := range []string{"alice", "nobody", "No Such Name!", "ALICE"} {
		before := h.verifies
		_, err := svc.Login(ctx, Credentials{Username: name, Password: "wrong password"})
		if h.verifies-before != 1 {
			t.Errorf("login as %q verified %d hashes, want 1", name, h.verifies-before)
		}
		if first == nil {
			first = err
		}
		if ErrorCode(err) != EUNAUTHORIZED || ErrorMessage(err) != ErrorMessage(first) {
			t.Errorf("login as %q: %v, want the same error as the others", name, err)
		}
	}
	if u, err := svc.Login(ctx, Credentials{Username: "Alice", Password: "right password"}); err != nil || u.ID != 1 {
		t.Errorf("right password: %v %v", u, err)
	}

	before := h.hashes
	if _, err := svc.Register(ctx, Registration{Username: "alice", Password: "some password"}); ErrorCode(err) != ECONFLICT {
		t.Fatalf("taken name: %v", err)
	}
	taken := h.hashes - before
	before = h.hashes
	if _, err := svc.Register(ctx, Registration{Username: "newbie", Password: "some password"}); err != nil {
		t.Fatal(err)
	}
	if fresh := h.hashes - before; taken != fresh || taken != 1 {
		t.Errorf("a taken name cost %d hashes, a free one %d: want the same", taken, fresh)
	}
}

// waitingHasher is a ContextHasher with no room: its Context methods wait
// until ctx ends, and its plain ones must not be called once the Service
// is made.
type waitingHasher struct {
	t       *testing.T
	started bool
}

func (h *waitingHasher) Hash(p string) (string, error) {
	if h.started {
		h.t.Error("Hash without a context: a waiter cannot give up")
	}
	return "h:" + p, nil
}

func (h *waitingHasher) Verify(string, string) (bool, error) {
	h.t.Error("Verify without a context: a waiter cannot give up")
	return false, nil
}

func (h *waitingHasher) HashContext(ctx context.Context, _ string) (string, error) {
	<-ctx.Done()
	return "", Errorf(EUNAVAILABLE, "busy")
}

func (h *waitingHasher) VerifyContext(ctx context.Context, _, _ string) (bool, error) {
	<-ctx.Done()
	return false, Errorf(EUNAVAILABLE, "busy")
}

// TestHashingGivesUpWithTheRequest: a sign-up, login or password check
// waiting for a bounded hasher gives up when its request's context ends,
// instead of holding a place in the queue for a client that has gone.
func TestHashingGivesUpWithTheRequest(t *testing.T) {
	h := &waitingHasher{t: t}
	svc, err := NewService(ServiceConfig{Store: usersStore{}, Hasher: h, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.started = true
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := svc.Login(ctx, Credentials{Username: "alice", Password: "right password"}); ErrorCode(err) != EUNAVAILABLE {
		t.Errorf("login with its request gone: %v, want unavailable", err)
	}
	if _, err := svc.Register(ctx, Registration{Username: "bob", Password: "a password"}); ErrorCode(err) != EUNAVAILABLE {
		t.Errorf("sign-up with its request gone: %v, want unavailable", err)
	}
}

// downPresence and downBroker fail every call with err, as they do while
// Redis is away (a network error) or answers with an error reply.
type downPresence struct {
	Presence
	err error
}

func (p downPresence) Online(context.Context, []UserID) (map[UserID]bool, error) {
	return nil, p.err
}

type downBroker struct {
	Broker
	err error
}

func (b downBroker) Publish(context.Context, Event) error { return b.err }

// contactsStore knows that user 10 shares a conversation with 20.
type contactsStore struct{ Store }

func (contactsStore) Contacts(context.Context, UserID) ([]UserID, error) { return []UserID{20}, nil }

// errRefused is the error of a call to a dependency that is out of reach.
func errRefused() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

// TestDependencyFailureLogs: requests that meet presence and the broker
// out of reach log no warning or error of their own (the Redis client's
// outage log says Redis is away, once per 10 s), only debug lines; a
// failure that is not an outage (an error reply) is an error line, once
// per dependency per 10 s, then once again.
func TestDependencyFailureLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int // error lines per dependency in the first 10 s
	}{
		{"unreachable", errRefused(), 0},
		{"error reply", errors.New("ERR unknown command 'PUBLISH'"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				svc, err := NewService(ServiceConfig{
					Store:    contactsStore{},
					Hasher:   plainHasher{},
					Broker:   downBroker{err: tc.err},
					Presence: downPresence{err: tc.err},
					Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx := t.Context()
				request := func() {
					if _, err := svc.Online(ctx, []UserID{10, 20}); err != nil {
						t.Fatal(err)
					}
					svc.publishUser(ctx, User{ID: 10}, []UserID{20})
				}
				for range 20 {
					request()
				}
				count := func(msg string) int { return strings.Count(logs.String(), "level=ERROR msg=\""+msg+"\"") }
				if p, b := count("presence unavailable"), count("publish user"); p != tc.want || b != tc.want {
					t.Errorf("20 failing requests logged %d presence and %d broker error lines, want %d each:\n%s", p, b, tc.want, &logs)
				}
				if w := strings.Count(logs.String(), "level=WARN"); w != 0 {
					t.Errorf("%d warnings, want none:\n%s", w, &logs)
				}
				if d := strings.Count(logs.String(), "level=DEBUG"); d == 0 && tc.want == 0 {
					t.Errorf("no debug line for the failures:\n%s", &logs)
				}
				// synctest's fake clock: the gate's 10 s interval passes
				// at once; nothing is awaited.
				time.Sleep(10 * time.Second) // synctest's fake clock: the log gate's interval passes at once
				request()
				if p := count("presence unavailable"); p != 2*tc.want {
					t.Errorf("after 10 s: %d presence error lines in all, want %d", p, 2*tc.want)
				}
			})
		})
	}
}
