package memory

import (
	"context"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.ConnectionCounter = (*Connections)(nil)

// Connections is a chat.ConnectionCounter for a single node: the places
// each user holds, by connection ID. Only users holding a place take
// memory. Places live until released: a process that dies takes them with
// it.
type Connections struct {
	mu     sync.Mutex
	places map[chat.UserID]map[string]struct{} // never holds an empty set
}

// NewConnections returns a Connections in which nobody holds a place.
func NewConnections() *Connections {
	return &Connections{places: make(map[chat.UserID]map[string]struct{})}
}

// Reserve claims a place for conn of user unless user holds max places
// already (max <= 0: no cap). A conn that holds a place keeps it. It never
// fails.
func (c *Connections) Reserve(_ context.Context, user chat.UserID, conn string, max int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.places[user]
	if _, ok := held[conn]; ok {
		return true, nil
	}
	if max > 0 && len(held) >= max {
		return false, nil
	}
	if held == nil {
		held = make(map[string]struct{})
		c.places[user] = held
	}
	held[conn] = struct{}{}
	return true, nil
}

// Release gives back conn's place among user's; a place not held is
// ignored. It never fails.
func (c *Connections) Release(_ context.Context, user chat.UserID, conn string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.places[user]
	delete(held, conn)
	if len(held) == 0 {
		delete(c.places, user)
	}
	return nil
}
