package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// deliveryStore is a store of one conversation, 5, whose members are 1, 2
// and 3. Its writes answer as a store's transaction does, recipients
// included; once failReads is set, every read of members or contacts fails,
// as a database cut right after a commit would make them.
type deliveryStore struct {
	Store
	mu        sync.Mutex
	failReads bool
	sent      map[string]Message // by client ID
	seq       int64
}

var deliveryMembers = []UserID{1, 2, 3}

func newDeliveryStore() *deliveryStore {
	return &deliveryStore{sent: map[string]Message{}}
}

func (s *deliveryStore) readsFail() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failReads {
		return errors.New("connection reset by peer")
	}
	return nil
}

func (s *deliveryStore) Members(context.Context, ConversationID) ([]UserID, error) {
	if err := s.readsFail(); err != nil {
		return nil, err
	}
	return slices.Clone(deliveryMembers), nil
}

func (s *deliveryStore) Contacts(context.Context, UserID) ([]UserID, error) {
	if err := s.readsFail(); err != nil {
		return nil, err
	}
	return []UserID{2, 3}, nil
}

func (s *deliveryStore) Member(_ context.Context, id ConversationID, user UserID) (Member, error) {
	if err := s.readsFail(); err != nil {
		return Member{}, err
	}
	if id != 5 || !slices.Contains(deliveryMembers, user) {
		return Member{}, NotFound("conversation")
	}
	return Member{ConversationID: id, UserID: user}, nil
}

func (s *deliveryStore) MessageByClientID(_ context.Context, _ UserID, clientID string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.sent[clientID]; ok {
		return m, nil
	}
	return Message{}, NotFound("message")
}

func (s *deliveryStore) CreateMessage(_ context.Context, m Message) (Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.sent[m.ClientID]; ok && m.ClientID != "" {
		return Stored{Message: first}, nil
	}
	s.seq++
	m.Seq, m.Version = s.seq, s.seq
	if m.ClientID != "" {
		s.sent[m.ClientID] = m
	}
	return Stored{Message: m, Changed: true, Recipients: slices.Clone(deliveryMembers)}, nil
}

func (s *deliveryStore) CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error) {
	rs := make([]SendResult, len(ms))
	for i, m := range ms {
		rs[i].Stored, rs[i].Err = s.CreateMessage(ctx, m)
	}
	return rs, nil
}

func (s *deliveryStore) EditMessage(_ context.Context, c MessageChange) (Stored, error) {
	m := Message{ConversationID: c.ConversationID, Seq: c.Seq, SenderID: c.Actor, Body: c.Body, EditedAt: c.At}
	return Stored{Message: m, Changed: true, Recipients: slices.Clone(deliveryMembers)}, nil
}

func (s *deliveryStore) DeleteMessage(_ context.Context, c MessageChange) (Stored, error) {
	m := Message{ConversationID: c.ConversationID, Seq: c.Seq, SenderID: c.Actor, DeletedAt: c.At}
	return Stored{Message: m, Changed: true, Recipients: slices.Clone(deliveryMembers)}, nil
}

func (s *deliveryStore) MarkRead(_ context.Context, _ ConversationID, _ UserID, seq int64) (ReadMark, error) {
	return ReadMark{Seq: seq, Moved: true, Recipients: slices.Clone(deliveryMembers)}, nil
}

func (s *deliveryStore) AddMember(_ context.Context, id ConversationID, actor, user UserID, _ int, at time.Time) (GroupChange, error) {
	sys := &Message{ConversationID: id, Seq: 9, Kind: MessageSystem, SenderID: actor, CreatedAt: at}
	return GroupChange{
		Conversation: Conversation{ID: id, Kind: KindGroup},
		Message:      sys,
		Member:       MemberInfo{Member: Member{ConversationID: id, UserID: user, Role: RoleMember}},
		Changed:      true,
		Members:      append(slices.Clone(deliveryMembers), user),
	}, nil
}

// deliveryPassword is every deliveryStore user's password (plainHasher
// stores it as it is).
const deliveryPassword = "correct horse battery"

func (s *deliveryStore) UserByID(_ context.Context, id UserID) (User, error) {
	return User{ID: id, Username: fmt.Sprintf("user%d", id), DisplayName: fmt.Sprintf("User %d", id)}, nil
}

