package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"go.uber.org/goleak"
)

// TestLeakNew checks that a store made by New over the caller's pool leaves
// no goroutine after Close (the pool's own end with db.Close), and that a
// failed New leaves none either.
//
// Like every goroutine-leak test (TestLeakClose, TestLeakNew), it does not
// call t.Parallel: goleak looks at every goroutine of the process, so these
// run alone, before the parallel tests of the package start.
func TestLeakNew(t *testing.T) {
	for _, kind := range append(testdb.Kinds, "pgx") {
		t.Run(kind, func(t *testing.T) {
			dsnURL := testdb.DSN(t, kind)
			admin := testdb.OpenDSN(t, kind, dsnURL)
			table := testdb.Table(t, admin)
			snapshot := goleak.IgnoreCurrent()

			driverName, driverDSN, _, err := dsn.Parse(dsnURL)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "pgx" {
				driverName = "pgx"
			}
			db, err := sql.Open(driverName, driverDSN)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if st, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Name("missing")), sqlstore.WithCreateTable(false)); err == nil {
				st.Close()
				t.Error("New of a missing table with WithCreateTable(false) succeeded")
			}
			st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(time.Millisecond), sqlstore.WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Set(ctx, "leak", []byte("x"), time.Now().Add(-time.Second)); err != nil {
				t.Error(err)
			}
			time.Sleep(50 * time.Millisecond) // a few background sweeps
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Errorf("db.Close: %v", err)
			}
			goleak.VerifyNone(t, snapshot)
		})
	}
}

