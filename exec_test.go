package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Tests of how a request runs (exec.go), here the SQLite Get that runs its
// lookup without per-query cancellation (sqlstore.LocalReader).

// TestLocalGetWhen checks when Get takes that path: on SQLite in WAL mode
// with a pool without a limit, not in another journal mode or with a shared
// cache, not while
// SetMaxOpenConns limits the pool (a Get could wait for a connection), and
// never on a server.
func TestLocalGetWhen(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, mode string // mode: DSN parameters
		want       bool
	}{
		{"wal", "_pragma=journal_mode(WAL)", true},
		{"delete", "_pragma=journal_mode(DELETE)", false},
		{"truncate", "_pragma=journal_mode(TRUNCATE)", false},
		{"shared-cache", "_pragma=journal_mode(WAL)&cache=shared", false}, // a reader waits for a writer's table lock
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db") + "?" + c.mode
			s, err := sqlstore.Open(ctx, dsn, sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.LocalGet(); got != c.want {
				t.Fatalf("%s: LocalGet = %v; want %v", c.mode, got, c.want)
			}
			if !c.want {
				return
			}
			s.DB().SetMaxOpenConns(4)
			if s.LocalGet() {
				t.Error("LocalGet with SetMaxOpenConns(4); want false: a Get could wait for a connection")
			}
			s.DB().SetMaxOpenConns(0)
			if !s.LocalGet() {
				t.Error("LocalGet after SetMaxOpenConns(0); want true")
			}
			if err := s.Set(ctx, "a", []byte("x"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if data, found, err := s.Get(ctx, "a"); err != nil || !found || string(data) != "x" {
				t.Errorf("Get = %q, %v, %v; want x", data, found, err)
			}
		})
	}
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			db := testdb.Open(t, kind)
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			db.SetMaxOpenConns(0)
			if s.LocalGet() {
				t.Errorf("LocalGet on %s; want false", kind)
			}
		})
	}
}

// TestMockLocalGet pins what a local Get does with its context: nothing
// runs once it has ended; one that ends during the lookup lets the lookup
// finish and returns the context's error, not the row; and with a limited
// pool the lookup keeps cancellation.
func TestMockLocalGet(t *testing.T) {
	c := mockDialects(t)[2]
	now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
	newStore := func(t *testing.T) (*sqlstore.Store, sqlmock.Sqlmock) {
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		return newMockStore(t, c, db), mock
	}
	wantCanceled := func(t *testing.T, data []byte, found bool, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlstore: get") || found || data != nil {
			t.Errorf("Get = %q, %v, %v; want a sqlstore: get error wrapping context.Canceled and no data", data, found, err)
		}
	}

	t.Run("ended-before", func(t *testing.T) {
		s, mock := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		data, found, err := s.Get(ctx, mockID)
		wantCanceled(t, data, found, err)
		mockMet(t, mock)
	})

	t.Run("ended-during", func(t *testing.T) {
		s, mock := newStore(t)
		const lookup = 300 * time.Millisecond
		mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillDelayFor(lookup).WillReturnRows(mockRows("data").AddRow([]byte("x")))
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(20*time.Millisecond, cancel)
		defer timer.Stop()
		start := time.Now()
		data, found, err := s.Get(ctx, mockID)
		if took := time.Since(start); took < lookup {
			t.Errorf("Get returned after %v, before its lookup of %v ended: the lookup was cancelled", took, lookup)
		}
		wantCanceled(t, data, found, err)
		mockMet(t, mock)
	})

	t.Run("limited-pool", func(t *testing.T) {
		s, mock := newStore(t)
		s.DB().SetMaxOpenConns(1)
		mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillDelayFor(time.Minute).WillReturnRows(mockRows("data").AddRow([]byte("x")))
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(20*time.Millisecond, cancel)
		defer timer.Stop()
		done := make(chan error, 1)
		go func() { _, _, err := s.Get(ctx, mockID); done <- err }()
		select {
		case err := <-done:
			wantCanceled(t, nil, false, err)
		case <-time.After(30 * time.Second):
			t.Fatal("Get on a limited pool did not return after its context was cancelled")
		}
	})
}

// localChildEnv carries the work of TestLocalGetOtherProcess's child: its
// mode, the database file, the statement that writes a session's data, and
// the key it writes, separated by newlines.
const localChildEnv = "SQLSTORE_TEST_LOCAL_CHILD"