func (s *deliveryStore) UserCredentials(_ context.Context, username string) (User, string, error) {
	var id UserID
	if _, err := fmt.Sscanf(username, "user%d", &id); err != nil {
		return User{}, "", NotFound("user")
	}
	return User{ID: id, Username: username}, deliveryPassword, nil
}

// SetDisplayName answers with the contacts its transaction read: 2 and 3
// (conversation 5) and 6 (a direct conversation).
func (s *deliveryStore) SetDisplayName(_ context.Context, id UserID, displayName string) (User, []UserID, error) {
	return User{ID: id, Username: fmt.Sprintf("user%d", id), DisplayName: displayName}, []UserID{2, 3, 6}, nil
}

// CloseUser answers as SetDisplayName does for contacts.
func (s *deliveryStore) CloseUser(_ context.Context, id UserID, _ time.Time) (ClosedAccount, error) {
	u := User{ID: id, Username: fmt.Sprintf("user%d", id), DisplayName: ClosedDisplayName, Closed: true}
	return ClosedAccount{User: u, Contacts: []UserID{2, 3, 6}}, nil
}

// flakyBroker refuses the first fail publishes, then takes every one;
// safe in parallel.
type flakyBroker struct {
	Broker
	mu     sync.Mutex
	fail   int
	calls  int
	events []Event
}

func (b *flakyBroker) Publish(_ context.Context, ev Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.fail > 0 {
		b.fail--
		return errRefused()
	}
	ev.To = slices.Clone(ev.To)
	b.events = append(b.events, ev)
	return nil
}

// taken returns the events the broker took so far.
func (b *flakyBroker) taken() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// called returns how many publishes were asked of the broker.
func (b *flakyBroker) called() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// failNext makes the next n publishes fail.
func (b *flakyBroker) failNext(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = n
}

// lockedBuffer is a log's output, safe in parallel.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newDeliveryService(t *testing.T, store Store, broker Broker, logs *lockedBuffer) *Service {
	t.Helper()
	svc, err := NewService(ServiceConfig{
		Store: store, Hasher: plainHasher{}, Broker: broker,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestCommittedChangesReachTheirRecipientsWhenReadsFail: after each
// commit the database stops answering reads (a cut right after COMMIT).
// Every change is still published to the recipients its transaction
// read: no read after the commit decides who hears of it.
func TestCommittedChangesReachTheirRecipientsWhenReadsFail(t *testing.T) {
	ctx := t.Context()
	store := newDeliveryStore()
	broker := &flakyBroker{}
	svc := newDeliveryService(t, store, broker, &lockedBuffer{})
	store.failReads = true

	if _, created, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "hi", ClientID: "c1", Conn: "conn-a"}); err != nil || !created {
		t.Fatalf("Send: created %v, %v", created, err)
	}
	if _, err := svc.EditMessage(ctx, 1, 5, 1, "hello"); err != nil {
		t.Fatalf("EditMessage: %v", err)
	}
	if _, err := svc.DeleteMessage(ctx, 1, 5, 1); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if _, _, err := svc.MarkRead(ctx, 2, 5, 1); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	if _, err := svc.AddMember(ctx, 1, 5, 4); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if _, err := svc.SetDisplayName(ctx, 1, "Alice"); err != nil {
		t.Fatalf("SetDisplayName: %v", err)
	}
	if err := svc.CloseAccount(ctx, 1, deliveryPassword); err != nil {
		t.Fatalf("CloseAccount: %v", err)
	}

	want := []struct {
		typ EventType
		to  []UserID
	}{
		{EventMessage, deliveryMembers},
		{EventMessageUpdated, deliveryMembers},
		{EventMessageUpdated, deliveryMembers},
		{EventRead, deliveryMembers},
		{EventMessage, []UserID{1, 2, 3, 4}},
		{EventMember, []UserID{1, 2, 3, 4}},
		{EventUser, []UserID{1, 2, 3, 6}}, // the new name
		{EventUser, []UserID{1, 2, 3, 6}}, // the closure
	}
	got := broker.taken()
	if len(got) != len(want) {
		t.Fatalf("published %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Type != w.typ || !slices.Equal(got[i].To, w.to) {
			t.Errorf("event %d: %s to %v, want %s to %v", i, got[i].Type, got[i].To, w.typ, w.to)
		}
	}
	if got[0].SkipConn != "conn-a" {
		t.Errorf("the message event skips %q, want the sending connection", got[0].SkipConn)
	}
}

