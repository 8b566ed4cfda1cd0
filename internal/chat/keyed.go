package chat

import (
	"context"
	"sync"
)

// keyedMutex is a reader/writer lock per key, made on first use and
// dropped when no one holds or waits for it, so memory follows the keys in
// use. Sends share their conversation's lock (RLockContext) from before
// their commit until their event is published; changes that must not
// interleave with sends (group changes, edits) hold it alone (LockContext).
// A waiting exclusive holder goes first: shared holders arriving after it
// wait, so a busy conversation cannot starve a group change.
type keyedMutex[K comparable] struct {
	mu    sync.Mutex
	locks map[K]*keyedLock
}

// keyedLock is one key's lock state, guarded by keyedMutex.mu.
type keyedLock struct {
	readers  int  // shared holders
	writer   bool // an exclusive holder
	queued   int  // exclusive waiters, ahead of new shared ones
	users    int  // holders and waiters; the lock is dropped at 0
	loosened chan struct{}
}

// acquire registers one more user of k's lock and returns it. The caller
// holds m.mu.
func (m *keyedMutex[K]) acquire(k K) *keyedLock {
	if m.locks == nil {
		m.locks = make(map[K]*keyedLock)
	}
	l := m.locks[k]
	if l == nil {
		l = &keyedLock{loosened: make(chan struct{})}
		m.locks[k] = l
	}
	l.users++
	return l
}

// release drops one user of k's lock, and the lock with the last. The
// caller holds m.mu.
func (m *keyedMutex[K]) release(k K, l *keyedLock) {
	l.users--
	if l.users == 0 {
		delete(m.locks, k)
	}
}

// loosen wakes every waiter of l to look again. The caller holds m.mu.
func (l *keyedLock) loosen() {
	close(l.loosened)
	l.loosened = make(chan struct{})
}

// Lock locks k's mutex for one holder alone and returns the function that
// unlocks it.
func (m *keyedMutex[K]) Lock(k K) (unlock func()) {
	unlock, _ = m.LockContext(context.Background(), k)
	return unlock
}

// LockContext locks k's mutex for one holder alone, waiting at most until
// ctx ends, and returns the function that unlocks it (to call exactly
// once); when ctx ends first it returns ctx's error (context.Cause) and
// holds nothing.
func (m *keyedMutex[K]) LockContext(ctx context.Context, k K) (unlock func(), err error) {
	m.mu.Lock()
	l := m.acquire(k)
	l.queued++
	for l.writer || l.readers > 0 {
		wait := l.loosened
		m.mu.Unlock()
		select {
		case <-wait:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			l.queued--
			l.loosen() // shared waiters held back by this one may go
			m.release(k, l)
			m.mu.Unlock()
			return nil, context.Cause(ctx)
		}
	}
	l.queued--
	l.writer = true
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		l.writer = false
		l.loosen()
		m.release(k, l)
	}, nil
}

// RLockContext locks k's mutex shared with other shared holders, waiting
// at most until ctx ends while an exclusive holder has it or waits for it.
// It returns the function that unlocks it (to call exactly once, from any
// goroutine); when ctx ends first it returns ctx's error (context.Cause)
// and holds nothing.
func (m *keyedMutex[K]) RLockContext(ctx context.Context, k K) (unlock func(), err error) {
	m.mu.Lock()
	l := m.acquire(k)
	for l.writer || l.queued > 0 {
		wait := l.loosened
		m.mu.Unlock()
		select {
		case <-wait:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			m.release(k, l)
			m.mu.Unlock()
			return nil, context.Cause(ctx)
		}
	}
	l.readers++
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		l.readers--
		if l.readers == 0 && l.queued > 0 {
			l.loosen()
		}
		m.release(k, l)
	}, nil
}
