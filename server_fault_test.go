package sqlstore_test

// Fault tests: a database restart under load, a pruner that outlives an
// outage, Close during a sweep, and contexts that end every call, against
// servers that refuse, stall or hang.
//
// The restart and hang tests never touch the machine's shared servers: they
// start a private PostgreSQL and a private MariaDB from the installed binaries
// with scripts/testdb-instance.sh, in a temporary directory on a free port.
// When the binaries are missing they skip (and fail under CI=true, through
// testdb.Unavailable).

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

func init() {
	// The driver logs every connection the restarts break; the tests
	// count and check the errors the store returns instead.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// serverSlack is how long past its context's deadline a call may take to
// return before the test calls it a hang. It is generous on purpose: the
// machine is shared, and the tests check that calls end, not how fast.
const serverSlack = 4 * time.Second

// instanceScript is the helper that runs private servers.
const instanceScript = "scripts/testdb-instance.sh"

// privateServer is a private database server run by instanceScript.
type privateServer struct {
	kind   string // "postgres" or "mariadb"
	dir    string
	port   int
	dsnURL string // as sqlstore.Open takes it
}

// startPrivateServer starts a private server of kind ("postgres" or
// "mariadb") and removes it when the test ends.
func startPrivateServer(t *testing.T, kind string) *privateServer {
	t.Helper()
	script, err := filepath.Abs(instanceScript)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", script, "check", kind).CombinedOutput(); err != nil {
		testdb.Unavailable(t, "cannot run a private %s server: %s", kind, strings.TrimSpace(string(out)))
	}
	dir, err := os.MkdirTemp("", "sqlstore-fault-"+kind+"-")
	if err != nil {
		t.Fatal(err)
	}
	in := &privateServer{kind: kind, dir: dir, port: freeTCPPort(t)}
	t.Cleanup(func() { in.run(t, "destroy") })
	start := time.Now()
	in.run(t, "start")
	switch kind {
	case "postgres":
		in.dsnURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", in.port)
	default:
		in.dsnURL = fmt.Sprintf("mysql://root@127.0.0.1:%d/test", in.port)
	}
	t.Logf("private %s server on 127.0.0.1:%d in %s, started in %v", kind, in.port, dir, time.Since(start).Round(time.Millisecond))
	return in
}

// run runs one command of instanceScript on the instance.
func (in *privateServer) run(t *testing.T, cmd string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script, _ := filepath.Abs(instanceScript)
	c := exec.CommandContext(ctx, "bash", script, cmd, in.kind, in.dir, fmt.Sprint(in.port))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s %s %s: %v\n%s", instanceScript, cmd, in.kind, err, out)
	}
}

// freeTCPPort returns a TCP port nothing listens on now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// errorLogs is a slog handler that keeps the messages of error records.
type errorLogs struct {
	mu   sync.Mutex
	errs []string
}

func (h *errorLogs) Enabled(context.Context, slog.Level) bool { return true }

func (h *errorLogs) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		return nil
	}
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.mu.Lock()
	h.errs = append(h.errs, msg)
	h.mu.Unlock()
	return nil
}

func (h *errorLogs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLogs) WithGroup(string) slog.Handler      { return h }

func (h *errorLogs) errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.errs...)
}

// TestFaultPrivateServer restarts and hangs private PostgreSQL and MariaDB
// servers under a store: 16 goroutines keep calling Get and Set through a
// restart, the background pruner keeps running through an outage, and every
// call against a server stopped with SIGSTOP ends with its context.
func TestFaultPrivateServer(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mariadb"} {
		t.Run(kind, func(t *testing.T) {
			in := startPrivateServer(t, kind)
			drivers := []string{"mysql"}
			if kind == "postgres" {
				drivers = []string{"postgres", "pgx"} // lib/pq, pgx
			}
			for _, drv := range drivers {
				t.Run("RestartUnderLoad/"+drv, func(t *testing.T) { restartUnderLoad(t, in, drv) })
			}
			t.Run("PrunerOutage/"+drivers[0], func(t *testing.T) { prunerOutage(t, in, drivers[0]) })
			// lib/pq is left out of the hang test: it only sends a cancel
			// request, which a hung server never reads (see hungServer).
			t.Run("Hung/"+drivers[len(drivers)-1], func(t *testing.T) { hungServer(t, in, drivers[len(drivers)-1]) })
		})
	}
}

