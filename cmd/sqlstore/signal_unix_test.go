//go:build unix

package main

import (
	"syscall"
	"testing"
	"time"
)

// testSignal checks that SIGTERM, as Kubernetes sends it, stops the binary
// running args (a command that waits until the signal) cleanly and soon:
// status 1 and one line on stderr, not death by the signal.
func testSignal(t *testing.T, args []string) {
	t.Helper()
	cmd, out, errb := startBin(t, nil, append(args, "-timeout", "2m")...)
	// Give the process time to install its handler; the wait lasts until
	// the signal.
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	const limit = 10 * time.Second
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	r := waitBin(t, cmd, out, errb)
	wantError(t, r, exitFail, args[0]+": interrupted")
}
