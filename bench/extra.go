package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/hook"
)

// phases is how many phases a phased run records apart (before, during
// and after what a test measures).
const phases = 3

// phased runs an operation on n goroutines, recording each operation in
// the histograms of the phase it started in, until stop.
type phased struct {
	phase atomic.Int32
	ws    []*pworker
	wg    sync.WaitGroup
}

type pworker struct {
	get, wr  [phases]hist
	ops      [phases]int64
	errs     int64
	firstErr error
}

// opFunc runs one operation and returns its latency and whether it was a
// read.
type opFunc func(ctx context.Context, rng *rand.Rand) (d time.Duration, isGet bool, err error)

// startMixed runs the mixed workload on st on n goroutines.
func startMixed(ctx context.Context, st store, ks *keyset, n int) *phased {
	return startPhased(ctx, n, func(ctx context.Context, rng *rand.Rand) (time.Duration, bool, error) {
		return mixedOp(ctx, st, ks, rng)
	})
}

// startPhased runs op on n goroutines, in phase 0.
func startPhased(ctx context.Context, n int, op opFunc) *phased {
	p := &phased{}
	for i := 0; i < n; i++ {
		w := &pworker{}
		p.ws = append(p.ws, w)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			for ctx.Err() == nil {
				ph := p.phase.Load()
				if ph >= phases {
					return
				}
				d, isGet, err := op(ctx, rng)
				w.ops[ph]++
				if isGet {
					w.get[ph].record(d)
				} else {
					w.wr[ph].record(d)
				}
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
				}
			}
		}()
	}
	return p
}

