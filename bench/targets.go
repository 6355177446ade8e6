package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	fibermysql "github.com/gofiber/storage/mysql/v2"
	fiberpg "github.com/gofiber/storage/postgres/v3"
	fibersqlite "github.com/gofiber/storage/sqlite3/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	"github.com/jackc/pgx/v5/stdlib"   // also registers "pgx"
	_ "github.com/lib/pq"              // registers "postgres"
	_ "github.com/mattn/go-sqlite3"    // registers "sqlite3" (cgo)
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/hook"
	"github.com/go-sqlstore/sqlstore/pgxnative"
)

// store is what every contender does, in the terms of a session store.
// Touch gets the session's data because peers without a touch operation
// rewrite the whole row to move its expiry (scs re-commits; gofiber sets).
type store interface {
	Get(ctx context.Context, id string) (found bool, err error)
	Set(ctx context.Context, id string, data []byte, exp time.Time) error
	Touch(ctx context.Context, id string, data []byte, exp time.Time) error
	Delete(ctx context.Context, id string) error
}

// Kinds of contender.
const (
	kindSQLStore = "sqlstore"
	kindPeer     = "peer"
	kindFloor    = "floor"
	// kindVariant is sqlstore in a configuration it does not ship (such as
	// a table without the expiry index), shown for reference and left out
	// of the target check.
	kindVariant = "variant"
)

// target is one contender on one database: how to open it, fill its table
// and close it.
type target struct {
	name   string // e.g. "sqlstore", "scs postgresstore"
	db     string // "postgres", "mysql", "sqlite"
	driver string // "lib/pq", "pgx stdlib", "pgxpool", "go-sql-driver/mysql", "modernc", "mattn"
	kind   string
	native bool // over a driver's own pool, not database/sql

	st    store
	seed  func(ctx context.Context, ids []string, data []byte, exp time.Time) error
	close func() error

	// prune support (the stores whose sweep is compared)
	prune func(ctx context.Context) (int64, error)
	// sqlDB is the database/sql pool of a sqlstore target (scale test).
	sqlDB *sql.DB

	open func(ctx context.Context) error
	// trim closes the pool's idle connections after a cell, so that the
	// stores waiting their turn hold none (PostgreSQL allows 100).
	trim func()

	insNext atomic.Int64 // next insKey that set-insert adds
	delNext atomic.Int64 // next insKey that delete removes
	maxRate float64      // fastest set-insert or delete so far, ops/s
}

func (t *target) label() string { return t.name + " (" + t.driver + ")" }

// env holds the databases of one run and the names it creates.
type env struct {
	pgURL, myURL string
	dir          string // SQLite files
	id           string // run suffix of every schema and database
	conns        int
	pgAdmin      *sql.DB
	myAdmin      *sql.DB
	cleanups     []func() error
}

func (e *env) pgSchema(suffix string) string { return "sqlstore_bench_" + e.id + suffix }

