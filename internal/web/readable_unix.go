//go:build unix

package web

import "syscall"

// socketReadable reports whether the socket fd has bytes to read, or an end
// or error that a read would report, without taking anything from it: true
// unless a read would block.
func socketReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
	return err != syscall.EAGAIN
}
