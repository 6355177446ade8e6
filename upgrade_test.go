package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// The upgrade of a table made by the release before the owner columns: the
// statements that release ran are in testdata/legacy/, its golden files.

var dialects = map[string]sqlstore.Dialect{"sqlite": sqlstore.SQLite, "postgres": sqlstore.Postgres, "mysql": sqlstore.MySQL}

// legacy holds the statements of the previous release, by dialect.
var legacy struct {
	once  sync.Once
	files map[string]map[string]string
	err   error
}

// legacySQL returns the previous release's statement name of dialect for
// table (named "sessions" in the files).
func legacySQL(t testing.TB, dialect, name, table string) string {
	t.Helper()
	legacy.once.Do(func() { legacy.files, legacy.err = readGolden("testdata/legacy") })
	if legacy.err != nil {
		t.Fatal(legacy.err)
	}
	q, ok := legacy.files[dialect][name]
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
	ctx := context.Background()
	for i := 1; ; i++ {
		name := fmt.Sprintf("create_table.%d", i)
		if _, ok := legacy.files[kind][name]; !ok && i > 1 {
			break
		}
		if _, err := db.ExecContext(ctx, legacySQL(t, kind, name, table)); err != nil {
			t.Fatalf("legacy %s: %v", name, err)
		}
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	d := dialects[kind]
	for i := range n {
		sum := sha256.Sum256(fmt.Appendf(nil, "old-%d", i))
		if _, err := db.ExecContext(ctx, legacySQL(t, kind, "set", table), hex.EncodeToString(sum[:]), fmt.Appendf(nil, "data-%d", i), d.EncodeTime(exp)); err != nil {
			t.Fatalf("legacy set: %v", err)
		}
	}
	return exp
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
	if _, err := db.ExecContext(ctx, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, table+"_owner_idx"); err != nil {
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
