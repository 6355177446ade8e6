package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// The SQL of the store, for the tests that expect it: read from the golden
// files that TestGolden (golden_test.go) checks against the dialects, so
// that no test holds a copy of a statement.

// goldenSQL returns the statement name ("get", "create_table.1", see
// testdata/golden) that dialect sends for the default names: "" for one the
// dialect does without, a failed test for a name the file lacks.
func goldenSQL(t testing.TB, dialect, name string) string {
	t.Helper()
	return statementIn(t, dialect, name)
}

// goldenSQLs returns the statements name.1, name.2, ... ("create_table")
// that dialect sends, in order, for the default names.
func goldenSQLs(t testing.TB, dialect, name string) []string {
	t.Helper()
	return statementsIn(t, dialect, name)
}

// hostileSQL is goldenSQL for the hostile names (sqlstore.GoldenHostileNames).
func hostileSQL(t testing.TB, dialect, name string) string {
	t.Helper()
	return statementIn(t, dialect+"_hostile", name)
}

// hostileSQLs is goldenSQLs for the hostile names.
func hostileSQLs(t testing.TB, dialect, name string) []string {
	t.Helper()
	return statementsIn(t, dialect+"_hostile", name)
}

func statementIn(t testing.TB, file, name string) string {
	t.Helper()
	q, ok := goldenFile(t, file)[name]
	if !ok {
		t.Fatalf("testdata/golden/%s.sql has no statement %q", file, name)
	}
	return q
}

func statementsIn(t testing.TB, file, name string) []string {
	t.Helper()
	stmts := goldenFile(t, file)
	var out []string
	for i := 1; ; i++ {
		q, ok := stmts[fmt.Sprintf("%s.%d", name, i)]
		if !ok {
			break
		}
		out = append(out, q)
	}
	if out == nil {
		t.Fatalf("testdata/golden/%s.sql has no statement %s.1", file, name)
	}
	return out
}

// golden holds the golden files, read once: file name without ".sql" →
// statement name → SQL.
var golden struct {
	once  sync.Once
	files map[string]map[string]string
	err   error
}

func goldenFile(t testing.TB, file string) map[string]string {
	t.Helper()
	golden.once.Do(func() { golden.files, golden.err = readGolden("testdata/golden") })
	if golden.err != nil {
		t.Fatal(golden.err)
	}
	stmts, ok := golden.files[file]
	if !ok {
		t.Fatalf("no testdata/golden/%s.sql (go test -run TestGolden -update . writes it)", file)
	}
	return stmts
}

// readGolden parses the golden files of dir: a header of comment lines, then
// blocks after a blank line, each a line "-- name" and the statement's lines
// (none for a statement the dialect does without).
func readGolden(dir string) (map[string]map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	files := map[string]map[string]string{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		stmts := map[string]string{}
		blocks := strings.Split(strings.TrimRight(string(b), "\n"), "\n\n")
		for i, block := range blocks[1:] { // blocks[0] is the header
			head, sql, _ := strings.Cut(block, "\n")
			name, ok := strings.CutPrefix(head, "-- ")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("%s: block %d starts with %q, not a line \"-- name\"", path, i+2, head)
			}
			if _, dup := stmts[name]; dup {
				return nil, fmt.Errorf("%s: statement %q twice", path, name)
			}
			stmts[name] = sql
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("%s: no statement", path)
		}
		files[strings.TrimSuffix(filepath.Base(path), ".sql")] = stmts
	}
	return files, nil
}

// Fixture SQL: what tests run on a real database beside the store, read
// from testdata/fixtures.

// fixtureSQL returns the statement name of testdata/fixtures/<dialect>.sql
// ("common" for the statements every database shares; "pgx" reads
// postgres), its %s verbs filled in with idents, in order: identifiers
// already quoted by the dialect (QuoteIdent, Table().Qualified()).
func fixtureSQL(t testing.TB, dialect, name string, idents ...string) string {
	t.Helper()
	if dialect == "pgx" {
		dialect = "postgres"
	}
	fixtures.once.Do(func() { fixtures.files, fixtures.err = readGolden("testdata/fixtures") })
	if fixtures.err != nil {
		t.Fatal(fixtures.err)
	}
	q, ok := fixtures.files[dialect][name]
	if !ok {
		t.Fatalf("testdata/fixtures/%s.sql has no statement %q", dialect, name)
	}
	args := make([]any, len(idents))
	for i, id := range idents {
		args[i] = id
	}
	return fmt.Sprintf(q, args...)
}