// TestResendPublishesTheStoredMessageAgain: a send whose client ID is
// stored already (committed by a node that died before publishing it, or
// whose publish was refused) is answered from the store and published
// again to every member but the sending connection, so a member who missed
// it receives it now.
func TestResendPublishesTheStoredMessageAgain(t *testing.T) {
	ctx := t.Context()
	store := newDeliveryStore()
	broker := &flakyBroker{}
	svc := newDeliveryService(t, store, broker, &lockedBuffer{})

	// Committed, never published.
	first := Message{ConversationID: 5, Seq: 2, Version: 2, SenderID: 1, Body: "m2", ClientID: "c2"}
	store.sent["c2"] = first
	again, created, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "m2", ClientID: "c2", Conn: "conn-b"})
	if err != nil || created || again.Seq != first.Seq {
		t.Fatalf("resend: seq %d created %v, %v; want seq %d, not created", again.Seq, created, err, first.Seq)
	}
	got := broker.taken()
	if len(got) != 1 {
		t.Fatalf("the resend published %d events, want 1: %+v", len(got), got)
	}
	ev := got[0]
	if ev.Type != EventMessage || ev.Message == nil || ev.Message.Seq != first.Seq || !slices.Equal(ev.To, deliveryMembers) || ev.SkipConn != "conn-b" {
		t.Errorf("the resend published %+v, want message seq %d to %v skipping conn-b", ev, first.Seq, deliveryMembers)
	}

	// A resend that races the first send to CreateMessage is answered the
	// same way.
	store.mu.Lock()
	store.sent["c3"] = Message{ConversationID: 5, Seq: 7, SenderID: 1, ClientID: "c3"}
	store.mu.Unlock()
	svc.store = raceStore{store}
	if m, created, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "m3", ClientID: "c3", Conn: "conn-c"}); err != nil || created || m.Seq != 7 {
		t.Fatalf("raced resend: seq %d created %v, %v", m.Seq, created, err)
	}
	if got := broker.taken(); len(got) != 2 || got[1].Message.Seq != 7 || got[1].SkipConn != "conn-c" {
		t.Errorf("the raced resend published %+v, want seq 7 skipping conn-c", got[1:])
	}

	// Not a member any more: not found, and nothing published.
	if _, _, err := svc.Send(ctx, 4, SendRequest{ConversationID: 5, Body: "x", ClientID: "c2"}); ErrorCode(err) != ENOTFOUND {
		t.Errorf("resend by a non-member: %v, want not_found", err)
	}
}

// raceStore misses the client ID at the look-up, as when the first send
// commits between the look-up and CreateMessage.
type raceStore struct{ *deliveryStore }

func (raceStore) MessageByClientID(context.Context, UserID, string) (Message, error) {
	return Message{}, NotFound("message")
}

