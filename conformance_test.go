package sqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"github.com/go-sqlstore/sqlstore/sqlstoretest"
)

// TestConformance runs the conformance suite on SQLite always, and on
// PostgreSQL (lib/pq) and MariaDB/MySQL when their DSNs are set.
func TestConformance(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := testdb.DSN(t, kind)
			db := testdb.OpenDSN(t, kind, dsn)
			sqlstoretest.Run(t, sqlstoretest.Config{
				Name:           kind,
				Open:           func(testing.TB) *sql.DB { return db },
				OpenInTimeZone: inTimeZone(kind, dsn),
			})
		})
	}
}

// TestConformanceEncrypted runs the conformance suite with encryption on
// (WithEncryption with two keys, as during a rotation) on SQLite always,
// and on PostgreSQL and MariaDB/MySQL when their DSNs are set: every
// behaviour of the store holds on encrypted data.
func TestConformanceEncrypted(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(k1)
	_, _ = rand.Read(k2)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := testdb.DSN(t, kind)
			db := testdb.OpenDSN(t, kind, dsn)
			sqlstoretest.Run(t, sqlstoretest.Config{
				Name:           kind + "-encrypted",
				Open:           func(testing.TB) *sql.DB { return db },
				OpenInTimeZone: inTimeZone(kind, dsn),
				Options:        []sqlstore.Option{sqlstore.WithEncryption(k2, k1)},
			})
		})
	}
}

// inTimeZone opens pools whose database sessions use another time zone.
func inTimeZone(kind, dsn string) func(t testing.TB, tz string) *sql.DB {
	return func(t testing.TB, tz string) *sql.DB {
		switch kind {
		case "postgres", "pgx":
			return testdb.OpenDSN(t, kind, testdb.WithParams(t, dsn, map[string]string{"timezone": tz}))
		case "mysql":
			return testdb.OpenDSN(t, kind, testdb.WithParams(t, dsn, mysqlZoneParams(t, tz)))
		}
		return testdb.OpenDSN(t, kind, dsn) // SQLite has no session time zone
	}
}

// mysqlZoneParams returns the DSN parameters of a MySQL session in time zone
// tz: its offset now as the session time_zone (named zones need the server's
// time-zone tables), and parseTime with loc set to tz.
func mysqlZoneParams(t testing.TB, tz string) map[string]string {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	_, off := time.Now().In(loc).Zone()
	off = min(off, 12*3600+45*60) // MariaDB accepts -12:59 to +13:00
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return map[string]string{"time_zone": fmt.Sprintf("'%c%02d:%02d'", sign, off/3600, off%3600/60), "parseTime": "true", "loc": tz}
}

// TestPgxConformance runs the conformance suite on PostgreSQL through
// github.com/jackc/pgx/v5/stdlib, the database/sql driver of pgx, as
// TestConformance does through lib/pq.
func TestPgxConformance(t *testing.T) {
	dsn := testdb.DSN(t, "pgx")
	db := testdb.OpenDSN(t, "pgx", dsn)
	if pkg := reflect.TypeOf(db.Driver()).Elem().PkgPath(); pkg != "github.com/jackc/pgx/v5/stdlib" {
		t.Fatalf("pool driver from %s, want pgx's stdlib", pkg)
	}
	sqlstoretest.Run(t, sqlstoretest.Config{
		Name:           "pgx",
		Open:           func(testing.TB) *sql.DB { return db },
		OpenInTimeZone: inTimeZone("pgx", dsn),
	})
}