// loadCall is one call of the restart load.
type loadCall struct {
	start, end time.Time
	failed     bool
}

func payloadOf(id string) []byte { return []byte("payload of " + id) }

func restartUnderLoad(t *testing.T, in *privateServer, driver string) {
	const (
		workers     = 16
		callTimeout = 3 * time.Second // not to be met by a healthy call on a busy machine
		recoverBy   = 5 * time.Second // the promise: every call succeeds this long after the server is back
	)
	db := testdb.OpenDSN(t, driver, in.dsnURL)
	table := testdb.Table(t, db)
	ctx := context.Background()
	st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		calls   = make([][]loadCall, workers)
		ids     = make([][]string, workers)
		ackedAt = make([][]time.Time, workers)
		lost    atomic.Int64 // Gets of an acknowledged id that found nothing or other data
		panics  atomic.Int64
	)
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopLoad() // also when the test fails halfway
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					panics.Add(1)
					t.Errorf("worker %d panicked: %v", w, r)
				}
			}()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				c := loadCall{start: time.Now()}
				if len(ids[w]) == 0 || rng.IntN(2) == 0 {
					id := fmt.Sprintf("fault-%s-%d-%d", driver, w, i)
					err := st.Set(cctx, id, payloadOf(id), time.Time{})
					c.failed = err != nil
					if err == nil {
						ids[w] = append(ids[w], id)
						ackedAt[w] = append(ackedAt[w], time.Now())
					}
				} else {
					id := ids[w][rng.IntN(len(ids[w]))]
					data, found, err := st.Get(cctx, id)
					c.failed = err != nil
					if err == nil && (!found || !bytes.Equal(data, payloadOf(id))) {
						if lost.Add(1) <= 5 {
							t.Errorf("Get(%q) of an acknowledged Set = %q, found %v", id, data, found)
						}
					}
				}
				c.end = time.Now()
				cancel()
				calls[w] = append(calls[w], c)
			}
		}()
	}

	time.Sleep(1500 * time.Millisecond)
	tStop := time.Now()
	in.run(t, "stop")
	tDown := time.Now()
	time.Sleep(time.Second)
	in.run(t, "start")
	tBack := time.Now()
	time.Sleep(recoverBy + 1500*time.Millisecond)
	stopLoad()

	var (
		total, failedBefore, failedOutage, failedAfter, late, lateFailed int
		maxDur                                                           time.Duration
		lastFailEnd                                                      time.Time
		firstOK                                                          = time.Duration(-1)
	)
	for _, cs := range calls {
		for _, c := range cs {
			total++
			maxDur = max(maxDur, c.end.Sub(c.start))
			if c.end.Sub(c.start) > callTimeout+serverSlack {
				t.Errorf("a call took %v, past its %v deadline", c.end.Sub(c.start), callTimeout)
			}
			if c.start.After(tBack.Add(recoverBy)) {
				late++
				if c.failed {
					lateFailed++
				}
			}
			if !c.failed {
				if d := c.end.Sub(tBack); d >= 0 && (firstOK < 0 || d < firstOK) {
					firstOK = d
				}
				continue
			}
			switch {
			case c.end.Before(tStop):
				failedBefore++
			case c.start.Before(tBack):
				failedOutage++
			default:
				failedAfter++
			}
			if c.end.After(lastFailEnd) {
				lastFailEnd = c.end
			}
		}
	}
	recovery := max(0, lastFailEnd.Sub(tBack))

	// Every acknowledged Set must be readable, with its data.
	rows := map[string][]byte{}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.Range(rctx, func(key string, data []byte, _ time.Time) bool {
		rows[key] = data
		return true
	}); err != nil {
		t.Fatalf("Range after the restart: %v", err)
	}
	var acked, ackedBefore, missing int
	for w := range workers {
		for i, id := range ids[w] {
			acked++
			if ackedAt[w][i].Before(tStop) {
				ackedBefore++
			}
			if data, ok := rows[st.Key(id)]; !ok || !bytes.Equal(data, payloadOf(id)) {
				missing++
				if missing <= 5 {
					t.Errorf("acknowledged Set of %q is not in the table after the restart", id)
				}
			}
		}
	}

	t.Logf("figures: restart %s/%s: %d calls by %d goroutines; server down %v (stop %v); failed calls: %d before, %d during the outage, %d after it came back; first success %v and last failure %v after the server was back; slowest call %v (deadline %v); Sets acknowledged %d (%d before the restart); rows lost %d; Gets of a lost row %d; panics %d",
		in.kind, driver, total, workers, tBack.Sub(tDown).Round(time.Millisecond), tDown.Sub(tStop).Round(time.Millisecond),
		failedBefore, failedOutage, failedAfter, firstOK.Round(time.Millisecond), recovery.Round(time.Millisecond), maxDur.Round(time.Millisecond), callTimeout,
		acked, ackedBefore, missing, lost.Load(), panics.Load())

	if failedBefore > 0 {
		t.Errorf("%d calls failed before the restart", failedBefore)
	}
	if failedOutage == 0 {
		t.Errorf("no call failed while the server was down: the outage did not happen")
	}
	if lateFailed > 0 {
		t.Errorf("%d of %d calls started more than %v after the server came back failed", lateFailed, late, recoverBy)
	}
	if late == 0 {
		t.Errorf("no call started more than %v after the server came back", recoverBy)
	}
	if ackedBefore == 0 {
		t.Errorf("no Set was acknowledged before the restart")
	}
}

