package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/hook"
)

// The accounts test (-accounts) measures what the owner columns brought:
// SetOwned against Set, DeleteOwner and Sessions of one owner among many
// rows, and the online upgrade of a table of the previous release's shape
// under traffic.
func accountsTest(ctx context.Context, e *env, o *options, ks *keyset, r *report) error {
	var set, del, up strings.Builder
	fmt.Fprintf(&set, "### SetOwned against Set\n\nsqlstore over the default driver, one table of %d sessions of %d B whose rows already hold the owner SetOwned writes (a signed-in user saving the session): Set and SetOwned of a random session, the set-update workload, alternating in %d rounds of %v each (after %v warm-up; odd rounds run SetOwned first). ops/s, p50 and p99 are medians of the rounds; the ratio is SetOwned ÷ Set of ops/s per round: its median and, in brackets, the lowest and highest single round. Target: SetOwned ≥ 0.95 × Set.\n\n",
		len(ks.hit), len(ks.data), o.accountsRounds, o.duration, o.warmup)
	set.WriteString("| database | conc | Set ops/s | SetOwned ops/s | SetOwned ÷ Set | Set p50 | SetOwned p50 | Set p99 | SetOwned p99 | allocs/op Set, SetOwned | client CPU/op Set, SetOwned | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(&del, "### DeleteOwner\n\nsqlstore over the default driver, a table of %d live sessions of %d B: %d owners with %d sessions each, their rows spread over the whole table (one every %d rows, inserted in that order), the rest owned five by five by other users. After the bulk insert the database settles (PostgreSQL `CHECKPOINT` and `VACUUM ANALYZE`, MariaDB `ANALYZE TABLE`, SQLite a WAL checkpoint). Then %d rounds: %d Gets of random sessions of other users, Sessions of one of the owners (listing %d), DeleteOwner of another (ending %d in one UPDATE through the owner index); no owner is read twice. Figures are medians over the rounds, with the lowest and highest in brackets; the last column is DeleteOwner ÷ the median Get of the same round (its median, and range).\n\n",
		o.accountsRows, o.prunePayload, 2*o.accountsOwners, o.accountsSessions, o.accountsRows/max(2*o.accountsOwners*o.accountsSessions, 1), o.accountsOwners, accountsGets, o.accountsSessions, o.accountsSessions)
	del.WriteString("| database | rows | Get | Sessions(owner) | DeleteOwner | DeleteOwner ÷ Get | errors |\n|---|--:|--:|--:|--:|--:|--:|\n")
	var plans strings.Builder
	fmt.Fprintf(&up, "### Upgrade under traffic\n\nA table built with the previous release's statements (`testdata/legacy/<dialect>.sql`: its CREATE TABLE and expiry index), %d rows of %d B (hashed ids, as that release stored them), filled once and copied (INSERT ... SELECT) into a new such table for each of %d runs, each settled as above. In each run, %d goroutines run the previous release's prepared Get and Set (its upsert) on random sessions, half and half, as its processes keep serving during a rolling deploy: %v before, then while `sqlstore.New` on the table upgrades it (adds owner, created, updated and ended, builds the owner index online), then %v after. p99 and the slowest write are per phase; \"upgrade\" is the time New took, followed by each DDL statement's. Not run on SQLite, whose CREATE INDEX holds the write lock.\n\n",
		o.accountsRows, o.prunePayload, o.accountsUpgrades, o.accountsReaders, o.accountsBase, o.accountsBase)
	up.WriteString("| database | run | upgrade | Get p99 before | during | after | write p99 before | during | after | slowest write before | during | ops/s before | during | after | errors |\n|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, db := range keys(o.dbs) {
		if err := setOwnedOn(ctx, e, o, ks, r, db, &set); err != nil {
			return fmt.Errorf("accounts: SetOwned on %s: %w", db, err)
		}
		if err := deleteOwnerOn(ctx, e, o, r, db, &del, &plans); err != nil {
			return fmt.Errorf("accounts: DeleteOwner on %s: %w", db, err)
		}
		if db == "sqlite" {
			continue
		}
		if err := upgradeOn(ctx, e, o, r, db, &up); err != nil {
			return fmt.Errorf("accounts: upgrade on %s: %w", db, err)
		}
	}
	sec := "## Accounts\n\n" + set.String() + "\n" + del.String() + "\n" + plans.String()
	if o.dbs["postgres"] || o.dbs["mysql"] {
		sec += up.String()
	}
	r.extra = append(r.extra, sec)
	return nil
}

