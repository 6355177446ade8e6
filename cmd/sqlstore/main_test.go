package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/hook"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// result is what one run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// runIn runs the command in this process, with env as its whole environment.
func runIn(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCLI(t, &cli{}, env, args...)
}

// runCLI runs the command with c, whose unset fields get their defaults.
func runCLI(t *testing.T, c *cli, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c.stdout, c.stderr = &out, &errb
	c.getenv = func(k string) string { return env[k] }
	if c.now == nil {
		c.now = time.Now
	}
	code := c.run(t.Context(), args)
	return result{code, out.String(), errb.String()}
}

var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

// binary builds the command once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "sqlstore-cli-test")
		if bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "sqlstore")
		out, err := exec.Command("go", "build", "-o", bin.path, ".").CombinedOutput()
		if err != nil {
			bin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	return bin.path
}

// startBin starts the built command with the test's environment, less
// DATABASE_URL, plus env.
func startBin(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test ended before waitBin
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out, &errb
}

// waitBin waits for a command started with startBin.
func waitBin(t *testing.T, cmd *exec.Cmd, out, errb *bytes.Buffer) result {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if !cmd.ProcessState.Exited() {
		t.Fatalf("%v did not exit but ended with %v; stderr: %s", cmd.Args, cmd.ProcessState, errb)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// runBin runs the built command to its end.
func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd, out, errb := startBin(t, env, args...)
	return waitBin(t, cmd, out, errb)
}

// wantError checks that r failed with code and one line on stderr that
// starts with "sqlstore: " and contains want, and printed nothing on stdout.
func wantError(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d; stderr: %q", r.code, code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "sqlstore: ") || !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr is not one line starting with \"sqlstore: \": %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty: %q", r.stdout)
	}
}

// wantOK checks that r succeeded, printing nothing on stderr.
func wantOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit status %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
}

func ddl(t *testing.T, d sqlstore.Dialect, opts ...sqlstore.Option) string {
	t.Helper()
	stmts, err := sqlstore.CreateTableSQL(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(s + ";\n")
	}
	return b.String()
}