// prunerOutage runs the background pruner through an outage: it logs
// the failed sweeps and sweeps again once the server is back.
func prunerOutage(t *testing.T, in *privateServer, driver string) {
	db := testdb.OpenDSN(t, driver, in.dsnURL)
	table := testdb.Table(t, db)
	logs := &errorLogs{}
	ctx := context.Background()
	st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table),
		sqlstore.WithPruneInterval(100*time.Millisecond), sqlstore.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	past := time.Now().Add(-time.Hour)
	addExpired := func(prefix string) {
		t.Helper()
		for i := range 20 {
			id := fmt.Sprintf("%s-%d", prefix, i)
			// The pool may still hold connections from before the outage:
			// retry each Set for a while.
			if !pollUntil(10*time.Second, func() bool {
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				return st.Set(cctx, id, []byte("x"), past) == nil
			}) {
				t.Fatalf("Set(%q) kept failing", id)
			}
		}
	}
	expired := func() int64 {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		s, err := st.Stats(cctx)
		if err != nil {
			return -1
		}
		return s.Expired
	}

	addExpired("before")
	if !pollUntil(15*time.Second, func() bool { return expired() == 0 }) {
		t.Fatalf("the pruner did not sweep before the outage: %d expired rows left", expired())
	}
	in.run(t, "stop")
	tDown := time.Now()
	if !pollUntil(15*time.Second, func() bool { return len(logs.errors()) >= 2 }) {
		t.Fatalf("the pruner logged %d errors during the outage, want 2 or more", len(logs.errors()))
	}
	in.run(t, "start")
	tBack := time.Now()
	failedSweeps := len(logs.errors())
	addExpired("after")
	if !pollUntil(15*time.Second, func() bool { return expired() == 0 }) {
		t.Fatalf("the pruner did not sweep after the outage: %d expired rows left", expired())
	}
	resumed := time.Since(tBack)
	errs := logs.errors()
	if !strings.Contains(errs[0], "sqlstore: background prune failed") {
		t.Errorf("logged error = %q, want the background prune failure", errs[0])
	}
	t.Logf("figures: pruner outage %s/%s: server down %v, %d failed sweeps logged (first: %.160s), expired rows swept again %v after the server was back",
		in.kind, driver, tBack.Sub(tDown).Round(time.Millisecond), failedSweeps, errs[0], resumed.Round(time.Millisecond))
}

// checkOperationsTimeOut runs every op with a context that times out after d and
// checks that each returns the context's error within d plus serverSlack. It
// returns the slowest return.
func checkOperationsTimeOut(t *testing.T, ops []timedOperation, d time.Duration) time.Duration {
	t.Helper()
	var slowest time.Duration
	for _, op := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- op.call(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(d + serverSlack + 30*time.Second):
			cancel()
			t.Fatalf("%s did not return %v after its %v deadline", op.name, serverSlack+30*time.Second, d)
		}
		took := time.Since(start)
		cancel()
		slowest = max(slowest, took)
		switch {
		case !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("%s with a %v deadline against a stalled server = %v, want context.DeadlineExceeded", op.name, d, err)
		case took > d+serverSlack:
			t.Errorf("%s took %v with a %v deadline", op.name, took, d)
		}
	}
	return slowest
}

