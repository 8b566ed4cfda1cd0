//go:build !unix

package web

// socketReadable cannot peek here: the reader waits in its read instead.
func socketReadable(uintptr) bool { return true }
