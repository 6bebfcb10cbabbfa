//go:build !unix

package eval

import "errors"

// freeDisk is not implemented on this platform: the free-disk checks are skipped.
func freeDisk(dir string) (int64, error) {
	return 0, errors.New("free disk space: not supported on this platform")
}
