package main

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill cmd's process when the test binary dies,
// so that a test killed by its timeout leaves no app process behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
