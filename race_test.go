package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// relValue is the data writer w writes in its seq-th Set of id i: a header
// naming all three and a body derived from it, so a torn or mixed-up value
// never matches.
func relValue(w, seq, i int) []byte {
	head := fmt.Sprintf("w%02d/s%04d/i%02d|", w, seq, i)
	n := (w*131 + seq*17 + i) % 700
	return append([]byte(head), bytes.Repeat([]byte(head[:12]), n/12+1)[:n]...)
}

// relParseValue returns the writer, sequence and id a value names.
func relParseValue(v []byte) (w, seq, i int, ok bool) {
	if _, err := fmt.Sscanf(string(v), "w%02d/s%04d/i%02d|", &w, &seq, &i); err != nil {
		return 0, 0, 0, false
	}
	return w, seq, i, true
}

// TestRaceMixedOps: 64 goroutines × 1,000 operations mixing Set, Get, Touch
// and Delete on 50 shared ids, on every database: no call fails, and every
// Get returns exactly a value some Set wrote for that id.
func TestRaceMixedOps(t *testing.T) {
	t.Parallel()
	const (
		workers = 64
		ops     = 1000
		nids    = 50
	)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// On SQLite, synchronous=NORMAL (safe in WAL mode) keeps the test
			// from timing fsync instead of races; writers still contend.
			s := relOpenDSN(t, kind, "_pragma=synchronous(NORMAL)", sqlstore.WithTouchThreshold(0))
			// 64 goroutines share 32 connections, as a bounded pool of an
			// application would, which also spares the shared servers.
			s.DB().SetMaxOpenConns(32)
			ids := make([]string, nids)
			for i := range ids {
				ids[i] = relRandID(fmt.Sprintf("race-%02d-", i), 20)
			}
			type read struct {
				i     int
				value []byte
			}
			var (
				wg      sync.WaitGroup
				failed  atomic.Int64
				counts  [4]atomic.Int64 // set, get (found), touch, delete
				misses  atomic.Int64
				reads   = make([][]read, workers)
				written = make([]map[int]int, workers) // writer -> seq -> id index
			)
			start := time.Now()
			ctx := relCtx(t)
			for w := range workers {
				written[w] = map[int]int{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 42))
					for seq := range ops {
						i := r.IntN(nids)
						id := ids[i]
						var err error
						opStart := time.Now()
						switch p := r.IntN(100); {
						case p < 35:
							written[w][seq] = i
							err = s.Set(ctx, id, relValue(w, seq, i), time.Now().Add(time.Hour+time.Duration(r.IntN(3600))*time.Second))
							counts[0].Add(1)
						case p < 70:
							var v []byte
							var found bool
							v, found, err = s.Get(ctx, id)
							if found {
								reads[w] = append(reads[w], read{i, v})
								counts[1].Add(1)
							} else {
								misses.Add(1)
							}
						case p < 88:
							err = s.Touch(ctx, id, time.Now().Add(2*time.Hour+time.Duration(r.IntN(3600))*time.Second))
							counts[2].Add(1)
						default:
							err = s.Delete(ctx, id)
							counts[3].Add(1)
						}
						if err != nil {
							if failed.Add(1) <= 5 {
								t.Errorf("worker %d op %d (after %v): %v", w, seq, time.Since(opStart).Round(time.Millisecond), err)
							}
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(start)
			if n := failed.Load(); n > 0 {
				t.Fatalf("%d of %d calls failed", n, workers*ops)
			}
			check := func(where string, i int, v []byte) {
				w, seq, vi, ok := relParseValue(v)
				if !ok || w >= workers || vi != i {
					t.Fatalf("%s of id %d returned %q, which no Set wrote", where, i, relTrim(v))
				}
				if wi, wrote := written[w][seq]; !wrote || wi != i || !bytes.Equal(v, relValue(w, seq, i)) {
					t.Fatalf("%s of id %d returned %q, which no Set wrote", where, i, relTrim(v))
				}
			}
			for _, rs := range reads {
				for _, r := range rs {
					check("Get", r.i, r.value)
				}
			}
			for i, id := range ids {
				v, found, err := s.Get(relCtx(t), id)
				if err != nil {
					t.Fatal(err)
				}
				if found {
					check("final Get", i, v)
				}
			}
			t.Logf("%s: %d goroutines × %d ops in %v (%.0f ops/s): %d Set, %d Get found + %d not found, %d Touch, %d Delete, 0 errors, every value read was written",
				kind, workers, ops, took.Round(time.Millisecond), float64(workers*ops)/took.Seconds(),
				counts[0].Load(), counts[1].Load(), misses.Load(), counts[2].Load(), counts[3].Load())
		})
	}
}

