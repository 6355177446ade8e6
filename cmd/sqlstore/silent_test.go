package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// runBinWithin runs the built command, killing it and failing the test if
// it runs longer than limit.
func runBinWithin(t *testing.T, limit time.Duration, env []string, args ...string) (result, time.Duration) {
	t.Helper()
	start := time.Now()
	cmd, out, errb := startBin(t, env, args...)
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	took := time.Since(start)
	if !cmd.ProcessState.Exited() {
		t.Errorf("%v did not end within %v (%v); stderr %q", args, limit, err, errb)
		return result{-1, out.String(), errb.String()}, took
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}, took
}

// TestTimeoutOnSilentServer checks that -timeout holds against a server that
// accepts the connection and never answers: each command ends soon after
// the timeout with one line naming it, in process and as the built binary
// (which links only its own drivers).
func TestTimeoutOnSilentServer(t *testing.T) {
	t.Parallel()
	addr := testdb.SilentServer(t)
	const timeout, slack = time.Second, 4 * time.Second
	for _, d := range []string{
		"postgres://postgres@" + addr + "/test?sslmode=disable",
		"postgresql://postgres@" + addr + "/test", // sslmode prefer: waits for the TLS answer first
		"mysql://root@" + addr + "/test",
	} {
		for _, cmd := range []string{"stats", "prune", "migrate"} {
			args := []string{cmd, "-dsn", d, "-timeout", timeout.String()}
			want := cmd + ": timed out after -timeout 1s"

			start := time.Now()
			r := runIn(t, nil, args...)
			if took := time.Since(start); took > timeout+slack {
				t.Errorf("in process, %v took %v; want about %v", args, took.Round(time.Millisecond), timeout)
			}
			wantError(t, r, exitFail, want)

			r, took := runBinWithin(t, timeout+3*slack, nil, args...)
			if took > timeout+slack {
				t.Errorf("binary %v took %v; want about %v", args, took.Round(time.Millisecond), timeout)
			}
			wantError(t, r, exitFail, want)
		}
	}
}

// TestSignalOnSilentServer checks that SIGTERM stops a command waiting on a
// server that never answers, with no -timeout.
func TestSignalOnSilentServer(t *testing.T) {
	t.Parallel()
	addr := testdb.SilentServer(t)
	for _, d := range []string{"postgres://postgres@" + addr + "/test?sslmode=disable", "mysql://root@" + addr + "/test"} {
		testSignal(t, []string{"stats", "-dsn", d})
	}
}

// TestWatchdogAbandonsStuckCommand runs a command body that ignores its
// context, as a driver stuck on a silent server does: the command fails
// soon after -timeout plus the grace, on one line, and what the body writes
// later is dropped.
func TestWatchdogAbandonsStuckCommand(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	c := &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: time.Now, grace: 300 * time.Millisecond}
	c.errw = c.stderr
	release := make(chan struct{})
	defer close(release)
	f := &dbFlags{dsn: "sqlite:unused.db", timeout: 200 * time.Millisecond}
	f.table, f.columns, f.hashedIDs = "sessions", "id,data,expiry", true
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- c.connected(t.Context(), f, func(context.Context) error {
			<-release
			fmt.Fprintln(c.stdout, "late output")
			return nil
		})
	}()
	select {
	case err := <-done:
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the stuck command returned after %v; want about 500ms", took)
		}
		if err == nil || !strings.Contains(err.Error(), "timed out after -timeout 200ms") || !strings.Contains(err.Error(), "abandoned") {
			t.Errorf("error %v; want a timeout that says the command was abandoned", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck command was not abandoned within 10s")
	}
	select {
	case release <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("the command's body never ran")
	}
	time.Sleep(50 * time.Millisecond)
	if out.String() != "" {
		t.Errorf("the abandoned command's late output was printed: %q", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
