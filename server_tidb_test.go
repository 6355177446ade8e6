package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"github.com/go-sqlstore/sqlstore/sqlstoretest"
)

// tidbEnv holds the mysql:// URL of a TiDB server; scripts/tidb.sh builds
// one, starts it and runs these tests with it.
const tidbEnv = "SQLSTORE_TIDB_DSN"

// tidbDB opens the TiDB server, skipping the test when none is configured,
// also under CI=true: CI does not run TiDB (building it takes about 5
// minutes), these tests are run by hand.
func tidbDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	dsn := os.Getenv(tidbEnv)
	if dsn == "" {
		t.Skipf("%s is not set: CI does not run TiDB (its build takes about 5 minutes); run `bash scripts/tidb.sh test` by hand", tidbEnv)
	}
	db := testdb.OpenDSN(t, "mysql", dsn)
	var version string
	if err := db.QueryRowContext(context.Background(), fixtureSQL(t, "mysql", "server_version")).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(version, "TiDB") {
		t.Fatalf("%s points at %q, not TiDB", tidbEnv, version)
	}
	return db, dsn
}

// TestTiDBConformance runs the conformance suite on TiDB, with a plain table
// and with a TiDB TTL table (WithTiDBTTL).
func TestTiDBConformance(t *testing.T) {
	db, dsn := tidbDB(t)
	var version string
	if err := db.QueryRowContext(context.Background(), fixtureSQL(t, "mysql", "server_version")).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("server version %s", version)
	for _, c := range []struct {
		name string
		opts []sqlstore.Option
	}{{"plain", nil}, {"ttl", []sqlstore.Option{sqlstore.WithTiDBTTL("1m")}}} {
		t.Run(c.name, func(t *testing.T) {
			sqlstoretest.Run(t, sqlstoretest.Config{
				Name:           "tidb-" + c.name,
				Open:           func(testing.TB) *sql.DB { return db },
				OpenInTimeZone: inTimeZone("mysql", dsn),
				Options:        c.opts,
				MaxDataSize:    6<<20 - 4096, // TiDB's default row limit is 6 MiB
			})
		})
	}
}

// TestTiDBTTLTable checks that WithTiDBTTL creates a TTL table that TiDB
// accepts, and that reads still filter on expiry, since TiDB's TTL job
// deletes expired rows only later. With SQLSTORE_TIDB_TTL_WAIT=1 it also
// waits (up to 5 minutes) for the TTL job to delete the expired row and
// checks that it leaves the live one.
func TestTiDBTTLTable(t *testing.T) {
	db, _ := tidbDB(t)
	ctx := context.Background()
	var global, system string
	if err := db.QueryRowContext(ctx, fixtureSQL(t, "mysql", "global_time_zone")).Scan(&global, &system); err != nil {
		t.Fatal(err)
	}
	t.Logf("time_zone %s, system_time_zone %s (TTL needs UTC to match the stored expiry)", global, system)

	table := testdb.Table(t, db)
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithTiDBTTL("1m"), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New with WithTiDBTTL: %v", err)
	}
	defer s.Close()
	var name, ddl string
	if err := db.QueryRowContext(ctx, fixtureSQL(t, "mysql", "show_create_table", s.Table().Qualified())).Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TTL=`expiry` + INTERVAL 0 DAY", "TTL_ENABLE='ON'", "TTL_JOB_INTERVAL='1m'"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("the table's DDL has no %s:\n%s", want, ddl)
		}
	}

	now := time.Now()
	if err := s.Set(ctx, "old", []byte("x"), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "live", []byte("y"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, "old"); err != nil || found {
		t.Fatalf("Get of an expired session in a TTL table: found %v, %v; want not found", found, err)
	}
	if got, found, err := s.Get(ctx, "live"); err != nil || !found || string(got) != "y" {
		t.Fatalf("Get(live) = %q, %v, %v", got, found, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	if os.Getenv("SQLSTORE_TIDB_TTL_WAIT") == "" {
		return
	}
	start := time.Now()
	for {
		n := countRows(t, db, s.Table().Qualified())
		if n == 1 {
			t.Logf("TiDB's TTL job deleted the expired row after %v", time.Since(start).Round(time.Second))
			break
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("the TTL job left %d rows after 5 minutes, want 1", n)
		}
		time.Sleep(5 * time.Second)
	}
	if _, found, err := s.Get(ctx, "live"); err != nil || !found {
		t.Fatalf("the TTL job deleted the live session: %v, %v", found, err)
	}
}
