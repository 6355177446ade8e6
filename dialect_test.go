package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/req"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// hostileIdents are schema, table and column names New must refuse before
// any query runs, whatever the dialect; those that are SQL themselves are in
// testdata/fixtures/hostile.sql (hostileSQLIdents).
var hostileIdents = []struct{ why, name string }{
	{"empty", ""},
	{"double quote", `sess"ions`},
	{"closing double quote", `sessions"`},
	{"backtick", "sess`ions"},
	{"single quote", "sess'ions"},
	{"semicolon", "sessions;"},
	{"line comment", "sessions--"},
	{"hash comment", "sessions#x"},
	{"block comment", "sessions/*x*/"},
	{"empty block comment", "/**/"},
	{"space", "my sessions"},
	{"trailing space", "sessions "},
	{"NUL", "sessions\x00"},
	{"newline", "sess\nions"},
	{"tab", "sess\tions"},
	{"carriage return", "sessions\r"},
	{"dot", "public.sessions"},
	{"parenthesis", "sessions()"},
	{"dollar", "se$sions"},
	{"placeholder", "sessions?"},
	{"positional placeholder", "$1"},
	{"percent verb", "sessions%s"},
	{"backslash", `sess\ions`},
	{"hyphen", "sess-ions"},
	{"brackets", "[sessions]"},
	{"leading digit", "1sessions"},
	{"only digits", "123"},
	{"64 bytes", strings.Repeat("s", 64)},
	{"200 characters", strings.Repeat("s", 200)},
	{"200 Unicode characters", strings.Repeat("é", 200)},
	{"32 two-byte letters (64 bytes)", strings.Repeat("é", 32)},
	{"invalid UTF-8", "sess\xffions"},
	{"lone continuation byte", "\x80sessions"},
	{"Cyrillic homoglyph", "ѕessions"},        // U+0455
	{"Greek homoglyph", "sessiοns"},           // U+03BF
	{"Cyrillic a homoglyph", "dаta"},          // U+0430
	{"fullwidth semicolon", "sessions；"},      // U+FF1B
	{"fullwidth quote", "sessions＂"},          // U+FF02
	{"fullwidth grave", "sessions｀"},          // U+FF40
	{"smart quotes", "“sessions”"},            // U+201C, U+201D
	{"modifier apostrophe-like prime", "s′s"}, // U+2032
	{"right-to-left mark", "sessions\u200f"},
	{"right-to-left override", "\u202esnoisses"},
	{"left-to-right embedding", "\u202asessions"},
	{"zero-width space", "sess\u200bions"},
	{"zero-width joiner", "sess\u200dions"},
	{"byte order mark", "\ufeffsessions"},
	{"combining accent", "sessione\u0301"},
	{"emoji", "sessions😀"},
	{"emoji only", "🔥"},
	{"non-breaking space", "sess\u00a0ions"},
	{"ideographic space", "セッション\u3000"},
}

// identPositions are where a name goes: each option, each column.
var identPositions = []struct {
	kind string
	opt  func(name string) sqlstore.Option
}{
	{"schema", sqlstore.WithSchema},
	{"table", sqlstore.WithTable},
	{"id column", func(n string) sqlstore.Option { return sqlstore.WithColumns(n, "data", "expiry") }},
	{"data column", func(n string) sqlstore.Option { return sqlstore.WithColumns("token", n, "expiry") }},
	{"expiry column", func(n string) sqlstore.Option { return sqlstore.WithColumns("token", "data", n) }},
}

// hostileSQLIdents are the names of testdata/fixtures/hostile.sql: SQL
// injections.
var hostileSQLIdents = []string{"injection", "mysql injection"}

func TestIdentHostileRejected(t *testing.T) {
	hostile := slices.Clone(hostileIdents)
	for _, why := range hostileSQLIdents {
		hostile = append(hostile, struct{ why, name string }{why, fixtureSQL(t, "hostile", strings.ReplaceAll(why, " ", "_"))})
	}
	if len(hostile) < 25 {
		t.Fatalf("only %d hostile names", len(hostile))
	}
	ctx := context.Background()
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			// A mock with no expectations: any query fails with the mock's
			// own error, which the checks below would see.
			db, mock := mockDB(t)
			for _, h := range hostile {
				for _, p := range identPositions {
					_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d), p.opt(h.name))
					if err == nil {
						t.Errorf("New with %s %q (%s) succeeded", p.kind, h.name, h.why)
						continue
					}
					if !strings.HasPrefix(err.Error(), "sqlstore: "+p.kind+" name") {
						t.Errorf("New with %s %q (%s) = %q; want an error about the %s name", p.kind, h.name, h.why, err, p.kind)
					}
					wantNoQuery(t, "New", err)
					if _, err := sqlstore.CreateTableSQL(c.d, p.opt(h.name)); err == nil {
						t.Errorf("CreateTableSQL with %s %q (%s) succeeded", p.kind, h.name, h.why)
					}
				}
			}
			mockMet(t, mock)
		})
	}
}

