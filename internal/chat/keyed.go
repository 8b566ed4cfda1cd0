package chat

import "sync"

// keyedMutex is a mutex per key, made on first use and dropped when no one
// holds or waits for it, so memory follows the keys in use.
type keyedMutex[K comparable] struct {
	mu    sync.Mutex
	locks map[K]*keyedLock
}

type keyedLock struct {
	mu    sync.Mutex
	users int // holders and waiters
}

// Lock locks k's mutex and returns the function that unlocks it.
func (m *keyedMutex[K]) Lock(k K) (unlock func()) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = make(map[K]*keyedLock)
	}
	l := m.locks[k]
	if l == nil {
		l = &keyedLock{}
		m.locks[k] = l
	}
	l.users++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(m.locks, k)
		}
		m.mu.Unlock()
	}
}