// TestRefusedPublishesBecomeAResync: while the broker refuses events,
// their recipients are owed a resync, which Run publishes, retrying,
// once the broker takes events again; the Service logs the outage at
// debug level only.
func TestRefusedPublishesBecomeAResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs lockedBuffer
		store := newDeliveryStore()
		broker := &flakyBroker{fail: 4} // the send, then three resync attempts
		svc := newDeliveryService(t, store, broker, &logs)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Run(ctx)
		}()

		if _, _, err := svc.Send(ctx, 1, SendRequest{ConversationID: 5, Body: "hi"}); err != nil {
			t.Fatalf("Send while the broker is away: %v (it is committed: it must succeed)", err)
		}
		// Until a resync goes through, events are not offered to the
		// broker: a send does not wait on it. (Run waits out its backoff
		// on the fake clock, which stands still until the test sleeps.)
		synctest.Wait()
		calls := broker.called()
		if _, _, err := svc.Send(ctx, 2, SendRequest{ConversationID: 5, Body: "hi again"}); err != nil {
			t.Fatal(err)
		}
		if n := broker.called(); n != calls {
			t.Errorf("a send while the broker is failing asked it %d more times, want none", n-calls)
		}
		// The loop polls for the resync while Run retries with backoff.
		var resync *Event
		for deadline := time.Now().Add(time.Minute); resync == nil && time.Now().Before(deadline); {
			for _, ev := range broker.taken() {
				if ev.Type == EventResync {
					resync = &ev
				}
			}
			time.Sleep(100 * time.Millisecond) // synctest's fake clock: lets the backoff pass at once
		}
		if resync == nil {
			t.Fatalf("no resync published within a minute; events %+v\n%s", broker.taken(), &logs)
		}
		synctest.Wait() // Run has logged what it did
		if !slices.Equal(resync.To, deliveryMembers) {
			t.Errorf("resync to %v, want the message's recipients %v", resync.To, deliveryMembers)
		}
		// The broker's own outage log (the Redis client's) warns of the
		// outage and says when it is over: the Service adds debug lines.
		count := func(msg string) int { return strings.Count(logs.String(), "level=DEBUG msg=\""+msg+"\"") }
		if w := strings.Count(logs.String(), "level=WARN") + strings.Count(logs.String(), "level=ERROR"); w != 0 {
			t.Errorf("the outage logged %d warnings and errors, want none:\n%s", w, &logs)
		}
		if count("publish message") != 1 || count("broker takes events again: resync published") != 1 {
			t.Errorf("want one debug line for the refused publish and one when the broker took the resync:\n%s", &logs)
		}
		if n := svc.resync.pending(); n != 0 {
			t.Errorf("%d users still pending after the resync went out", n)
		}

		// Once it is back, events are published live again.
		n := len(broker.taken())
		if _, _, err := svc.Send(ctx, 3, SendRequest{ConversationID: 5, Body: "live"}); err != nil {
			t.Fatal(err)
		}
		if got := broker.taken(); len(got) != n+1 || got[n].Type != EventMessage {
			t.Errorf("a send after the outage published %+v, want its message", got[n:])
		}

		// A later refusal is resynced too, and nobody twice.
		broker.failNext(1)
		if _, _, err := svc.MarkRead(ctx, 2, 5, 3); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var resyncs int
		for _, ev := range broker.taken() {
			if ev.Type == EventResync {
				resyncs++
			}
		}
		if resyncs != 2 {
			t.Errorf("%d resyncs published, want 2 (one per outage): %+v", resyncs, broker.taken())
		}
		cancel()
		<-done
	})
}

// TestResyncSetIsBounded: past its bound the set keeps the users it has;
// the others are dropped, counted for the log.
func TestResyncSetIsBounded(t *testing.T) {
	r := newResyncSet(3)
	r.add([]UserID{5, 1})
	r.add([]UserID{1, 2, 3, 4}) // 1 is there already; 2 fits; 3 and 4 do not
	users, dropped := r.take()
	if !slices.Equal(users, []UserID{1, 2, 5}) || dropped != 2 {
		t.Errorf("take: %v, %d dropped; want [1 2 5], 2 dropped", users, dropped)
	}
	if users, dropped := r.take(); users != nil || dropped != 0 {
		t.Errorf("take after take: %v, %d", users, dropped)
	}
}

// stallStore stalls every CreateMessage until release is closed, as a
// database that stopped answering mid-commit; entered gets a value as each
// one starts.
type stallStore struct {
	*deliveryStore
	entered chan struct{}
	release chan struct{}
}

func (s stallStore) CreateMessages(ctx context.Context, ms []Message) ([]SendResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.deliveryStore.CreateMessages(ctx, ms)
}

// TestSendBehindAStalledCommitGivesUp: a send waiting for its
// conversation behind a send whose commit stalls gives up when its own
// context ends, answered unavailable (a client waits and retries), not
// left hanging or failed as internal; the stalled send completes once the
// store answers.
func TestSendBehindAStalledCommitGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := stallStore{newDeliveryStore(), make(chan struct{}, 2), make(chan struct{})}
		svc := newDeliveryService(t, store, &flakyBroker{}, &lockedBuffer{})
		first := make(chan error, 1)
		go func() {
			_, _, err := svc.Send(t.Context(), 1, SendRequest{ConversationID: 5, Body: "stalled"})
			first <- err
		}()
		<-store.entered // the first send holds conversation 5, mid-commit

		// synctest's fake clock: the deadline passes once every goroutine
		// is blocked, the second send waiting for the conversation.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, _, err := svc.Send(ctx, 2, SendRequest{ConversationID: 5, Body: "behind it"})
		if ErrorCode(err) != EUNAVAILABLE || RetryAfter(err) <= 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the send behind the stalled one: %v (code %s, retry after %v); want unavailable with a wait, caused by its deadline", err, ErrorCode(err), RetryAfter(err))
		}
		if len(store.entered) != 0 {
			t.Error("the send that gave up reached the store")
		}

		close(store.release)
		if err := <-first; err != nil {
			t.Errorf("the stalled send, once the store answered: %v", err)
		}
	})
}
