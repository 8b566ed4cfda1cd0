package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/chat"
)

var (
	_ chat.Broker         = (*Broker)(nil)
	_ chat.BatchPublisher = (*Broker)(nil)
)

// Broker is a chat.Broker on Redis pub/sub: each user has a channel, a
// publish goes to every recipient's channel in one pipelined round trip, and
// a node subscribes to the channels of the users connected to it. Pub/sub
// keeps nothing: what is published while a node is cut off from Redis is
// missed there. So when its pub/sub connection breaks and is restored
// (go-redis subscribes again to every channel), Run hands the node an
// EventResync naming every user it is subscribed to, whose clients then
// catch up from history.
type Broker struct {
	c          *Client
	ps         *goredis.PubSub
	deliveries chan chat.Delivery

	mu         sync.Mutex
	subscribed map[string]bool            // channels this node wants
	waiting    map[string][]chan struct{} // "kind channel" → calls awaiting Redis's confirmation
}

// Broker returns the node's broker. Its Run must be running for Subscribe
// to return and for deliveries to arrive.
func (c *Client) Broker() *Broker {
	return &Broker{
		c:          c,
		ps:         c.rdb.Subscribe(context.Background()),
		deliveries: make(chan chat.Delivery, 4096),
		subscribed: make(map[string]bool),
		waiting:    make(map[string][]chan struct{}),
	}
}

func (b *Broker) channel(user chat.UserID) string {
	return b.c.prefix + "user:" + strconv.FormatInt(int64(user), 10)
}

// Publish sends ev to each recipient's channel, encoded once.
func (b *Broker) Publish(ctx context.Context, ev chat.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	seen := make(map[chat.UserID]bool, len(ev.To))
	_, err = b.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, u := range ev.To {
			if !seen[u] {
				seen[u] = true
				p.Publish(ctx, b.channel(u), payload)
			}
		}
		return nil
	})
	if err != nil {
		return failed("publish", err)
	}
	return nil
}

// PublishAll publishes evs in order in one pipeline: one round trip for a
// group commit's messages.
func (b *Broker) PublishAll(ctx context.Context, evs []chat.Event) error {
	payloads := make([][]byte, len(evs))
	for i, ev := range evs {
		p, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		payloads[i] = p
	}
	_, err := b.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, ev := range evs {
			seen := make(map[chat.UserID]bool, len(ev.To))
			for _, u := range ev.To {
				if !seen[u] {
					seen[u] = true
					p.Publish(ctx, b.channel(u), payloads[i])
				}
			}
		}
		return nil
	})
	if err != nil {
		return failed("publish", err)
	}
	return nil
}

// Subscribe subscribes this node to user's channel and returns once Redis
// has confirmed it.
func (b *Broker) Subscribe(ctx context.Context, user chat.UserID) error {
	ch := b.channel(user)
	return b.change(ctx, "subscribe", ch, true, b.ps.Subscribe)
}

// Unsubscribe unsubscribes this node from user's channel and returns once
// Redis has confirmed it; nothing for user is delivered after that.
func (b *Broker) Unsubscribe(ctx context.Context, user chat.UserID) error {
	ch := b.channel(user)
	return b.change(ctx, "unsubscribe", ch, false, b.ps.Unsubscribe)
}

// change records whether this node wants channel ch, sends the command and
// waits for Redis to confirm it.
func (b *Broker) change(ctx context.Context, kind, ch string, want bool, command func(context.Context, ...string) error) error {
	key := kind + " " + ch
	confirmed := make(chan struct{})
	b.mu.Lock()
	if want {
		b.subscribed[ch] = true
	} else {
		delete(b.subscribed, ch)
	}
	b.waiting[key] = append(b.waiting[key], confirmed)
	b.mu.Unlock()
	if err := command(ctx, ch); err != nil {
		b.forget(key, confirmed)
		return failed(kind, err)
	}
	select {
	case <-confirmed:
		return nil
	case <-ctx.Done():
		b.forget(key, confirmed)
		return ctx.Err()
	}
}

