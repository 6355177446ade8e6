package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// execAll runs statements as the test's admin, failing the test on an error.
func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// fixtureSQL returns the statement name of the root package's
// testdata/fixtures/<dialect>.sql (blocks "-- name", statement, blank line:
// see its header), its %s verbs filled in with args, in order.
func fixtureSQL(t *testing.T, dialect, name string, args ...any) string {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "fixtures", dialect+".sql")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(strings.TrimRight(string(b), "\n"), "\n\n") {
		if head, q, _ := strings.Cut(block, "\n"); head == "-- "+name {
			return fmt.Sprintf(q, args...)
		}
	}
	t.Fatalf("%s has no statement %q", path, name)
	return ""
}

// asUser returns dsn logging in as user with password.
func asUser(t *testing.T, dsn, user, password string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// wantMigrateError checks a failed migrate: one line with each of want, and
// not the store's hint that blames privileges and names `sqlstore migrate`
// (which is what the operator just ran).
func wantMigrateError(t *testing.T, r result, want ...string) {
	t.Helper()
	wantError(t, r, exitFail, "migrate: ")
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not say %q", r.stderr, w)
		}
	}
	for _, bad := range []string{"have a role that may create it", "`sqlstore migrate`"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr %q holds the misleading %q", r.stderr, bad)
		}
	}
}

// TestMigrateSaysWhatFailed checks the hint of a failed migrate: a missing
// schema or database is named as such, not blamed on privileges; a role
// that may not create the table is told so, without being sent back to
// migrate.
func TestMigrateSaysWhatFailed(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, admin, table := setup(t, kind)
			missing := testdb.Name("nosuch")
			args := []string{"migrate", "-dsn", dsn, "-schema", missing, "-table", table}
			want := []string{map[string]string{"postgres": `schema "` + missing + `" does not exist`, "mysql": "Unknown database '" + missing + "'"}[kind],
				map[string]string{"postgres": "create the schema first", "mysql": "create the database first"}[kind]}
			wantMigrateError(t, runIn(t, nil, args...), want...)
			wantMigrateError(t, runBin(t, nil, args...), want...)

			// A role that may read but not create.
			var b [8]byte
			_, _ = rand.Read(b[:])
			user, password, schema := testdb.Name("sqlstore_cli"), hex.EncodeToString(b[:]), testdb.Name("sqlstore_ro")
			switch kind {
			case "postgres":
				u, s := sqlstore.Postgres.QuoteIdent(user), sqlstore.Postgres.QuoteIdent(schema)
				execAll(t, admin, fixtureSQL(t, kind, "create_role", u, password), fixtureSQL(t, kind, "create_namespace", s),
					fixtureSQL(t, kind, "grant_schema_usage", s, u))
				t.Cleanup(func() {
					execAll(t, admin, fixtureSQL(t, kind, "drop_namespace", s), fixtureSQL(t, kind, "drop_role", u))
				})
			case "mysql":
				var db string
				if err := admin.QueryRowContext(context.Background(), sqlstore.MySQL.CurrentSchema()).Scan(&db); err != nil {
					t.Fatal(err)
				}
				schema = db
				execAll(t, admin, fixtureSQL(t, kind, "create_user", user, password), fixtureSQL(t, kind, "grant_database_read", sqlstore.MySQL.QuoteIdent(db), user))
				t.Cleanup(func() { execAll(t, admin, fixtureSQL(t, kind, "drop_user", user)) })
			}
			args = []string{"migrate", "-dsn", asUser(t, dsn, user, password), "-schema", schema, "-table", table}
			want = []string{map[string]string{"postgres": "permission denied", "mysql": "CREATE command denied"}[kind],
				"the DSN's role may not create it", "`sqlstore schema -dialect " + kind + "`"}
			r := runIn(t, nil, args...)
			wantMigrateError(t, r, want...)
			if strings.Contains(r.stderr, password) {
				t.Errorf("stderr %q shows the password", r.stderr)
			}
		})
	}
}
