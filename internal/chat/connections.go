package chat

import "context"

// ConnectionCounter caps how many WebSockets one user holds open at once,
// over every node of the cluster: a counting semaphore per user whose
// places are held by connection. A place is claimed before the WebSocket
// handshake and given back when the connection closes; checking the count
// and claiming are one atomic step, so parallel handshakes (on one node or
// many) never claim more than the cap. A networked implementation holds
// places as leases that its node renews while it runs, so the places of a
// node that dies free themselves within the lease time.
//
// In-process and Redis implementations pass the conformance suite in
// internal/brokertest.
type ConnectionCounter interface {
	// Reserve claims a place for the connection named conn (an ID unique
	// in the cluster, such as crypto/rand.Text()) of user and reports true,
	// or reports false, claiming nothing, when user already holds max live
	// places. Reserving a conn that already holds a place keeps that one
	// place and reports true. max <= 0 means no cap: the place is claimed
	// and Reserve reports true.
	//
	// An error means the answer is unknown (the backend is away): the place
	// may or may not have been claimed. Call Release for conn all the same
	// when the connection is not opened or once it closes.
	Reserve(ctx context.Context, user UserID, conn string, max int) (ok bool, err error)
	// Release gives back conn's place among user's; call it on the
	// counter (the node) whose Reserve claimed it. Releasing a place that
	// is not held (never claimed, released already, or expired) does
	// nothing. An error means the backend did not hear it: the place is
	// then no longer renewed, and frees itself when its lease runs out.
	Release(ctx context.Context, user UserID, conn string) error
}
