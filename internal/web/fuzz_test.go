package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// The fuzz targets below hold the WebSocket frame decoder, the frame
// handler and the API's JSON body decoder to docs/protocol.md and
// docs/api.md. Run one with
//
//	go test -run '^$' -fuzz '^FuzzFrameHandler$' -fuzztime 5m -parallel 1 ./internal/web/
//
// Seed inputs live in testdata/fuzz/<FuzzName>/ as well as in f.Add calls;
// any crasher the fuzzer writes there stays as a regression test.

// jsonSpace is JSON's insignificant whitespace.
const jsonSpace = " \t\r\n"

// strictObject decodes data the strict way the docs describe: exactly one
// JSON object and nothing after it, every key exactly (in letter case too)
// one of fields and none twice, every value of its field's type, no escaped
// lone UTF-16 surrogate. It is the reference the app's decoders are compared
// with: built on encoding/json, which on its own would match keys in any
// case, let the last duplicate win and turn a lone surrogate into U+FFFD,
// so those checks are made here, apart.
func strictObject[T any](data []byte, fields []string) (T, bool) {
	var v T
	if !json.Valid(data) || loneSurrogate(data) {
		return v, false
	}
	if trimmed := bytes.TrimLeft(data, jsonSpace); len(trimmed) == 0 || trimmed[0] != '{' {
		return v, false
	}
	keys, ok := objectKeys(data)
	if !ok {
		return v, false
	}
	for i, k := range keys {
		if !slices.Contains(fields, k) || slices.Contains(keys[:i], k) {
			return v, false
		}
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, false
	}
	return v, true
}

// objectKeys returns the keys of the JSON object data, unescaped, in order,
// duplicates included.
func objectKeys(data []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		keys = append(keys, key)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
	}
	return keys, true
}

// loneSurrogate reports whether data, valid JSON, has a \u escape of a
// UTF-16 surrogate that is not half of a high-low pair: text that is not
// Unicode. In valid JSON every backslash starts an escape inside a string,
// so one pass over the escapes finds them all.
func loneSurrogate(data []byte) bool {
	hex := func(b []byte) rune {
		n, err := strconv.ParseUint(string(b), 16, 16)
		if err != nil {
			return -1
		}
		return rune(n)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if data[i] != 'u' {
			continue
		}
		r := hex(data[i+1 : i+5])
		i += 4
		switch {
		case 0xD800 <= r && r < 0xDC00:
			if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
				if low := hex(data[i+3 : i+7]); 0xDC00 <= low && low < 0xE000 {
					i += 6
					continue
				}
			}
			return true
		case 0xDC00 <= r && r < 0xE000:
			return true
		}
	}
	return false
}

// wantChatError fails unless err is a *chat.Error with one of codes and a
// message, and returns its code.
func wantChatError(t *testing.T, what string, err error, codes ...string) string {
	t.Helper()
	e, ok := errors.AsType[*chat.Error](err)
	if !ok {
		t.Fatalf("%s: error %v (%T) is not a *chat.Error", what, err, err)
	}
	if !slices.Contains(codes, e.Code) {
		t.Fatalf("%s: error code %q, want one of %q (%v)", what, e.Code, codes, err)
	}
	if e.Message == "" {
		t.Fatalf("%s: error without a message", what)
	}
	return e.Code
}

var clientFrameFields = []string{"type", "conversation_id", "client_id", "body", "seq"}

// refCommand is what decodeCommand must make of data: decoded when data is
// one JSON object with only the fields of a frame, each of its type; ok when
// it is moreover a frame of a known type with the fields that type needs.
func refCommand(data []byte) (f wire.ClientFrame, decoded, ok bool) {
	f, decoded = strictObject[wire.ClientFrame](data, clientFrameFields)
	switch {
	case !decoded:
		return wire.ClientFrame{}, false, false
	case f.Type != wire.TypeSend && f.Type != wire.TypeTyping && f.Type != wire.TypeRead:
		return f, true, false
	case f.ConversationID == nil || *f.ConversationID <= 0:
		return f, true, false
	case f.Type == wire.TypeSend && f.Body == nil:
		return f, true, false
	case f.Type == wire.TypeRead && f.Seq == nil:
		return f, true, false
	}
	return f, true, true
}