func TestSchema(t *testing.T) {
	t.Parallel()
	dialects := map[string]sqlstore.Dialect{"postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite}
	for name, d := range dialects {
		for _, tc := range []struct {
			args []string
			opts []sqlstore.Option
		}{
			{nil, nil},
			{
				[]string{"-schema", "app", "-table", "web_sessions", "-columns", "sid, payload ,expires_at", "-hashed-ids=false"},
				[]sqlstore.Option{sqlstore.WithSchema("app"), sqlstore.WithTable("web_sessions"),
					sqlstore.WithColumns("sid", "payload", "expires_at"), sqlstore.WithHashedIDs(false)},
			},
		} {
			want := ddl(t, d, tc.opts...)
			args := append([]string{"schema", "-dialect", name}, tc.args...)
			r := runIn(t, nil, args...)
			wantOK(t, r)
			if r.stdout != want {
				t.Errorf("%v printed\n%s\nwant\n%s", args, r.stdout, want)
			}
			r = runBin(t, nil, args...)
			wantOK(t, r)
			if r.stdout != want {
				t.Errorf("binary %v printed\n%s\nwant\n%s", args, r.stdout, want)
			}
		}
	}
	// The default DDL differs between hashed and plain ids.
	if ddl(t, sqlstore.Postgres) == ddl(t, sqlstore.Postgres, sqlstore.WithHashedIDs(false)) {
		t.Error("-hashed-ids changes nothing in the PostgreSQL DDL")
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		for _, r := range []result{runIn(t, nil, args...), runBin(t, nil, args...)} {
			wantOK(t, r)
			for _, c := range []string{"schema", "migrate", "prune", "stats", "DATABASE_URL"} {
				if !strings.Contains(r.stdout, c) {
					t.Errorf("%v: the usage does not mention %s:\n%s", args, c, r.stdout)
				}
			}
		}
	}
	for _, args := range [][]string{{"help", "prune"}, {"prune", "-h"}} {
		for _, r := range []result{runIn(t, nil, args...), runBin(t, nil, args...)} {
			wantOK(t, r)
			for _, f := range []string{"-batch", "-dsn", "-timeout", "-table", "-columns", "-hashed-ids"} {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("%v: the usage does not mention %s:\n%s", args, f, r.stdout)
				}
			}
		}
	}
	// No command: the usage on stderr, status 2.
	for _, r := range []result{runIn(t, nil), runBin(t, nil)} {
		if r.code != exitUsage || !strings.Contains(r.stderr, "prune") || r.stdout != "" {
			t.Errorf("no arguments: status %d, stdout %q, stderr %q; want 2 and the usage on stderr", r.code, r.stdout, r.stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "never.db")
	dsn := "sqlite:" + file
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"stats"}, "stats: no database: give -dsn or set DATABASE_URL"},
		{[]string{"prune"}, "prune: no database"},
		{[]string{"migrate"}, "migrate: no database"},
		{[]string{"schema"}, "schema: -dialect is required"},
		{[]string{"schema", "-dialect", "oracle"}, `-dialect "oracle"`},
		{[]string{"schema", "-dialect", "sqlite", "-columns", "a,b"}, "want three names"},
		{[]string{"schema", "-dialect", "sqlite", "-columns", "a,b,a"}, "must differ"},
		{[]string{"schema", "-dialect", "sqlite", "-table", "a;drop"}, `-table "a;drop"`},
		{[]string{"stats", "-bogus"}, "stats: flag provided but not defined: -bogus"},
		{[]string{"stats", "-dsn", dsn, "extra"}, `unexpected argument "extra"`},
		{[]string{"prune", "-dsn", dsn, "-batch", "0"}, "-batch 0 is not positive"},
		{[]string{"prune", "-dsn", dsn, "-timeout", "-1s"}, "-timeout -1s is negative"},
		{[]string{"migrate", "-dsn", dsn, "-schema", "x y"}, `-schema "x y"`},
		{[]string{"migrate", "-dsn", dsn, "-columns", "id,data,1expiry"}, `-columns "1expiry"`},
		// A DSN that cannot name a database is a usage error too.
		{[]string{"stats", "-dsn", "oracle://scott@db/orcl"}, `stats: unsupported dsn scheme "oracle"`},
		{[]string{"prune", "-dsn", "redis://u:pw@h/0"}, `prune: unsupported dsn scheme "redis"`},
		{[]string{"migrate", "-dsn", "sessions.db"}, "migrate: the dsn is not a URL"},
		{[]string{"stats", "-dsn", "postgres://u:pw@h:port/db"}, "stats: invalid dsn postgres://xxxxx@h:port/db: the port is not a number"},
		{[]string{"stats", "-dsn", "mysql://u:p/w@h/db"}, "stats: invalid dsn mysql://xxxxx@h/db: an @ is not where the user info ends"},
	} {
		wantError(t, runIn(t, nil, tc.args...), exitUsage, tc.want)
		wantError(t, runBin(t, nil, tc.args...), exitUsage, tc.want)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error touched the database file: %v", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	t.Parallel()
	emptyFile := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil { // an empty SQLite database
		t.Fatal(err)
	}
	missing := "sqlite:" + emptyFile
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "-dsn", "postgres://postgres@127.0.0.1:1/test?sslmode=disable"}, "connection refused"},
		{[]string{"prune", "-dsn", "mysql://root@127.0.0.1:1/test"}, "connection refused"},
		{[]string{"stats", "-dsn", missing, "-table", "nothing_here"}, "stats: table main.nothing_here does not exist"},
		{[]string{"prune", "-dsn", missing, "-table", "nothing_here"}, "prune: table main.nothing_here does not exist"},
	} {
		wantError(t, runIn(t, nil, tc.args...), exitFail, tc.want)
		wantError(t, runBin(t, nil, tc.args...), exitFail, tc.want)
	}
	// A password in the DSN never shows in an error.
	r := runIn(t, nil, "stats", "-dsn", "oracle://scott:tiger@db/orcl")
	wantError(t, r, exitUsage, "unsupported dsn")
	if strings.Contains(r.stderr, "tiger") {
		t.Errorf("the error shows the password: %q", r.stderr)
	}
}

