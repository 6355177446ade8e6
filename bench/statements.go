package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/pgxnative"
)

// The statements test (-statements) runs Get's statement with no store
// around it, through one pgx pool, always with context.Background() (as
// scs's stores run): scs pgxstore's statement on its table, sqlstore's on
// sqlstore's table, and variants between the two. Each variant changes one
// thing, so that a gap between pgxnative and pgxstore that one of them
// closes is the gap of that thing: hashed ids, the bind values of sqlstore's
// checks, the key's column type, or pgx's type layer (bypassed through
// pgconn, with the values encoded by hand).

// stmtVariant is one way of running a Get.
type stmtVariant struct {
	name string
	get  func(ctx context.Context, id string) (bool, error)
}

// getOnly is a store that can only Get, always with context.Background().
type getOnly struct {
	get func(ctx context.Context, id string) (bool, error)
}

var errGetOnly = errors.New("statements test: Get only")

func (g getOnly) Get(_ context.Context, id string) (bool, error) {
	return g.get(context.Background(), id)
}
func (getOnly) Set(context.Context, string, []byte, time.Time) error   { return errGetOnly }
func (getOnly) Touch(context.Context, string, []byte, time.Time) error { return errGetOnly }
func (getOnly) Delete(context.Context, string) error                   { return errGetOnly }