func (b *Broker) forget(key string, w chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.waiting[key]
	for i, x := range ws {
		if x == w {
			b.waiting[key] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(b.waiting[key]) == 0 {
		delete(b.waiting, key)
	}
}

// Deliveries is where this node's events arrive, one Delivery per user.
func (b *Broker) Deliveries() <-chan chat.Delivery { return b.deliveries }

// Run receives from Redis until ctx ends. When the connection breaks the
// client reconnects and subscribes again to every channel on its own; Run
// logs the trouble and keeps going, and once Redis answers again it
// delivers an EventResync to every user this node is subscribed to: what
// was published meanwhile never reached this node.
func (b *Broker) Run(ctx context.Context) {
	// Closing the subscription is what ends a Receive blocked on Redis.
	stop := context.AfterFunc(ctx, func() {
		if err := b.ps.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			b.c.logger.Warn("close redis pub/sub", "err", err)
		}
	})
	defer stop()
	// While Redis is away Receive fails every 100 ms: one line per 10 s
	// says so, with how many failures it stands for.
	var (
		lastLog time.Time
		unseen  int
		// lost: the connection failed, so events may have been missed
		// until the next one, which go-redis subscribes again.
		lost bool
	)
	for {
		msg, err := b.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, goredis.ErrClosed) {
				return
			}
			// An error reply leaves the connection up; anything else
			// closes it.
			var reply goredis.Error
			if !errors.As(err, &reply) {
				lost = true
			}
			// Redis out of reach is the client's outage log's to report
			// (its pub/sub dials go through it); anything else is a fault
			// of its own.
			if unseen++; time.Since(lastLog) >= 10*time.Second {
				level := slog.LevelWarn
				if unreachable(err) {
					level = slog.LevelDebug
				}
				b.c.logger.Log(ctx, level, "redis pub/sub", "err", err, "failures", unseen)
				lastLog, unseen = time.Now(), 0
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if lost {
			lost = false
			b.resync(ctx)
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			b.confirm(m.Kind + " " + m.Channel)
		case *goredis.Message:
			b.deliver(ctx, m)
		}
	}
}

// resync delivers an EventResync naming every user this node is
// subscribed to, after its pub/sub connection was restored.
func (b *Broker) resync(ctx context.Context) {
	b.mu.Lock()
	users := make([]chat.UserID, 0, len(b.subscribed))
	for ch := range b.subscribed {
		if u, ok := b.user(ch); ok {
			users = append(users, u)
		}
	}
	b.mu.Unlock()
	b.c.logger.Info("redis pub/sub restored: this node's users catch up", "users", len(users))
	if len(users) == 0 {
		return
	}
	slices.Sort(users)
	select {
	case b.deliveries <- chat.Delivery{Event: chat.Event{Type: chat.EventResync, To: users}, Users: users}:
	case <-ctx.Done():
	}
}

// user returns the user whose channel ch is.
func (b *Broker) user(ch string) (chat.UserID, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(ch, b.c.prefix+"user:"), 10, 64)
	return chat.UserID(id), err == nil
}

func (b *Broker) confirm(key string) {
	b.mu.Lock()
	ws := b.waiting[key]
	delete(b.waiting, key)
	b.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

func (b *Broker) deliver(ctx context.Context, m *goredis.Message) {
	// A message that was on its way when the node unsubscribed is dropped.
	b.mu.Lock()
	wanted := b.subscribed[m.Channel]
	b.mu.Unlock()
	if !wanted {
		return
	}
	id, ok := b.user(m.Channel)
	if !ok {
		b.c.logger.Error("redis message on an unknown channel", "channel", m.Channel)
		return
	}
	var ev chat.Event
	if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
		b.c.logger.Error("undecodable event", "channel", m.Channel, "err", err)
		return
	}
	select {
	case b.deliveries <- chat.Delivery{Event: ev, Users: []chat.UserID{id}}:
	case <-ctx.Done():
	}
}