// fuzzFrameSeeds are frames worth starting from, for both frame targets.
var fuzzFrameSeeds = []string{
	`{"type":"send","conversation_id":1,"client_id":"c-1","body":"hello"}`,
	`{"type":"send","conversation_id":1,"body":"  hi\r\nthere\t "}`,
	`{"type":"send","conversation_id":1,"client_id":"c1","body":"retry of the first message"}`,
	`{"type":"send","conversation_id":1,"client_id":"elsewhere","body":"client_id used in another conversation"}`,
	`{"type":"send","conversation_id":2,"client_id":"x","body":"not a member"}`,
	`{"type":"send","conversation_id":1,"body":""}`,
	`{"type":"send","conversation_id":1,"body":"\u0000"}`,
	`{"type":"send","conversation_id":1,"body":"\ud800 lone surrogate"}`,
	`{"type":"send","conversation_id":1,"client_id":"\u0007bell","body":"x"}`,
	`{"type":"send","conversation_id":1,"body":null}`,
	`{"type":"send","conversation_id":1,"body":5}`,
	`{"type":"send","conversation_id":1}`,
	`{"type":"typing","conversation_id":1}`,
	`{"type":"typing","conversation_id":9223372036854775807}`,
	`{"type":"typing","conversation_id":9223372036854775808}`,
	`{"type":"typing","conversation_id":0}`,
	`{"type":"typing","conversation_id":-1}`,
	`{"type":"typing","conversation_id":1.5}`,
	`{"type":"typing","conversation_id":"1"}`,
	`{"type":"typing"}`,
	`{"type":"read","conversation_id":1,"seq":2}`,
	`{"type":"read","conversation_id":1,"seq":1000}`,
	`{"type":"read","conversation_id":1,"seq":0}`,
	`{"type":"read","conversation_id":1,"seq":-1}`,
	`{"type":"read","conversation_id":1}`,
	`{"type":"read","conversation_id":3,"seq":1}`,
	`{"TYPE":"typing","Conversation_ID":1}`,
	`{"type":"typing","conversation_id":1,"extra":true}`,
	`{"type":"hello","conversation_id":1}`,
	`{"type":"","conversation_id":1}`,
	`{"conversation_id":1}`,
	`{"type":"typing","conversation_id":1} {"type":"typing","conversation_id":1}`,
	`{"type":"typing","conversation_id":1} `,
	` {"type":"typing","conversation_id":1}`,
	`{"type":"typing","conversation_id":1`,
	`{"type":"typing","type":"read","conversation_id":1,"seq":1}`,
	`{"type":"typing","type":"send","conversation_id":1,"body":"carried out as a send"}`,
	`{"type":"send","conversation_id":1,"body":"a","body":"b"}`,
	`{"type":"send","conversation_id":1,"b\u006fdy":"escaped","body":"duplicate"}`,
	`{"type":"send","Type":"typing","conversation_id":1,"body":"x"}`,
	`{"type":"send","conversation_id":1,"body":"\u200b"}`,
	`{"type":"send","conversation_id":1,"body":"\u2800\u3164\u0301"}`,
	`{"type":"send","conversation_id":1,"body":"\ud83d\udcac \u200d ok"}`,
	`{"type":"send","conversation_id":1,"body":"\udcac"}`,
	`[{"type":"typing","conversation_id":1}]`,
	`"typing"`, `null`, `{}`, `[]`, `1`, ``, `{`, `}`, "\xff",
	"{\"type\":\"send\",\"conversation_id\":1,\"body\":\"bad \xff utf-8\"}",
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range fuzzFrameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		ref, decoded, refOK := refCommand(data)
		if err != nil {
			wantChatError(t, "decodeCommand", err, chat.EINVALID)
			if refOK && utf8.Valid(data) {
				t.Fatalf("decodeCommand(%q) refused a well-formed frame: %v", data, err)
			}
			// The error frame of a frame that decoded carries its
			// client_id. Invalid UTF-8 never gets that far: the reader
			// closes the connection with 1007 (RFC 6455 §8.1).
			if decoded && utf8.Valid(data) && ref.ClientID != nil && cmd.ClientID != *ref.ClientID {
				t.Fatalf("decodeCommand(%q): error command has client_id %q, want %q", data, cmd.ClientID, *ref.ClientID)
			}
			return
		}
		switch cmd.Type {
		case wire.TypeSend, wire.TypeTyping, wire.TypeRead:
		default:
			t.Fatalf("decodeCommand(%q) = type %q", data, cmd.Type)
		}
		if cmd.ConversationID <= 0 {
			t.Fatalf("decodeCommand(%q) = conversation %d", data, cmd.ConversationID)
		}
		if !utf8.Valid(data) {
			t.Fatalf("decodeCommand(%q) accepted invalid UTF-8", data)
		}
		if !refOK {
			t.Fatalf("decodeCommand(%q) = %+v, nil; want an invalid error: the frame is not one well-formed JSON object of a known type with the fields it needs", data, cmd)
		}
		if cmd.Type != ref.Type || int64(cmd.ConversationID) != *ref.ConversationID {
			t.Fatalf("decodeCommand(%q) = %+v; the frame says %q in %d", data, cmd, ref.Type, *ref.ConversationID)
		}
		if ref.ClientID != nil && cmd.ClientID != *ref.ClientID || ref.ClientID == nil && cmd.ClientID != "" {
			t.Fatalf("decodeCommand(%q) = client_id %q", data, cmd.ClientID)
		}
		switch cmd.Type {
		case wire.TypeSend:
			if ref.Body == nil || cmd.Body != *ref.Body {
				t.Fatalf("decodeCommand(%q) = body %q", data, cmd.Body)
			}
		case wire.TypeRead:
			if ref.Seq == nil || cmd.Seq != *ref.Seq {
				t.Fatalf("decodeCommand(%q) = seq %d", data, cmd.Seq)
			}
		}
	})
}