// stop ends the run and returns the merged histograms and counts.
func (p *phased) stop() (get, wr [phases]hist, ops [phases]int64, errs int64, firstErr error) {
	p.phase.Store(phases)
	p.wg.Wait()
	for _, w := range p.ws {
		for i := 0; i < phases; i++ {
			get[i].merge(&w.get[i])
			wr[i].merge(&w.wr[i])
			ops[i] += w.ops[i]
		}
		errs += w.errs
		if firstErr == nil {
			firstErr = w.firstErr
		}
	}
	return
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// defaultDriver is the driver sqlstore.Open picks first on each database.
var defaultDriver = map[string][2]string{"postgres": {"lib/pq", "postgres"}, "mysql": {"go-sql-driver/mysql", "mysql"}, "sqlite": {"modernc", "sqlite"}}

// sqlstoreOn returns a sqlstore target on db, over its default driver, in
// the run's main schema (SQLite: in file).
func sqlstoreOn(e *env, db, table, file string, opts ...sqlstore.Option) *target {
	dd := defaultDriver[db]
	var d string
	switch db {
	case "postgres":
		d = e.pgURLFor(e.pgSchema(""))
	case "mysql":
		d, _ = e.myDSNFor(e.pgSchema(""))
	default:
		d = e.sqliteDSN(dd[1], file)
	}
	return newSQLStoreTarget(e, db, dd[0], dd[1], d, table, opts...)
}

// pruneTest measures a sweep of N expired rows among 2N by sqlstore and by
// scs's single-statement cleanup, with the mixed workload running.
func pruneTest(ctx context.Context, e *env, o *options, r *report) error {
	n := o.pruneN
	data := make([]byte, o.prunePayload)
	live, expired := ids("plive", n), ids("pexp", n)
	var pb strings.Builder
	fmt.Fprintf(&pb, "## Pruning\n\n%d expired rows among %d (%d B payload). %d goroutines run the mixed workload on the live rows: first %v without a sweep, then during the sweep. sqlstore sweeps with Prune (batches of %d); scs runs its cleanup statement, one statement deleting every expired row. Target: Get p99 during the sweep ≤ 3 × without.\n\n",
		n, 2*n, o.prunePayload, o.pruneReaders, o.pruneBase, defaults.PruneBatchSize)
	pb.WriteString("| database | store | deleted | sweep | rows/s | Get p99 without | Get p99 during | ratio | write p99 without | write p99 during | ops/s without | ops/s during | errors |\n")
	pb.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, db := range keys(o.dbs) {
		var scsT *target
		switch db {
		case "postgres":
			schema, err := e.createSchema(ctx, "postgres", "_prune_scs")
			if err != nil {
				return err
			}
			scsT = newSCSTarget(e, db, "scs postgresstore", "lib/pq", "postgres", e.pgURLFor(schema))
		case "mysql":
			name, err := e.createSchema(ctx, "mysql", "_prune_scs")
			if err != nil {
				return err
			}
			d, _ := e.myDSNFor(name)
			scsT = newSCSTarget(e, db, "scs mysqlstore", "go-sql-driver/mysql", "mysql", d+sep(d)+"parseTime=true")
		case "sqlite":
			scsT = newSCSTarget(e, db, "scs sqlite3store", "mattn", "sqlite3", e.sqliteDSN("sqlite3", "prune_scs.db"))
		}
		sqT := sqlstoreOn(e, db, "prune_sqlstore", "prune_sqlstore.db")
		for _, t := range []*target{sqT, scsT} {
			if err := t.open(ctx); err != nil {
				return fmt.Errorf("prune: %s on %s: %w", t.label(), db, err)
			}
			t0 := time.Now()
			if err := t.seed(ctx, expired, data, time.Now().Add(-time.Hour)); err != nil {
				return fmt.Errorf("prune: seeding %s: %w", t.label(), err)
			}
			if err := t.seed(ctx, live, data, time.Now().Add(ttl)); err != nil {
				return fmt.Errorf("prune: seeding %s: %w", t.label(), err)
			}
			logf("prune: %s on %s seeded %d rows in %v", t.label(), db, 2*n, time.Since(t0).Round(time.Millisecond))
			p := startMixed(ctx, t.st, &keyset{hit: live, data: data}, o.pruneReaders)
			sleepCtx(ctx, o.pruneBase)
			p.phase.Store(1)
			t0 = time.Now()
			deleted, perr := t.prune(ctx)
			sweep := time.Since(t0)
			get, wr, ops, errs, ferr := p.stop()
			es := fmt.Sprint(errs)
			if perr != nil || errs > 0 || deleted != int64(n) {
				r.extraErrs++
				es = fmt.Sprintf("%d (sweep: %v; readers: %v)", errs, perr, ferr)
				logf("  ERROR prune %s on %s: deleted %d of %d, %s", t.label(), db, deleted, n, es)
			}
			g0, g1 := get[0].quantile(0.99), get[1].quantile(0.99)
			fmt.Fprintf(&pb, "| %s | %s | %d | %v | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", dbTitle[db], t.label(), deleted,
				sweep.Round(time.Millisecond), fmtOps(float64(deleted)/sweep.Seconds()), fmtUS(us(g0)), fmtUS(us(g1)), ratio(float64(g1), float64(g0)),
				fmtUS(us(wr[0].quantile(0.99))), fmtUS(us(wr[1].quantile(0.99))),
				fmtOps(float64(ops[0])/o.pruneBase.Seconds()), fmtOps(float64(ops[1])/sweep.Seconds()), es)
			logf("prune: %s on %s: %d rows in %v; Get p99 %v -> %v", t.label(), db, deleted, sweep.Round(time.Millisecond), g0, g1)
		}
		for _, t := range []*target{sqT, scsT} {
			t.close()
		}
	}
	r.extra = append(r.extra, pb.String())
	return nil
}

// scaleRounds is how many times the scale test alternates between the two
// tables: load from the rest of the machine then falls on both alike.
const scaleRounds = 5

// scaleTest measures Get on a fresh table of o.scaleBig rows against one of
// o.scaleSmall rows. Both tables are seeded first and the database is let
// settle (PostgreSQL: CHECKPOINT and VACUUM ANALYZE, SQLite: a WAL
// checkpoint), so that neither measurement shares the machine with the
// aftermath of a bulk insert; then the two alternate, scaleRounds times.
func scaleTest(ctx context.Context, e *env, o *options, r *report) error {
	slot := o.scaleDur / scaleRounds
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Scale\n\nGet of a random live session, one goroutine, sqlstore over the default driver, %d B payload (random keys, inserted in random order), on a table of %d rows and on one of %d rows: both seeded, then the database settled (PostgreSQL `CHECKPOINT` and `VACUUM ANALYZE`, SQLite WAL checkpoint), then %d alternating rounds of %v on each (after %v warm-up). p50 and p99 over all rounds; the last column gives the lowest and highest ratio of single rounds. Target: p50 at the large table ≤ 1.3 × at the small one.\n\n",
		o.prunePayload, o.scaleBig, o.scaleSmall, scaleRounds, slot, slot/5)
	if o.scalePrewarm {
		sb.WriteString("Both tables and their indexes were loaded into the database's cache before the rounds (`-scale-prewarm`: PostgreSQL `pg_prewarm`, MariaDB a scan of the primary key).\n\n")
	}
	sb.WriteString("| database | rows | ops/s | p50 | p99 | p50 ratio | ratio of single rounds |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, db := range keys(o.dbs) {
		if err := scaleOn(ctx, e, o, r, db, &sb); err != nil {
			return err
		}
	}
	r.extra = append(r.extra, sb.String())
	return nil
}