// ownedAdapter runs Set as SetOwned, with an owner of the session's own.
type ownedAdapter struct{ sqlstoreAdapter }

func (a ownedAdapter) Set(ctx context.Context, id string, data []byte, exp time.Time) error {
	return a.s.SetOwned(ctx, id, ownerOf(id), data, exp)
}

// ownerOf is the owner of session id in the SetOwned test: a prefix of the
// id, taken without allocating.
func ownerOf(id string) string { return id[:12] }

// seedOwned fills a sqlstore table as SetOwned writes it: owner(i) owns
// ids[i], created and updated now.
func seedOwned(db *sql.DB, s *sqlstore.Store, ids []string, owner func(i int) string, data []byte, exp time.Time) error {
	d, t := storeTable(s)
	head := fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s, %s, %s)", t.Qualified(), t.ID, t.Data, t.Expiry, t.Owner, t.Created, t.Updated)
	ev, now := d.EncodeTime(exp.Truncate(time.Millisecond)), d.EncodeTime(time.Now().Truncate(time.Millisecond))
	return bulk(context.Background(), db, head, "(?, ?, ?, ?, ?, ?)", d.Name() == "postgres", len(ids), func(i int) []any {
		return []any{s.Key(ids[i]), data, ev, owner(i), now, now}
	})
}

// setOwnedOn runs Set and SetOwned alternately on db and adds their rows
// to b.
func setOwnedOn(ctx context.Context, e *env, o *options, ks *keyset, r *report, db string, b *strings.Builder) error {
	t := sqlstoreOn(e, db, "accounts_set", "accounts_set.db")
	if err := t.open(ctx); err != nil {
		return err
	}
	defer t.close()
	defer dropTable(t)
	s := t.st.(sqlstoreAdapter).s
	if err := seedOwned(t.sqlDB, s, ks.hit, func(i int) string { return ownerOf(ks.hit[i]) }, ks.data, time.Now().Add(ttl)); err != nil {
		return err
	}
	sts := [2]store{sqlstoreAdapter{s}, ownedAdapter{sqlstoreAdapter{s}}}
	for _, c := range o.concs {
		var cells [2][]*cell
		var ratios []float64
		for round := range o.accountsRounds {
			order := [2]int{0, 1}
			if round%2 == 1 {
				order = [2]int{1, 0}
			}
			var ops [2]float64
			for _, i := range order {
				cl := runCell(ctx, &target{st: sts[i]}, ks, wlSetUpdate, c, o.warmup, o.duration)
				t.trim()
				if cl.errs > 0 {
					r.extraErrs++
					logf("  ERROR accounts: %s on %s: %s", [2]string{"Set", "SetOwned"}[i], db, cl.firstErr)
				}
				cells[i] = append(cells[i], cl)
				ops[i] = cl.opsPerSec()
			}
			if ops[0] > 0 {
				ratios = append(ratios, ops[1]/ops[0])
			}
		}
		st0, st1 := summarize(cells[0]), summarize(cells[1])
		lo, hi := rangeOf(ratios)
		fmt.Fprintf(b, "| %s | %d | %s | %s | %.3f (%.2f–%.2f) | %s | %s | %s | %s | %.1f, %.1f | %.0f µs, %.0f µs | %d |\n", dbTitle[db], c, fmtOps(st0.ops), fmtOps(st1.ops),
			median(ratios), lo, hi, fmtUS(st0.p50), fmtUS(st1.p50), fmtUS(st0.p99), fmtUS(st1.p99), st0.allocs, st1.allocs, st0.cpu, st1.cpu, st0.errs+st1.errs)
		logf("accounts: %s c=%d SetOwned ÷ Set %.3f (%.2f–%.2f)", db, c, median(ratios), lo, hi)
	}
	return nil
}

// accountsGets is how many Gets each DeleteOwner round runs for reference.
const accountsGets = 50