// fuzzStore is a chat.Store in memory holding one conversation, 1, between
// users 1 and 2, with three messages. Only what frameHandler needs is
// implemented; any other method panics through the nil embedded Store.
type fuzzStore struct {
	chat.Store

	mu       sync.Mutex
	cursors  map[chat.ConversationID]map[chat.UserID]int64 // read cursor of each member
	messages map[chat.ConversationID][]chat.Message
	byClient map[fuzzClientKey]chat.Message
}

type fuzzClientKey struct {
	sender   chat.UserID
	clientID string
}

// The fuzz store's starting state.
const (
	fuzzConv      chat.ConversationID = 1
	fuzzLastSeq                       = 3
	fuzzOutsider  chat.UserID         = 3 // signed in, not a member
	fuzzElsewhere                     = "elsewhere"
)

var (
	fuzzStartCursors = map[chat.UserID]int64{1: 3, 2: 2}
	fuzzEpoch        = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func newFuzzStore() *fuzzStore {
	s := &fuzzStore{
		cursors:  map[chat.ConversationID]map[chat.UserID]int64{fuzzConv: {1: 3, 2: 2}},
		messages: map[chat.ConversationID][]chat.Message{},
		byClient: map[fuzzClientKey]chat.Message{},
	}
	for i, m := range []chat.Message{{SenderID: 1, Body: "one", ClientID: "c1"}, {SenderID: 2, Body: "two", ClientID: "c2"}, {SenderID: 1, Body: "three"}} {
		m.ConversationID, m.Seq, m.CreatedAt = fuzzConv, int64(i+1), fuzzEpoch.Add(time.Duration(i)*time.Minute)
		s.messages[fuzzConv] = append(s.messages[fuzzConv], m)
		if m.ClientID != "" {
			s.byClient[fuzzClientKey{m.SenderID, m.ClientID}] = m
		}
	}
	// User 1 once used a client_id in conversation 9, which they are no
	// longer in: reusing it in conversation 1 is a conflict.
	s.byClient[fuzzClientKey{1, fuzzElsewhere}] = chat.Message{ConversationID: 9, Seq: 1, SenderID: 1, Body: "gone", ClientID: fuzzElsewhere}
	return s
}

func (s *fuzzStore) Members(_ context.Context, id chat.ConversationID) ([]chat.UserID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []chat.UserID
	for u := range s.cursors[id] {
		ids = append(ids, u)
	}
	slices.Sort(ids)
	return ids, nil
}

func (s *fuzzStore) Member(_ context.Context, id chat.ConversationID, user chat.UserID) (chat.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cursor, ok := s.cursors[id][user]
	if !ok {
		return chat.Member{}, chat.NotFound("conversation")
	}
	return chat.Member{ConversationID: id, UserID: user, LastReadSeq: cursor}, nil
}

func (s *fuzzStore) MessageByClientID(_ context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.byClient[fuzzClientKey{sender, clientID}]; ok {
		return m, nil
	}
	return chat.Message{}, chat.NotFound("message")
}

func (s *fuzzStore) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	rs := make([]chat.SendResult, len(ms))
	for i, m := range ms {
		rs[i].Stored, rs[i].Err = s.CreateMessage(ctx, m)
	}
	return rs, nil
}

