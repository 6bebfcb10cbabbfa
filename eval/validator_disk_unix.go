//go:build unix

package eval

import (
	"fmt"
	"syscall"
)

// freeDisk returns the bytes available to unprivileged users on dir's filesystem.
func freeDisk(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %q: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
