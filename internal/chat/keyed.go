package chat

import (
	"context"
	"sync"
)

// keyedMutex is a mutex per key, made on first use and dropped when no one
// holds or waits for it, so memory follows the keys in use.
type keyedMutex[K comparable] struct {
	mu    sync.Mutex
	locks map[K]*keyedLock
}

// keyedLock is one key's lock: a token in a channel of one, so that a
// waiter can give up (a sync.Mutex cannot be waited for with a deadline).
type keyedLock struct {
	token chan struct{} // holds the token while the lock is free
	users int           // holders and waiters
}

// acquire registers one more user of k's lock and returns it.
func (m *keyedMutex[K]) acquire(k K) *keyedLock {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = make(map[K]*keyedLock)
	}
	l := m.locks[k]
	if l == nil {
		l = &keyedLock{token: make(chan struct{}, 1)}
		l.token <- struct{}{}
		m.locks[k] = l
	}
	l.users++
	return l
}

// release drops one user of k's lock, and the lock with the last.
func (m *keyedMutex[K]) release(k K, l *keyedLock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l.users--
	if l.users == 0 {
		delete(m.locks, k)
	}
}

// Lock locks k's mutex and returns the function that unlocks it.
func (m *keyedMutex[K]) Lock(k K) (unlock func()) {
	unlock, _ = m.LockContext(context.Background(), k)
	return unlock
}

// LockContext locks k's mutex, waiting at most until ctx ends, and returns
// the function that unlocks it (to call exactly once); when ctx ends first
// it returns ctx's error (context.Cause) and holds nothing. Waiters are not
// served in any particular order.
func (m *keyedMutex[K]) LockContext(ctx context.Context, k K) (unlock func(), err error) {
	l := m.acquire(k)
	select {
	case <-l.token:
	default:
		select {
		case <-l.token:
		case <-ctx.Done():
			m.release(k, l)
			return nil, context.Cause(ctx)
		}
	}
	return func() {
		l.token <- struct{}{}
		m.release(k, l)
	}, nil
}