func (s *fuzzStore) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	to, _ := s.Members(ctx, m.ConversationID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cursors[m.ConversationID][m.SenderID]; !ok {
		return chat.Stored{}, chat.NotFound("conversation")
	}
	if m.ClientID != "" {
		if old, ok := s.byClient[fuzzClientKey{m.SenderID, m.ClientID}]; ok {
			if old.ConversationID != m.ConversationID {
				return chat.Stored{}, chat.Errorf(chat.ECONFLICT, "client_id %q was used in another conversation", m.ClientID)
			}
			return chat.Stored{Message: old}, nil
		}
	}
	m.Seq = int64(len(s.messages[m.ConversationID]) + 1)
	s.messages[m.ConversationID] = append(s.messages[m.ConversationID], m)
	s.cursors[m.ConversationID][m.SenderID] = m.Seq
	if m.ClientID != "" {
		s.byClient[fuzzClientKey{m.SenderID, m.ClientID}] = m
	}
	return chat.Stored{Message: m, Changed: true, Recipients: to}, nil
}

func (s *fuzzStore) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	to, _ := s.Members(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	cursor, ok := s.cursors[id][user]
	if !ok {
		return chat.ReadMark{}, chat.NotFound("conversation")
	}
	seq = min(seq, int64(len(s.messages[id])))
	if seq <= cursor {
		return chat.ReadMark{Seq: cursor}, nil
	}
	s.cursors[id][user] = seq
	return chat.ReadMark{Seq: seq, Moved: true, Recipients: to}, nil
}

// fuzzBroker records what is published.
type fuzzBroker struct {
	chat.Broker

	mu     sync.Mutex
	events []chat.Event
}

func (b *fuzzBroker) Publish(_ context.Context, ev chat.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev.To = slices.Clone(ev.To)
	if ev.Message != nil {
		m := *ev.Message
		ev.Message = &m
	}
	b.events = append(b.events, ev)
	return nil
}

func (b *fuzzBroker) published() []chat.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// fuzzPresence knows no one is online.
type fuzzPresence struct{}

func (fuzzPresence) Connect(context.Context, chat.UserID) (bool, error)    { return true, nil }
func (fuzzPresence) Disconnect(context.Context, chat.UserID) (bool, error) { return true, nil }
func (fuzzPresence) Online(_ context.Context, users []chat.UserID) (map[chat.UserID]bool, error) {
	return map[chat.UserID]bool{}, nil
}

// fuzzHasher "hashes" by prefixing.
type fuzzHasher struct{}

func (fuzzHasher) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (fuzzHasher) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

var domainCodes = []string{chat.EINVALID, chat.EUNAUTHORIZED, chat.EFORBIDDEN, chat.ENOTFOUND, chat.ECONFLICT, chat.ETOOLARGE, chat.ERATELIMITED, chat.EINTERNAL}

