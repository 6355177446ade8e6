//go:build unix

package main

import (
	"syscall"
	"testing"
	"time"
)

// testSignal checks that SIGTERM, as Kubernetes sends it, stops the binary
// cleanly: status 1 and one line on stderr, not death by the signal.
func testSignal(t *testing.T, args []string) {
	t.Helper()
	cmd, out, errb := startBin(t, nil, append(args, "-timeout", "2m")...)
	// Give the process time to install its handler; the wait for the
	// lock lasts until the signal.
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wantError(t, waitBin(t, cmd, out, errb), exitFail, "prune: interrupted")
}
