package memory

import (
	"context"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// Presence is a chat.Presence for a single node: it counts each user's open
// connections. Only users with at least one connection take memory, so it
// stays as small as the set of people online. It is no
// chat.PresenceSweeper: nothing outlives the node to lapse, since its
// connections end with it.
type Presence struct {
	mu    sync.Mutex
	conns map[chat.UserID]int // never holds a count below 1
}

var _ chat.Presence = (*Presence)(nil)

// NewPresence returns a Presence in which everyone is offline.
func NewPresence() *Presence {
	return &Presence{conns: make(map[chat.UserID]int)}
}

// Connect counts a new connection of user and reports whether it is the
// user's first, that is, whether the user just came online. It never fails.
func (p *Presence) Connect(_ context.Context, user chat.UserID) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[user]++
	return p.conns[user] == 1, nil
}

// Disconnect counts a closed connection of user and reports whether it was
// the user's last, that is, whether the user just went offline. A user with
// no connections stays at zero and Disconnect reports false: a stray
// Disconnect must not leave a debt that hides the user's next Connect. It
// never fails.
func (p *Presence) Disconnect(_ context.Context, user chat.UserID) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n := p.conns[user]; n {
	case 0:
		return false, nil
	case 1:
		delete(p.conns, user)
		return true, nil
	default:
		p.conns[user] = n - 1
		return false, nil
	}
}

// Online reports, for every user asked about, whether they have a connection
// open; users never seen are reported offline. It never fails.
func (p *Presence) Online(_ context.Context, users []chat.UserID) (map[chat.UserID]bool, error) {
	online := make(map[chat.UserID]bool, len(users))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range users {
		online[u] = p.conns[u] > 0
	}
	return online, nil
}