// deleteOwnerOn times Sessions and DeleteOwner of one owner among
// o.accountsRows sessions on db, adds the row to b and the query plans to
// plans.
func deleteOwnerOn(ctx context.Context, e *env, o *options, r *report, db string, b, plans *strings.Builder) error {
	// 2k owners of per sessions: the first k for DeleteOwner, the others
	// for Sessions, so that neither reads pages the other just read.
	n, k, per := o.accountsRows, o.accountsOwners, o.accountsSessions
	if 2*k*per > n || k < 1 || per < 1 {
		return fmt.Errorf("2 × -accounts-owners × -accounts-sessions (2 × %d × %d) must be between 1 and -accounts-rows (%d)", k, per, n)
	}
	stride := n / (2 * k * per)
	owned := func(i int) bool { return i%stride == 0 && i/stride < 2*k*per }
	owner := func(i int) string {
		if owned(i) {
			return fmt.Sprintf("owner-%d", (i/stride)%(2*k))
		}
		return fmt.Sprintf("user-%d", i/5)
	}
	t := sqlstoreOn(e, db, "accounts_owner", "accounts_owner.db")
	if err := t.open(ctx); err != nil {
		return err
	}
	defer t.close()
	defer dropTable(t)
	s := t.st.(sqlstoreAdapter).s
	list := ids("acct", n)
	data := make([]byte, o.prunePayload)
	t0 := time.Now()
	if err := seedOwned(t.sqlDB, s, list, owner, data, time.Now().Add(ttl)); err != nil {
		return err
	}
	logf("accounts: %s on %s seeded %d rows in %v", t.label(), db, n, time.Since(t0).Round(time.Millisecond))
	if err := execAll(ctx, t.sqlDB, settleQueries(db, t)); err != nil {
		r.extraErrs++
		logf("  ERROR accounts: settle %s: %v", db, err)
	}

	d, tbl := storeTable(s)
	now := d.EncodeTime(time.Now().Truncate(time.Millisecond))
	fmt.Fprintf(plans, "Plans on %s, for an owner of %d sessions among %d rows:\n\n", dbTitle[db], per, n)
	for _, q := range []struct {
		what, sql string
		args      []any
	}{
		{"DeleteOwner", d.DeleteOwner(tbl, 0), []any{"owner-0", now}},
		{"Sessions", d.Sessions(tbl), []any{"owner-0", now, d.EncodeTime(epochUTC)}},
	} {
		plan, err := explain(ctx, t.sqlDB, db, q.sql, q.args)
		if err != nil {
			r.extraErrs++
			logf("  ERROR accounts: explain %s on %s: %v", q.what, db, err)
			plan = err.Error()
		}
		fmt.Fprintf(plans, "```\n%s\n%s\n```\n\n", q.sql, plan)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var gets, lists, dels, ratios []float64
	errs := 0
	fail := func(format string, args ...any) {
		errs++
		r.extraErrs++
		logf("  ERROR accounts: %s: "+format, append([]any{db}, args...)...)
	}
	for j := range k {
		who, other := fmt.Sprintf("owner-%d", j), fmt.Sprintf("owner-%d", k+j)
		var round []float64
		for range accountsGets {
			// A session of another user: those of the owners may be ended.
			i := rng.IntN(n)
			for owned(i) {
				i = rng.IntN(n)
			}
			id := list[i]
			start := time.Now()
			_, found, err := s.Get(ctx, id)
			round = append(round, us(time.Since(start)))
			if err != nil || !found {
				fail("Get: found %v, %v", found, err)
			}
		}
		start := time.Now()
		ss, err := s.Sessions(ctx, other)
		lists = append(lists, us(time.Since(start)))
		if err != nil || len(ss) != per {
			fail("Sessions(%s): %d sessions, %v", other, len(ss), err)
		}
		start = time.Now()
		ended, err := s.DeleteOwner(ctx, who)
		dt := us(time.Since(start))
		dels = append(dels, dt)
		if err != nil || ended != int64(per) {
			fail("DeleteOwner(%s): %d ended, %v", who, ended, err)
		}
		gets = append(gets, round...)
		ratios = append(ratios, dt/median(round))
	}
	rg := func(xs []float64) string {
		lo, hi := rangeOf(xs)
		return fmt.Sprintf("%s (%s–%s)", fmtUS(median(xs)), fmtUS(lo), fmtUS(hi))
	}
	lo, hi := rangeOf(ratios)
	fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %.1f (%.1f–%.1f) | %d |\n", dbTitle[db], n, fmtUS(median(gets)), rg(lists), rg(dels), median(ratios), lo, hi, errs)
	logf("accounts: %s DeleteOwner of %d among %d: median %s, ÷ Get %.1f", db, per, n, fmtUS(median(dels)), median(ratios))
	return nil
}

// explain returns the database's plan for q with args: EXPLAIN on
// PostgreSQL and MariaDB, EXPLAIN QUERY PLAN on SQLite; one line per row,
// MariaDB's as column=value pairs.
func explain(ctx context.Context, db *sql.DB, dbName, q string, args []any) (string, error) {
	prefix := "EXPLAIN "
	if dbName == "sqlite" {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.QueryContext(ctx, prefix+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		var parts []string
		for i, v := range vals {
			switch {
			case len(cols) == 1:
				parts = append(parts, v.String)
			case dbName == "sqlite" && cols[i] == "detail":
				parts = append(parts, v.String)
			case dbName == "mysql" && v.Valid:
				parts = append(parts, cols[i]+"="+v.String)
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// dropTable drops a sqlstore target's table once its test is done, to give
// its space and cache back before the next.
func dropTable(t *target) {
	if t.sqlDB != nil && t.st != nil {
		if _, err := t.sqlDB.Exec("DROP TABLE IF EXISTS " + tableOf(t)); err != nil {
			logf("  accounts: dropping %s: %v", tableOf(t), err)
		}
	}
}

// legacyStatements reads the previous release's statements of dialect db
// from ../testdata/legacy (the tool runs in bench/), by name.
func legacyStatements(db string) (map[string]string, error) {
	path := filepath.Join("..", "testdata", "legacy", db+".sql")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the previous release's statements (run the tool in bench/): %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	name := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "-- "):
			name = strings.TrimPrefix(line, "-- ")
			if strings.ContainsAny(name, " ,;") {
				name = "" // a comment of the header
			}
		case strings.TrimSpace(line) != "" && name != "":
			out[name] = strings.TrimSpace(out[name] + "\n" + line)
		}
	}
	for _, want := range []string{"create_table.1", "get", "set"} {
		if out[want] == "" {
			return nil, fmt.Errorf("%s: no statement %q", path, want)
		}
	}
	return out, sc.Err()
}

// createLegacy returns the previous release's CREATE statements, in order.
func createLegacy(stmts map[string]string) []string {
	var out []string
	for i := 1; stmts[fmt.Sprintf("create_table.%d", i)] != ""; i++ {
		out = append(out, stmts[fmt.Sprintf("create_table.%d", i)])
	}
	return out
}

// hashKey is the key the store keeps for id with hashed ids.
func hashKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// upgradeOn builds a table of the previous release's shape on db, fills
// it once in a schema of its own (the template), and then, o.accountsUpgrades
// times, copies it into a new table built with that release's statements,
// runs that release's Get and Set on it from o.accountsReaders goroutines
// and upgrades it with sqlstore.New in the middle; it adds a row per
// upgrade to b, and the medians.
func upgradeOn(ctx context.Context, e *env, o *options, r *report, db string, b *strings.Builder) error {
	legacy, err := legacyStatements(db)
	if err != nil {
		return err
	}
	tmpl, err := e.createSchema(ctx, db, "_upgrade")
	if err != nil {
		return err
	}
	pool, _, err := legacyPool(e, db, tmpl)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := execAll(ctx, pool, createLegacy(legacy)); err != nil {
		return err
	}
	defer execAll(context.Background(), pool, []string{"DROP TABLE IF EXISTS sessions"})
	n := o.accountsRows
	list := ids("upg", n)
	data := make([]byte, o.prunePayload)
	d := dialects[db]
	t0 := time.Now()
	ev := d.EncodeTime(time.Now().Add(ttl).Truncate(time.Millisecond))
	head := legacyInsertHead(legacy["set"])
	if err := bulk(ctx, pool, head, "(?, ?, ?)", db == "postgres", n, func(i int) []any { return []any{hashKey(list[i]), data, ev} }); err != nil {
		return err
	}
	logf("accounts: previous release's table on %s seeded %d rows in %v", db, n, time.Since(t0).Round(time.Millisecond))
	var runs []upgradeResult
	for i := 1; i <= o.accountsUpgrades; i++ {
		u, err := upgradeRun(ctx, e, o, r, db, legacy, tmpl, fmt.Sprintf("_upgrade%d", i), list, data)
		if err != nil {
			return err
		}
		runs = append(runs, u)
		fmt.Fprintf(b, "| %s | %d | %s |\n", dbTitle[db], i, u.row(o))
	}
	if len(runs) > 1 {
		med := func(f func(u upgradeResult) float64) float64 {
			var xs []float64
			for _, u := range runs {
				xs = append(xs, f(u))
			}
			return median(xs)
		}
		fmt.Fprintf(b, "| %s | median | %v | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | |\n", dbTitle[db],
			time.Duration(med(func(u upgradeResult) float64 { return float64(u.took) })).Round(time.Millisecond),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.get[0].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.get[1].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.get[2].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.wr[0].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.wr[1].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.wr[2].quantile(0.99)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.wr[0].quantile(1)) })),
			fmtUS(med(func(u upgradeResult) float64 { return us(u.wr[1].quantile(1)) })),
			fmtOps(med(func(u upgradeResult) float64 { return u.opsPerSec(o, 0) })),
			fmtOps(med(func(u upgradeResult) float64 { return u.opsPerSec(o, 1) })),
			fmtOps(med(func(u upgradeResult) float64 { return u.opsPerSec(o, 2) })))
	}
	return nil
}