// hungServer stops the server with SIGSTOP under an open store: every call
// must end with its context's deadline, and the store must work again once
// the server resumes. lib/pq is not tested here: on a context's end it sends
// the server a cancel request and waits for the query to end, which a
// stopped server never does (pgx and go-sql-driver/mysql close the socket).
func hungServer(t *testing.T, in *privateServer, driver string) {
	db := testdb.OpenDSN(t, driver, in.dsnURL)
	table := testdb.Table(t, db)
	ctx := context.Background()
	opts := []sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithLogger(quietLogger)}
	st, err := sqlstore.New(ctx, db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Set(ctx, "warm", []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}

	in.run(t, "pause")
	paused := true
	defer func() {
		if paused {
			in.run(t, "resume")
		}
	}()
	const d = 300 * time.Millisecond
	slowest := checkOperationsTimeOut(t, everyOperation(st, db, opts...), d)
	in.run(t, "resume")
	paused = false

	start := time.Now()
	if !pollUntil(20*time.Second, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, found, err := st.Get(cctx, "warm")
		return err == nil && found
	}) {
		t.Fatal("the store did not work again after the server resumed")
	}
	t.Logf("figures: hung %s/%s (SIGSTOP): 10 calls (Get, Set, Touch, Delete, Count, Range, Clear, Prune, Stats, New) with a %v deadline, slowest returned in %v; working again %v after SIGCONT",
		in.kind, driver, d, slowest.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestFaultBlackhole points New at a listener that accepts connections and
// never answers: New must end with its context's deadline.
func TestFaultBlackhole(t *testing.T) {
	t.Parallel()
	addr := testdb.SilentServer(t)
	for _, c := range []struct{ driver, url string }{
		{"pgx", "postgres://postgres@" + addr + "/test?sslmode=disable"},
		{"mysql", "mysql://root@" + addr + "/test"},
	} {
		t.Run(c.driver, func(t *testing.T) {
			_, driverDSN, _, err := dsn.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(c.driver, driverDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const d = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			start := time.Now()
			st, err := sqlstore.New(ctx, db, sqlstore.WithPruneInterval(0))
			took := time.Since(start)
			if err == nil {
				st.Close()
				t.Fatal("New against a server that never answers succeeded")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("New = %v, want context.DeadlineExceeded", err)
			}
			if took > d+serverSlack {
				t.Errorf("New took %v with a %v deadline", took, d)
			}
			t.Logf("figures: blackhole %s: New ended in %v with a %v deadline: %v", c.driver, took.Round(time.Millisecond), d, err)
		})
	}
}

// TestFaultContext checks that every call ends with the context's error: at
// once when the context is already cancelled, and at the deadline when the
// call waits on a lock another connection holds.
func TestFaultContext(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres", "pgx", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsnURL := testdb.DSN(t, kind)
			db := testdb.OpenDSN(t, kind, dsnURL)
			admin := testdb.OpenDSN(t, kind, dsnURL)
			table := testdb.Table(t, admin)
			ctx := context.Background()
			opts := []sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithLogger(quietLogger)}
			st, err := sqlstore.New(ctx, db, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ops := everyOperation(st, db, opts...)

			t.Run("Cancelled", func(t *testing.T) {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				for _, op := range ops {
					if err := op.call(cctx); !errors.Is(err, context.Canceled) {
						t.Errorf("%s with a cancelled context = %v, want context.Canceled", op.name, err)
					}
				}
			})

			t.Run("DeadlineWhileLocked", func(t *testing.T) {
				blocked, unlock := lockWholeTable(t, admin, st)
				defer unlock()
				var lockedOps []timedOperation
				for _, op := range ops {
					if blocked[op.name] {
						lockedOps = append(lockedOps, op)
					}
				}
				const d = 300 * time.Millisecond
				slowest := checkOperationsTimeOut(t, lockedOps, d)
				var names []string
				for _, op := range lockedOps {
					names = append(names, op.name)
				}
				t.Logf("figures: context %s: %d calls with a cancelled context; %d calls blocked by a table lock (%s) with a %v deadline, slowest returned in %v",
					kind, len(ops), len(lockedOps), strings.Join(names, ", "), d, slowest.Round(time.Millisecond))
			})
		})
	}
}

