// Command bench compares sqlstore with the session stores of
// github.com/alexedwards/scs and github.com/gofiber/storage, and with a
// floor per driver (one prepared statement, one round trip per operation,
// sqlstore's schema), in one process against the same databases.
//
//	cd bench && go run . [flags]
//
// PostgreSQL and MySQL/MariaDB come from SQLSTORE_POSTGRES_DSN and
// SQLSTORE_MYSQL_DSN (URLs, as sqlstore.Open takes them); a database whose
// variable is unset is skipped (an error under CI=true). SQLite uses files in
// a temporary directory. Every store gets its own table, schema, database or
// file, created at the start and dropped at the end.
//
// It prints Markdown tables (ops/s, p50, p99, allocations and bytes per
// operation, errors, and ratios to the floor of the same driver and to the
// best peer), the medians of -repeats interleaved runs, writes the same
// report to a file under results/ (one file per run, named after its start
// and its databases; -out changes it) and writes an SVG bar chart. -smoke
// runs everything once, tiny, writes no report file, and exits non-zero on
// any error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	payload, rows, repeats, conns int
	duration, warmup              time.Duration
	concs                         []int
	dbs                           map[string]bool
	workloads                     []string
	stores                        []string
	out, chart                    string
	smoke                         bool
	pruneN, pruneReaders          int
	prunePayload                  int
	pruneBase                     time.Duration
	scaleSmall, scaleBig          int
	scalePrewarm                  bool
	scaleDur                      time.Duration
	throttle                      bool
	throttleDur                   time.Duration
	statements                    bool
	accounts                      bool
	accountsRows, accountsOwners  int
	accountsSessions              int
	accountsReaders               int
	accountsRounds                int
	accountsUpgrades              int
	accountsBase                  time.Duration
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var concs, dbs, wls, stores string
	flag.IntVar(&o.payload, "payload", 1024, "session data size in bytes")
	flag.IntVar(&o.rows, "rows", 100_000, "live sessions in each store's table before the run")
	flag.DurationVar(&o.duration, "duration", time.Second, "measured time per cell")
	flag.DurationVar(&o.warmup, "warmup", 300*time.Millisecond, "unmeasured warm-up per cell")
	flag.IntVar(&o.repeats, "repeats", 3, "interleaved repeats; figures are medians")
	flag.StringVar(&concs, "conc", "1,16", "concurrencies (goroutines)")
	flag.IntVar(&o.conns, "conns", 16, "pool size (max open and idle connections; on SQLite idle only) of every store")
	flag.StringVar(&dbs, "dbs", "postgres,mysql,sqlite", "databases")
	flag.StringVar(&wls, "workloads", strings.Join(allWorkloads, ","), `workloads ("none": only the -prune, -scale, -throttle, -statements and -accounts tests)`)
	flag.StringVar(&stores, "stores", "", "comma-separated substrings of store labels to run (default all; floors always run)")
	flag.StringVar(&o.out, "out", outAuto, `also write the Markdown report to this file ("`+outAuto+`": results/<UTC date>-<HHMM>-<databases>.md, none with -smoke; "": none)`)
	flag.StringVar(&o.chart, "chart", "chart.svg", "write the SVG chart to this file (empty: none)")
	flag.BoolVar(&backgroundCtx, "background-ctx", false, "call every store with context.Background() (as scs's stores, which take no context, always run) instead of a cancellable context like an HTTP request's: what honouring cancellation costs")
	flag.BoolVar(&o.smoke, "smoke", false, "run every store, database and workload once, tiny; exit non-zero on any error")
	flag.IntVar(&o.pruneN, "prune", 0, "pruning test: N expired among 2N rows (0: skip)")
	flag.IntVar(&o.pruneReaders, "prune-readers", 4, "goroutines running the mixed workload during the pruning test")
	flag.IntVar(&o.prunePayload, "prune-payload", 256, "session data size in the pruning, scale and accounts tests")
	flag.DurationVar(&o.pruneBase, "prune-baseline", 5*time.Second, "measured time without a sweep in the pruning test")
	flag.IntVar(&o.scaleBig, "scale", 0, "scale test: Get on a table of this many rows against one of -scale-small rows (0: skip)")
	flag.IntVar(&o.scaleSmall, "scale-small", 10_000, "scale test: the small table")
	flag.BoolVar(&o.scalePrewarm, "scale-prewarm", false, "scale test: load both tables and their indexes into the database's cache before measuring (PostgreSQL pg_prewarm, MariaDB a full scan)")
	flag.DurationVar(&o.scaleDur, "scale-duration", 5*time.Second, "measured time of each scale run")
	flag.BoolVar(&o.throttle, "throttle", false, "touch-throttling test: mixed workload with and without the touch threshold, counting writes")
	flag.DurationVar(&o.throttleDur, "throttle-duration", 5*time.Second, "measured time of each throttling run")
	flag.BoolVar(&o.statements, "statements", false, "statements test (PostgreSQL): Get's statement with no store around it through one pgx pool, scs pgxstore's against sqlstore's and variants between them, at each -conc")
	flag.BoolVar(&o.accounts, "accounts", false, "accounts test: SetOwned against Set, DeleteOwner among -accounts-rows sessions, and the upgrade of a table of the previous release's shape under traffic")
	flag.IntVar(&o.accountsRows, "accounts-rows", 1_000_000, "accounts test: rows of the DeleteOwner and upgrade tables")
	flag.IntVar(&o.accountsOwners, "accounts-owners", 7, "accounts test: rounds of Sessions and DeleteOwner, each of an owner of its own (the figures are medians over them)")
	flag.IntVar(&o.accountsSessions, "accounts-sessions", 100, "accounts test: sessions of each of those owners")
	flag.IntVar(&o.accountsReaders, "accounts-readers", 4, "accounts test: goroutines running the previous release's Get and Set during the upgrade")
	flag.IntVar(&o.accountsRounds, "accounts-rounds", 8, "accounts test: alternating rounds of Set and SetOwned")
	flag.IntVar(&o.accountsUpgrades, "accounts-upgrades", 3, "accounts test: upgrades measured, each of a fresh copy of the previous release's table")
	flag.DurationVar(&o.accountsBase, "accounts-baseline", 5*time.Second, "accounts test: traffic measured before and after the upgrade")
	flag.Parse()

	for _, s := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-conc: bad value %q", s)
		}
		o.concs = append(o.concs, n)
	}
	o.dbs = map[string]bool{}
	for _, s := range strings.Split(dbs, ",") {
		s = strings.TrimSpace(s)
		if s != "postgres" && s != "mysql" && s != "sqlite" {
			return fmt.Errorf("-dbs: unknown database %q", s)
		}
		o.dbs[s] = true
	}
	for _, s := range strings.Split(wls, ",") {
		s = strings.TrimSpace(s)
		if s == "none" || s == "" {
			continue
		}
		if !slices.Contains(allWorkloads, s) {
			return fmt.Errorf("-workloads: unknown workload %q", s)
		}
		o.workloads = append(o.workloads, s)
	}
	if stores != "" {
		o.stores = strings.Split(stores, ",")
	}
	if o.smoke {
		o.rows, o.duration, o.warmup, o.repeats = 300, 40*time.Millisecond, 10*time.Millisecond, 1
		o.workloads = allWorkloads
		o.pruneN, o.pruneBase, o.scaleSmall, o.scaleBig, o.scaleDur = 2000, 100*time.Millisecond, 200, 2000, 100*time.Millisecond
		o.throttle, o.throttleDur = true, 100*time.Millisecond
		o.statements = true
		o.scalePrewarm = true
		o.accounts, o.accountsRows, o.accountsOwners, o.accountsRounds, o.accountsUpgrades, o.accountsBase = true, 2000, 3, 2, 2, 100*time.Millisecond
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bench(ctx, &o)
}