// TestReadOnlyReplica: on a MariaDB connection in read-only mode (as a read
// replica runs), the server refuses to prepare the writes; New still
// succeeds and the Store serves reads, and a write reports the refusal.
func TestReadOnlyReplica(t *testing.T) {
	dsn := testdb.DSN(t, "mysql")
	db := testdb.OpenDSN(t, "mysql", dsn)
	table := testdb.Table(t, db)
	ctx := context.Background()
	rw, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if err := rw.Set(ctx, "id", []byte("replicated"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ro := testdb.OpenDSN(t, "mysql", testdb.WithParams(t, dsn, map[string]string{"tx_read_only": "1"}))
	s, err := sqlstore.New(ctx, ro, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New on a read-only connection: %v; want a Store that reads", err)
	}
	defer s.Close()
	if got, found, err := s.Get(ctx, "id"); err != nil || !found || string(got) != "replicated" {
		t.Fatalf("Get on a read-only connection = %q, %v, %v", got, found, err)
	}
	if err := s.Set(ctx, "id", []byte("x"), time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "READ ONLY") {
		t.Fatalf("Set on a read-only connection = %v; want the server's refusal", err)
	}
}

// schemaStatements reads the statements of schema/name.sql, without
// comments.
func schemaStatements(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("schema/" + name + ".sql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// TestSchemaFiles proves that schema/*.sql hold what the store creates, and
// that a table a DBA creates from them serves a store that creates nothing.
func TestSchemaFiles(t *testing.T) {
	dialects := map[string]sqlstore.Dialect{"postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite}
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			want, err := sqlstore.CreateTableSQL(dialects[kind])
			if err != nil {
				t.Fatal(err)
			}
			got := schemaStatements(t, kind)
			if strings.Join(got, ";\n") != strings.Join(want, ";\n") {
				t.Fatalf("schema/%s.sql holds\n%s\nwant what the store runs:\n%s", kind, strings.Join(got, ";\n"), strings.Join(want, ";\n"))
			}

			// Run the file's DDL, renamed to a table of the test's own.
			db := testdb.Open(t, kind)
			table := testdb.Table(t, db)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, stmt := range got {
				stmt = strings.ReplaceAll(stmt, "sessions", table)
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(false), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatalf("New on the schema file's table: %v", err)
			}
			defer s.Close()
			if err := s.Set(ctx, "id", []byte("data"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if data, found, err := s.Get(ctx, "id"); err != nil || !found || string(data) != "data" {
				t.Fatalf("Get = %q, %v, %v", data, found, err)
			}
			if n, err := s.Prune(ctx); err != nil || n != 0 {
				t.Fatalf("Prune = %d, %v", n, err)
			}
		})
	}
}

// TestSchemaUpgradeFiles proves that schema/*_upgrade.sql hold what the
// store runs to upgrade a table of the previous version (Dialect.Upgrade of
// the four columns it lacks), and that such a table, once a DBA ran the
// file, serves a store that alters nothing, sessions written before the
// upgrade included.
func TestSchemaUpgradeFiles(t *testing.T) {
	dialects := map[string]sqlstore.Dialect{"postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite}
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			want := sqlstore.UpgradeSQL(dialects[kind])
			got := schemaStatements(t, kind+"_upgrade")
			if strings.Join(got, ";\n") != strings.Join(want, ";\n") {
				t.Fatalf("schema/%s_upgrade.sql holds\n%s\nwant what the store runs:\n%s", kind, strings.Join(got, ";\n"), strings.Join(want, ";\n"))
			}

			// Create the previous version's table, renamed to one of the
			// test's own, with a session in it; then run the file on it, one
			// statement at a time, outside any transaction.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db, table, rename := previousVersionTable(t, kind)
			for _, stmt := range got {
				if _, err := db.ExecContext(ctx, rename(stmt)); err != nil {
					t.Fatalf("%s: %v", rename(stmt), err)
				}
			}

			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(false), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatalf("New on the upgraded table: %v", err)
			}
			defer s.Close()
			if data, found, err := s.Get(ctx, "old-id"); err != nil || !found || string(data) != "old data" {
				t.Fatalf("Get of the session written before the upgrade = %q, %v, %v", data, found, err)
			}
			if err := s.SetOwned(ctx, "id", "alice", []byte("data"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if ss, err := s.Sessions(ctx, "alice"); err != nil || len(ss) != 1 || ss[0].Key != s.Key("id") || string(ss[0].Data) != "data" {
				t.Fatalf("Sessions = %+v, %v; want the one SetOwned wrote", ss, err)
			}
			if err := s.Delete(ctx, "old-id"); err != nil {
				t.Fatal(err)
			}
			if _, found, err := s.Get(ctx, "old-id"); err != nil || found {
				t.Fatalf("Get after Delete = %v, %v; want not found", found, err)
			}
			if n, err := s.Count(ctx); err != nil || n != 1 {
				t.Fatalf("Count = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestSchemaUpgradeByNew: New does what schema/*_upgrade.sql do, as their
// comments say. Processes starting at once on a table of the previous
// version, with a session in it, all succeed; the table then serves a store
// that alters nothing, and the session written before the upgrade.
func TestSchemaUpgradeByNew(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db, table, _ := previousVersionTable(t, kind)
			opts := []sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}
			_, err := sqlstore.New(ctx, db, append(opts, sqlstore.WithCreateTable(false))...)
			if err == nil || !strings.Contains(err.Error(), "predates the columns owner, created, updated, ended") || !strings.Contains(err.Error(), "schema/"+kind+"_upgrade.sql") {
				t.Fatalf("New without creation on the previous version's table = %v; want an error pointing to schema/%s_upgrade.sql", err, kind)
			}

			const procs = 4
			errs := make(chan error, procs)
			for range procs {
				go func() {
					s, err := sqlstore.New(ctx, db, opts...)
					if err == nil {
						err = s.Close()
					}
					errs <- err
				}()
			}
			for range procs {
				if err := <-errs; err != nil {
					t.Errorf("New upgrading the table: %v", err)
				}
			}
			if t.Failed() {
				return
			}
			s, err := sqlstore.New(ctx, db, append(opts, sqlstore.WithCreateTable(false))...)
			if err != nil {
				t.Fatalf("New without creation on the upgraded table: %v", err)
			}
			defer s.Close()
			if data, found, err := s.Get(ctx, "old-id"); err != nil || !found || string(data) != "old data" {
				t.Fatalf("Get of the session written before the upgrade = %q, %v, %v", data, found, err)
			}
			if err := s.SetOwned(ctx, "old-id", "alice", []byte("new data"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if ss, err := s.Sessions(ctx, "alice"); err != nil || len(ss) != 1 || ss[0].Key != s.Key("old-id") || string(ss[0].Data) != "new data" {
				t.Fatalf("Sessions = %+v, %v; want the session SetOwned took over", ss, err)
			}
		})
	}
}

func TestMockNew(t *testing.T) {
	for _, c := range mockDialects(t) {
		for _, exists := range []bool{false, true} {
			for _, hashed := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/exists=%v/hashed=%v", c.name, exists, hashed), func(t *testing.T) {
					db, mock := mockDB(t)
					preps := c.expectNew(mock, exists, hashed)
					for _, p := range preps {
						p.WillBeClosed()
					}
					s := newMockStore(t, c, db, sqlstore.WithHashedIDs(hashed))
					if s.Dialect() != c.d || s.DB() != db {
						t.Error("Dialect() or DB() is not what New was given")
					}
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					mockMet(t, mock) // includes: the four statements were closed
					if err := db.Ping(); err != nil {
						t.Errorf("Close closed the caller's pool: %v", err)
					}
				})
			}
		}
	}
}

func TestMockNewErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range mockDialects(t) {
		t.Run(c.name+"/missing-column", func(t *testing.T) {
			// A table without a column it always had is never altered.
			db, mock := mockDB(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(c.schema))
			cols := mockRows("c")
			for _, col := range mockColumns {
				if col == "expiry" {
					col = "expires"
				}
				cols.AddRow(col)
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
			c.expectIndexes(mock)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			want := "sqlstore: table " + c.schema + ".sessions has no column expiry"
			if err == nil || err.Error() != want {
				t.Errorf("New = %v; want %q (and no DDL)", err, want)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/missing-table-no-create", func(t *testing.T) {
			db, mock := mockDB(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(mockRows("c"))
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d), sqlstore.WithCreateTable(false))
			for _, want := range []string{"sqlstore: table " + c.schema + ".sessions does not exist", "schema/" + c.name + ".sql", "`sqlstore migrate`"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v; want it to contain %q", err, want)
				}
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/create-denied", func(t *testing.T) {
			db, mock := mockDB(t)
			denied := &sqlStateError{"42501"}
			c.expectCreateFails(mock, denied)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, denied) {
				t.Errorf("New = %v; want it to wrap the driver's error", err)
			}
			for _, want := range []string{"sqlstore: table " + c.schema + ".sessions does not exist and this role may not create it", "run schema/" + c.name + ".sql", "`sqlstore migrate`"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v; want it to contain %q", err, want)
				}
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/create-fails", func(t *testing.T) {
			// Not a privilege error: no hint about roles, only what failed.
			db, mock := mockDB(t)
			full := &sqlStateError{"53100"}
			c.expectCreateFails(mock, full)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, full) || !strings.HasPrefix(err.Error(), "sqlstore: creating table "+c.schema+".sessions: ") ||
				strings.Contains(err.Error(), "role") {
				t.Errorf("New = %v; want the driver's error after the table's name, and no hint about roles", err)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/prepare-get-fails", func(t *testing.T) {
			db, mock := mockDB(t)
			boom := errors.New("boom")
			c.expectCatalog(mock, true)
			c.expectLocalReads(mock, c.schema)
			mock.ExpectPrepare(c.get).WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: preparing") {
				t.Errorf("New = %v; want a wrapped prepare error", err)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/prepare-write-fails", func(t *testing.T) {
			// A server that refuses to prepare a write (MariaDB on a
			// read-only replica) leaves a Store that reads; the write
			// reports the refusal, and is prepared again when next run.
			db, mock := mockDB(t)
			boom := errors.New("boom")
			c.expectCatalog(mock, true)
			c.expectLocalReads(mock, c.schema)
			mock.ExpectPrepare(c.get).WillBeClosed()
			mock.ExpectPrepare(c.set).WillBeClosed()
			mock.ExpectPrepare(c.touch).WillReturnError(boom)
			mock.ExpectPrepare(c.del).WillBeClosed()
			s, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d), sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(0))
			if err != nil {
				t.Fatalf("New = %v; want a Store that can read", err)
			}
			mock.ExpectPrepare(c.touch).WillReturnError(boom)
			if err := s.Touch(ctx, mockID, time.Now().Add(time.Hour)); !errors.Is(err, boom) || !strings.Contains(err.Error(), "sqlstore: touch: preparing") {
				t.Errorf("Touch = %v; want the wrapped prepare error", err)
			}
			any := sqlmock.AnyArg()
			mock.ExpectPrepare(c.touch).WillBeClosed().ExpectExec().WithArgs(any, any, mockKey, any, any, any, c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, mockID, time.Now().Add(time.Hour)); err != nil {
				t.Errorf("second Touch = %v; want it prepared and run", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			mockMet(t, mock) // every statement prepared was closed
		})
		t.Run(c.name+"/columns-query-fails", func(t *testing.T) {
			db, mock := mockDB(t)
			boom := errors.New("boom")
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: reading the columns of "+c.schema+".sessions") {
				t.Errorf("New = %v", err)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/indexes-query-fails", func(t *testing.T) {
			db, mock := mockDB(t)
			boom := errors.New("boom")
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(c.schema))
			cols := mockRows("c")
			for _, col := range mockColumns {
				cols.AddRow(col)
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
			mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: reading the indexes of "+c.schema+".sessions") {
				t.Errorf("New = %v", err)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/no-schema", func(t *testing.T) {
			db, mock := mockDB(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(nil))
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if err == nil || !strings.Contains(err.Error(), "WithSchema") {
				t.Errorf("New with no current database = %v; want an error suggesting WithSchema", err)
			}
			mockMet(t, mock)
		})
	}

	// Errors found before any query runs.
	db, mock := mockDB(t)
	for _, tc := range []struct {
		opts []sqlstore.Option
		want string
	}{
		{nil, "pass WithDialect"}, // sqlmock's driver cannot be detected
		{[]sqlstore.Option{sqlstore.WithDialect(nil)}, "sqlstore: WithDialect: nil dialect"},
		{[]sqlstore.Option{sqlstore.WithClock(nil)}, "sqlstore: WithClock: nil clock"},
		{[]sqlstore.Option{sqlstore.WithDefaultTTL(0)}, "sqlstore: WithDefaultTTL: 0s is not positive"},
		{[]sqlstore.Option{sqlstore.WithMaxDataSize(-1)}, "sqlstore: WithMaxDataSize: -1 is not positive"},
		{[]sqlstore.Option{sqlstore.WithPruneBatchSize(0)}, "sqlstore: WithPruneBatchSize: 0 is not positive"},
		{[]sqlstore.Option{sqlstore.WithTouchThreshold(-time.Second)}, "sqlstore: WithTouchThreshold: -1s is negative"},
		{[]sqlstore.Option{sqlstore.WithMaxRetries(-1)}, "sqlstore: WithMaxRetries: -1 is negative"},
		{[]sqlstore.Option{sqlstore.WithTiDBTTL("1 DAY")}, "sqlstore: WithTiDBTTL"},
		{[]sqlstore.Option{sqlstore.WithDialect(sqlstore.Postgres), sqlstore.WithTiDBTTL("1h")}, "needs the MySQL dialect"},
		{[]sqlstore.Option{sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithColumns("a", "b", "a")}, "not distinct"},
	} {
		_, err := sqlstore.New(ctx, db, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New = %v; want an error containing %q", err, tc.want)
		}
		wantNoQuery(t, "New", err)
	}
	mockMet(t, mock)
	if _, err := sqlstore.New(ctx, nil); err == nil {
		t.Error("New(nil db) = nil error")
	}
}

// TestMockNewRetriesCatalogConflicts: a transient conflict while New reads
// the catalog or creates the table (a Galera node applying another process's
// DDL answers 1213) is retried, not returned.
func TestMockNewRetriesCatalogConflicts(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.d.Name(), func(t *testing.T) {
			db, mock := mockDB(t)
			conflict := &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("schema").AddRow(c.schema))
			cols := func() *sqlmock.Rows {
				rows := mockRows("column_name")
				for _, col := range mockColumns {
					rows.AddRow(col)
				}
				return rows
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			// A conflict reading the indexes reads the columns again.
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols())
			mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols())
			c.expectIndexes(mock)
			c.expectLocalReads(mock, c.schema)
			for _, q := range []string{c.get, c.set, c.touch, c.del} {
				mock.ExpectPrepare(q)
			}
			newMockStore(t, c, db)
			mockMet(t, mock)

			// Retries stop at WithMaxRetries, and the error is the conflict.
			db2, mock2 := mockDB(t)
			mock2.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("schema").AddRow(c.schema))
			for range 3 {
				mock2.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			}
			_, err := sqlstore.New(context.Background(), db2, sqlstore.WithDialect(c.d), sqlstore.WithMaxRetries(2), sqlstore.WithPruneInterval(0))
			if !errors.Is(err, conflict) {
				t.Fatalf("New after 3 conflicts = %v, want the conflict", err)
			}
			mockMet(t, mock2)
		})
	}
}

