package brokertest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// received is one (event, user) pair taken out of a Delivery: the unit the
// suite counts, whichever way the broker groups users into deliveries.
type received struct {
	ev   chat.Event
	user chat.UserID
}

// collector drains one node's Deliveries from the start of a test to its
// end. Reading all the time, rather than only when a test looks, keeps a
// broker with a small buffer from stalling its publishers and so from
// deadlocking a test that publishes many events before it looks.
type collector struct {
	name      string
	fenceUser chat.UserID // whose deliveries are markers, left out of what until returns
	mu        sync.Mutex
	got       []received
	changed   chan struct{} // holds a token when got grew since the last look
}

// collect starts draining b's deliveries; the test's cleanup stops and joins
// the reader. Call it after creating the nodes, so that the reader stops
// before the nodes are closed.
func collect(t *testing.T, name string, b chat.Broker, fenceUser chat.UserID) *collector {
	c := &collector{name: name, fenceUser: fenceUser, changed: make(chan struct{}, 1)}
	stop := make(chan struct{})
	done := make(chan struct{})
	deliveries := b.Deliveries()
	go func() {
		defer close(done)
		for {
			select {
			case d, ok := <-deliveries:
				if !ok {
					return
				}
				c.add(t, d)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return c
}

// add checks the shape of a delivery and records its pairs. Errorf is safe
// here: the reader runs only while the test does.
func (c *collector) add(t *testing.T, d chat.Delivery) {
	if len(d.Users) == 0 {
		t.Errorf("%s: a delivery of %s names no user", c.name, describe(d.Event))
	}
	for i, u := range d.Users {
		if slices.Contains(d.Users[:i], u) {
			t.Errorf("%s: a delivery of %s names user %d twice: %v", c.name, describe(d.Event), u, d.Users)
		}
		if !slices.Contains(d.Event.To, u) {
			t.Errorf("%s: a delivery of %s names user %d, who is not in its To %v", c.name, describe(d.Event), u, d.Event.To)
		}
	}
	if d.Event.Type == chat.EventResync {
		// A broker tells the node, on its own, when it may have lost
		// events (Redis: its subscription connection was restored); the
		// suite never publishes one, so it is no event of the test's.
		return
	}
	c.mu.Lock()
	for _, u := range d.Users {
		c.got = append(c.got, received{ev: d.Event, user: u})
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// fence marks a point in every node's stream of deliveries. Each node has
// a fence user of its own, subscribed there only; pass publishes a marker
// event to all of them and waits until every node has delivered its own.
// Everything published before the marker that a node is ever going to
// deliver has been delivered by then (the suite relies on a node keeping
// publish order, see the package comment), so what the nodes have received
// is final and a test can check that something did not arrive without
// watching for a while.
type fence struct {
	nodes []chat.Broker
	cs    []*collector
	users []chat.UserID // users[i] is subscribed on nodes[i] only
	seq   int64         // the last marker's Seq: negative, unlike any test event's
}

// watch starts a collector per node, named "node 1", "node 2", …, and
// subscribes each node's fence user.
func watch(t *testing.T, nodes []chat.Broker) *fence {
	t.Helper()
	f := &fence{nodes: nodes, users: newUsers(len(nodes))}
	for i, b := range nodes {
		f.cs = append(f.cs, collect(t, fmt.Sprintf("node %d", i+1), b, f.users[i]))
		subscribe(t, b, f.users[i])
	}
	return f
}

// pass publishes a marker after everything the test has published so far
// and returns, per node, every pair the node received before its marker,
// its own markers left out. A marker reaching the wrong node stays in, for
// the caller's comparison to report.
func (f *fence) pass(t *testing.T) [][]received {
	t.Helper()
	f.seq--
	publish(t, f.nodes[0], event(f.seq, f.users...))
	out := make([][]received, len(f.cs))
	for i, c := range f.cs {
		out[i] = c.until(t, pair{f.seq, f.users[i]})
	}
	return out
}

// until waits for the pair marker and returns what arrived before it,
// without the collector's own markers. It fails the test if the marker
// takes longer than deliveryTimeout.
func (c *collector) until(t *testing.T, marker pair) []received {
	t.Helper()
	timer := time.NewTimer(deliveryTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		for i, r := range c.got {
			if (pair{r.ev.Seq, r.user}) != marker {
				continue
			}
			var before []received
			for _, r := range c.got[:i] {
				if r.ev.Seq >= 0 || r.user != c.fenceUser {
					before = append(before, r)
				}
			}
			c.mu.Unlock()
			return before
		}
		c.mu.Unlock()
		select {
		case <-c.changed:
		case <-timer.C:
			t.Fatalf("%s: the marker %v has not arrived after %v; got %s",
				c.name, marker, deliveryTimeout, c.summary())
		}
	}
}

// summary lists what has been received, briefly, for failure messages.
func (c *collector) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return pairsString(c.got)
}

// pair names a received event by its Seq, which every test makes unique
// within the test, and the user it was delivered for.
type pair struct {
	seq  int64
	user chat.UserID
}

func (p pair) String() string { return fmt.Sprintf("seq %d→user %d", p.seq, p.user) }

func pairsString(got []received) string {
	const most = 20
	var b strings.Builder
	b.WriteString("[")
	for i, r := range got {
		if i == most {
			fmt.Fprintf(&b, " … %d more", len(got)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pair{r.ev.Seq, r.user}.String())
	}
	b.WriteString("]")
	return b.String()
}

// checkPairs reports every wanted pair not received exactly once and every
// pair received that was not wanted.
func checkPairs(t *testing.T, what string, got []received, want []pair) {
	t.Helper()
	count := make(map[pair]int, len(got))
	for _, r := range got {
		count[pair{r.ev.Seq, r.user}]++
	}
	var problems []string
	for _, w := range want {
		if n := count[w]; n != 1 {
			problems = append(problems, fmt.Sprintf("%v received %d times, want once", w, n))
		}
		delete(count, w)
	}
	for p, n := range count {
		problems = append(problems, fmt.Sprintf("%v received %d times, want never", p, n))
	}
	if len(problems) == 0 {
		return
	}
	slices.Sort(problems)
	const most = 10
	if len(problems) > most {
		problems = append(problems[:most], fmt.Sprintf("… and %d more", len(problems)-most))
	}
	t.Errorf("%s:\n\t%s", what, strings.Join(problems, "\n\t"))
}

// pairsFor is every pair of the events numbered seqs and the users.
func pairsFor(seqs []int64, users ...chat.UserID) []pair {
	var ps []pair
	for _, s := range seqs {
		for _, u := range users {
			ps = append(ps, pair{s, u})
		}
	}
	return ps
}

// describe names an event in failure messages.
func describe(ev chat.Event) string {
	return fmt.Sprintf("%s event seq %d", ev.Type, ev.Seq)
}