func FuzzFrameHandler(f *testing.F) {
	for _, s := range fuzzFrameSeeds {
		for user := range byte(3) {
			f.Add(user, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, userByte byte, data []byte) {
		user := chat.UserID(1 + userByte%3) // 1 and 2 are members of conversation 1, 3 is not
		store, broker := newFuzzStore(), &fuzzBroker{}
		svc, err := chat.NewService(chat.ServiceConfig{
			Store:    store,
			Hasher:   fuzzHasher{},
			Broker:   broker,
			Presence: fuzzPresence{},
			Logger:   slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		reply := frameHandler{svc: svc, user: user}.handle(context.Background(), "conn", data)
		events := broker.published()
		what := func() string { return string(data) + " from user " + string(rune('0'+user)) }

		// Whatever happened, nothing reached anyone outside conversation 1.
		for _, ev := range events {
			conv := ev.ConversationID
			if ev.Message != nil {
				conv = ev.Message.ConversationID
			}
			if conv != fuzzConv || slices.ContainsFunc(ev.To, func(u chat.UserID) bool { return u != 1 && u != 2 }) {
				t.Fatalf("%s: published %+v outside conversation 1's members", what(), ev)
			}
		}

		var errFrame *wire.ErrorFrame
		switch r := reply.(type) {
		case nil, wire.AckFrame:
		case wire.ErrorFrame:
			errFrame = &r
			if r.Type != wire.TypeError || r.Message == "" {
				t.Fatalf("%s: malformed error frame %+v", what(), r)
			}
			if !slices.Contains(domainCodes, r.Code) {
				t.Fatalf("%s: error frame with code %q, not a domain code", what(), r.Code)
			}
			if r.Code == chat.EINTERNAL {
				t.Fatalf("%s: internal error frame %+v from a store that never fails", what(), r)
			}
			if len(events) > 0 {
				t.Fatalf("%s: answered %+v yet published %+v", what(), r, events)
			}
		default:
			t.Fatalf("%s: reply of type %T: %+v", what(), reply, reply)
		}

		cmd, decErr := decodeCommand(data)
		wantErr := func(codes ...string) {
			t.Helper()
			if errFrame == nil {
				t.Fatalf("%s: reply %+v, events %+v; want an error frame %q", what(), reply, events, codes)
			}
			if !slices.Contains(codes, errFrame.Code) {
				t.Fatalf("%s: error frame %+v, want code %q", what(), *errFrame, codes)
			}
		}
		if decErr != nil {
			wantErr(chat.EINVALID)
			if errFrame.ClientID != cmd.ClientID {
				t.Fatalf("%s: error frame client_id %q, want %q", what(), errFrame.ClientID, cmd.ClientID)
			}
			return
		}

		// The frame decoded: is what it asks for valid on its own?
		body, bodyErr := chat.NormalizeBody(cmd.Body)
		fieldsValid := true
		switch cmd.Type {
		case wire.TypeSend:
			fieldsValid = bodyErr == nil && chat.ValidateClientID(cmd.ClientID) == nil
		case wire.TypeRead:
			fieldsValid = cmd.Seq >= 0
		}
		member := cmd.ConversationID == fuzzConv && user != fuzzOutsider
		switch {
		case !member && fieldsValid:
			// A conversation one is not in looks like one that does not exist.
			wantErr(chat.ENOTFOUND)
		case !member:
			wantErr(chat.ENOTFOUND, chat.EINVALID)
		case !fieldsValid:
			wantErr(chat.EINVALID)
		}
		if errFrame != nil {
			if cmd.Type == wire.TypeSend && errFrame.ClientID != cmd.ClientID {
				t.Fatalf("%s: error frame client_id %q, want %q", what(), errFrame.ClientID, cmd.ClientID)
			}
			if member && fieldsValid && !(cmd.Type == wire.TypeSend && user == 1 && cmd.ClientID == fuzzElsewhere && errFrame.Code == chat.ECONFLICT) {
				t.Fatalf("%s: a member's valid frame was refused: %+v", what(), *errFrame)
			}
			return
		}

		// A member's valid frame was carried out.
		switch cmd.Type {
		case wire.TypeSend:
			ack, ok := reply.(wire.AckFrame)
			if !ok {
				t.Fatalf("%s: reply %+v, want an ack", what(), reply)
			}
			if ack.Type != wire.TypeAck || ack.ClientID != cmd.ClientID || ack.Message.ConversationID != int64(fuzzConv) || ack.Message.ClientID != cmd.ClientID {
				t.Fatalf("%s: ack %+v", what(), ack)
			}
			if user == 1 && cmd.ClientID == fuzzElsewhere {
				t.Fatalf("%s: a client_id used in another conversation was accepted: %+v", what(), ack)
			}
			if old, ok := newFuzzStore().byClient[fuzzClientKey{user, cmd.ClientID}]; ok && cmd.ClientID != "" {
				// A retry: the first message, unchanged, published again
				// (its first publish may have been lost) to the members but
				// this connection.
				if !reflect.DeepEqual(ack.Message, wireMessage(old)) || len(events) != 1 || events[0].Type != chat.EventMessage || events[0].SkipConn != "conn" ||
					!slices.Equal(events[0].To, []chat.UserID{1, 2}) || events[0].Message == nil || !reflect.DeepEqual(wireMessage(*events[0].Message), ack.Message) {
					t.Fatalf("%s: retry acked %+v and published %+v; want the first message %+v, published again", what(), ack.Message, events, old)
				}
				return
			}
			if ack.Message.Seq != fuzzLastSeq+1 || ack.Message.SenderID != int64(user) || ack.Message.Body != body {
				t.Fatalf("%s: ack %+v; want seq %d from %d with body %q", what(), ack.Message, fuzzLastSeq+1, user, body)
			}
			if len(events) != 1 || events[0].Type != chat.EventMessage || events[0].SkipConn != "conn" ||
				!slices.Equal(events[0].To, []chat.UserID{1, 2}) || events[0].Message == nil || !reflect.DeepEqual(wireMessage(*events[0].Message), ack.Message) {
				t.Fatalf("%s: acked %+v, published %+v; want one message event to users 1 and 2 but this connection", what(), ack.Message, events)
			}
		case wire.TypeTyping:
			other := 3 - user
			if reply != nil || len(events) != 1 || events[0].Type != chat.EventTyping || events[0].UserID != user ||
				events[0].ConversationID != fuzzConv || !slices.Equal(events[0].To, []chat.UserID{other}) {
				t.Fatalf("%s: reply %+v, published %+v; want nothing and one typing event to user %d", what(), reply, events, other)
			}
		case wire.TypeRead:
			if reply != nil {
				t.Fatalf("%s: reply %+v to a read", what(), reply)
			}
			want := min(cmd.Seq, fuzzLastSeq)
			if want <= fuzzStartCursors[user] {
				if len(events) != 0 {
					t.Fatalf("%s: the cursor did not move, yet published %+v", what(), events)
				}
				return
			}
			if len(events) != 1 || events[0].Type != chat.EventRead || events[0].UserID != user || events[0].Seq != want ||
				events[0].ConversationID != fuzzConv || !slices.Equal(events[0].To, []chat.UserID{1, 2}) {
				t.Fatalf("%s: published %+v; want one read receipt to users 1 and 2 at seq %d", what(), events, want)
			}
		}
	})
}

var (
	sendRequestFields     = []string{"body", "client_id"}
	registerRequestFields = []string{"username", "password", "display_name", "invitation"}
	invitationFields      = []string{"expires_in", "max_uses"}
	profileRequestFields  = []string{"display_name"}
	passwordRequestFields = []string{"current_password", "new_password"}
	closeRequestFields    = []string{"password"}
	startRequestFields    = []string{"user_id", "title", "user_ids"}
	groupRequestFields    = []string{"title", "user_ids"}
	renameRequestFields   = []string{"title"}
	addMemberFields       = []string{"user_id"}
	roleRequestFields     = []string{"role"}
	editRequestFields     = []string{"body"}
)

// fuzzJSONSeeds are request bodies worth starting from.
var fuzzJSONSeeds = []string{
	`{"body":"hello","client_id":"c-1"}`,
	`{"body":"hello"}`,
	`{"username":"alice","password":"password-alice","display_name":"Alice"}`,
	`{"username":"alice","password":"password-alice"}`,
	`{}`, ` {} `, "{}\n", `{"body":null}`, `{"body":1}`, `{"body":"a","body":"b"}`,
	`{"Body":"case"}`, `{"BODY":"case","CLIENT_ID":"x"}`, `{"pa\u017fsword":"long s"}`,
	`{"\u0062ody":"escaped key"}`, `{"body":"\ud800"}`, `{"body":"x","extra":1}`,
	`{"body":"x"} {}`, `{"body":"x"}}`, `{"body":"x"}]`, `{"body":"x"},`, `{"body":"x"`,
	`[]`, `[{"body":"x"}]`, `"body"`, `1`, `true`, ``, ` `, `{`, "\xef\xbb\xbf{}",
	"{\"body\":\"bad \xff utf-8\"}", "{\"body\":\"x\"}\x00",
	`{"body":"a","b\u006fdy":"b"}`, `{"body":"a","Body":"b"}`, `{"username":"a","username":"b","password":"p"}`,
	`{"body":"\ud83d\udcac"}`, `{"body":"\ud83d"}`, `{"body":"\udcac\ud83d"}`, `{"body":"\\ud800"}`,
	`{"display_name":"\u034f","username":"alice","password":"password-alice"}`,
	`{"display_name":"Alice"}`, `{"display_name":"A","display_name":"B"}`, `{"Display_Name":"case"}`,
	`{"current_password":"password-alice","new_password":"a new password"}`,
	`{"current_password":"x","new_password":"y","new_password":"z"}`, `{"current_password":"x","password":"y"}`,
	`{"password":"password-alice"}`, `{"password":"a","password":"b"}`, `{"Password":"case"}`, `{"password":""}`,
	`{"user_id":2}`, `{"user_id":-1}`, `{"user_id":0}`, `{"user_id":1.5}`, `{"user_id":1e2}`, `{"user_id":-0}`, `{"user_id":"2"}`,
	`{"user_id":9223372036854775808}`, `{"user_id":null}`, `{"User_ID":2}`, `{"user_id":2,"user_id":3}`,
	`{"title":"Team","user_ids":[2,3]}`, `{"title":"Team","user_ids":[]}`, `{"title":"Team","user_ids":null}`,
	`{"title":"Team","user_ids":[2,null]}`, `{"title":"Team","user_ids":["2"]}`, `{"title":"Team","user_ids":2}`,
	`{"title":null,"user_ids":[2]}`, `{"title":"Team"}`, `{"user_ids":[2]}`, `{"user_id":2,"title":"Team","user_ids":[3]}`,
	`{"title":"a","title":"b","user_ids":[2]}`, `{"title":"Team","user_ids":[2],"USER_IDS":[3]}`, `{"title":"\u200b","user_ids":[2]}`,
	`{"role":"admin"}`, `{"role":"member"}`, `{"role":"owner"}`, `{"role":""}`, `{"role":1}`, `{"Role":"admin"}`,
	// Edits (PATCH …/messages/{seq}): the body alone, no client_id.
	`{"body":"fixed typo"}`, `{"body":""}`, `{"body":"fixed","client_id":"c-1"}`, `{"body":"a","version":3}`,
	`{"body":"\u200b"}`, `{"body":"line one\nline two"}`, `{"body":"x","deleted":true}`,
	// Registering with an invitation; creating one.
	`{"username":"alice","password":"password-alice","invitation":"tok"}`, `{"username":"a","password":"p","invitation":null}`,
	`{"username":"a","password":"p","Invitation":"tok"}`, `{"username":"a","password":"p","invitation":1}`,
	`{"max_uses":5,"expires_in":86400}`, `{"max_uses":0}`, `{"expires_in":-1}`, `{"max_uses":1.5}`, `{"max_uses":"5"}`,
	`{"expires_in":9223372036854775808}`, `{"max_uses":2147483648}`, `{"max_uses":1,"max_uses":2}`, `{"Max_Uses":1}`,
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzJSONSeeds {
		f.Add([]byte(s))
	}
	// One byte over the limit.
	f.Add([]byte(`{"body":"` + strings.Repeat("a", maxBody-len(`{"body":""}`)+1) + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeJSON[wire.SendRequest](t, data, sendRequestFields)
		checkDecodeJSON[wire.RegisterRequest](t, data, registerRequestFields)
		checkDecodeJSON[wire.ProfileRequest](t, data, profileRequestFields)
		checkDecodeJSON[wire.PasswordRequest](t, data, passwordRequestFields)
		checkDecodeJSON[wire.CloseAccountRequest](t, data, closeRequestFields)
		checkDecodeJSON[startRequest](t, data, startRequestFields)
		checkDecodeJSON[wire.CreateGroupRequest](t, data, groupRequestFields)
		checkDecodeJSON[wire.RenameRequest](t, data, renameRequestFields)
		checkDecodeJSON[wire.AddMemberRequest](t, data, addMemberFields)
		checkDecodeJSON[wire.RoleRequest](t, data, roleRequestFields)
		checkDecodeJSON[wire.EditRequest](t, data, editRequestFields)
		checkDecodeJSON[wire.CreateInvitationRequest](t, data, invitationFields)
	})
}

// checkDecodeJSON compares decodeJSON[T] with the strict reference.
func checkDecodeJSON[T any](t *testing.T, data []byte, fields []string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/v1/conversations/1/messages", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	v, err := decodeJSON[T](w, r)
	ref, refOK := strictObject[T](data, fields)
	name := reflect.TypeFor[T]().Name()
	if err != nil {
		code := wantChatError(t, "decodeJSON["+name+"]", err, chat.EINVALID, chat.ETOOLARGE)
		if tooLarge := len(data) > maxBody; (code == chat.ETOOLARGE) != tooLarge {
			t.Fatalf("decodeJSON[%s] of %d bytes: code %q", name, len(data), code)
		}
		if refOK && utf8.Valid(data) && len(data) <= maxBody {
			t.Fatalf("decodeJSON[%s](%q) refused a well-formed body: %v", name, data, err)
		}
		return
	}
	if len(data) > maxBody {
		t.Fatalf("decodeJSON[%s] accepted %d bytes", name, len(data))
	}
	if !utf8.Valid(data) {
		t.Fatalf("decodeJSON[%s](%q) accepted invalid UTF-8", name, data)
	}
	if !refOK {
		t.Fatalf("decodeJSON[%s](%q) = %+v, nil; want an invalid error: the body is not exactly one JSON object with only the fields %q", name, data, v, fields)
	}
	if !reflect.DeepEqual(v, ref) {
		t.Fatalf("decodeJSON[%s](%q) = %+v; the body says %+v", name, data, v, ref)
	}
	// What was decoded survives a strict round trip.
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("decodeJSON[%s](%q) = %+v, which does not encode: %v", name, data, v, err)
	}
	var again T
	dec := json.NewDecoder(bytes.NewReader(enc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&again); err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("decodeJSON[%s](%q) = %+v; re-encoded as %s it decodes to %+v, %v", name, data, v, enc, again, err)
	}
}

// FuzzGroupForm holds the group pages' form decoding (parseForm, then
// parseUserIDs over the repeated user_id values of "New group", a people
// search and "Add people") to its description: a body ParseForm refuses
// is EINVALID; else the answer is every user_id in order, each a positive
// decimal integer, repeats dropped, or EINVALID when one is not such an
// integer.
func FuzzGroupForm(f *testing.F) {
	for _, s := range []string{
		"", "title=Ops&user_id=2&user_id=3", "user_id=2&user_id=2&user_id=3&user_id=2", "user_id=", "user_id=0", "user_id=-4",
		"user_id=%2B5", "user_id=05", "user_id=9223372036854775807", "user_id=9223372036854775808", "user_id=1e3", "user_id=%E2%80%8B7",
		"user_id=+7", "user_id=7%00", "user_id=7;user_id=8", "user_id=%zz", "USER_ID=7", "user_id=1&user_id=x", "q=%C3%A9&after=3&user_id=4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/groups", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := parseForm(httptest.NewRecorder(), r); err != nil {
			wantChatError(t, "parseForm", err, chat.EINVALID)
			return
		}
		values := r.PostForm["user_id"]
		ids, err := parseUserIDs(values)
		// The reference: strconv.ParseInt of each, first occurrences kept.
		var want []chat.UserID
		valid := true
		for _, v := range values {
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil || n <= 0 {
				valid = false
				break
			}
			if !slices.Contains(want, chat.UserID(n)) {
				want = append(want, chat.UserID(n))
			}
		}
		if !valid {
			wantChatError(t, "parseUserIDs", err, chat.EINVALID)
			if ids != nil {
				t.Fatalf("parseUserIDs(%q) = %v with an error", values, ids)
			}
			return
		}
		if err != nil || !slices.Equal(ids, want) && len(want)+len(ids) > 0 {
			t.Fatalf("parseUserIDs(%q) = %v, %v; want %v", values, ids, err, want)
		}
	})
}
