//go:build unix

package hfcache

import (
	"syscall"
	"testing"
)

// withUmask sets the process umask for the test (tests here do not run in
// parallel).
func withUmask(t *testing.T, m int) {
	old := syscall.Umask(m)
	t.Cleanup(func() { syscall.Umask(old) })
}