// pgURLFor returns the PostgreSQL URL with search_path set to schema.
func (e *env) pgURLFor(schema string) string {
	u, _ := url.Parse(e.pgURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// myDSNFor returns go-sql-driver's DSN for database db.
func (e *env) myDSNFor(db string) (string, error) {
	u, err := url.Parse(e.myURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + db
	return dsn.MySQL(u.String())
}

func (e *env) sqliteDSN(driverName, file string) string {
	return dsn.SQLite(driverName, "sqlite:"+filepath.Join(e.dir, file))
}

func (e *env) pool(driverName, dsnStr string) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsnStr)
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(e.conns)
	if driverName != "sqlite" && driverName != "sqlite3" {
		// SQLite's pools keep no limit, as sql.Open and sqlstore.Open
		// leave them; with at most -conns goroutines, no store opens more.
		db.SetMaxOpenConns(e.conns)
	}
	return db, nil
}

// trimDB returns a trim for a database/sql pool.
func (e *env) trimDB(db *sql.DB) func() {
	return func() {
		db.SetMaxIdleConns(0)
		db.SetMaxIdleConns(e.conns)
	}
}

func (e *env) pgxPool(ctx context.Context, schema string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(e.pgURLFor(schema))
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(e.conns)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// setup creates the schemas and databases of the run.
func (e *env) setup(ctx context.Context, dbs map[string]bool) error {
	if dbs["postgres"] {
		db, err := sql.Open("postgres", e.pgURL)
		if err != nil {
			return err
		}
		e.pgAdmin = db
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		for _, s := range []string{"", "_scs_pq", "_scs_pgx"} {
			if _, err := e.createSchema(ctx, "postgres", s); err != nil {
				return err
			}
		}
	}
	if dbs["mysql"] {
		d, err := dsn.MySQL(e.myURL)
		if err != nil {
			return err
		}
		db, err := sql.Open("mysql", d)
		if err != nil {
			return err
		}
		e.myAdmin = db
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("mysql: %w", err)
		}
		for _, s := range []string{"", "_scs"} {
			if _, err := e.createSchema(ctx, "mysql", s); err != nil {
				return err
			}
		}
	}
	return nil
}

// createSchema creates the PostgreSQL schema or MySQL database of the run
// with suffix, dropped by teardown, and returns its name.
func (e *env) createSchema(ctx context.Context, dbName, suffix string) (string, error) {
	name := e.pgSchema(suffix)
	admin, create, drop := e.pgAdmin, "CREATE SCHEMA ", "DROP SCHEMA IF EXISTS %s CASCADE"
	if dbName == "mysql" {
		admin, create, drop = e.myAdmin, "CREATE DATABASE ", "DROP DATABASE IF EXISTS %s"
	}
	if _, err := admin.ExecContext(ctx, create+name); err != nil {
		return "", fmt.Errorf("%s: %w", dbName, err)
	}
	e.cleanups = append(e.cleanups, func() error {
		_, err := admin.Exec(fmt.Sprintf(drop, name))
		return err
	})
	return name, nil
}

// teardown drops what setup created.
func (e *env) teardown() error {
	var errs []error
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, e.cleanups[i]())
	}
	for _, db := range []*sql.DB{e.pgAdmin, e.myAdmin} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// bulk inserts rows in multi-row INSERTs of up to 500 rows, 20 INSERTs per
