// Package sqlstoretest is the conformance suite every database and driver
// the store supports must pass. The store's own tests run it against SQLite,
// PostgreSQL (lib/pq, pgx's stdlib and, through package pgxnative, pgx's
// own pool), MariaDB/MySQL and a Galera cluster; a
// third-party Dialect runs it against its database the same way:
//
//	func TestConformance(t *testing.T) {
//		sqlstoretest.Run(t, sqlstoretest.Config{
//			Name: "mydb",
//			Open: func(t testing.TB) *sql.DB { return openMyDB(t) },
//		})
//	}
package sqlstoretest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/go-sqlstore/sqlstore"
)

// Config tells the suite how to reach one database.
type Config struct {
	// Name names the database in test output, such as "postgres".
	Name string
	// Open returns a pool to a database in which the suite may create and
	// drop tables; the suite closes nothing it did not open. Every test
	// gets its own table, dropped when it ends, so Open may return the
	// same pool each time.
	Open func(t testing.TB) *sql.DB
	// OpenInTimeZone, when set, returns a pool whose sessions use the
	// database time zone tz (PostgreSQL TimeZone, MySQL time_zone) and,
	// for MySQL, parseTime=true with loc set to tz. The time-zone tests
	// use it to show that expiry does not depend on it.
	OpenInTimeZone func(t testing.TB, tz string) *sql.DB
	// Options are added to every store the suite makes (before its own).
	Options []sqlstore.Option
	// Concurrency scales the concurrency tests; 0 means 64 goroutines.
	Concurrency int
	// MaxDataSize is the largest payload the database takes in one row,
	// given to the stores as WithMaxDataSize; 0 means the store's default
	// (8 MiB). TiDB, whose rows stop at 6 MiB, sets less.
	MaxDataSize int
	// New makes each store the suite tests, over a pool that Open or
	// OpenInTimeZone returned; nil means sqlstore.New. A package that
	// builds stores its own way (such as pgxnative, over a native pool)
	// sets it to run the suite through that way.
	New func(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error)
}

// new makes a store with c.New, or sqlstore.New when it is nil.
func (c Config) new(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	if c.New != nil {
		return c.New(ctx, db, opts...)
	}
	return sqlstore.New(ctx, db, opts...)
}