func bench(ctx context.Context, o *options) error {
	started := time.Now()
	e := &env{pgURL: os.Getenv("SQLSTORE_POSTGRES_DSN"), myURL: os.Getenv("SQLSTORE_MYSQL_DSN"), conns: o.conns}
	for db, v := range map[string]string{"postgres": e.pgURL, "mysql": e.myURL} {
		if o.dbs[db] && v == "" {
			name := map[string]string{"postgres": "SQLSTORE_POSTGRES_DSN", "mysql": "SQLSTORE_MYSQL_DSN"}[db]
			if os.Getenv("CI") == "true" {
				return fmt.Errorf("%s is not set (CI=true: no database may be skipped)", name)
			}
			fmt.Fprintf(os.Stderr, "bench: %s is not set: skipping %s\n", name, db)
			delete(o.dbs, db)
		}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	e.id = hex.EncodeToString(b[:])
	dir, err := os.MkdirTemp("", "sqlstore-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e.dir = dir
	defer func() {
		if err := e.teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: teardown:", err)
		}
	}()
	if err := e.setup(ctx, o.dbs); err != nil {
		return err
	}

	var targets []*target
	for _, t := range e.targets(o.dbs) {
		if len(o.workloads) == 0 {
			break
		}
		if t.kind == kindFloor || len(o.stores) == 0 || slices.ContainsFunc(o.stores, func(s string) bool { return strings.Contains(t.label(), s) }) {
			targets = append(targets, t)
		}
	}
	ks := &keyset{hit: ids("hit", o.rows), miss: ids("miss", max(o.rows/10, 1000)), data: make([]byte, o.payload)}
	for i := range ks.data {
		ks.data[i] = byte('a' + i%26)
	}
	logf("run %s: %d stores on %v, %d rows of %d B, seeding", e.id, len(targets), keys(o.dbs), o.rows, o.payload)
	for _, t := range targets {
		t0 := time.Now()
		if err := t.open(ctx); err != nil {
			return fmt.Errorf("%s on %s: open: %w", t.label(), t.db, err)
		}
		defer t.close()
		if err := t.seed(ctx, ks.hit, ks.data, time.Now().Add(ttl)); err != nil {
			return fmt.Errorf("%s on %s: seed: %w", t.label(), t.db, err)
		}
		t.trim()
		logf("  %-40s %-8s ready in %v", t.label(), t.db, time.Since(t0).Round(time.Millisecond))
	}

	res := map[*target]map[string][]*cell{}
	for _, t := range targets {
		res[t] = map[string][]*cell{}
	}
	failed := 0
	for rep := 0; rep < o.repeats; rep++ {
		for _, wl := range o.workloads {
			for _, c := range o.concs {
				// Interleave: every store runs this cell before the next
				// cell starts, in an order rotated each repeat.
				for i := range targets {
					t := targets[(i+rep)%len(targets)]
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if wl == wlDelete {
						if err := refill(ctx, t, ks, o); err != nil {
							return fmt.Errorf("%s on %s: refilling the delete pool: %w", t.label(), t.db, err)
						}
					}
					cl := runCell(ctx, t, ks, wl, c, o.warmup, o.duration)
					t.trim()
					if wl == wlSetInsert || wl == wlDelete {
						t.maxRate = max(t.maxRate, cl.opsPerSec())
					}
					res[t][cellKey(wl, c)] = append(res[t][cellKey(wl, c)], cl)
					if cl.errs > 0 {
						failed++
						logf("  ERROR %s %s %s c=%d: %d errors, first: %s", t.label(), t.db, wl, c, cl.errs, cl.firstErr)
					}
				}
				logf("rep %d/%d %s c=%d done (%v)", rep+1, o.repeats, wl, c, time.Since(started).Round(time.Second))
			}
		}
	}
	rep := &report{o: o, targets: targets, res: res, started: started}
	if o.pruneN > 0 {
		if err := pruneTest(ctx, e, o, rep); err != nil {
			return err
		}
	}
	if o.scaleBig > 0 {
		if err := scaleTest(ctx, e, o, rep); err != nil {
			return err
		}
	}
	if o.throttle {
		if err := throttleTest(ctx, e, o, ks, rep); err != nil {
			return err
		}
	}
	if o.statements && o.dbs["postgres"] {
		if err := statementsTest(ctx, e, o, ks, rep); err != nil {
			return err
		}
	}
	if o.accounts {
		if err := accountsTest(ctx, e, o, ks, rep); err != nil {
			return err
		}
	}
	md := rep.markdown()
	fmt.Print(md)
	if out := o.reportFile(started); out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			return err
		}
		logf("report written to %s", out)
	}
	if o.chart != "" && !o.smoke {
		if err := os.WriteFile(o.chart, []byte(rep.svg()), 0o644); err != nil {
			return err
		}
	}
	if o.smoke {
		_ = rep.svg() // draw it, to know it still works
	}
	failed += rep.extraErrs
	logf("done in %v", time.Since(started).Round(time.Second))
	if failed > 0 {
		return fmt.Errorf("%d cells had errors", failed)
	}
	return nil
}