// pgxFound turns the error of a pgx QueryRow's Scan into Get's answer.
func pgxFound(err error) (bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// pgEpoch is the zero of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// statementsTest runs the statements test on PostgreSQL, in the run's
// schema (dropped with it), and adds its section to r.
func statementsTest(ctx context.Context, e *env, o *options, ks *keyset, r *report) error {
	pool, err := e.pgxPool(ctx, e.pgSchema(""))
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()

	// sqlstore's table, made by sqlstore; the bytea variant is a copy of it
	// whose key column holds the 32 bytes of the hash instead of their hex.
	s, err := pgxnative.New(ctx, pool, sqlstore.WithTable("stmt_sqlstore"), sqlstore.WithPruneInterval(0))
	if err != nil {
		return fmt.Errorf("statements: %w", err)
	}
	d, t := storeTable(s)
	if err := s.Close(); err != nil {
		return err
	}
	tb := t
	tb.Name = d.QuoteIdent("stmt_bytea")
	ddl := []string{
		`CREATE TABLE stmt_bytea (LIKE stmt_sqlstore INCLUDING ALL)`,
		fmt.Sprintf(`ALTER TABLE stmt_bytea ALTER COLUMN %s TYPE bytea USING decode(%[1]s::text, 'hex')`, t.ID),
	}
	for _, name := range []string{"stmt_scs", "stmt_scs_hashed"} {
		for _, q := range scsSchema["postgres"] {
			ddl = append(ddl, strings.ReplaceAll(q, "sessions", name))
		}
	}
	if err := execAll(ctx, db, ddl); err != nil {
		return fmt.Errorf("statements: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	exp := now.Add(ttl)
	scsCols := "(token, data, expiry)"
	ourCols := fmt.Sprintf("(%s, %s, %s, %s, %s)", t.ID, t.Data, t.Expiry, t.Created, t.Updated)
	seed := []struct {
		qualified, cols string
		key             func(string) any
	}{
		{"stmt_scs", scsCols, func(id string) any { return id }},
		{"stmt_scs_hashed", scsCols, func(id string) any { return hashKey(id) }},
		{t.Qualified(), ourCols, func(id string) any { return hashKey(id) }},
		{tb.Qualified(), ourCols, func(id string) any { sum := sha256.Sum256([]byte(id)); return sum[:] }},
	}
	for _, sd := range seed {
		// scs's rows are (key, data, expiry); sqlstore's add created and
		// updated, as Set writes them.
		n := strings.Count(sd.cols, ",") + 1
		row := strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
		err := bulk(ctx, db, "INSERT INTO "+sd.qualified+" "+sd.cols, "("+row+")", true, len(ks.hit), func(i int) []any {
			return []any{sd.key(ks.hit[i]), ks.data, exp, now, now}[:n]
		})
		if err != nil {
			return fmt.Errorf("statements: seeding %s: %w", sd.qualified, err)
		}
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE "+sd.qualified); err != nil {
			return err
		}
	}

	clock := func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
	scsGet := func(table string, key func(string) string) func(context.Context, string) (bool, error) {
		q := fmt.Sprintf(`SELECT data FROM %s WHERE token = $1 AND current_timestamp < expiry`, table)
		return func(ctx context.Context, id string) (bool, error) {
			var data []byte
			return pgxFound(pool.QueryRow(ctx, q, key(id)).Scan(&data))
		}
	}
	getSQL, getBytea := d.Get(t), d.Get(tb)
	noAbsolute := fmt.Sprintf(`SELECT %s FROM %s WHERE %s = $1 AND %s > $2 AND NOT %s`, t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended)
	variants := []stmtVariant{
		{"scs pgxstore's statement and table (ids as given)", scsGet("stmt_scs", func(id string) string { return id })},
		{"the same, hashed ids (sqlstore's key)", scsGet("stmt_scs_hashed", hashKey)},
		{"sqlstore's statement and table", func(ctx context.Context, id string) (bool, error) {
			var data []byte
			return pgxFound(pool.QueryRow(ctx, getSQL, hashKey(id), clock(), epochUTC).Scan(&data))
		}},
		{"sqlstore's, without the absolute-timeout check", func(ctx context.Context, id string) (bool, error) {
			var data []byte
			return pgxFound(pool.QueryRow(ctx, noAbsolute, hashKey(id), clock()).Scan(&data))
		}},
		{"sqlstore's, key column bytea (32 bytes)", func(ctx context.Context, id string) (bool, error) {
			var data []byte
			sum := sha256.Sum256([]byte(id))
			return pgxFound(pool.QueryRow(ctx, getBytea, sum[:], clock(), epochUTC).Scan(&data))
		}},
		{"sqlstore's, through pgconn (no pgx type layer)", pgconnGet(pool, getSQL, clock)},
	}
	targets := make([]*target, len(variants))
	for i, v := range variants {
		targets[i] = &target{name: v.name, db: "postgres", driver: "pgxpool", st: getOnly{v.get}}
	}
	res := make([]map[string][]*cell, len(variants))
	for i := range res {
		res[i] = map[string][]*cell{}
	}
	wls := []string{wlGetHit, wlGetMiss}
	for rep := 0; rep < o.repeats; rep++ {
		for _, wl := range wls {
			for _, c := range o.concs {
				for j := range targets {
					i := (j + rep) % len(targets)
					cl := runCell(ctx, targets[i], ks, wl, c, o.warmup, o.duration)
					if cl.errs > 0 {
						r.extraErrs++
						logf("  ERROR statements %s %s c=%d: %s", variants[i].name, wl, c, cl.firstErr)
					}
					res[i][cellKey(wl, c)] = append(res[i][cellKey(wl, c)], cl)
				}
			}
		}
		logf("statements: rep %d/%d done", rep+1, o.repeats)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Get's statement alone, over pgx's pool\n\nGet's statement with no store around it, through one pgx pool of %d connections, with context.Background() (as scs's stores run), on tables of %d rows of %d B: scs pgxstore's statement on its table against sqlstore's on sqlstore's, and variants that each change one thing. %v per cell after %v warm-up, medians of %d interleaved repeats; the ratio is to the first row's ops/s in the same repeat (median, lowest–highest).\n\n",
		o.conns, len(ks.hit), len(ks.data), o.duration, o.warmup, o.repeats)
	b.WriteString("| workload | conc | statement | ops/s | p50 | allocs/op | × scs pgxstore's |\n|---|--:|---|--:|--:|--:|--:|\n")
	for _, wl := range wls {
		for _, c := range o.concs {
			base := res[0][cellKey(wl, c)]
			for i, v := range variants {
				cs := res[i][cellKey(wl, c)]
				st := summarize(cs)
				x := "–"
				if i > 0 {
					rs := perRepeat(cs, func(k int) float64 { return opsAt(base, k) })
					lo, hi := rangeOf(rs)
					x = fmt.Sprintf("%.2f (%.2f–%.2f)", median(rs), lo, hi)
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.1f | %s |\n", wl, c, v.name, fmtOps(st.ops), fmtUS(st.p50), st.allocs, x)
			}
		}
	}
	r.extra = append(r.extra, b.String())
	return nil
}

// pgconnGet runs query, sqlstore's Get, as a statement prepared on each
// connection, with its values encoded by hand: the key as text, the two
// times as PostgreSQL's binary timestamps.
func pgconnGet(pool *pgxpool.Pool, query string, clock func() time.Time) func(context.Context, string) (bool, error) {
	formats, results := []int16{0, 1, 1}, []int16{1}
	const name = "sqlstore_bench_get"
	return func(ctx context.Context, id string) (bool, error) {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return false, err
		}
		defer c.Release()
		sd, err := c.Conn().Prepare(ctx, name, query)
		if err != nil {
			return false, err
		}
		var key [64]byte
		var now, cut [8]byte
		sum := sha256.Sum256([]byte(id))
		hex.Encode(key[:], sum[:])
		binary.BigEndian.PutUint64(now[:], uint64(clock().Sub(pgEpoch).Microseconds()))
		binary.BigEndian.PutUint64(cut[:], uint64(epochUTC.Sub(pgEpoch).Microseconds()))
		rr := c.Conn().PgConn().ExecStatement(ctx, sd, [][]byte{key[:], now[:], cut[:]}, formats, results)
		hit := false
		for rr.NextRow() {
			hit = len(rr.Values()) == 1
		}
		_, err = rr.Close()
		return hit && err == nil, err
	}
}