// manualClock is a store clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// padName pads prefix with s up to exactly n bytes (s is 1 or 2 bytes;
// a 1-byte "x" fills an odd remainder).
func padName(prefix, s string, n int) string {
	for len(prefix)+len(s) <= n {
		prefix += s
	}
	for len(prefix) < n {
		prefix += "x"
	}
	return prefix
}

// openQuotedStore makes a store and drops its table when the test ends (after
// Close).
func openQuotedStore(t *testing.T, db *sql.DB, clk *manualClock, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithClock(clk.Now), sqlstore.WithPruneInterval(0),
	}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { testdb.Drop(t, db, s.Table().Qualified()) })
	t.Cleanup(func() { s.Close() })
	return s
}

// catalogIndexes returns the names of the non-primary indexes of a table.
func catalogIndexes(t *testing.T, kind string, db *sql.DB, schema, table string) []string {
	t.Helper()
	var q string
	var args []any
	switch kind {
	case "postgres":
		q = fixtureSQL(t, kind, "index_names")
		args = []any{sql.NullString{String: schema, Valid: schema != ""}, table}
	case "mysql":
		q = fixtureSQL(t, kind, "index_names")
		args = []any{sql.NullString{String: schema, Valid: schema != ""}, table}
	default:
		q = fixtureSQL(t, "sqlite", "index_names")
		args = []any{table}
	}
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("listing indexes: %v", err)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// checkIndexNames checks that the table has exactly two indexes besides its
// key, its expiry index and its owner index, both named after the table,
// and returns their names, expiry index first.
func checkIndexNames(t *testing.T, kind string, db *sql.DB, schema, table string) []string {
	t.Helper()
	ix := catalogIndexes(t, kind, db, schema, table)
	if len(ix) != 2 {
		t.Fatalf("table %q has indexes %q; want an expiry index and an owner index", table, ix)
	}
	if strings.HasSuffix(ix[1], "_expiry_idx") {
		ix[0], ix[1] = ix[1], ix[0]
	}
	for i, suffix := range []string{"_expiry_idx", "_owner_idx"} {
		name := ix[i]
		if len(table)+len(suffix) <= 63 && name != table+suffix {
			t.Errorf("index %d of %q is %q; want %q", i, table, name, table+suffix)
		}
		if len(name) > 63 || !utf8.ValidString(name) || !strings.HasSuffix(name, suffix) {
			t.Errorf("indexes of %q are %q; want at most 63 bytes of UTF-8 ending in _expiry_idx and in _owner_idx", table, ix)
		}
	}
	return ix
}

// exerciseStore runs every operation through s on a real database.
func exerciseStore(t *testing.T, s *sqlstore.Store, clk *manualClock) {
	t.Helper()
	ctx := context.Background()
	now := clk.Now()
	if err := s.Set(ctx, "alpha", []byte("A\x00lpha"), now.Add(time.Hour)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set(ctx, "beta", []byte("beta"), now.Add(time.Second)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if data, found, err := s.Get(ctx, "alpha"); err != nil || !found || !bytes.Equal(data, []byte("A\x00lpha")) {
		t.Fatalf("Get = %q, %v, %v", data, found, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	clk.Add(2 * time.Second) // beta expires
	if _, found, err := s.Get(ctx, "beta"); err != nil || found {
		t.Errorf("Get(expired) = %v, %v; want not found", found, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
	moved := clk.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	if err := s.Touch(ctx, "alpha", moved); err != nil {
		t.Errorf("Touch: %v", err)
	}
	if err := s.Touch(ctx, "beta", moved); err != nil { // expired: not revived
		t.Errorf("Touch(expired): %v", err)
	}
	var seen []string
	err := s.Range(ctx, func(id string, data []byte, exp time.Time) bool {
		seen = append(seen, id)
		if id == s.Key("alpha") && (!exp.Equal(moved) || string(data) != "A\x00lpha") {
			t.Errorf("Range: alpha has %q until %v; want until %v", data, exp, moved)
		}
		return true
	})
	if err != nil || len(seen) != 1 || seen[0] != s.Key("alpha") {
		t.Errorf("Range = %v, saw %q; want only alpha's key", err, seen)
	}
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1 (beta)", n, err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Live != 1 || st.Expired != 0 || !st.Newest.Equal(moved) {
		t.Errorf("Stats = %+v, %v; want 1 live until %v", st, err, moved)
	}
	if err := s.Delete(ctx, "alpha"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, found, err := s.Get(ctx, "alpha"); err != nil || found {
		t.Errorf("Get(deleted) = %v, %v", found, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
}

func TestIdentQuotedNamesEndToEnd(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, kind)
			ns := createNamespace(t, db, kind, "ns")
			long := padName(testdb.Name("t"), "x", 63)
			longUnicode := padName(testdb.Name("s"), "é", 63)
			hostile := sqlstore.GoldenHostileNames
			cases := []struct {
				name         string
				schema       string
				table        string
				id, data, ex string
			}{
				{"reserved columns", "", testdb.Name("select"), "select", "order", "group"},
				{"reserved columns 2", "", testdb.Name("from"), "user", "table", "limit"},
				// On SQLite ns is "" and the fixed names are safe: the file is the test's own.
				{"reserved table in a schema", ns, "table", "key", "value", "when"},
				{"reserved table 2", ns, "user", "token", "data", "expiry"},
				{"mixed case", "", testdb.Name("MySessions"), "Token", "Data", "ExpiresAt"},
				{"Portuguese", "", testdb.Name("sessões"), "chave", "dados", "expiração"},
				{"Japanese", "", testdb.Name("セッション"), "トークン", "データ", "有効期限"},
				{"63 bytes", "", long, "token", "data", "expiry"},
				{"63 bytes Unicode", "", longUnicode, "token", "data", "expiry"},
				// The names of testdata/golden/*_hostile.sql, in the test's namespace.
				{"golden hostile", ns, hostile.Table, hostile.ID, hostile.Data, hostile.Expiry},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					clk := &manualClock{now: time.Now().Truncate(time.Millisecond)}
					opts := []sqlstore.Option{sqlstore.WithTable(tc.table), sqlstore.WithColumns(tc.id, tc.data, tc.ex)}
					if tc.schema != "" {
						opts = append(opts, sqlstore.WithSchema(tc.schema))
					}
					s := openQuotedStore(t, db, clk, opts...)
					checkIndexNames(t, kind, db, tc.schema, tc.table)
					exerciseStore(t, s, clk)
					// A second New on the existing table runs no DDL and works.
					s2 := openQuotedStore(t, db, clk, append(opts, sqlstore.WithCreateTable(false))...)
					if err := s2.Set(context.Background(), "gamma", []byte("g"), time.Time{}); err != nil {
						t.Errorf("Set through a second store: %v", err)
					}
					if data, found, err := s.Get(context.Background(), "gamma"); err != nil || !found || string(data) != "g" {
						t.Errorf("Get of the second store's session = %q, %v, %v", data, found, err)
					}
				})
			}
		})
	}
}

func TestIdentTwoStoresCoexist(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, kind)
			ctx := context.Background()
			clk := &manualClock{now: time.Now().Truncate(time.Millisecond)}
			// Two ordinary names, and two 63-byte names alike in their first
			// 62 bytes, whose index names are shortened.
			prefix := padName(testdb.Name("t"), "x", 62)
			tables := []string{testdb.Name("a"), testdb.Name("b"), prefix + "1", prefix + "2"}
			var stores []*sqlstore.Store
			indexes := map[string]string{}
			for _, table := range tables {
				s := openQuotedStore(t, db, clk, sqlstore.WithTable(table))
				for _, ix := range checkIndexNames(t, kind, db, "", table) {
					if other, dup := indexes[ix]; dup {
						t.Errorf("tables %q and %q share the index name %q", other, table, ix)
					}
					indexes[ix] = table
				}
				stores = append(stores, s)
			}
			for i, s := range stores {
				if err := s.Set(ctx, "same-id", []byte(fmt.Sprint("store ", i)), time.Time{}); err != nil {
					t.Fatalf("Set in store %d: %v", i, err)
				}
				if err := s.Set(ctx, "short", []byte("x"), clk.Now().Add(time.Second)); err != nil {
					t.Fatalf("Set in store %d: %v", i, err)
				}
			}
			if err := stores[0].Delete(ctx, "same-id"); err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Second)
			if n, err := stores[1].Prune(ctx); err != nil || n != 1 {
				t.Errorf("Prune of store 1 = %d, %v; want 1", n, err)
			}
			for i, s := range stores {
				data, found, err := s.Get(ctx, "same-id")
				if i == 0 {
					if err != nil || found {
						t.Errorf("store 0 after its Delete: %q, %v, %v", data, found, err)
					}
					continue
				}
				if want := fmt.Sprint("store ", i); err != nil || !found || string(data) != want {
					t.Errorf("store %d Get = %q, %v, %v; want %q", i, data, found, err, want)
				}
				st, err := s.Stats(ctx)
				wantExpired := int64(1)
				if i == 1 {
					wantExpired = 0 // pruned
				}
				if err != nil || st.Live != 1 || st.Expired != wantExpired {
					t.Errorf("store %d Stats = %+v, %v; want 1 live, %d expired", i, st, err, wantExpired)
				}
			}
		})
	}
}

