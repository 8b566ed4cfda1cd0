// Package memory implements chat.Broker, chat.Presence, the limiters, the
// login throttle and chat.ConnectionCounter inside one process,
// for the single-node run mode: nothing to install, nothing to connect to.
// Each value is self-contained and safe for concurrent use; the package keeps
// no state of its own, so tests and servers in one process never share any.
package memory