// legacyPool opens a pool of db's default driver on schema (MySQL: database).
func legacyPool(e *env, db, schema string) (*sql.DB, string, error) {
	var dsnStr string
	if db == "postgres" {
		dsnStr = e.pgURLFor(schema)
	} else {
		var err error
		if dsnStr, err = e.myDSNFor(schema); err != nil {
			return nil, "", err
		}
	}
	pool, err := e.pool(defaultDriver[db][1], dsnStr)
	return pool, dsnStr, err
}

// upgradeResult is what one upgrade under traffic measured, by phase
// (before, during, after).
type upgradeResult struct {
	took    time.Duration
	ddl     []string
	get, wr [phases]hist
	ops     [phases]int64
	errs    string
}

func (u *upgradeResult) opsPerSec(o *options, phase int) float64 {
	secs := [phases]float64{o.accountsBase.Seconds(), u.took.Seconds(), o.accountsBase.Seconds()}
	return float64(u.ops[phase]) / secs[phase]
}

// row returns the columns of the report's row after the database and run.
func (u *upgradeResult) row(o *options) string {
	p99 := func(h *hist) string { return fmtUS(us(h.quantile(0.99))) }
	mx := func(h *hist) string { return fmtUS(us(h.quantile(1))) }
	return fmt.Sprintf("%v: %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s",
		u.took.Round(time.Millisecond), strings.Join(u.ddl, ", "),
		p99(&u.get[0]), p99(&u.get[1]), p99(&u.get[2]), p99(&u.wr[0]), p99(&u.wr[1]), p99(&u.wr[2]), mx(&u.wr[0]), mx(&u.wr[1]),
		fmtOps(u.opsPerSec(o, 0)), fmtOps(u.opsPerSec(o, 1)), fmtOps(u.opsPerSec(o, 2)), u.errs)
}