// lockWholeTable makes another connection hold a lock that blocks the
// store's calls on the table, and returns the names of the calls it blocks
// and the function that releases it.
func lockWholeTable(t *testing.T, admin *sql.DB, st *sqlstore.Store) (blocked map[string]bool, unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{"Get": true, "Set": true, "Touch": true, "Delete": true, "Count": true, "Range": true, "Clear": true, "Prune": true, "Stats": true, "New": true}
	var lock, release []string
	d, table := st.Dialect().Name(), st.Table().Name
	switch d {
	case "postgres":
		// ACCESS EXCLUSIVE blocks reads, writes and the prepares of New.
		lock = []string{fixtureSQL(t, d, "begin"), fixtureSQL(t, d, "lock_table", table)}
		release = []string{fixtureSQL(t, d, "rollback")}
		blocked = all
	case "mysql":
		// LOCK TABLES ... WRITE blocks reads and writes, not the prepares
		// of New on MariaDB.
		lock = []string{fixtureSQL(t, d, "lock_table", table)}
		release = []string{fixtureSQL(t, d, "unlock_tables")}
		blocked = all
		delete(blocked, "New")
	case "sqlite":
		// BEGIN IMMEDIATE and a write take the write lock. In WAL mode
		// readers never wait: only writers do.
		lock = []string{fixtureSQL(t, d, "begin_write"), fixtureSQL(t, d, "lock_table", table)}
		release = []string{fixtureSQL(t, d, "rollback")}
		blocked = map[string]bool{"Set": true, "Touch": true, "Delete": true, "Clear": true, "Prune": true}
	}
	for _, q := range lock {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	return blocked, func() {
		for _, q := range release {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		conn.Close()
	}
}

// TestFaultCloseDuringSweep closes a store while a long sweep (many expired
// rows, a batch size of 5) is in flight, started by Prune or by the
// background pruner: Close cancels it and returns promptly.
func TestFaultCloseDuringSweep(t *testing.T) {
	t.Parallel()
	const rows = 5000
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, kind)
			for _, background := range []bool{false, true} {
				name := "Prune"
				if background {
					name = "Background"
				}
				t.Run(name, func(t *testing.T) {
					table := testdb.Table(t, db)
					ctx := context.Background()
					interval := time.Duration(0)
					if background {
						interval = 50 * time.Millisecond
					}
					// Create the table (and fill it) before the pruner may run.
					setup, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
					if err != nil {
						t.Fatal(err)
					}
					fillExpired(t, db, setup, rows)
					setup.Close()

					st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneBatchSize(5),
						sqlstore.WithPruneInterval(interval), sqlstore.WithLogger(quietLogger))
					if err != nil {
						t.Fatal(err)
					}
					pruned := make(chan error, 1)
					var closing atomic.Bool
					var afterClose atomic.Int64 // batches of Prune that ended after Close began
					if background {
						// Wait until the background sweep has deleted something.
						if !pollUntil(30*time.Second, func() bool { return countRows(t, db, st.Table().Qualified()) < rows }) {
							st.Close()
							t.Fatal("the background sweep did not start")
						}
					} else {
						started := make(chan struct{})
						var once sync.Once
						go func() {
							_, err := st.PruneProgress(ctx, func(int64) {
								if closing.Load() {
									afterClose.Add(1)
								}
								once.Do(func() { close(started) })
							})
							pruned <- err
						}()
						select {
						case <-started:
						case <-time.After(30 * time.Second):
							st.Close()
							t.Fatal("Prune did not start")
						}
					}
					closing.Store(true)
					start := time.Now()
					if err := st.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
					took := time.Since(start)
					if !background {
						if err := <-pruned; !errors.Is(err, sqlstore.ErrClosed) {
							t.Errorf("Prune cut short by Close = %v, want ErrClosed", err)
						}
						// The batch in flight may end, and one more may have
						// started before the cancellation reached the sweep;
						// the sweep must not go on.
						if n := afterClose.Load(); n > 3 {
							t.Errorf("the sweep ran %d more batches after Close began", n)
						}
					}
					left := countRows(t, db, st.Table().Qualified())
					if left == 0 {
						t.Errorf("the sweep had finished before Close: raise the row count")
					}
					if took > 10*time.Second { // a hang, not a speed check
						t.Errorf("Close took %v with a sweep in flight", took)
					}
					t.Logf("figures: close during sweep %s/%s: Close returned in %v with the sweep %d of %d rows in (batch size 5); Prune batches ended after Close began: %d",
						kind, name, took.Round(time.Microsecond), rows-left, rows, afterClose.Load())
				})
			}
		})
	}
}
