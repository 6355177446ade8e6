package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/go-sqlstore/sqlstore"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

// Fixture SQL: what tests run on a real database beside the store.

// createNamespace creates a PostgreSQL schema or a MySQL database named
// prefix and random hex, and drops it when the test ends; on SQLite it
// returns "" (the file is the test's own).
func createNamespace(t testing.TB, db *sql.DB, kind, prefix string) string {
	t.Helper()
	if kind == "sqlite" {
		return ""
	}
	name := testdb.Name(prefix)
	drop := "DROP DATABASE IF EXISTS `" + name + "`"
	create := "CREATE DATABASE `" + name + "`"
	if kind == "postgres" {
		drop = `DROP SCHEMA IF EXISTS "` + name + `" CASCADE`
		create = `CREATE SCHEMA "` + name + `"`
	}
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
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("counting the rows of %s: %v", table, err)
	}
	return n
}

// lockRowSQL returns a statement that locks, in the transaction that runs
// it, the row of one key (the argument) of s's table.
func lockRowSQL(kind string, s *sqlstore.Store) string {
	t := s.Table()
	param := "$1"
	if kind != "postgres" && kind != "pgx" {
		param = "?"
	}
	return "SELECT " + t.ID + " FROM " + t.Qualified() + " WHERE " + t.ID + " = " + param + " FOR UPDATE"
}
