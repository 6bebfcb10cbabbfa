//go:build !unix

package eval

import "os/exec"

// isolateGroup is a no-op where process groups are not available: the
// context cancellation kills the worker process alone.
func isolateGroup(cmd *exec.Cmd) {}