// scaleOn runs the scale test on one database and adds its rows to sb.
func scaleOn(ctx context.Context, e *env, o *options, r *report, db string, sb *strings.Builder) error {
	data := make([]byte, o.prunePayload)
	slot := o.scaleDur / scaleRounds
	sizes := [2]int{o.scaleSmall, o.scaleBig}
	var ts [2]*target
	var lists [2][]string
	defer func() {
		for _, t := range ts {
			if t != nil {
				t.close()
			}
		}
	}()
	for i, n := range sizes {
		name := fmt.Sprintf("scale_%d", n)
		t := sqlstoreOn(e, db, name, name+".db")
		if err := t.open(ctx); err != nil {
			return err
		}
		ts[i] = t
		lists[i] = ids(name, n)
		t0 := time.Now()
		if err := t.seed(ctx, lists[i], data, time.Now().Add(ttl)); err != nil {
			return err
		}
		logf("scale: %s on %s seeded %d rows in %v", t.label(), db, n, time.Since(t0).Round(time.Millisecond))
	}
	for _, t := range ts {
		// A database that refuses to settle or prewarm (CHECKPOINT and
		// CREATE EXTENSION need privileges) is still measured; the error
		// is reported.
		if err := execAll(ctx, t.sqlDB, settleQueries(db, t)); err != nil {
			r.extraErrs++
			logf("  ERROR scale: settle %s: %v", db, err)
		}
		if o.scalePrewarm {
			if err := prewarm(ctx, db, t); err != nil {
				r.extraErrs++
				logf("  ERROR scale: prewarm %s: %v", db, err)
			}
		}
	}
	var merged [2]hist
	var ops [2]int64
	var took [2]time.Duration
	lo, hi := math.Inf(1), math.Inf(-1)
	for round := range scaleRounds {
		var p50 [2]float64
		// ABBA: odd rounds run the large table first, so that neither
		// size always follows the other.
		order := [2]int{0, 1}
		if round%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, i := range order {
			cl := runCell(ctx, ts[i], &keyset{hit: lists[i], data: data}, wlGetHit, 1, slot/5, slot)
			if cl.errs > 0 {
				r.extraErrs++
				logf("  ERROR scale on %s: %s", db, cl.firstErr)
			}
			merged[i].merge(&cl.get)
			ops[i] += cl.ops
			took[i] += cl.elapsed
			p50[i] = float64(cl.get.quantile(0.5))
		}
		if p50[0] > 0 && p50[1] > 0 {
			lo, hi = math.Min(lo, p50[1]/p50[0]), math.Max(hi, p50[1]/p50[0])
		}
	}
	for i, n := range sizes {
		rt, rounds := "–", "–"
		if i == 1 {
			rt = ratio(float64(merged[1].quantile(0.5)), float64(merged[0].quantile(0.5)))
			if lo <= hi {
				rounds = fmt.Sprintf("%.2f–%.2f", lo, hi)
			}
		}
		fmt.Fprintf(sb, "| %s | %d | %s | %s | %s | %s | %s |\n", dbTitle[db], n,
			fmtOps(float64(ops[i])/took[i].Seconds()),
			fmtUS(us(merged[i].quantile(0.5))), fmtUS(us(merged[i].quantile(0.99))), rt, rounds)
	}
	return nil
}

// tableOf returns the qualified table name of a sqlstore target (the bench's
// names are lowercase letters, digits and underscores: no quoting needed).
func tableOf(t *target) string {
	i := hook.Describe(t.st.(sqlstoreAdapter).s)
	return i.Schema + "." + i.Table
}

// settleQueries are the statements that let the database finish the work a
// bulk insert leaves behind, so that it does not fall on one measurement
// only.
func settleQueries(db string, t *target) []string {
	switch db {
	case "postgres":
		return []string{"CHECKPOINT", "VACUUM ANALYZE " + tableOf(t)}
	case "sqlite":
		return []string{"PRAGMA wal_checkpoint(TRUNCATE)"}
	case "mysql":
		return []string{"ANALYZE TABLE " + tableOf(t)}
	}
	return nil
}