// TestColumnsDifferOnlyInCase: MySQL and SQLite fold the case of column
// names, so names that differ only in case are refused before any query.
func TestColumnsDifferOnlyInCase(t *testing.T) {
	opt := sqlstore.WithColumns("token", "Token", "expiry")
	if _, err := sqlstore.CreateTableSQL(sqlstore.MySQL, opt); err == nil || !strings.Contains(err.Error(), "not distinct") {
		t.Errorf("CreateTableSQL = %v, want an error saying the names are not distinct", err)
	}
	db, mock := mockDB(t)
	if _, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(sqlstore.SQLite), opt); err == nil || !strings.Contains(err.Error(), "only in case") {
		t.Errorf("New = %v, want an error saying the names differ only in case", err)
	}
	mockMet(t, mock) // no query ran
}

// The upgrade of a table made by the release before the owner columns: the
// statements that release ran are in testdata/legacy/, its golden files.

var dialects = map[string]sqlstore.Dialect{"sqlite": sqlstore.SQLite, "postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL}

// legacy holds the statements of the previous release, by dialect.
var legacy struct {
	once  sync.Once
	files map[string]map[string]string
	err   error
}

// legacyFiles returns the statements of the previous release, read once:
// dialect → statement name → SQL.
func legacyFiles(t testing.TB) map[string]map[string]string {
	t.Helper()
	legacy.once.Do(func() { legacy.files, legacy.err = readGolden("testdata/legacy") })
	if legacy.err != nil {
		t.Fatal(legacy.err)
	}
	return legacy.files
}

// legacySQL returns the previous release's statement name of dialect for
// table (named "sessions" in the files).
func legacySQL(t testing.TB, dialect, name, table string) string {
	t.Helper()
	q, ok := legacyFiles(t)[dialect][name]
	if !ok {
		t.Fatalf("testdata/legacy/%s.sql has no statement %q", dialect, name)
	}
	for _, quote := range []string{`"`, "`"} {
		q = strings.ReplaceAll(q, quote+"sessions_expiry_idx"+quote, quote+table+"_expiry_idx"+quote)
		q = strings.ReplaceAll(q, quote+"sessions"+quote, quote+table+quote)
	}
	return q
}

// legacyTable creates table as the previous release did and writes n
// sessions into it with that release's upsert, expiring in an hour.
func legacyTable(t *testing.T, kind string, db *sql.DB, table string, n int) time.Time {
	t.Helper()
	legacyCreate(t, kind, db, table)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	for i := range n {
		legacySet(t, kind, db, table, fmt.Sprintf("old-%d", i), fmt.Appendf(nil, "data-%d", i), exp)
	}
	return exp
}

// legacyCreate creates table as the previous release did.
func legacyCreate(t *testing.T, kind string, db *sql.DB, table string) {
	t.Helper()
	for i := 1; ; i++ {
		name := fmt.Sprintf("create_table.%d", i)
		if _, ok := legacyFiles(t)[kind][name]; !ok && i > 1 {
			break
		}
		if _, err := db.ExecContext(context.Background(), legacySQL(t, kind, name, table)); err != nil {
			t.Fatalf("legacy %s: %v", name, err)
		}
	}
}

// legacySet writes a session into table with the previous release's upsert:
// id hashed, as that release's default did.
func legacySet(t *testing.T, kind string, db *sql.DB, table, id string, data []byte, exp time.Time) {
	t.Helper()
	sum := sha256.Sum256([]byte(id))
	if _, err := db.ExecContext(context.Background(), legacySQL(t, kind, "set", table), hex.EncodeToString(sum[:]), data, dialects[kind].EncodeTime(exp)); err != nil {
		t.Fatalf("legacy set: %v", err)
	}
}

// TestUpgradeInPlace: New upgrades a table of the previous release without
// losing a row, once, however many processes start at once; with
// WithCreateTable(false) it says how to upgrade instead.
func TestUpgradeInPlace(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := testdb.DSN(t, kind)
			db := testdb.OpenDSN(t, kind, dsn)
			table := testdb.Table(t, db)
			exp := legacyTable(t, kind, db, table, 20)
			ctx := context.Background()

			_, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(false))
			if err == nil || !strings.Contains(err.Error(), "sqlstore migrate") || !strings.Contains(err.Error(), "schema/"+kind+"_upgrade.sql") ||
				!strings.Contains(err.Error(), "predates the columns owner, created, updated, ended") {
				t.Fatalf("New(WithCreateTable(false)) on an old table = %v; want an error naming the missing columns, `sqlstore migrate` and schema/%s_upgrade.sql", err, kind)
			}

			// Eight processes start at once on the old table.
			const procs = 8
			stores := make([]*sqlstore.Store, procs)
			errs := make([]error, procs)
			pools := make([]*sql.DB, procs)
			for i := range pools {
				pools[i] = testdb.OpenDSN(t, kind, dsn)
			}
			var wg sync.WaitGroup
			for i := range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stores[i], errs[i] = sqlstore.New(ctx, pools[i], sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("process %d: New on the old table: %v", i, err)
				}
				defer stores[i].Close()
			}
			s := stores[0]
			// Every old row is readable, and has no owner.
			for i := range 20 {
				got, found, err := s.Get(ctx, fmt.Sprintf("old-%d", i))
				if err != nil || !found || string(got) != fmt.Sprintf("data-%d", i) {
					t.Fatalf("old row %d after the upgrade: %q, %v, %v", i, got, found, err)
				}
			}
			if n, err := s.Count(ctx); err != nil || n != 20 {
				t.Fatalf("Count after the upgrade = %d, %v; want 20", n, err)
			}
			// The new operations work on old rows.
			if err := s.SetOwned(ctx, "old-1", "kim", []byte("mine"), exp); err != nil {
				t.Fatal(err)
			}
			list, err := s.Sessions(ctx, "kim")
			if err != nil || len(list) != 1 || list[0].Created.IsZero() || string(list[0].Data) != "mine" {
				t.Fatalf("Sessions(kim) = %+v, %v; want old-1, created by its first Set after the upgrade", list, err)
			}
			if err := s.Delete(ctx, "old-2"); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "old-2", []byte("late"), exp); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := s.Get(ctx, "old-2"); found {
				t.Fatal("an old session ended after the upgrade was revived by a late Set")
			}
			// The table is current now: a role that may not alter it works.
			s2, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(false), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatalf("New(WithCreateTable(false)) after the upgrade: %v", err)
			}
			s2.Close()
			if got := indexNames(t, kind, db, table); len(got) != 2 {
				t.Fatalf("indexes after the upgrade: %q; want the expiry and the owner index", got)
			}
		})
	}
}

