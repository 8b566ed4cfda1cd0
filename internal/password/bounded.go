package password

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.ContextHasher = (*BoundedHasher)(nil)

// BusyRetryAfter is the RetryAfter of the EUNAVAILABLE error a
// BoundedHasher refuses with: about how long a full queue takes to drain.
const BusyRetryAfter = time.Second

// BoundedHasher is a chat.PasswordHasher that bounds how many hashes and
// verifications of the hasher it wraps run at once, and so the memory they
// take (argon2id with Default's parameters holds 19 MiB per operation).
// An operation that finds every slot taken waits in a short queue; one
// that finds the queue full too is refused at once, without hashing, with
// an EUNAVAILABLE *chat.Error whose RetryAfter is BusyRetryAfter. Waiters
// take free slots in the order they arrived.
//
// Make one with Bounded; it is safe for concurrent use.
type BoundedHasher struct {
	h chat.PasswordHasher
	// slots holds a token per operation running.
	slots chan struct{}
	// queue holds a token per operation waiting for a slot.
	queue chan struct{}
}

// Bounded wraps h so that at most slots operations (Hash and Verify
// together) run at once and at most queue more wait for a slot; beyond
// that, operations are refused. slots below 1 counts as 1, queue below 0 as
// 0. Sensible values are runtime.GOMAXPROCS(0) slots (argon2 is CPU-bound:
// more at once finish no sooner) and a queue of a few times that.
func Bounded(h chat.PasswordHasher, slots, queue int) *BoundedHasher {
	return &BoundedHasher{
		h:     h,
		slots: make(chan struct{}, max(slots, 1)),
		queue: make(chan struct{}, max(queue, 0)),
	}
}

// errBusy is the refusal of an operation that found no room.
func errBusy() error {
	return &chat.Error{Code: chat.EUNAVAILABLE, Message: "the server is busy: try again in a moment", RetryAfter: BusyRetryAfter}
}

// acquire takes a slot, waiting in the queue while there is room in it and
// ctx lasts. It returns errBusy when the queue is full or ctx ends first;
// the caller must then not run the operation. A nil error obliges the
// caller to release.
func (b *BoundedHasher) acquire(ctx context.Context) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case b.queue <- struct{}{}:
	default:
		return errBusy()
	}
	defer func() { <-b.queue }()
	// Senders blocked on a full channel are served in order, before any
	// later non-blocking send: a newcomer cannot overtake the queue.
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		// Overload, or a client gone: either way nothing is wrong with
		// the server, and this must not be logged as an internal error.
		return errBusy()
	}
}

// release gives a slot back.
func (b *BoundedHasher) release() { <-b.slots }

// HashContext is Hash waiting for a slot at most as long as ctx lasts.
// Errors: EUNAVAILABLE (a *chat.Error with RetryAfter) when refused or when
// ctx ended while waiting; else those of the wrapped hasher.
func (b *BoundedHasher) HashContext(ctx context.Context, password string) (string, error) {
	if err := b.acquire(ctx); err != nil {
		return "", err
	}
	defer b.release()
	return b.h.Hash(password)
}

// VerifyContext is Verify waiting for a slot at most as long as ctx lasts.
// Errors: EUNAVAILABLE (a *chat.Error with RetryAfter) when refused or when
// ctx ended while waiting; else those of the wrapped hasher.
func (b *BoundedHasher) VerifyContext(ctx context.Context, hash, password string) (bool, error) {
	if err := b.acquire(ctx); err != nil {
		return false, err
	}
	defer b.release()
	return b.h.Verify(hash, password)
}

// Hash returns the wrapped hasher's hash of password once a slot is free.
// A waiter is not abandoned: it waits until a slot frees (each operation
// ahead of it is finite). Errors: EUNAVAILABLE when the queue is full;
// else those of the wrapped hasher.
func (b *BoundedHasher) Hash(password string) (string, error) {
	return b.HashContext(context.Background(), password)
}

// Verify reports, once a slot is free, whether password matches hash.
// Errors: EUNAVAILABLE when the queue is full; else those of the wrapped
// hasher.
func (b *BoundedHasher) Verify(hash, password string) (bool, error) {
	return b.VerifyContext(context.Background(), hash, password)
}
