package chopsticks

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the node when the test process dies
// without running Stop (a killed or crashed test binary).
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