// fixtures holds the fixture files, read once, as golden holds the golden
// files.
var fixtures struct {
	once  sync.Once
	files map[string]map[string]string
	err   error
}

// createNamespace creates a PostgreSQL schema or a MySQL database named
// prefix and random hex, and drops it when the test ends; on SQLite it
// returns "" (the file is the test's own).
func createNamespace(t testing.TB, db *sql.DB, kind, prefix string) string {
	t.Helper()
	if kind == "sqlite" {
		return ""
	}
	name := testdb.Name(prefix)
	quoted := sqlstore.MySQL.QuoteIdent(name)
	if kind == "postgres" {
		quoted = sqlstore.Postgres.QuoteIdent(name)
	}
	drop := fixtureSQL(t, kind, "drop_namespace", quoted)
	create := fixtureSQL(t, kind, "create_namespace", quoted)
	if _, err := db.Exec(create); err != nil {
		t.Fatalf("%s: %v", create, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(drop); err != nil {
			t.Errorf("%s: %v", drop, err)
		}
	})
	return name
}

// countRows counts the rows of table (qualified and quoted as needed), live
// and expired.
func countRows(t testing.TB, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), fixtureSQL(t, "common", "count_rows", table)).Scan(&n); err != nil {
		t.Fatalf("counting the rows of %s: %v", table, err)
	}
	return n
}

// lockRowSQL returns a statement that locks, in the transaction that runs
// it, the row of one key (the argument) of s's table.
func lockRowSQL(t testing.TB, kind string, s *sqlstore.Store) string {
	t.Helper()
	tb := s.Table()
	return fixtureSQL(t, kind, "lock_row", tb.ID, tb.Qualified(), tb.ID)
}

// Helpers of the tests of encryption at rest (WithEncryption,
// WithPlaintextReads, Rekey) on every database: crypt_test.go, rekey_test.go.

// testKey returns a random 32-byte key.
func testKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// cryptBase is the clock of the stores of these tests.
var cryptBase = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

// logBuffer collects what the stores log, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// cryptEnv is one test's database, table, clock and log.
type cryptEnv struct {
	t     *testing.T
	kind  string
	db    *sql.DB
	table string
	clock *testdb.Clock
	log   *logBuffer
}

// forEachCryptKind runs fn on every database kind, in parallel.
func forEachCryptKind(t *testing.T, fn func(t *testing.T, e *cryptEnv)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, newCryptEnv(t, kind))
		})
	}
}

func newCryptEnv(t *testing.T, kind string) *cryptEnv {
	t.Helper()
	db := testdb.Open(t, kind)
	return &cryptEnv{t: t, kind: kind, db: db, table: testdb.Table(t, db), clock: testdb.NewClock(cryptBase), log: &logBuffer{}}
}

