package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// expired returns what ExpiredMessages names, failing the test on error.
func expired(t *testing.T, s chat.Store, before time.Time, limit int) []chat.MessageRef {
	t.Helper()
	refs, err := s.ExpiredMessages(t.Context(), before, limit)
	if err != nil {
		t.Fatalf("ExpiredMessages(%v, %d): %v", before, limit, err)
	}
	return refs
}

// testRetentionExpired checks that retention is offered the text messages
// sent before the cutoff, oldest first across conversations, and neither
// a deleted message, a system message nor a newer one.
func testRetentionExpired(t *testing.T, s chat.Store) {
	a, b, c := NewUser(t, s, "alice"), NewUser(t, s, "bob"), NewUser(t, s, "carol")
	t0 := chat.Now()
	d := direct(t, s, a.ID, b.ID, t0)
	g := newGroup(t, s, "Team", a, b, c) // its system messages are older than the cutoff
	m1 := send(t, s, d.ID, a.ID, "first", "", t0.Add(1*time.Second))
	m2 := send(t, s, d.ID, b.ID, "second", "", t0.Add(2*time.Second))
	m3 := send(t, s, g.ID, c.ID, "third", "", t0.Add(3*time.Second))
	send(t, s, d.ID, a.ID, "fourth", "", t0.Add(time.Hour))
	remove(t, s, d.ID, m2.Seq, b.ID)
	cutoff := t0.Add(10 * time.Second)

	want := []chat.MessageRef{{ConversationID: d.ID, Seq: m1.Seq}, {ConversationID: g.ID, Seq: m3.Seq}}
	if got := expired(t, s, cutoff, 10); !slices.Equal(got, want) {
		t.Errorf("ExpiredMessages(cutoff, 10) = %v, want %v (oldest first; no tombstone, system or newer message)", got, want)
	}
	if got := expired(t, s, cutoff, 1); !slices.Equal(got, want[:1]) {
		t.Errorf("ExpiredMessages(cutoff, 1) = %v, want %v", got, want[:1])
	}
	if got := expired(t, s, t0, 10); len(got) != 0 {
		t.Errorf("ExpiredMessages(before anything was sent) = %v, want none", got)
	}
}

// testRetentionErase checks that erasing makes tombstones as a deletion
// does: body gone, new dense versions, out of search, shown to clients
// catching up by version; that a message deleted already or gone is
// skipped; and that an erased message is not offered again.
func testRetentionErase(t *testing.T, s chat.Store) {
	a, b := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	t0 := chat.Now()
	d := direct(t, s, a.ID, b.ID, t0)
	m1 := send(t, s, d.ID, a.ID, "apricot one", "", t0.Add(1*time.Second))
	m2 := send(t, s, d.ID, b.ID, "apricot two", "", t0.Add(2*time.Second))
	m3 := send(t, s, d.ID, a.ID, "apricot three", "", t0.Add(3*time.Second))
	m4 := send(t, s, d.ID, b.ID, "apricot four", "", t0.Add(time.Hour))
	remove(t, s, d.ID, m2.Seq, b.ID)
	before := lastVersion(t, s, d.ID, a.ID)

	at := t0.Add(2 * time.Hour)
	stored, err := s.EraseMessages(t.Context(), d.ID, []int64{m1.Seq, m2.Seq, m3.Seq, m4.Seq + 100}, at)
	if err != nil {
		t.Fatalf("EraseMessages: %v", err)
	}
	if len(stored) != 2 {
		t.Fatalf("EraseMessages changed %d messages, want 2 (seq %d deleted already, seq %d never sent): %+v", len(stored), m2.Seq, m4.Seq+100, stored)
	}
	for i, st := range stored {
		m := st.Message
		wantSeq := []int64{m1.Seq, m3.Seq}[i]
		if !st.Changed || m.Seq != wantSeq || m.Body != "" || !m.DeletedAt.Equal(at) || m.Version != before+int64(i)+1 {
			t.Errorf("erased %d = %+v, changed %v; want seq %d, body erased, DeletedAt %v, version %d", i, m, st.Changed, wantSeq, at, before+int64(i)+1)
		}
		checkRecipients(t, s, "EraseMessages", d.ID, st.Recipients)
	}
	if got := lastVersion(t, s, d.ID, a.ID); got != before+2 {
		t.Errorf("last version after erasing two = %d, want %d", got, before+2)
	}
	changed := changes(t, s, d.ID, before, 10)
	if len(changed) != 2 || !changed[0].Deleted() || !changed[1].Deleted() {
		t.Errorf("changes since version %d = %+v, want the two tombstones", before, changed)
	}
	hits := search(t, s, a.ID, "apricot", 0, 0, 10)
	if len(hits) != 1 || hits[0].Message.Seq != m4.Seq {
		t.Errorf("search after erasing finds %d hits (%+v), want the newer message alone", len(hits), hits)
	}
	if got := expired(t, s, t0.Add(10*time.Second), 10); len(got) != 0 {
		t.Errorf("ExpiredMessages after erasing = %v, want none", got)
	}
	if again, err := s.EraseMessages(t.Context(), d.ID, []int64{m1.Seq}, at); err != nil || len(again) != 0 {
		t.Errorf("erasing again = %+v, %v; want nothing changed", again, err)
	}
	if gone, err := s.EraseMessages(t.Context(), d.ID+1000, []int64{1}, at); err != nil || len(gone) != 0 {
		t.Errorf("erasing in a conversation that does not exist = %+v, %v; want nothing, no error", gone, err)
	}
}