// TestLocalGetOtherProcess shows that a local Get waits on no other process:
// while another process holds SQLite's write lock, and while another process
// writes and checkpoints the WAL (TRUNCATE) in a loop. The store's
// connections have busy_timeout 0, so any wait for a lock would fail a Get
// with "database is locked" instead of waiting.
func TestLocalGetOtherProcess(t *testing.T) {
	if work := os.Getenv(localChildEnv); work != "" {
		runLocalChild(t, strings.Split(work, "\n"))
		return
	}
	ctx := context.Background()
	for _, mode := range []string{"hold", "checkpoint"} {
		t.Run(mode, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "s.db")
			s, err := sqlstore.Open(ctx, "sqlite:"+file+"?_pragma=busy_timeout(0)", sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.LocalGet() {
				t.Fatal("LocalGet = false on a WAL database")
			}
			exp := time.Now().Add(time.Hour)
			for _, id := range []string{"read", "written"} {
				if err := s.Set(ctx, id, []byte("before"), exp); err != nil {
					t.Fatal(err)
				}
			}
			tbl := s.Table()
			write := fixtureSQL(t, "sqlite", "write_data", tbl.Qualified(), tbl.Data, tbl.ID)
			child := startLocalChild(t, mode, file, write, s.Key("written"))

			get := func(id, want string) {
				t.Helper()
				gctx, cancel := context.WithCancel(ctx) // cancellable, as a request's
				defer cancel()
				data, found, err := s.Get(gctx, id)
				if err != nil || !found || (want != "" && string(data) != want) {
					t.Fatalf("Get(%s) = %q, %v, %v; want %q", id, data, found, err, want)
				}
			}
			switch mode {
			case "hold":
				child.expect(t, "LOCKED")
				for range 200 {
					get("read", "before")
					get("written", "before") // the child's write is not committed
				}
				sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				err := s.Set(sctx, "read", []byte("x"), exp)
				cancel()
				if err == nil {
					t.Fatal("Set succeeded while the child held the write lock: the lock was not held")
				}
				child.stop(t, "DONE")
				get("written", "after")
			case "checkpoint":
				gets := 0
				for child.checkpoints(t) < 20 {
					get("read", "before")
					get("written", "")
					gets += 2
				}
				child.stop(t, "DONE")
				t.Logf("%d Gets during 20 checkpoints", gets)
			}
		})
	}
}

// localChild is the other process of TestLocalGetOtherProcess.
type localChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	ckpts  int
}

func startLocalChild(t *testing.T, mode, file, write, key string) *localChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalGetOtherProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), localChildEnv+"="+strings.Join([]string{mode, file, write, key}, "\n"))
	c := &localChild{cmd: cmd, lines: make(chan string, 1024)}
	cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// next returns the child's next line of its protocol (upper case), skipping
// the test framework's own output.
func (c *localChild) next(t *testing.T) string {
	t.Helper()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("the child ended early: %s", c.stderr.String())
			}
			if line != "" && strings.ToUpper(line) == line {
				return line
			}
		case <-time.After(time.Minute):
			t.Fatal("the child said nothing for a minute")
		}
	}
}

func (c *localChild) expect(t *testing.T, want string) {
	t.Helper()
	if line := c.next(t); line != want {
		t.Fatalf("the child said %q; want %q (stderr: %s)", line, want, c.stderr.String())
	}
}

// checkpoints returns how many checkpoints the child has reported, taking
// those it reported since the last call without waiting for more.
func (c *localChild) checkpoints(t *testing.T) int {
	t.Helper()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("the child ended early: %s", c.stderr.String())
			}
			if line == "CKPT" {
				c.ckpts++
			}
		default:
			return c.ckpts
		}
	}
}

// stop tells the child to finish, by closing its input, and waits for its
// last word.
func (c *localChild) stop(t *testing.T, want string) {
	t.Helper()
	c.stdin.Close()
	for {
		line := c.next(t)
		if line == want {
			return
		}
		if line != "CKPT" {
			t.Fatalf("the child said %q; want %q (stderr: %s)", line, want, c.stderr.String())
		}
	}
}

// runLocalChild is the child: "hold" takes the write lock, writes "after"
// into the session, says LOCKED and commits once its input closes; it says
// DONE after committing. "checkpoint" writes and checkpoints the WAL in a
// loop, saying CKPT after each checkpoint, until its input closes.
func runLocalChild(t *testing.T, work []string) {
	mode, file, write, key := work[0], work[1], work[2], work[3]
	ctx := context.Background()
	db := testdb.OpenDSN(t, "sqlite", "sqlite:"+file+"?_pragma=busy_timeout(10000)")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	closed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(closed) }()
	switch mode {
	case "hold":
		exec(fixtureSQL(t, "sqlite", "begin_write"))
		exec(write, []byte("after"), key)
		os.Stdout.WriteString("LOCKED\n")
		<-closed
		exec(fixtureSQL(t, "sqlite", "commit"))
	case "checkpoint":
		for i := 0; ; i++ {
			select {
			case <-closed:
				os.Stdout.WriteString("DONE\n")
				return
			default:
			}
			for j := range 20 {
				exec(write, bytes.Repeat([]byte{byte(i + j)}, 4096), key)
			}
			var busy, log, done int
			if err := conn.QueryRowContext(ctx, fixtureSQL(t, "sqlite", "checkpoint_truncate")).Scan(&busy, &log, &done); err != nil {
				t.Fatal(err)
			}
			os.Stdout.WriteString("CKPT\n")
		}
	}
	os.Stdout.WriteString("DONE\n")
}