// refill adds sessions for delete to remove, in bulk and untimed: four
// times what the store's fastest insert or delete so far would take in a
// cell, so that every Delete removes a row. The margin covers a cell faster
// than any before it (a delete cell at a higher concurrency than the last,
// or sqlstore's Delete, an UPDATE marking the row ended, outrunning its
// inserts); each refill only tops up what the last cell used.
func refill(ctx context.Context, t *target, ks *keyset, o *options) error {
	need := int64(4*t.maxRate*(o.warmup+o.duration).Seconds()) + 2000
	have := t.insNext.Load() - t.delNext.Load()
	if have >= need {
		return nil
	}
	n := need - have
	start := t.insNext.Add(n) - n
	add := make([]string, n)
	for i := range add {
		add[i] = insKey(start + int64(i))
	}
	return t.seed(ctx, add, ks.data, time.Now().Add(ttl))
}

// outAuto is the default of -out: a file of its own under results/.
const outAuto = "auto"

// reportFile returns the file the Markdown report goes to, or "" for none.
// By default every run gets its own file under results/, named after its
// start (UTC) and the databases it ran on, such as
// results/2026-12-02-1702-postgres-mysql-sqlite.md; a smoke run gets none.
func (o *options) reportFile(started time.Time) string {
	if o.out != outAuto {
		return o.out
	}
	if o.smoke {
		return ""
	}
	return filepath.Join("results", started.UTC().Format("2006-01-02-1504")+"-"+strings.Join(keys(o.dbs), "-")+".md")
}

// commandLine returns the flags the tool was run with, quoted where needed.
func commandLine() string {
	args := []string{"go run ."}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'`$") {
			a = strconv.Quote(a)
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func cellKey(wl string, c int) string { return wl + "/" + strconv.Itoa(c) }

func keys(m map[string]bool) []string {
	var out []string
	for _, k := range []string{"postgres", "mysql", "sqlite"} {
		if m[k] {
			out = append(out, k)
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// machine describes where the run happened.
func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s, %d CPUs (GOMAXPROCS %d), %s, host %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), host)
}