// schemaOf returns the schema holding tables of a DSN of kind by default.
func schemaOf(t *testing.T, kind, dsn string) string {
	t.Helper()
	switch kind {
	case "sqlite":
		return "main"
	case "postgres":
		return "public"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// setup returns a DSN of kind, a pool to it and a fresh table name, dropped
// when the test ends.
func setup(t *testing.T, kind string) (dsn string, db *sql.DB, table string) {
	t.Helper()
	dsn = testdb.DSN(t, kind)
	db = testdb.OpenDSN(t, kind, dsn)
	return dsn, db, testdb.Table(t, db)
}

func TestCommands(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		for _, custom := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/custom=%v", kind, custom), func(t *testing.T) {
				t.Parallel()
				testCommands(t, kind, custom)
			})
		}
	}
}

func testCommands(t *testing.T, kind string, custom bool) {
	dsn, db, table := setup(t, kind)
	schema := schemaOf(t, kind, dsn)
	flags := []string{"-dsn", dsn, "-table", table}
	opts := []sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(false)}
	if custom {
		flags = append(flags, "-schema", schema, "-columns", "sid,payload,expires_at", "-hashed-ids=false")
		opts = append(opts, sqlstore.WithSchema(schema), sqlstore.WithColumns("sid", "payload", "expires_at"), sqlstore.WithHashedIDs(false))
	}
	args := func(cmd string, more ...string) []string { return append(append([]string{cmd}, flags...), more...) }
	qualified := schema + "." + table

	wantError(t, runIn(t, nil, args("stats")...), exitFail, "stats: table "+qualified+" does not exist")

	r := runIn(t, nil, args("migrate")...)
	wantOK(t, r)
	if want := "created table " + qualified + " (" + kind + ") and its indexes\n"; r.stdout != want {
		t.Errorf("migrate printed %q, want %q", r.stdout, want)
	}
	r = runBin(t, nil, args("migrate")...)
	wantOK(t, r)
	if want := "table " + qualified + " (" + kind + ") already present; nothing to do\n"; r.stdout != want {
		t.Errorf("migrate again printed %q, want %q", r.stdout, want)
	}

	ctx := t.Context()
	s, err := sqlstore.New(ctx, db, opts...)
	if err != nil {
		t.Fatalf("the table migrate created does not open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().Truncate(time.Millisecond)
	var live []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("live-%d", i)
		live = append(live, id)
		if err := s.Set(ctx, id, []byte("x"), now.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 5; i++ {
		if err := s.Set(ctx, fmt.Sprintf("dead-%d", i), []byte("x"), now.Add(-time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	oldest, newest := now.Add(-5*time.Hour).UTC(), now.Add(3*time.Hour).UTC()

	r = runIn(t, nil, args("stats", "-json")...)
	wantOK(t, r)
	var st statsJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stats -json printed %q: %v", r.stdout, err)
	}
	if st.Dialect != kind || st.Table != qualified || st.Live != 3 || st.Expired != 5 {
		t.Errorf("stats -json: %+v; want dialect %s, table %s, 3 live, 5 expired", st, kind, qualified)
	}
	if st.Oldest == nil || !st.Oldest.Equal(oldest) || st.Newest == nil || !st.Newest.Equal(newest) {
		t.Errorf("stats -json: oldest %v, newest %v; want %v, %v", st.Oldest, st.Newest, oldest, newest)
	}
	if size, err := hook.TableSize(ctx, s); err != nil {
		if st.SizeBytes != nil {
			t.Errorf("stats -json: size %d, but TableSize fails: %v", *st.SizeBytes, err)
		}
	} else if st.SizeBytes == nil || *st.SizeBytes <= 0 || size <= 0 {
		t.Errorf("stats -json: size %v, TableSize %d; want both positive", st.SizeBytes, size)
	}

	r = runIn(t, nil, args("stats")...)
	wantOK(t, r)
	for _, want := range []string{
		"table:    " + qualified + " (" + kind + ")\n", "live:     3\n", "expired:  5\n",
		"oldest:   " + oldest.Format(time.RFC3339Nano) + "\n", "newest:   " + newest.Format(time.RFC3339Nano) + "\n", "size:     ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats printed\n%s\nwithout %q", r.stdout, want)
		}
	}

	r = runIn(t, nil, args("prune", "-batch", "2")...)
	wantOK(t, r)
	if want := "pruned 5 expired sessions from " + qualified + " (" + kind + ") in "; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("prune printed %q, want it to start with %q", r.stdout, want)
	}
	after, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Live != 3 || after.Expired != 0 {
		t.Errorf("after prune: %+v; want 3 live, 0 expired", after)
	}
	for _, id := range live {
		if _, found, err := s.Get(ctx, id); err != nil || !found {
			t.Errorf("after prune, Get(%s): found %v, err %v; want the live session", id, found, err)
		}
	}

	// The binary, with the DSN from DATABASE_URL.
	noDSN := flags[2:]
	r = runBin(t, []string{"DATABASE_URL=" + dsn}, append([]string{"prune"}, noDSN...)...)
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "pruned 0 expired sessions from ") {
		t.Errorf("prune again printed %q, want 0 pruned", r.stdout)
	}
	r = runBin(t, []string{"DATABASE_URL=" + dsn}, append([]string{"stats", "-json"}, noDSN...)...)
	wantOK(t, r)
	st = statsJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Live != 3 || st.Expired != 0 {
		t.Errorf("binary stats -json printed %q (%v); want 3 live, 0 expired", r.stdout, err)
	}
	// In process, DATABASE_URL comes through getenv.
	r = runIn(t, map[string]string{"DATABASE_URL": dsn}, append([]string{"stats"}, noDSN...)...)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "expired:  0\n") {
		t.Errorf("stats with DATABASE_URL printed %q", r.stdout)
	}
}

