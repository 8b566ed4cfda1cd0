package sqlite

import "syscall"

// diskSpace returns the bytes an unprivileged process may still write in
// the file system holding dir, and whether it is mounted read-only.
func diskSpace(dir string) (free int64, readOnly bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	const stRdonly = 1 // ST_RDONLY, statfs(2)
	return int64(st.Bavail) * st.Bsize, st.Flags&stRdonly != 0, nil
}
