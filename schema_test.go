package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

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

// schemaPrevious is the table the version before the owner columns created,
// with the default names: what schema/*_upgrade.sql start from.
var schemaPrevious = map[string][]string{
	"postgres": {
		`CREATE TABLE "sessions" ("token" char(64) PRIMARY KEY, "data" bytea NOT NULL, "expiry" timestamptz NOT NULL)`,
		`CREATE INDEX "sessions_expiry_idx" ON "sessions" ("expiry")`,
	},
	"mysql": {
		"CREATE TABLE `sessions` (`token` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, `data` LONGBLOB NOT NULL, `expiry` DATETIME(6) NOT NULL, PRIMARY KEY (`token`), INDEX `sessions_expiry_idx` (`expiry`)) ENGINE = InnoDB",
	},
	"sqlite": {
		`CREATE TABLE "sessions" ("token" TEXT NOT NULL PRIMARY KEY, "data" BLOB NOT NULL, "expiry" INTEGER NOT NULL)`,
		`CREATE INDEX "sessions_expiry_idx" ON "sessions" ("expiry")`,
	},
}

// schemaOldRow inserts, into the previous version's table, a session that
// expires in an hour, with the key and data given.
var schemaOldRow = map[string]string{
	"postgres": `INSERT INTO "sessions" ("token", "data", "expiry") VALUES ($1, $2, now() + interval '1 hour')`,
	"mysql":    "INSERT INTO `sessions` (`token`, `data`, `expiry`) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
	"sqlite":   `INSERT INTO "sessions" ("token", "data", "expiry") VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 3600000)`,
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
			db := testdb.Open(t, kind)
			table := testdb.Table(t, db)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rename := func(stmt string) string { return strings.ReplaceAll(stmt, "sessions", table) }
			for _, stmt := range schemaPrevious[kind] {
				if _, err := db.ExecContext(ctx, rename(stmt)); err != nil {
					t.Fatalf("%s: %v", rename(stmt), err)
				}
			}
			sum := sha256.Sum256([]byte("old-id"))
			if _, err := db.ExecContext(ctx, rename(schemaOldRow[kind]), hex.EncodeToString(sum[:]), []byte("old data")); err != nil {
				t.Fatal(err)
			}
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
			db := testdb.Open(t, kind)
			table := testdb.Table(t, db)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rename := func(stmt string) string { return strings.ReplaceAll(stmt, "sessions", table) }
			for _, stmt := range schemaPrevious[kind] {
				if _, err := db.ExecContext(ctx, rename(stmt)); err != nil {
					t.Fatalf("%s: %v", rename(stmt), err)
				}
			}
			sum := sha256.Sum256([]byte("old-id"))
			if _, err := db.ExecContext(ctx, rename(schemaOldRow[kind]), hex.EncodeToString(sum[:]), []byte("old data")); err != nil {
				t.Fatal(err)
			}
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
