package chat

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the codes of the API's error envelope and of the
// WebSocket protocol's error frames; internal/web maps them to HTTP statuses.
const (
	EINVALID      = "invalid"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ETOOLARGE     = "too_large"
	ERATELIMITED  = "rate_limited"
	EUNAVAILABLE  = "unavailable" // overloaded: try again after RetryAfter
	EINTERNAL     = "internal"
)

// Error is a domain error: a code a machine can act on and a message a
// person can read. Errors of any other type are internal errors whose text
// is never shown to clients.
type Error struct {
	Code    string
	Message string
	// RetryAfter, for ERATELIMITED and EUNAVAILABLE, is how long to wait
	// before trying again.
	RetryAfter time.Duration
	// Cause, when set, is the failure behind the error (a driver's
	// error behind EUNAVAILABLE): logged, never shown to clients.
	Cause error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("parley error: code=%s message=%s cause=%v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("parley error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL
// for any other non-nil error, or "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for any other error, so internal details never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}

// Unavailable returns an EUNAVAILABLE error for a dependency (what: "the
// database", "the broker") that failed or did not answer in time: the
// trouble is the server's, and the same request may succeed after
// RetryAfter (one second). cause is kept for the log.
func Unavailable(what string, cause error) *Error {
	return &Error{Code: EUNAVAILABLE, Message: what + " is unavailable: try again shortly", RetryAfter: time.Second, Cause: cause}
}

// RetryAfter returns how long a rate-limited caller must wait, from the
// first *Error in err's chain; 0 when it does not say.
func RetryAfter(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}

// NotFound returns an ENOTFOUND error naming what was not found. A
// conversation the caller is not a member of is "not found" too, so that IDs
// leak nothing.
func NotFound(what string) *Error {
	return &Error{Code: ENOTFOUND, Message: what + " not found"}
}
