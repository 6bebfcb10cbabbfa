//go:build unix

package eval

import (
	"os/exec"
	"syscall"
)

// isolateGroup starts the worker in its own process group and makes the
// context cancellation kill the whole group, so a worker's children cannot
// outlive it.
func isolateGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