// transaction. rowSQL is the VALUES tuple with ? placeholders; dollar turns
// them into $n.
func bulk(ctx context.Context, db *sql.DB, head, rowSQL string, dollar bool, n int, row func(i int) []any) error {
	const batch, perTx = 500, 20
	for txStart := 0; txStart < n; txStart += batch * perTx {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for start := txStart; start < min(txStart+batch*perTx, n); start += batch {
			end := min(start+batch, n)
			var b strings.Builder
			b.WriteString(head)
			b.WriteString(" VALUES ")
			args := make([]any, 0, (end-start)*3)
			for i := start; i < end; i++ {
				if i > start {
					b.WriteString(", ")
				}
				tuple := rowSQL
				if dollar {
					var tb strings.Builder
					k := len(args)
					for _, c := range rowSQL {
						if c == '?' {
							k++
							fmt.Fprintf(&tb, "$%d", k)
							continue
						}
						tb.WriteRune(c)
					}
					tuple = tb.String()
				}
				b.WriteString(tuple)
				args = append(args, row(i)...)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// ids returns n session ids shaped as scs makes them: 43 characters of
// unpadded URL-safe base64 of 32 bytes.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s-%d", prefix, i))
		out[i] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return out
}

// ---- sqlstore ----

type sqlstoreAdapter struct{ s *sqlstore.Store }

func (a sqlstoreAdapter) Get(ctx context.Context, id string) (bool, error) {
	_, found, err := a.s.Get(ctx, id)
	return found, err
}
func (a sqlstoreAdapter) Set(ctx context.Context, id string, data []byte, exp time.Time) error {
	return a.s.Set(ctx, id, data, exp)
}
func (a sqlstoreAdapter) Touch(ctx context.Context, id string, _ []byte, exp time.Time) error {
	return a.s.Touch(ctx, id, exp)
}
func (a sqlstoreAdapter) Delete(ctx context.Context, id string) error { return a.s.Delete(ctx, id) }

// dialects maps a dialect's name to the dialect.
var dialects = map[string]sqlstore.Dialect{"postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite}

// benchTable returns the quoted names of a sqlstore table with the default
// columns (hashed ids), as the store's own SQL names them; schema "" is the
// connection's default.
func benchTable(d sqlstore.Dialect, schema, table string) sqlstore.Table {
	t := sqlstore.Table{Name: d.QuoteIdent(table), Index: d.QuoteIdent(table + "_expiry_idx"), OwnerIndex: d.QuoteIdent(table + "_owner_idx"),
		ID: d.QuoteIdent(defaults.IDColumn), Data: d.QuoteIdent(defaults.DataColumn), Expiry: d.QuoteIdent(defaults.ExpiryColumn),
		Owner: d.QuoteIdent(defaults.OwnerColumn), Created: d.QuoteIdent(defaults.CreatedColumn), Updated: d.QuoteIdent(defaults.UpdatedColumn),
		Ended: d.QuoteIdent(defaults.EndedColumn), HashedIDs: true}
	if schema != "" {
		t.Schema = d.QuoteIdent(schema)
	}
	return t
}

// storeTable returns the dialect and the table of a sqlstore Store.
func storeTable(s *sqlstore.Store) (sqlstore.Dialect, sqlstore.Table) {
	i := hook.Describe(s)
	d := dialects[i.Dialect]
	return d, benchTable(d, i.Schema, i.Table)
}

// seedRows inserts a row for each of ids (its key as key returns it; nil:
// the id itself) into table, named qualified, through db: data, expiring at
// exp, created and updated at now, as Set writes a session. dollar numbers
// the bind markers as PostgreSQL does.
func seedRows(ctx context.Context, db *sql.DB, qualified string, tbl sqlstore.Table, dollar bool, ids []string, key func(string) string, data []byte, exp, now any) error {
	head := fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s, %s)", qualified, tbl.ID, tbl.Data, tbl.Expiry, tbl.Created, tbl.Updated)
	return bulk(ctx, db, head, "(?, ?, ?, ?, ?)", dollar, len(ids), func(i int) []any {
		id := ids[i]
		if key != nil {
			id = key(id)
		}
		return []any{id, data, exp, now, now}
	})
}

// seedSQLStore fills a sqlstore table through its own key and time
// encodings.
func seedSQLStore(db *sql.DB, s *sqlstore.Store) func(context.Context, []string, []byte, time.Time) error {
	return func(ctx context.Context, ids []string, data []byte, exp time.Time) error {
		d, t := storeTable(s)
		enc := func(t time.Time) any { return d.EncodeTime(t.Truncate(time.Millisecond)) }
		return seedRows(ctx, db, t.Qualified(), t, d.Name() == "postgres", ids, s.Key, data, enc(exp), enc(time.Now()))
	}
}

func newSQLStoreTarget(e *env, dbName, driverLabel, driverName, dsnStr, table string, opts ...sqlstore.Option) *target {
	return newSQLStoreTargetDDL(e, "sqlstore", dbName, driverLabel, driverName, dsnStr, table, nil, opts...)
}

// newSQLStoreTargetDDL is newSQLStoreTarget under another name, creating
// the table itself with ddl first (New runs no DDL on an existing table). A
// target named other than "sqlstore" is sqlstore as it does not ship (a
// table it would not make, options it does not default to): a reference
// variant (kindVariant), kept out of the target check.
func newSQLStoreTargetDDL(e *env, name, dbName, driverLabel, driverName, dsnStr, table string, ddl []string, opts ...sqlstore.Option) *target {
	t := &target{name: name, db: dbName, driver: driverLabel, kind: kindSQLStore}
	if name != "sqlstore" {
		t.kind = kindVariant
	}
	t.open = func(ctx context.Context) error {
		db, err := e.pool(driverName, dsnStr)
		if err != nil {
			return err
		}
		if err := execAll(ctx, db, ddl); err != nil {
			db.Close()
			return err
		}
		s, err := sqlstore.New(ctx, db, append([]sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}, opts...)...)
		if err != nil {
			db.Close()
			return err
		}
		t.st = sqlstoreAdapter{s}
		t.trim = e.trimDB(db)
		t.seed = seedSQLStore(db, s)
		t.prune = s.Prune
		t.sqlDB = db
		t.close = func() error { return errors.Join(s.Close(), db.Close()) }
		return nil
	}
	return t
}

// newSQLStorePgxTarget is sqlstore over pgx's own pool (package pgxnative):
// the requests go through pgxpool, the rest through database/sql over it.
func newSQLStorePgxTarget(e *env, schema, table string) *target {
	t := &target{name: "sqlstore", db: "postgres", driver: "pgxpool", kind: kindSQLStore, native: true}
	t.open = func(ctx context.Context) error {
		p, err := e.pgxPool(ctx, schema)
		if err != nil {
			return err
		}
		s, err := pgxnative.New(ctx, p, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
		if err != nil {
			p.Close()
			return err
		}
		db := stdlib.OpenDBFromPool(p)
		t.st = sqlstoreAdapter{s}
		t.trim = p.Reset
		t.seed = seedSQLStore(db, s)
		t.prune = s.Prune
		t.sqlDB = db
		t.close = func() error { err := errors.Join(s.Close(), db.Close()); p.Close(); return err }
		return nil
	}
	return t
}

// ---- floor: one prepared statement per operation, sqlstore's schema ----

type floorSQL struct {
	get, set, touch, del *sql.Stmt
	enc                  func(time.Time) any
	epoch                any // the cutoff of a store without an absolute timeout
}

func (f *floorSQL) Get(ctx context.Context, id string) (bool, error) {
	var data []byte
	err := f.get.QueryRowContext(ctx, id, f.enc(time.Now()), f.epoch).Scan(&data)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}
func (f *floorSQL) Set(ctx context.Context, id string, data []byte, exp time.Time) error {
	now := f.enc(time.Now())
	_, err := f.set.ExecContext(ctx, id, data, f.enc(exp), nil, now, now, false)
	return err
}
func (f *floorSQL) Touch(ctx context.Context, id string, _ []byte, exp time.Time) error {
	now, e := f.enc(time.Now()), f.enc(exp)
	_, err := f.touch.ExecContext(ctx, e, now, id, now, e, e, f.epoch)
	return err
}
func (f *floorSQL) Delete(ctx context.Context, id string) error {
	_, err := f.del.ExecContext(ctx, id)
	return err
}

// floorQueries returns sqlstore's own SQL for table (ids stored as given):
// its table with the owner, created, updated and ended columns, and the
// statements of Get, Set (the upsert that keeps the owner and refuses an
// ended row), Touch and Delete (marking the row ended). The floor binds the
// same values, except that its Touch window is a single instant, so that
// every Touch writes.
func floorQueries(d sqlstore.Dialect, table string) (tbl sqlstore.Table, create []string, get, set, touch, del string, err error) {
	tbl = benchTable(d, "", table)
	create, err = sqlstore.CreateTableSQL(d, sqlstore.WithTable(table))
	if err != nil {
		return
	}
	return tbl, create, d.Get(tbl), d.Set(tbl), d.Touch(tbl), d.Delete(tbl), nil
}

func newFloorTarget(e *env, dbName, driverLabel, driverName, dsnStr, table string, d sqlstore.Dialect) *target {
	t := &target{name: "floor", db: dbName, driver: driverLabel, kind: kindFloor}
	t.open = func(ctx context.Context) error {
		tbl, create, qg, qs, qt, qd, err := floorQueries(d, table)
		if err != nil {
			return err
		}
		db, err := e.pool(driverName, dsnStr)
		if err != nil {
			return err
		}
		if err := execAll(ctx, db, create); err != nil {
			db.Close()
			return fmt.Errorf("floor: %w", err)
		}
		f := &floorSQL{enc: func(t time.Time) any { return d.EncodeTime(t.Truncate(time.Millisecond)) }, epoch: d.EncodeTime(time.Unix(0, 0).UTC())}
		for _, p := range []struct {
			st **sql.Stmt
			q  string
		}{{&f.get, qg}, {&f.set, qs}, {&f.touch, qt}, {&f.del, qd}} {
			if *p.st, err = db.PrepareContext(ctx, p.q); err != nil {
				db.Close()
				return fmt.Errorf("floor: prepare %s: %w", p.q, err)
			}
		}
		t.st = f
		t.trim = e.trimDB(db)
		t.seed = func(ctx context.Context, ids []string, data []byte, exp time.Time) error {
			return seedRows(ctx, db, tbl.Name, tbl, d.Name() == "postgres", ids, nil, data, f.enc(exp), f.enc(time.Now()))
		}
		t.close = func() error {
			for _, s := range []*sql.Stmt{f.get, f.set, f.touch, f.del} {
				s.Close()
			}
			return db.Close()
		}
		return nil
	}
	return t
}

// floorPgx is the floor over pgx's own pool: pgx prepares and caches each
// statement per connection by itself.
type floorPgx struct {
	p                    *pgxpool.Pool
	get, set, touch, del string
}

// epochUTC is the cutoff of a store without an absolute timeout.
var epochUTC = time.Unix(0, 0).UTC()

func (f *floorPgx) Get(ctx context.Context, id string) (bool, error) {
	var data []byte
	return pgxFound(f.p.QueryRow(ctx, f.get, id, time.Now().Truncate(time.Millisecond), epochUTC).Scan(&data))
}
func (f *floorPgx) Set(ctx context.Context, id string, data []byte, exp time.Time) error {
	now := time.Now().Truncate(time.Millisecond)
	_, err := f.p.Exec(ctx, f.set, id, data, exp.Truncate(time.Millisecond), nil, now, now, false)
	return err
}
func (f *floorPgx) Touch(ctx context.Context, id string, _ []byte, exp time.Time) error {
	now, e := time.Now().Truncate(time.Millisecond), exp.Truncate(time.Millisecond)
	_, err := f.p.Exec(ctx, f.touch, e, now, id, now, e, e, epochUTC)
	return err
}
func (f *floorPgx) Delete(ctx context.Context, id string) error {
	_, err := f.p.Exec(ctx, f.del, id)
	return err
}

func newFloorPgxTarget(e *env, schema, table string) *target {
	t := &target{name: "floor", db: "postgres", driver: "pgxpool", kind: kindFloor, native: true}
	t.open = func(ctx context.Context) error {
		tbl, create, qg, qs, qt, qd, err := floorQueries(sqlstore.Postgres, table)
		if err != nil {
			return err
		}
		p, err := e.pgxPool(ctx, schema)
		if err != nil {
			return err
		}
		for _, q := range create {
			if _, err := p.Exec(ctx, q); err != nil {
				p.Close()
				return err
			}
		}
		t.st = &floorPgx{p: p, get: qg, set: qs, touch: qt, del: qd}
		t.trim = p.Reset
		t.seed = func(ctx context.Context, ids []string, data []byte, exp time.Time) error {
			return seedRows(ctx, e.pgAdmin, schema+"."+tbl.Name, tbl, true, ids, nil, data,
				exp.Truncate(time.Millisecond), time.Now().Truncate(time.Millisecond))
		}
		t.close = func() error { p.Close(); return nil }
		return nil
	}
	return t
}

// ---- scs stores ----

// scsStore is the store interface of scs v2 (Find, Commit, Delete).
type scsStore interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
}

type scsAdapter struct{ s scsStore }

func (a scsAdapter) Get(_ context.Context, id string) (bool, error) {
	_, found, err := a.s.Find(id)
	return found, err
}
func (a scsAdapter) Set(_ context.Context, id string, data []byte, exp time.Time) error {
	return a.s.Commit(id, data, exp)
}
func (a scsAdapter) Touch(_ context.Context, id string, data []byte, exp time.Time) error {
	return a.s.Commit(id, data, exp)
}
func (a scsAdapter) Delete(_ context.Context, id string) error { return a.s.Delete(id) }

// scsSchema is the schema of scs's READMEs, table "sessions".
var scsSchema = map[string][]string{
	"postgres": {`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`},
	"mysql": {`CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`},
	"sqlite": {`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions(expiry)`},
}

// scsCleanup is the single statement each scs store's cleanup runs.
var scsCleanup = map[string]string{
	"postgres": `DELETE FROM sessions WHERE expiry < current_timestamp`,
	"mysql":    `DELETE FROM sessions WHERE expiry < UTC_TIMESTAMP(6)`,
	"sqlite":   `DELETE FROM sessions WHERE expiry < julianday('now')`,
}

// scsSeed fills scs's table as its Commit writes it.
func scsSeed(db *sql.DB, dbName string) func(context.Context, []string, []byte, time.Time) error {
	return func(ctx context.Context, ids []string, data []byte, exp time.Time) error {
		head := "INSERT INTO sessions (token, data, expiry)"
		switch dbName {
		case "sqlite":
			ev := exp.UTC().Format("2006-01-02T15:04:05.999")
			return bulk(ctx, db, head, "(?, ?, julianday(?))", false, len(ids), func(i int) []any { return []any{ids[i], data, ev} })
		case "mysql":
			ev := exp.UTC()
			return bulk(ctx, db, head, "(?, ?, ?)", false, len(ids), func(i int) []any { return []any{ids[i], data, ev} })
		}
		return bulk(ctx, db, head, "(?, ?, ?)", true, len(ids), func(i int) []any { return []any{ids[i], data, exp} })
	}
}

func newSCSTarget(e *env, dbName, name, driverLabel, driverName, dsnStr string) *target {
	t := &target{name: name, db: dbName, driver: driverLabel, kind: kindPeer}
	t.open = func(ctx context.Context) error {
		db, err := e.pool(driverName, dsnStr)
		if err != nil {
			return err
		}
		if err := execAll(ctx, db, scsSchema[dbName]); err != nil {
			db.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		var s scsStore
		switch dbName {
		case "postgres":
			s = postgresstore.NewWithCleanupInterval(db, 0)
		case "mysql":
			s = mysqlstore.NewWithCleanupInterval(db, 0)
		case "sqlite":
			s = sqlite3store.NewWithConfig(db, sqlite3store.Config{CleanUpInterval: 0})
		}
		t.st = scsAdapter{s}
		t.trim = e.trimDB(db)
		t.seed = scsSeed(db, dbName)
		t.prune = func(ctx context.Context) (int64, error) {
			res, err := db.ExecContext(ctx, scsCleanup[dbName])
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}
		t.close = db.Close
		return nil
	}
	return t
}

func newSCSPgxTarget(e *env, schema string) *target {
	t := &target{name: "scs pgxstore", db: "postgres", driver: "pgxpool", kind: kindPeer, native: true}
	t.open = func(ctx context.Context) error {
		p, err := e.pgxPool(ctx, schema)
		if err != nil {
			return err
		}
		for _, q := range scsSchema["postgres"] {
			if _, err := p.Exec(ctx, q); err != nil {
				p.Close()
				return err
			}
		}
		t.st = scsAdapter{pgxstore.NewWithCleanupInterval(p, 0)}
		t.trim = p.Reset
		db, err := e.pool("postgres", e.pgURLFor(schema))
		if err != nil {
			p.Close()
			return err
		}
		t.seed = scsSeed(db, "postgres")
		t.close = func() error { p.Close(); return db.Close() }
		return nil
	}
	return t
}

// ---- gofiber storage ----

// fiberStorage is gofiber's storage interface, with contexts.
type fiberStorage interface {
	GetWithContext(ctx context.Context, key string) ([]byte, error)
	SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
	DeleteWithContext(ctx context.Context, key string) error
	Close() error
}

type fiberAdapter struct{ s fiberStorage }

func (a fiberAdapter) Get(ctx context.Context, id string) (bool, error) {
	v, err := a.s.GetWithContext(ctx, id)
	return v != nil, err
}
func (a fiberAdapter) Set(ctx context.Context, id string, data []byte, exp time.Time) error {
	return a.s.SetWithContext(ctx, id, data, time.Until(exp))
}
func (a fiberAdapter) Touch(ctx context.Context, id string, data []byte, exp time.Time) error {
	return a.s.SetWithContext(ctx, id, data, time.Until(exp))
}
func (a fiberAdapter) Delete(ctx context.Context, id string) error {
	return a.s.DeleteWithContext(ctx, id)
}

// fiberGCOff is the GC interval given to gofiber: long enough never to run
// during a measurement (pruning is measured apart).
const fiberGCOff = 24 * time.Hour

func fiberSeed(db *sql.DB, table string, dollar bool) func(context.Context, []string, []byte, time.Time) error {
	return func(ctx context.Context, ids []string, data []byte, exp time.Time) error {
		ev := exp.Unix()
		return bulk(ctx, db, "INSERT INTO "+table+" (k, v, e)", "(?, ?, ?)", dollar, len(ids), func(i int) []any { return []any{ids[i], data, ev} })
	}
}

func newFiberTargets(e *env, dbs map[string]bool) []*target {
	var out []*target
	if dbs["postgres"] {
		schema := e.pgSchema("")
		t := &target{name: "gofiber postgres", db: "postgres", driver: "pgxpool", kind: kindPeer, native: true}
		t.open = func(ctx context.Context) error {
			p, err := e.pgxPool(ctx, schema)
			if err != nil {
				return err
			}
			s := fiberpg.New(fiberpg.Config{DB: p, Table: schema + ".fiber_storage", GCInterval: fiberGCOff})
			t.st = fiberAdapter{s}
			t.trim = p.Reset
			t.seed = fiberSeed(e.pgAdmin, schema+".fiber_storage", true)
			t.close = s.Close
			return nil
		}
		out = append(out, t)
	}
	if dbs["mysql"] {
		t := &target{name: "gofiber mysql", db: "mysql", driver: "go-sql-driver/mysql", kind: kindPeer}
		t.open = func(ctx context.Context) error {
			d, err := e.myDSNFor(e.pgSchema(""))
			if err != nil {
				return err
			}
			db, err := e.pool("mysql", d)
			if err != nil {
				return err
			}
			s := fibermysql.New(fibermysql.Config{Db: db, Table: "fiber_storage", GCInterval: fiberGCOff})
			t.st = fiberAdapter{s}
			t.trim = e.trimDB(db)
			t.seed = fiberSeed(db, "fiber_storage", false)
			t.close = s.Close
			return nil
		}
		out = append(out, t)
	}
	if dbs["sqlite"] {
		t := &target{name: "gofiber sqlite3", db: "sqlite", driver: "mattn", kind: kindPeer}
		t.open = func(ctx context.Context) error {
			s := fibersqlite.New(fibersqlite.Config{Database: e.sqliteDSN("sqlite3", "fiber.db"), Table: "fiber_storage",
				GCInterval: fiberGCOff, MaxOpenConns: e.conns, MaxIdleConns: e.conns, ConnMaxLifetime: time.Hour})
			t.st = fiberAdapter{s}
			t.trim = func() {
				s.Conn().SetMaxIdleConns(0)
				s.Conn().SetMaxIdleConns(e.conns)
			}
			t.seed = fiberSeed(s.Conn(), "fiber_storage", false)
			t.close = s.Close
			return nil
		}
		out = append(out, t)
	}
	return out
}

// targets returns every contender on the selected databases, sqlstore
// first, then peers, then floors.
func (e *env) targets(dbs map[string]bool) []*target {
	var out []*target
	if dbs["postgres"] {
		main := e.pgSchema("")
		u := e.pgURLFor(main)
		out = append(out,
			newSQLStoreTarget(e, "postgres", "lib/pq", "postgres", u, "sqlstore_pq"),
			newSQLStoreTarget(e, "postgres", "pgx stdlib", "pgx", u, "sqlstore_pgx"),
			newSQLStorePgxTarget(e, main, "sqlstore_pgxpool"),
			newSCSTarget(e, "postgres", "scs postgresstore", "lib/pq", "postgres", e.pgURLFor(e.pgSchema("_scs_pq"))),
			newSCSPgxTarget(e, e.pgSchema("_scs_pgx")),
		)
	}
	if dbs["mysql"] {
		d, _ := e.myDSNFor(e.pgSchema(""))
		ds, _ := e.myDSNFor(e.pgSchema("_scs"))
		out = append(out,
			newSQLStoreTarget(e, "mysql", "go-sql-driver/mysql", "mysql", d, "sqlstore"),
			// The same table without the expiry index, the shape of gofiber's
			// (whose cleanup scans the whole table): what the index that
			// bounds pruning costs each write.
			newSQLStoreTargetDDL(e, "sqlstore no expiry index", "mysql", "go-sql-driver/mysql", "mysql", d, "sqlstore_noidx",
				[]string{"CREATE TABLE `sqlstore_noidx` (`token` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, `data` LONGBLOB NOT NULL, `expiry` DATETIME(6) NOT NULL, PRIMARY KEY (`token`)) ENGINE = InnoDB"}),
			newSCSTarget(e, "mysql", "scs mysqlstore", "go-sql-driver/mysql", "mysql", ds+sep(ds)+"parseTime=true"),
		)
	}
	if dbs["sqlite"] {
		out = append(out,
			newSQLStoreTarget(e, "sqlite", "modernc", "sqlite", e.sqliteDSN("sqlite", "sqlstore_modernc.db"), "sqlstore"),
			newSQLStoreTarget(e, "sqlite", "mattn", "sqlite3", e.sqliteDSN("sqlite3", "sqlstore_mattn.db"), "sqlstore"),
			newSQLStoreTargetDDL(e, "sqlstore write slots 2", "sqlite", "mattn", "sqlite3", e.sqliteDSN("sqlite3", "sqlstore_mattn_ws2.db"), "sqlstore", nil, sqlstore.WithWriteSlots(2)),
			newSQLStoreTargetDDL(e, "sqlstore write slots 2", "sqlite", "modernc", "sqlite", e.sqliteDSN("sqlite", "sqlstore_modernc_ws2.db"), "sqlstore", nil, sqlstore.WithWriteSlots(2)),
			newSCSTarget(e, "sqlite", "scs sqlite3store", "mattn", "sqlite3", e.sqliteDSN("sqlite3", "scs.db")),
		)
	}
	out = append(out, newFiberTargets(e, dbs)...)
	if dbs["postgres"] {
		main := e.pgSchema("")
		u := e.pgURLFor(main)
		out = append(out,
			newFloorTarget(e, "postgres", "lib/pq", "postgres", u, "floor_pq", sqlstore.Postgres),
			newFloorTarget(e, "postgres", "pgx stdlib", "pgx", u, "floor_pgx", sqlstore.Postgres),
			newFloorPgxTarget(e, main, "floor_pgxpool"),
		)
	}
	if dbs["mysql"] {
		d, _ := e.myDSNFor(e.pgSchema(""))
		out = append(out, newFloorTarget(e, "mysql", "go-sql-driver/mysql", "mysql", d, "floor", sqlstore.MySQL))
	}
	if dbs["sqlite"] {
		out = append(out,
			newFloorTarget(e, "sqlite", "modernc", "sqlite", e.sqliteDSN("sqlite", "floor_modernc.db"), "floor", sqlstore.SQLite),
			newFloorTarget(e, "sqlite", "mattn", "sqlite3", e.sqliteDSN("sqlite3", "floor_mattn.db"), "floor", sqlstore.SQLite),
		)
	}
	return out
}

func sep(s string) string {
	if strings.Contains(s, "?") {
		return "&"
	}
	return "?"
}