// upgradeRun copies the template table of tmpl into a table built with the
// previous release's statements in a new schema, and measures its upgrade
// under that release's traffic.
func upgradeRun(ctx context.Context, e *env, o *options, r *report, db string, legacy map[string]string, tmpl, suffix string, list []string, data []byte) (upgradeResult, error) {
	var u upgradeResult
	schema, err := e.createSchema(ctx, db, suffix)
	if err != nil {
		return u, err
	}
	pool, dsnStr, err := legacyPool(e, db, schema)
	if err != nil {
		return u, err
	}
	defer pool.Close()
	if err := execAll(ctx, pool, createLegacy(legacy)); err != nil {
		return u, err
	}
	defer execAll(context.Background(), pool, []string{"DROP TABLE IF EXISTS sessions"})
	t0 := time.Now()
	settle := []string{"INSERT INTO sessions SELECT * FROM " + tmpl + ".sessions", "CHECKPOINT", "VACUUM ANALYZE sessions"}
	if db == "mysql" {
		settle = []string{"INSERT INTO sessions SELECT * FROM " + tmpl + ".sessions", "ANALYZE TABLE sessions"}
	}
	if err := execAll(ctx, pool, settle); err != nil {
		return u, err
	}
	logf("accounts: previous release's table on %s copied and settled in %v", db, time.Since(t0).Round(time.Millisecond))

	get, err := pool.PrepareContext(ctx, legacy["get"])
	if err != nil {
		return u, err
	}
	defer get.Close()
	set, err := pool.PrepareContext(ctx, legacy["set"])
	if err != nil {
		return u, err
	}
	defer set.Close()
	d := dialects[db]
	enc := func(t time.Time) any { return d.EncodeTime(t.Truncate(time.Millisecond)) }
	n := len(list)
	p := startPhased(ctx, o.accountsReaders, func(ctx context.Context, rng *rand.Rand) (time.Duration, bool, error) {
		key := hashKey(list[rng.IntN(n)])
		if rng.IntN(2) == 0 {
			var got []byte
			start := time.Now()
			err := get.QueryRowContext(ctx, key, enc(time.Now())).Scan(&got)
			return time.Since(start), true, err
		}
		exp := enc(time.Now().Add(ttl))
		start := time.Now()
		_, err := set.ExecContext(ctx, key, data, exp)
		return time.Since(start), false, err
	})

	// The upgrading process's own pool, timing each DDL statement.
	var mu sync.Mutex
	c := &counter{onExec: func(q string, d time.Duration, err error) {
		if !strings.HasPrefix(q, "ALTER") && !strings.HasPrefix(q, "CREATE") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		what := "DDL"
		if strings.Contains(q, " INDEX ") {
			what = "index"
		} else if strings.Contains(q, "ADD COLUMN") {
			what = "columns"
		}
		s := fmt.Sprintf("%s %v", what, d.Round(time.Millisecond))
		if err != nil {
			s += " (" + err.Error() + ")"
		}
		u.ddl = append(u.ddl, s)
	}}
	upPool, err := countingDB(defaultDriver[db][1], dsnStr, c)
	if err != nil {
		p.stop()
		return u, err
	}
	defer upPool.Close()

	sleepCtx(ctx, o.accountsBase)
	p.phase.Store(1)
	t0 = time.Now()
	s, upErr := sqlstore.New(ctx, upPool, sqlstore.WithDialect(d), sqlstore.WithPruneInterval(0))
	u.took = time.Since(t0)
	p.phase.Store(2)
	sleepCtx(ctx, o.accountsBase)
	var errs int64
	var ferr error
	u.get, u.wr, u.ops, errs, ferr = p.stop()
	u.errs = fmt.Sprint(errs)
	if errs > 0 {
		r.extraErrs++
		u.errs = fmt.Sprintf("%d (%s)", errs, trunc(ferr.Error(), 80))
		logf("  ERROR accounts: traffic during the upgrade on %s: %d errors, first: %v", db, errs, ferr)
	}
	if upErr != nil {
		r.extraErrs++
		u.errs += "; New: " + trunc(upErr.Error(), 120)
		logf("  ERROR accounts: upgrade on %s: %v", db, upErr)
	} else {
		defer s.Close()
		// The upgraded table serves the new release: a session the previous
		// one wrote is found, and New says it upgraded the table.
		_, found, err := s.Get(ctx, list[0])
		if what := hook.DDL(s); what != "upgraded" || err != nil || !found {
			r.extraErrs++
			u.errs += fmt.Sprintf("; after: New did %q, Get found %v, %v", what, found, err)
			logf("  ERROR accounts: after the upgrade on %s: New did %q, Get found %v, %v", db, what, found, err)
		}
	}
	logf("accounts: upgrade on %s took %v (%s); write p99 %v -> %v", db, u.took.Round(time.Millisecond), strings.Join(u.ddl, ", "),
		u.wr[0].quantile(0.99), u.wr[1].quantile(0.99))
	return u, ctx.Err()
}

// legacyInsertHead returns the "INSERT INTO table (columns)" of the
// previous release's upsert, for a bulk insert.
func legacyInsertHead(upsert string) string {
	if i := strings.Index(upsert, " VALUES"); i > 0 {
		return upsert[:i]
	}
	return upsert
}
