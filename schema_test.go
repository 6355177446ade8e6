package sqlstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// schemaStatements reads the statements of a schema/ file, without comments.
func schemaStatements(t *testing.T, dialect string) []string {
	t.Helper()
	b, err := os.ReadFile("schema/" + dialect + ".sql")
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