// hostileLockName is the advisory lock name of the table of the hostile
// names (sqlstore.GoldenHostileNames).
const hostileLockName = "sqlstore_3b5ff5099f49f1a8"

// TestMockHostileNames runs New, with WithSchema, WithTable and WithColumns
// of the hostile names, and every operation: each sends its statement of
// testdata/golden/*_hostile.sql, and binds the schema and table unquoted
// where they are values.
func TestMockHostileNames(t *testing.T) {
	n := sqlstore.GoldenHostileNames
	opts := []sqlstore.Option{sqlstore.WithSchema(n.Schema), sqlstore.WithTable(n.Table), sqlstore.WithColumns(n.ID, n.Data, n.Expiry)}
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			q := func(name string) string { return hostileSQL(t, c.name, name) }
			create := hostileSQLs(t, c.name, "create_table")
			db, mock := mockDB(t)
			// WithSchema: no current-schema query.
			mock.ExpectQuery(q("columns")).WithArgs(n.Schema, n.Table).WillReturnRows(mockRows("column_name"))
			mock.ExpectBegin()
			if lock := q("create_lock"); lock != "" {
				mock.ExpectExec(lock).WithArgs(hostileLockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			for _, stmt := range create {
				mock.ExpectExec(stmt).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 0))
			}
			mock.ExpectCommit()
			c.expectLocalReads(mock, n.Schema)
			for _, name := range []string{"get", "set", "touch", "delete"} {
				mock.ExpectPrepare(q(name))
			}
			s := newMockStore(t, c, db, opts...)
			mockMet(t, mock)

			// CreateTableSQL gives the same statements.
			if got, err := sqlstore.CreateTableSQL(c.d, opts...); err != nil || strings.Join(got, "\n") != strings.Join(create, "\n") {
				t.Errorf("CreateTableSQL = %q, %v; want %q", got, err, create)
			}

			// Every operation sends its statement; the driver's error ends it.
			boom := errors.New("boom")
			now, exp, cut := c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 11:20:30.123"), c.cutoff()
			mock.ExpectQuery(q("get")).WithArgs(mockKey, now, cut).WillReturnError(boom)
			mock.ExpectExec(q("set")).WithArgs(mockKey, []byte("x"), exp, nil, now, now, false).WillReturnError(boom)
			mock.ExpectExec(q("touch")).WithArgs(exp, now, mockKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillReturnError(boom)
			mock.ExpectExec(q("delete")).WithArgs(mockKey).WillReturnError(boom)
			mock.ExpectQuery(q("count")).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectExec(q("clear")).WithoutArgs().WillReturnError(boom)
			mock.ExpectQuery(q("range")).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectQuery(q("stats")).WithArgs(now, cut, now, cut, now, cut).WillReturnError(boom)
			mock.ExpectQuery(q("table_size")).WithArgs(n.Schema, n.Table).WillReturnError(boom)
			tryLock, unlock := q("try_lock"), q("unlock")
			if tryLock != "" {
				mock.ExpectQuery(tryLock).WithArgs(hostileLockName).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(q("prune")).WillBeClosed()
			mock.ExpectExec(q("prune")).WithArgs(now, 1000).WillReturnError(boom)
			if unlock != "" {
				mock.ExpectExec(unlock).WithArgs(hostileLockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			if tryLock != "" { // PruneProgress
				mock.ExpectQuery(tryLock).WithArgs(hostileLockName).WillReturnError(boom)
			} else {
				mock.ExpectPrepare(q("prune")).WillReturnError(boom)
			}
			for op, err := range callEveryOperation(context.Background(), s) {
				if !errors.Is(err, boom) {
					t.Errorf("%s = %v; want the driver's error after the expected statement", op, err)
				}
			}
			mockMet(t, mock)
		})
	}
}

// wrappingDriver stands for a driver wrapped by another package, as
// OpenTelemetry's otelsql wraps one: its package is not a driver's.
type wrappingDriver struct{ driver.Driver }

type wrappingConnector struct {
	d    wrappingDriver
	name string
}

func (c wrappingConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.name) }