func TestPruneProgress(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := setup(t, kind)
			ctx := t.Context()
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			past := time.Now().Add(-time.Hour)
			for i := range 4 {
				if err := s.Set(ctx, fmt.Sprint("dead-", i), nil, past); err != nil {
					t.Fatal(err)
				}
			}
			c := &cli{progress: true} // a terminal, showing progress at once
			r := runCLI(t, c, nil, "prune", "-dsn", dsn, "-table", table, "-batch", "1")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "pruned 4 expired sessions") {
				t.Fatalf("prune: status %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			for i := 1; i <= 4; i++ {
				if want := fmt.Sprintf("\rsqlstore: prune: %d expired sessions deleted so far", i); !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q has no progress line %q", r.stderr, want)
				}
			}
			if !strings.HasSuffix(r.stderr, "\r\033[K") {
				t.Errorf("stderr %q does not end by erasing the progress line", r.stderr)
			}
		})
	}
}

// holdSweepLock runs a sweep of table that stops inside its first batch's
// progress call, holding the table's sweep lock (PostgreSQL and MySQL), until
// the test ends.
func holdSweepLock(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithPruneBatchSize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Set(ctx, fmt.Sprint("dead-", i), nil, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	var once sync.Once
	go func() {
		_, err := hook.Prune(context.Background(), s, func(int64) {
			once.Do(func() { close(held); <-release })
		})
		done <- err
	}()
	t.Cleanup(func() {
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the sweep holding the lock: %v", err)
		}
		s.Close()
	})
	<-held
}

func TestTimeoutAndInterrupt(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mysql"} { // SQLite has no lock to wait on
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := setup(t, kind)
			holdSweepLock(t, db, table)
			args := []string{"prune", "-dsn", dsn, "-table", table}

			// -timeout cuts the wait for the lock.
			wantError(t, runIn(t, nil, append(args, "-timeout", "1s")...), exitFail, "prune: timed out after -timeout 1s")
			wantError(t, runBin(t, nil, append(args, "-timeout", "1s")...), exitFail, "prune: timed out after -timeout 1s")

			// A cancelled context (a signal, in main) stops it.
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(300*time.Millisecond, cancel)
			var out, errb bytes.Buffer
			c := &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: time.Now}
			wantError(t, result{c.run(ctx, args), out.String(), errb.String()}, exitFail, "prune: interrupted")

			testSignal(t, args)
		})
	}
}