// open makes a store on the env's table, closed at cleanup, and returns
// New's error.
func (e *cryptEnv) open(opts ...sqlstore.Option) (*sqlstore.Store, error) {
	e.t.Helper()
	all := append([]sqlstore.Option{
		sqlstore.WithTable(e.table), sqlstore.WithPruneInterval(0), sqlstore.WithClock(e.clock.Now),
		sqlstore.WithTouchThreshold(0), sqlstore.WithLogger(slog.New(slog.NewTextHandler(e.log, nil))),
	}, opts...)
	s, err := sqlstore.New(testContext(e.t), e.db, all...)
	if err == nil {
		e.t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// store is open that fails the test on an error.
func (e *cryptEnv) store(opts ...sqlstore.Option) *sqlstore.Store {
	e.t.Helper()
	s, err := e.open(opts...)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return s
}

// raw returns the data column of every row of the table, by id column.
func (e *cryptEnv) raw(s *sqlstore.Store) map[string][]byte {
	e.t.Helper()
	tb := s.Table()
	rows, err := e.db.QueryContext(testContext(e.t), fixtureSQL(e.t, "common", "read_data", tb.ID, tb.Data, tb.Qualified()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var (
			k string
			d []byte
		)
		if err := rows.Scan(&k, &d); err != nil {
			e.t.Fatal(err)
		}
		out[k] = d
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// setRaw writes data into the data column of the row of stored key key.
func (e *cryptEnv) setRaw(s *sqlstore.Store, key string, data []byte) {
	e.t.Helper()
	tb := s.Table()
	q := fixtureSQL(e.t, e.kind, "write_data", tb.Qualified(), tb.Data, tb.ID)
	res, err := e.db.ExecContext(testContext(e.t), q, data, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		e.t.Fatalf("UPDATE of %s changed %d rows (%v), want 1", key, n, err)
	}
}

func (e *cryptEnv) set(s *sqlstore.Store, id string, data []byte) {
	e.t.Helper()
	if err := s.Set(testContext(e.t), id, data, cryptBase.Add(time.Hour)); err != nil {
		e.t.Fatalf("Set(%q): %v", id, err)
	}
}

// want checks that Get of id finds want, or finds nothing when want is nil,
// and never fails.
func (e *cryptEnv) want(s *sqlstore.Store, id string, want []byte) {
	e.t.Helper()
	got, found, err := s.Get(testContext(e.t), id)
	switch {
	case err != nil:
		e.t.Fatalf("Get(%q): %v", id, err)
	case want == nil && found:
		e.t.Fatalf("Get(%q) found %q, want not found", id, trimTo(got, 40))
	case want != nil && (!found || !bytes.Equal(got, want)):
		e.t.Fatalf("Get(%q) = %q, %v; want %q", id, trimTo(got, 40), found, trimTo(want, 40))
	}
}

func trimTo(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (e *cryptEnv) undecryptable(s *sqlstore.Store) int64 {
	e.t.Helper()
	st, err := s.Stats(testContext(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Undecryptable
}

// ranged returns the data Range yields, by stored key.
func (e *cryptEnv) ranged(s *sqlstore.Store) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := s.Range(testContext(e.t), func(id string, data []byte, _ time.Time) bool {
		out[id] = string(data)
		return true
	})
	if err != nil {
		e.t.Fatalf("Range: %v", err)
	}
	return out
}

// taggedValue is the data writer w writes in its seq-th Set of id i: a header
// naming all three and a body derived from it, so a torn or mixed-up value
// never matches.
func taggedValue(w, seq, i int) []byte {
	head := fmt.Sprintf("w%02d/s%04d/i%02d|", w, seq, i)
	n := (w*131 + seq*17 + i) % 700
	return append([]byte(head), bytes.Repeat([]byte(head[:12]), n/12+1)[:n]...)
}

// parseTaggedValue returns the writer, sequence and id a value names.
func parseTaggedValue(v []byte) (w, seq, i int, ok bool) {
	if _, err := fmt.Sscanf(string(v), "w%02d/s%04d/i%02d|", &w, &seq, &i); err != nil {
		return 0, 0, 0, false
	}
	return w, seq, i, true
}

func shortString(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// Helpers shared by the reliability tests (security, race, fuzz and time
// zone tests) carry the prefix rel, so they meet no other test's names.

// testContext returns a context that ends with the test or after 3 minutes.
func testContext(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

// openTestDB opens kind's database (a fresh SQLite file for "sqlite") and returns
// its URL DSN, a pool on it and a fresh table name dropped at cleanup.
func openTestDB(t testing.TB, kind string) (dsn string, db *sql.DB, table string) {
	t.Helper()
	dsn = testdb.DSN(t, kind)
	db = testdb.OpenDSN(t, kind, dsn)
	return dsn, db, testdb.Table(t, db)
}

// newTestStore makes a store with sqlstore.New on db and table, with background
// pruning off, closed at cleanup.
func newTestStore(t testing.TB, db *sql.DB, table string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	all := append([]sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}, opts...)
	s, err := sqlstore.New(testContext(t), db, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTestStore makes a store with sqlstore.Open (so SQLite gets WAL and a busy
// timeout) on a fresh table of kind's database, closed before the table is
// dropped.
func openTestStore(t testing.TB, kind string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	return openTestStoreDSN(t, kind, "", opts...)
}

// openTestStoreDSN is openTestStore with extra DSN parameters for SQLite (such as
// "_pragma=synchronous(NORMAL)").
func openTestStoreDSN(t testing.TB, kind, sqliteParams string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	dsn, _, table := openTestDB(t, kind)
	if kind == "sqlite" && sqliteParams != "" {
		dsn += "?" + sqliteParams
	}
	all := append([]sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}, opts...)
	s, err := sqlstore.Open(testContext(t), dsn, all...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randomID returns a session id of n random hex digits after prefix.
func randomID(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:n]
}

// dumpTable reads every row and every column of table raw (SELECT *) and
// returns each value as text: bytes as they are, other values formatted.
func dumpTable(t testing.TB, db *sql.DB, table string) [][]string {
	t.Helper()
	rows, err := db.QueryContext(testContext(t), fixtureSQL(t, "common", "dump_table", table))
	if err != nil {
		t.Fatalf("dumping %s: %v", table, err)
	}
	return dumpRows(t, rows)
}

// dumpRows reads every row and column of rows, which it closes, as dumpTable
// does.
func dumpRows(t testing.TB, rows *sql.Rows) [][]string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case []byte:
				row[i] = string(v)
			case string:
				row[i] = v
			case time.Time:
				row[i] = v.Format(time.RFC3339Nano)
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// idLeaks returns the forms of id (as is, hex, base64) found in cell,
// compared case-insensitively, also inside the hex form of the cell.
func idLeaks(cell, id string) []string {
	forms := map[string]string{
		"plain":  id,
		"hex":    hex.EncodeToString([]byte(id)),
		"base64": base64.StdEncoding.EncodeToString([]byte(id)),
		"b64url": base64.RawURLEncoding.EncodeToString([]byte(id)),
	}
	hay := []string{strings.ToLower(cell), strings.ToLower(hex.EncodeToString([]byte(cell)))}
	var found []string
	for name, f := range forms {
		for _, h := range hay {
			if strings.Contains(h, strings.ToLower(f)) {
				found = append(found, name)
				break
			}
		}
	}
	return found
}

// quietLogger is a logger that drops everything.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// pollUntil polls cond every 20ms until it holds or d passes.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timedOperation is one call of the store's API under a context.
type timedOperation struct {
	name string
	call func(ctx context.Context) error
}

// everyOperation lists every call that takes a context: the store's methods and
// New itself (over db with opts).
func everyOperation(st *sqlstore.Store, db *sql.DB, opts ...sqlstore.Option) []timedOperation {
	const id = "fault-ctx-id"
	return []timedOperation{
		{"Get", func(ctx context.Context) error { _, _, err := st.Get(ctx, id); return err }},
		{"Set", func(ctx context.Context) error { return st.Set(ctx, id, []byte("x"), time.Time{}) }},
		{"Touch", func(ctx context.Context) error { return st.Touch(ctx, id, time.Now().Add(48*time.Hour)) }},
		{"Delete", func(ctx context.Context) error { return st.Delete(ctx, id) }},
		{"Count", func(ctx context.Context) error { _, err := st.Count(ctx); return err }},
		{"Range", func(ctx context.Context) error {
			return st.Range(ctx, func(string, []byte, time.Time) bool { return true })
		}},
		{"Clear", func(ctx context.Context) error { return st.Clear(ctx) }},
		{"Prune", func(ctx context.Context) error { _, err := st.Prune(ctx); return err }},
		{"Stats", func(ctx context.Context) error { _, err := st.Stats(ctx); return err }},
		{"New", func(ctx context.Context) error {
			s, err := sqlstore.New(ctx, db, opts...)
			if err == nil {
				s.Close()
			}
			return err
		}},
	}
}

// fillExpired inserts n expired rows straight into the store's table, in
// one transaction: ids of 64 hex digits, empty data, an expiry in 2000
// (testdata/fixtures: insert_expired).
func fillExpired(t *testing.T, db *sql.DB, st *sqlstore.Store, n int) {
	t.Helper()
	tb := st.Table()
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("%064x", i)}
	}
	execRows(t, db, fixtureSQL(t, st.Dialect().Name(), "insert_expired", tb.Qualified(), tb.ID, tb.Data, tb.Expiry), rows)
}

// execRows runs the statement q once for each row of arguments, in one
// transaction: a bulk insert.
func execRows(t testing.TB, db *sql.DB, q string, rows [][]any) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer stmt.Close()
	for _, args := range rows {
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("%s: commit: %v", q, err)
	}
}

// These tests pin, with go-sqlmock and exact matching, the SQL every
// operation sends on every dialect and the arguments it binds. The expected
// SQL is read from testdata/golden (goldenSQL), never built by the dialect
// under test; TestGolden checks those files against the dialects.

// mockNow is the store clock of the mock tests: 2024-03-05 10:20:30.123 once
// truncated to the millisecond.
var mockNow = time.Date(2024, 3, 5, 10, 20, 30, 123456789, time.UTC)

func mockClock() time.Time { return mockNow }

const (
	mockID  = "session-id-1"
	mockKey = "14cfca0a6d955280ebdc3d1f762426a26b39b698cf005ff977319b22d95120b8" // sha256sum of mockID
)

// mockDialect is what one dialect must send for the default names.
type mockDialect struct {
	name                string
	d                   sqlstore.Dialect
	schemaQ, schema     string // current-schema query and its result
	columns, indexes    string
	lockName            string // advisory lock name of schema.sessions
	createLock          string
	create, createPlain []string // hashed ids, plain ids
	get, set, touch     string
	del, count, rng     string
	clear, prune, stats string
	endCreated          string
	size                string
	tryLock, unlock     string
	localReads          string // SQLite only: whether Get's lookup can wait
	lookupsWait         bool   // the answer New gets to localReads
	autoCheckpoint      string // SQLite only: the log's checkpoint limit
	checkpoint          string // SQLite only: a background checkpoint
	checkpointPages     int    // the answer New gets to autoCheckpoint (0: none)
}

// mockColumns are the columns of a current table with the default names:
// those every version had, then those the upgrade adds.
var mockColumns = []string{"token", "data", "expiry", "owner", "created", "updated", "ended"}

// mockIndexes are the indexes of a current table with the default names,
// besides its primary key.
var mockIndexes = []string{"sessions_expiry_idx", "sessions_owner_idx"}

// mockEpoch is the Unix epoch, the cutoff every statement that judges
// liveness binds without WithAbsoluteTimeout.
const mockEpoch = "1970-01-01 00:00:00.000"

// mockDialects returns postgres, mysql and sqlite, in that order, with the
// statements of testdata/golden ("" where the dialect has none: no creation
// lock on MySQL and SQLite, no sweep lock on SQLite).
func mockDialects(t testing.TB) []mockDialect {
	t.Helper()
	cs := []mockDialect{
		{name: "postgres", d: sqlstore.Postgres, schema: "public", lockName: "sqlstore_dc54aa1ba1426b6d"},
		{name: "mysql", d: sqlstore.MySQL, schema: "app", lockName: "sqlstore_7c072cc5b64f4149"},
		{name: "sqlite", d: sqlstore.SQLite, schema: "main", lockName: "sqlstore_cb1e0367ed7460b5"},
	}
	for i := range cs {
		c := &cs[i]
		q := func(name string) string { return goldenSQL(t, c.name, name) }
		c.schemaQ, c.columns, c.indexes, c.createLock = q("current_schema"), q("columns"), q("indexes"), q("create_lock")
		c.create, c.createPlain = goldenSQLs(t, c.name, "create_table"), goldenSQLs(t, c.name, "create_table_plain_ids")
		c.get, c.set, c.touch, c.del = q("get"), q("set"), q("touch"), q("delete")
		c.count, c.rng, c.clear, c.prune, c.stats = q("count"), q("range"), q("clear"), q("prune"), q("stats")
		c.endCreated = q("end_created")
		c.size, c.tryLock, c.unlock = q("table_size"), q("try_lock"), q("unlock")
		if c.name == "sqlite" {
			c.localReads = q("local_reads")
			c.autoCheckpoint, c.checkpoint = q("auto_checkpoint"), q("checkpoint")
		}
		// The table and its two indexes: one CREATE TABLE, which names
		// both indexes, on MySQL; a statement each elsewhere.
		want := 3
		if c.name == "mysql" {
			want = 1
		}
		if len(c.create) != want || len(c.createPlain) != want {
			t.Fatalf("%s: %d and %d statements create the table; want %d", c.name, len(c.create), len(c.createPlain), want)
		}
	}
	return cs
}

// utcTime parses a UTC time written "2006-01-02 15:04:05.000".
func utcTime(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return t
}

// matchTime matches a time.Time bind argument at the same instant, in UTC.
type matchTime time.Time

func (a matchTime) Match(v driver.Value) bool {
	t, ok := v.(time.Time)
	return ok && t.Equal(time.Time(a)) && t.Location() == time.UTC
}

// at returns how the dialect must bind the UTC time s: PostgreSQL a
// time.Time in UTC, MySQL the text itself, SQLite Unix milliseconds.
func (c mockDialect) at(s string) driver.Value {
	switch c.name {
	case "postgres":
		return matchTime(utcTime(s))
	case "mysql":
		return s
	}
	return utcTime(s).UnixMilli()
}

// raw returns the expiry value the dialect's driver scans for the UTC time s.
func (c mockDialect) raw(s string) driver.Value {
	switch c.name {
	case "postgres":
		return utcTime(s).In(time.FixedZone("CET", 3600)) // lib/pq labels with the session zone
	case "mysql":
		return []byte(s + "000") // DATETIME(6) as text, without parseTime
	}
	return utcTime(s).UnixMilli()
}

// cutoff returns how the dialect must bind the cutoff of the absolute
// timeout without WithAbsoluteTimeout: the Unix epoch.
func (c mockDialect) cutoff() driver.Value { return c.at(mockEpoch) }

// boolean returns the value the dialect's driver scans for a boolean the
// query selects: MySQL and SQLite have none and answer 1 or 0.
func (c mockDialect) boolean(b bool) driver.Value {
	if c.name == "postgres" {
		return b
	}
	if b {
		return int64(1)
	}
	return int64(0)
}

// locked returns the TryLock result row value.
func (c mockDialect) locked(got bool) driver.Value {
	if c.name == "mysql" { // GET_LOCK returns 1 or 0
		if got {
			return int64(1)
		}
		return int64(0)
	}
	return got
}

func mockDB(t *testing.T) (*sql.DB, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, mock
}

func mockRows(cols ...string) *sqlmock.Rows { return sqlmock.NewRows(cols) }

// expectCatalog expects New's catalog queries with the default names: the
// schema, then the columns (all seven when the table exists, none if not),
// then, only when the table exists, its indexes (both valid).
func (c mockDialect) expectCatalog(mock sqlmock.Sqlmock, exists bool) {
	mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("schema").AddRow(c.schema))
	cols := mockRows("column_name")
	if !exists {
		mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
		return
	}
	for i := range mockColumns { // in no particular order
		cols.AddRow(mockColumns[(i+2)%len(mockColumns)])
	}
	mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
	c.expectIndexes(mock)
}

// expectIndexes expects the query of the table's indexes, answering that
// both exist and are valid.
func (c mockDialect) expectIndexes(mock sqlmock.Sqlmock) *sqlmock.ExpectedQuery {
	rows := mockRows("name", "valid")
	for _, ix := range mockIndexes {
		rows.AddRow(ix, c.boolean(true))
	}
	return mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnRows(rows)
}

// expectNew expects New with the default names: the catalog queries, the
// creation transaction when the table is missing, the four prepares.
func (c mockDialect) expectNew(mock sqlmock.Sqlmock, exists, hashed bool) []*sqlmock.ExpectedPrepare {
	c.expectCatalog(mock, exists)
	if !exists {
		mock.ExpectBegin()
		if c.createLock != "" {
			mock.ExpectExec(c.createLock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
		}
		create := c.create
		if !hashed {
			create = c.createPlain
		}
		for _, q := range create {
			mock.ExpectExec(q).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 0))
		}
		mock.ExpectCommit()
	}
	c.expectLocalReads(mock, c.schema)
	var preps []*sqlmock.ExpectedPrepare
	for _, q := range []string{c.get, c.set, c.touch, c.del} {
		preps = append(preps, mock.ExpectPrepare(q))
	}
	return preps
}

// expectLocalReads expects, on SQLite, New's query of whether Get's lookup
// in schema can wait (LocalReader), answering that it cannot (the journal
// is WAL) unless c.lookupsWait, then its query of the log's checkpoint
// limit (Checkpointer), answering c.checkpointPages: by default 0, so that
// the Store runs no background checkpoint.
func (c mockDialect) expectLocalReads(mock sqlmock.Sqlmock, schema string) {
	if c.localReads != "" {
		mock.ExpectQuery(c.localReads).WithArgs(schema).WillReturnRows(mockRows("local").AddRow(!c.lookupsWait))
	}
	if c.autoCheckpoint != "" {
		mock.ExpectQuery(c.autoCheckpoint).WithoutArgs().WillReturnRows(mockRows("wal_autocheckpoint").AddRow(c.checkpointPages))
	}
}

// expectPrune expects one sweep deleting the given batch results. (It does
// not check that the statement is closed: sqlmock records that without a
// lock, a data race when the sweep runs in the background; TestMockOperations
// checks it.)
func (c mockDialect) expectPrune(mock sqlmock.Sqlmock, batch int, results ...int64) *sqlmock.ExpectedPrepare {
	if c.tryLock != "" {
		mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
	}
	prep := mock.ExpectPrepare(c.prune)
	for _, n := range results {
		mock.ExpectExec(c.prune).WithArgs(c.at("2024-03-05 10:20:30.123"), batch).WillReturnResult(sqlmock.NewResult(0, n))
	}
	if c.unlock != "" {
		mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	return prep
}

func newMockStore(t *testing.T, c mockDialect, db *sql.DB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithDialect(c.d), sqlstore.WithClock(mockClock), sqlstore.WithPruneInterval(0),
	}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mockMet(t *testing.T, mock sqlmock.Sqlmock) {
	t.Helper()
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}

// callEveryOperation calls every method of s and returns the errors by name.
func callEveryOperation(ctx context.Context, s *sqlstore.Store) map[string]error {
	errs := map[string]error{}
	_, _, errs["Get"] = s.Get(ctx, mockID)
	errs["Set"] = s.Set(ctx, mockID, []byte("x"), mockNow.Add(time.Hour))
	errs["Touch"] = s.Touch(ctx, mockID, mockNow.Add(time.Hour))
	errs["Delete"] = s.Delete(ctx, mockID)
	_, errs["Count"] = s.Count(ctx)
	errs["Clear"] = s.Clear(ctx)
	errs["Range"] = s.Range(ctx, func(string, []byte, time.Time) bool { return true })
	_, errs["Stats"] = s.Stats(ctx)
	_, errs["TableSize"] = s.TableSize(ctx)
	_, errs["Prune"] = s.Prune(ctx)
	_, errs["PruneProgress"] = s.PruneProgress(ctx, func(int64) {})
	return errs
}

// wantNoQuery reports an error that says a query reached the mock.
func wantNoQuery(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "expect") {
		t.Errorf("%s ran a query: %v", op, err)
	}
}

// sqlStateError is an error like lib/pq's and pgx's: it has SQLState().
type sqlStateError struct{ code string }

func (e *sqlStateError) Error() string {
	return "ERROR: could not serialize access (SQLSTATE " + e.code + ")"
}

func (e *sqlStateError) SQLState() string { return e.code }