// indexNames lists the indexes of table the way New reads them.
func indexNames(t testing.TB, kind string, db *sql.DB, table string) []string {
	t.Helper()
	var schema string
	if err := db.QueryRow(dialects[kind].CurrentSchema()).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(dialects[kind].Indexes(), schema, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		var valid bool
		if err := rows.Scan(&name, &valid); err != nil {
			t.Fatal(err)
		}
		if valid && !strings.HasSuffix(name, "_pkey") && name != "PRIMARY" && !strings.HasPrefix(name, "sqlite_autoindex") {
			names = append(names, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestUpgradeRebuildsInvalidIndex: a CREATE INDEX CONCURRENTLY that failed
// leaves an INVALID index, which IF NOT EXISTS takes for done; New finds it
// and builds it again.
func TestUpgradeRebuildsInvalidIndex(t *testing.T) {
	db := testdb.Open(t, "postgres")
	table := testdb.Table(t, db)
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Mark the owner index invalid, as a failed concurrent build leaves it.
	if _, err := db.ExecContext(ctx, fixtureSQL(t, "postgres", "invalidate_index"), table+"_owner_idx"); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, "postgres", db, table); len(got) != 1 {
		t.Fatalf("valid indexes with the owner index marked invalid: %q, want the expiry index only", got)
	}
	_, err = sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(false))
	if err == nil || !strings.Contains(err.Error(), "owner index whose build failed") {
		t.Fatalf("New(WithCreateTable(false)) = %v; want an error about the failed owner index", err)
	}
	s, err = sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New over an invalid owner index: %v", err)
	}
	defer s.Close()
	if got := indexNames(t, "postgres", db, table); len(got) != 2 {
		t.Fatalf("indexes after New: %q; want both valid", got)
	}
}

// expectCreateFails expects New on a missing table, with the default names,
// whose first CREATE fails with err and is rolled back.
func (c mockDialect) expectCreateFails(mock sqlmock.Sqlmock, err error) {
	mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(mockRows("s").AddRow(c.schema))
	mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(mockRows("c"))
	mock.ExpectBegin()
	if c.createLock != "" {
		mock.ExpectExec(c.createLock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	mock.ExpectExec(c.create[0]).WithoutArgs().WillReturnError(err)
	mock.ExpectRollback()
}

// previousVersionTable creates, under a table name of the test's own, the
// previous version's table (testdata/legacy: what schema/*_upgrade.sql
// start from) with one session in it ("old-id", "old data", expiring in an
// hour), and returns the pool, the table and the function that renames a
// statement's "sessions" to that table.
func previousVersionTable(t *testing.T, kind string) (*sql.DB, string, func(string) string) {
	t.Helper()
	db := testdb.Open(t, kind)
	table := testdb.Table(t, db)
	legacyCreate(t, kind, db, table)
	legacySet(t, kind, db, table, "old-id", []byte("old data"), time.Now().Add(time.Hour))
	return db, table, func(stmt string) string { return strings.ReplaceAll(stmt, "sessions", table) }
}

// TestOwnerIndexPartial checks that the owner index holds only sessions with
// an owner, so that an anonymous session's insert writes no entry to it, and
// that Sessions and DeleteOwner still find their rows through it (PostgreSQL
// with sequential scans off, as on a large table; SQLite). MySQL has no
// partial index: there the index holds every row.
func TestOwnerIndexPartial(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := testdb.Open(t, kind)
			db.SetMaxOpenConns(1) // the planner setting below holds for the one connection
			st, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			exp := time.Now().Add(time.Hour)
			if err := st.Set(ctx, "anonymous", []byte("a"), exp); err != nil {
				t.Fatal(err)
			}
			if err := st.SetOwned(ctx, "alice-1", "alice", []byte("b"), exp); err != nil {
				t.Fatal(err)
			}
			if kind == "postgres" {
				if _, err := db.ExecContext(ctx, fixtureSQL(t, kind, "disable_seqscan")); err != nil {
					t.Fatal(err)
				}
			}
			d, tbl := st.Dialect(), st.Table()
			var def string
			if err := db.QueryRowContext(ctx, fixtureSQL(t, kind, "index_definition"), strings.Trim(tbl.OwnerIndex, `"`)).Scan(&def); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(def, "IS NOT NULL") {
				t.Errorf("owner index %s is not partial: %s", tbl.OwnerIndex, def)
			}
			for name, q := range map[string]string{"Sessions": d.Sessions(tbl), "DeleteOwner": d.DeleteOwner(tbl, 0)} {
				args := []any{"alice", d.EncodeTime(time.Now()), d.EncodeTime(time.Unix(0, 0))}[:strings.Count(q, "?")+strings.Count(q, "$")]
				rows, err := db.QueryContext(ctx, fixtureSQL(t, kind, "explain", q), args...)
				if err != nil {
					t.Fatalf("explaining %s: %v", name, err)
				}
				var plan string
				for _, row := range dumpRows(t, rows) {
					plan += strings.Join(row, " ") + "\n"
				}
				if !strings.Contains(plan, strings.Trim(tbl.OwnerIndex, `"`)) {
					t.Errorf("%s does not use the owner index %s:\n%s", name, tbl.OwnerIndex, plan)
				}
			}
			list, err := st.Sessions(ctx, "alice")
			if err != nil || len(list) != 1 {
				t.Fatalf("Sessions(alice) = %v, %v; want alice-1", list, err)
			}
			if n, err := st.DeleteOwner(ctx, "alice"); err != nil || n != 1 {
				t.Fatalf("DeleteOwner(alice) = %d, %v; want 1", n, err)
			}
			if _, found, err := st.Get(ctx, "anonymous"); err != nil || !found {
				t.Errorf("Get(anonymous) after DeleteOwner: found %v, err %v", found, err)
			}
		})
	}
}
