package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// TestRetentionErasesOldMessages: with -retention, a message older than
// it becomes a tombstone on its own: the other member's open tab is told
// (message_updated), and the history shows it erased.
func TestRetentionErasesOldMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_RETENTION": "1s"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	tb := bob.openTab("bob")
	sent := alice.send(conv, "this will not last", "c1")
	if m := tb.message(tb.expectPast("message")); m.Seq != sent.Seq {
		t.Fatalf("bob's tab got seq %d, want %d", m.Seq, sent.Seq)
	}
	m := tb.message(tb.expectPast("message_updated"))
	if m.Seq != sent.Seq || !m.Deleted || m.Body != "" || m.Version <= sent.Version {
		t.Fatalf("message_updated %+v, want seq %d erased under a newer version", m, sent.Seq)
	}
	var got wire.Message
	for _, h := range alice.history(conv) {
		if h.Seq == sent.Seq {
			got = h
		}
	}
	if !got.Deleted || got.Body != "" {
		t.Errorf("history shows %+v, want the tombstone", got)
	}
}

// TestRetentionFlag: a retention that is no duration, negative or below a
// second is refused at start, naming the flag; days are understood.
func TestRetentionFlag(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"bogus", "-1h", "10ms", "12", "1.5d", "-3d"} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"parley", "-retention", v}, func(string) string { return "" }, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-retention") {
			t.Errorf("-retention %s: %v, want it refused", v, err)
		}
	}
	for v, want := range map[string]string{"90d": "90d", "36h": "36h0m0s", "0": "0s"} {
		var r retentionFlag
		if err := r.Set(v); err != nil || r.String() != want {
			t.Errorf("-retention %s reads as %s, %v; want %s", v, r.String(), err, want)
		}
	}
}