func (c wrappingConnector) Driver() driver.Driver { return c.d }

// TestDetectDialectWrappedDriver: the dialect of a wrapped driver cannot be
// told; the error says to pass WithDialect, and with it the store works.
func TestDetectDialectWrappedDriver(t *testing.T) {
	inner, err := sql.Open("sqlite", "unused")
	if err != nil {
		t.Fatal(err)
	}
	inner.Close()
	db := sql.OpenDB(wrappingConnector{d: wrappingDriver{inner.Driver()}, name: filepath.Join(t.TempDir(), "wrapped.db")})
	defer db.Close()
	ctx := context.Background()
	_, err = sqlstore.New(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "WithDialect(sqlstore.SQLite)") || !strings.Contains(err.Error(), "wrappingDriver") {
		t.Fatalf("New over a wrapped driver = %v, want an error naming the driver and WithDialect", err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New with WithDialect over a wrapped driver: %v", err)
	}
	defer s.Close()
	if err := s.Set(ctx, "id", []byte("wrapped"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.Get(ctx, "id"); err != nil || !found || string(got) != "wrapped" {
		t.Fatalf("Get = %q, %v, %v", got, found, err)
	}
}

// TestMySQLTouchPlan checks on a real MySQL or MariaDB server that Touch
// finds its row through the primary key whatever its bounds on expiry.
// Without the index hint, a window that starts before now made the server
// choose the expiry index, and scan it from the window's end up, for a
// single row.
func TestMySQLTouchPlan(t *testing.T) {
	_, db, table := openTestDB(t, "mysql")
	s := newTestStore(t, db, table)
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Second)
	exp := now.Add(time.Hour)
	for i := range 200 {
		if err := s.Set(ctx, fmt.Sprintf("plan-%03d", i), []byte("x"), exp); err != nil {
			t.Fatal(err)
		}
	}
	d, tb := s.Dialect(), s.Table()
	explain := fixtureSQL(t, "mysql", "explain", d.Touch(tb))
	for _, c := range []struct {
		name              string
		id                string
		low, expiry, high time.Time
	}{
		// Nothing in the expiry ranges.
		{"stored, expiry inside the window", "plan-007", exp.Add(-time.Minute), exp, exp.Add(time.Minute)},
		{"missing, expiry inside the window", "plan-none", exp.Add(-time.Minute), exp, exp.Add(time.Minute)},
		// A window that starts before now (a threshold longer than the
		// time to expiry) leaves one range, above the window: the one the
		// expiry index was chosen for.
		{"stored, window from before now", "plan-008", now.Add(-time.Second), exp, exp.Add(time.Minute)},
		{"missing, window from before now", "plan-none", now.Add(-time.Second), exp, exp.Add(time.Minute)},
		// Every row in the expiry ranges.
		{"stored, expiry outside the window", "plan-009", exp.Add(time.Hour), exp.Add(2 * time.Hour), exp.Add(3 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := req.Touch{Key: s.Key(c.id), Expiry: c.expiry, Now: now, Low: c.low, High: c.high}
			var args req.Args
			rows, err := db.QueryContext(ctx, explain, a.Values(req.NewTimes(d.EncodeTime), &args)...)
			if err != nil {
				t.Fatal(err)
			}
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			plan := dumpRows(t, rows)
			key := slices.Index(cols, "key")
			if len(plan) != 1 || key < 0 {
				t.Fatalf("EXPLAIN gave columns %q and rows %q, want one row with a key", cols, plan)
			}
			if got := plan[0][key]; got != "PRIMARY" {
				t.Errorf("Touch's row is found through index %q, want PRIMARY; plan %q", got, plan)
			}
		})
	}
}