// prewarm loads t's table and indexes into the database's own cache
// (-scale-prewarm): PostgreSQL with pg_prewarm, MariaDB by scanning the
// clustered index. SQLite's page cache is per connection: nothing to do.
func prewarm(ctx context.Context, db string, t *target) error {
	switch db {
	case "postgres":
		if err := execAll(ctx, t.sqlDB, []string{"CREATE EXTENSION IF NOT EXISTS pg_prewarm"}); err != nil {
			return err
		}
		const q = "SELECT pg_prewarm(c) FROM (SELECT $1::regclass AS c UNION ALL SELECT indexrelid::regclass FROM pg_index WHERE indrelid = $1::regclass) AS r"
		if _, err := t.sqlDB.ExecContext(ctx, q, tableOf(t)); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	case "mysql":
		return execAll(ctx, t.sqlDB, []string{"SELECT COUNT(*) FROM " + tableOf(t) + " FORCE INDEX (PRIMARY)"})
	}
	return nil
}

// execAll runs each statement of qs on db in turn, stopping at the first
// error, which names the statement.
func execAll(ctx context.Context, db *sql.DB, qs []string) error {
	for _, q := range qs {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// throttleTest runs the mixed workload on sqlstore with the default touch
// threshold and with none, counting the statements that changed a row.
func throttleTest(ctx context.Context, e *env, o *options, ks *keyset, r *report) error {
	conc := o.concs[len(o.concs)-1]
	hot := ks.hit[:min(1000, len(ks.hit))]
	var b strings.Builder
	fmt.Fprintf(&b, "## Touch throttling\n\nThe mixed workload (90%% Get, 8%% Touch to now + 24 h, 2%% Set), %d goroutines, %v per run, sqlstore over the default driver, counting the statements that changed a row (rows affected > 0). Keys drawn uniformly from all %d sessions, or from %d hot ones (active users making several requests a few seconds apart).\n\n",
		conc, o.throttleDur, len(ks.hit), len(hot))
	b.WriteString("| database | keys | touch threshold | ops/s | statements/s | writes/s | writes per 1000 ops | writes/s saved |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, db := range keys(o.dbs) {
		dd := defaultDriver[db]
		for _, set := range []struct {
			name string
			ids  []string
		}{{"uniform", ks.hit}, {"hot", hot}} {
			var base float64
			for _, th := range []time.Duration{0, defaults.TouchThreshold} {
				var c counter
				var d string
				table := fmt.Sprintf("throttle_%s_%d", set.name, th/time.Second)
				switch db {
				case "postgres":
					d = e.pgURLFor(e.pgSchema(""))
				case "mysql":
					d, _ = e.myDSNFor(e.pgSchema(""))
				default:
					d = e.sqliteDSN(dd[1], table+".db")
				}
				pool, err := countingDB(dd[1], d, &c)
				if err != nil {
					return err
				}
				pool.SetMaxOpenConns(o.conns)
				pool.SetMaxIdleConns(o.conns)
				dia := dialects[db]
				s, err := sqlstore.New(ctx, pool, sqlstore.WithDialect(dia), sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(th))
				if err != nil {
					pool.Close()
					return fmt.Errorf("throttle on %s: %w", db, err)
				}
				// Sessions last written a minute ago, so the first Touch of
				// each moves it by more than the threshold.
				if err := seedSQLStore(pool, s)(ctx, set.ids, ks.data, time.Now().Add(ttl-time.Minute)); err != nil {
					return err
				}
				c.execs.Store(0)
				c.writes.Store(0)
				t := &target{st: sqlstoreAdapter{s}}
				cl := runCell(ctx, t, &keyset{hit: set.ids, data: ks.data}, wlMixed, conc, 0, o.throttleDur)
				execs, writes := float64(c.execs.Load()), float64(c.writes.Load())
				if cl.errs > 0 {
					r.extraErrs++
					logf("  ERROR throttle on %s: %s", db, cl.firstErr)
				}
				sec := cl.elapsed.Seconds()
				saved := "–"
				if th == 0 {
					base = writes / float64(max(cl.ops, 1))
				} else {
					// writes/s saved at this run's ops/s: what the writes per op
					// without a threshold would have cost.
					saved = fmt.Sprintf("%.0f (%.0f%%)", (base*float64(cl.ops)-writes)/sec, 100*(1-writes/max(base*float64(cl.ops), 1)))
				}
				fmt.Fprintf(&b, "| %s | %s | %v | %s | %.0f | %.0f | %.1f | %s |\n", dbTitle[db], set.name, th, fmtOps(cl.opsPerSec()),
					execs/sec, writes/sec, 1000*writes/float64(max(cl.ops, 1)), saved)
				s.Close()
				pool.Close()
			}
		}
	}
	r.extra = append(r.extra, b.String())
	return nil
}