func relTrim(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// Child mode: TestRaceProcesses re-runs the test binary with these variables
// set; the child opens a store, which creates the table, then exits.
const (
	relChildEnv    = "SQLSTORE_TEST_RACE_CHILD" // the child's DSN
	relChildTable  = "SQLSTORE_TEST_RACE_TABLE"
	relChildSchema = "SQLSTORE_TEST_RACE_SCHEMA"
)

// relRaceChild is the child process: it says READY, waits for the parent's
// go on stdin, so all children start at once, then opens the store with
// table creation on, writes, reads and closes it.
func relRaceChild(t *testing.T, dsn string) {
	opts := []sqlstore.Option{sqlstore.WithTable(os.Getenv(relChildTable)), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(true)}
	if sc := os.Getenv(relChildSchema); sc != "" {
		opts = append(opts, sqlstore.WithSchema(sc))
	}
	fmt.Println("READY")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("child: waiting for go: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("child: Open: %v", err)
	}
	defer s.Close()
	id := fmt.Sprintf("proc-%d", os.Getpid())
	if err := s.Set(ctx, id, []byte(id), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("child: Set: %v", err)
	}
	if v, found, err := s.Get(ctx, id); err != nil || !found || string(v) != id {
		t.Fatalf("child: Get = %q, %v, %v", v, found, err)
	}
	fmt.Println("CHILD OK")
}

// TestRaceProcesses: 16 processes (this test binary, re-run) start at once
// against an empty schema (PostgreSQL), database (MariaDB) or file (SQLite)
// with table creation on: all succeed, and the catalog then holds exactly one
// table, one expiry index and one owner index.
func TestRaceProcesses(t *testing.T) {
	if dsn := os.Getenv(relChildEnv); dsn != "" {
		relRaceChild(t, dsn)
		return
	}
	const procs = 16
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			base, db, _ := relDB(t, kind)
			ctx := relCtx(t)
			table := testdb.Name("proc")
			dsn, schema := base, ""
			var tables, indexes func() []string
			list := func(q string, args ...any) []string {
				rows, err := db.QueryContext(ctx, q, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var names []string
				for rows.Next() {
					var n string
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
					names = append(names, n)
				}
				return names
			}
			switch kind {
			case "sqlite": // a fresh file
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "procs.db")
				db = testdb.OpenDSN(t, kind, dsn)
				tables = func() []string { return list(`SELECT name FROM sqlite_master WHERE type = 'table'`) }
				indexes = func() []string {
					return list(`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'`)
				}
			case "postgres": // a fresh schema
				schema = createNamespace(t, db, kind, "procs")
				tables = func() []string { return list(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, schema) }
				indexes = func() []string {
					return list(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE '%_pkey'`, schema)
				}
			case "mysql": // a fresh database
				name := createNamespace(t, db, kind, "procs")
				u, err := url.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				u.Path = "/" + name
				dsn = u.String()
				tables = func() []string {
					return list(`SELECT table_name FROM information_schema.tables WHERE table_schema = ?`, name)
				}
				indexes = func() []string {
					return list(`SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = ? AND index_name <> 'PRIMARY'`, name)
				}
			}
			if n := tables(); len(n) != 0 {
				t.Fatalf("the fresh schema already holds tables %v", n)
			}

			type child struct {
				cmd   *exec.Cmd
				stdin io.WriteCloser
				out   *bufio.Reader
				rest  bytes.Buffer
			}
			children := make([]*child, procs)
			for i := range children {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRaceProcesses$", "-test.count=1", "-test.timeout=2m")
				cmd.Env = append(os.Environ(), relChildEnv+"="+dsn, relChildTable+"="+table, relChildSchema+"="+schema)
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
				cmd.Stderr = &c.rest
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				children[i] = c
			}
			for i, c := range children { // every child is up and waiting
				line, err := c.out.ReadString('\n')
				if err != nil || strings.TrimSpace(line) != "READY" {
					t.Fatalf("child %d: %q, %v", i, line, err)
				}
			}
			for _, c := range children { // go, all at once
				if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range children {
				rest, _ := io.ReadAll(c.out)
				err := c.cmd.Wait()
				if err != nil || !strings.Contains(string(rest), "CHILD OK") {
					t.Errorf("child %d failed: %v\n%s%s", i, err, rest, c.rest.String())
				}
			}
			if t.Failed() {
				return
			}
			gotTables, gotIndexes := tables(), indexes()
			if len(gotTables) != 1 || gotTables[0] != table {
				t.Errorf("tables after %d concurrent creators: %v, want [%s]", procs, gotTables, table)
			}
			slices.Sort(gotIndexes)
			if want := []string{table + "_expiry_idx", table + "_owner_idx"}; !slices.Equal(gotIndexes, want) {
				t.Errorf("indexes after %d concurrent creators: %v, want %v", procs, gotIndexes, want)
			}
			qualified := table
			if schema != "" {
				qualified = schema + "." + table
			} else if u, _ := url.Parse(dsn); kind == "mysql" {
				qualified = strings.TrimPrefix(u.Path, "/") + "." + table
			}
			n := countRows(t, db, qualified)
			if n != procs {
				t.Errorf("rows after %d processes: %d; want %d", procs, n, procs)
			}
			t.Logf("%s: %d processes created the table at once: all succeeded; tables %v, indexes %v, %d rows", kind, procs, gotTables, gotIndexes, n)
		})
	}
}

// TestRaceSQLiteLocked: 32 goroutines write for 10 seconds through a store
// made by Open: zero "database is locked" (zero errors at all).
func TestRaceSQLiteLocked(t *testing.T) {
	t.Parallel()
	const (
		workers  = 32
		duration = 10 * time.Second
	)
	s := relOpen(t, "sqlite", sqlstore.WithTouchThreshold(0))
	var (
		ops, locked, other atomic.Int64
		wg                 sync.WaitGroup
	)
	ctx := relCtx(t)
	stop := time.Now().Add(duration)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for seq := 0; time.Now().Before(stop); seq++ {
				id := fmt.Sprintf("lock-%03d", r.IntN(200))
				var err error
				switch r.IntN(4) {
				case 0, 1:
					err = s.Set(ctx, id, relValue(w, seq%10000, 0), time.Now().Add(time.Hour))
				case 2:
					err = s.Touch(ctx, id, time.Now().Add(time.Duration(2+r.IntN(100))*time.Hour))
				default:
					err = s.Delete(ctx, id)
				}
				ops.Add(1)
				if err != nil {
					msg := err.Error()
					if strings.Contains(msg, "locked") || strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "busy") {
						locked.Add(1)
					} else {
						other.Add(1)
					}
					if locked.Load()+other.Load() <= 5 {
						t.Errorf("worker %d: %v", w, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("sqlite: %d goroutines wrote for %v: %d writes (%.0f/s), %d \"database is locked\", %d other errors",
		workers, duration, ops.Load(), float64(ops.Load())/duration.Seconds(), locked.Load(), other.Load())
	if locked.Load() != 0 || other.Load() != 0 {
		t.Fatalf("%d \"database is locked\" and %d other errors in %d writes", locked.Load(), other.Load(), ops.Load())
	}
}

// TestRaceTouchNeverRevives: Touch never brings back a deleted or an expired
// session, also when it races Delete.
func TestRaceTouchNeverRevives(t *testing.T) {
	const (
		sessions = 40 // per case
		touchers = 8
		touches  = 10
	)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			base := time.Date(2032, 2, 29, 23, 59, 59, 999_000_000, time.UTC)
			clock := testdb.NewClock(base)
			s := relOpen(t, kind, sqlstore.WithTouchThreshold(0), sqlstore.WithClock(clock.Now))
			s.DB().SetMaxOpenConns(16)
			ctx := relCtx(t)
			var touched atomic.Int64
			storm := func(id string, from int) {
				var wg sync.WaitGroup
				for g := range touchers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := range touches {
							exp := base.Add(time.Duration(from+g*touches+k+1) * time.Minute)
							if err := s.Touch(ctx, id, exp); err != nil {
								t.Errorf("Touch: %v", err)
								return
							}
							touched.Add(1)
						}
					}()
				}
				wg.Wait()
			}

			// Delete racing a Touch storm: whatever the interleaving, once
			// Delete has returned and the storm has ended, the session is gone
			// (Touch is an UPDATE of a live row; it never inserts).
			var wg sync.WaitGroup
			for n := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("race-del-%d", n)
					if err := s.Set(ctx, id, []byte("x"), base.Add(time.Hour)); err != nil {
						t.Error(err)
						return
					}
					var inner sync.WaitGroup
					inner.Add(2)
					go func() { defer inner.Done(); storm(id, 0) }()
					go func() {
						defer inner.Done()
						if err := s.Delete(ctx, id); err != nil {
							t.Error(err)
						}
					}()
					inner.Wait()
					storm(id, 1000) // a storm after Delete, too
					if _, found, err := s.Get(ctx, id); err != nil || found {
						t.Errorf("%s after Delete raced Touch: found %v, err %v; want gone", id, found, err)
					}
				}()
			}
			wg.Wait()

			// Expired sessions under a Touch storm: never found again, and
			// their stored expiry is untouched (seen by moving the clock back).
			exp := base.Add(time.Minute)
			for n := range sessions {
				if err := s.Set(ctx, fmt.Sprintf("race-exp-%d", n), []byte("y"), exp); err != nil {
					t.Fatal(err)
				}
			}
			clock.Set(exp) // expired: the expiry is not after now
			for n := range sessions {
				wg.Add(1)
				go func() { defer wg.Done(); storm(fmt.Sprintf("race-exp-%d", n), 2000) }()
			}
			wg.Wait()
			for n := range sessions {
				if _, found, err := s.Get(ctx, fmt.Sprintf("race-exp-%d", n)); err != nil || found {
					t.Fatalf("expired session touched: found %v, err %v", found, err)
				}
			}
			if c, err := s.Count(ctx); err != nil || c != 0 {
				t.Fatalf("Count after touching expired sessions = %d, %v; want 0", c, err)
			}
			clock.Set(exp.Add(-time.Millisecond))
			got := map[string]time.Time{}
			if err := s.Range(ctx, func(id string, _ []byte, e time.Time) bool { got[id] = e; return true }); err != nil {
				t.Fatal(err)
			}
			if len(got) != sessions {
				t.Fatalf("Range before expiry found %d sessions, want %d (deleted ones must stay deleted)", len(got), sessions)
			}
			for id, e := range got {
				if !e.Equal(exp) {
					t.Fatalf("Touch moved the expiry of an expired session %s to %v, want %v", id, e, exp)
				}
			}
			t.Logf("%s: %d touches on %d deleted (raced) and %d expired sessions: none revived", kind, touched.Load(), sessions, sessions)
		})
	}
}
