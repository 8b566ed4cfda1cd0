//go:build !linux

package sqlite

// diskSpace reports nothing where statfs's fields are not Linux's: -1
// free (unknown) and not read-only, leaving Writable to its write probe.
func diskSpace(string) (free int64, readOnly bool, err error) {
	return -1, false, nil
}
