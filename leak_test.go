package sqlstore_test

// Goroutine leaks: after Close, nothing the store started is left running,
// whether it swept in the background, was closed during a sweep, served calls
// whose contexts ended, or failed in New.
//
// These tests do not call t.Parallel: goleak looks at every goroutine of the
// process, so they run alone, before the parallel tests of the package start.

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestLeakClose opens a store with Open (which owns its pool), runs every
// call, cancels some, lets the background pruner sweep, closes the store
// during a sweep and checks that no goroutine is left.
func TestLeakClose(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			dsnURL := testdb.DSN(t, kind)
			admin := testdb.OpenDSN(t, kind, dsnURL) // before the snapshot: its goroutines are not the store's
			table := testdb.Table(t, admin)
			ctx := context.Background()
			setup, err := sqlstore.New(ctx, admin, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			faultFillExpired(t, admin, setup, 2000)
			setup.Close()
			snapshot := goleak.IgnoreCurrent()

			st, err := sqlstore.Open(ctx, dsnURL, sqlstore.WithTable(table), sqlstore.WithPruneInterval(20*time.Millisecond),
				sqlstore.WithPruneBatchSize(5), sqlstore.WithLogger(faultQuiet))
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range faultOps(st, st.DB(), sqlstore.WithTable(table), sqlstore.WithPruneInterval(time.Millisecond)) {
				if op.name == "Clear" || op.name == "Prune" {
					continue // leave the expired rows to the background sweep
				}
				if err := op.call(ctx); err != nil {
					t.Errorf("%s: %v", op.name, err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if err := op.call(cctx); !errors.Is(err, context.Canceled) {
					t.Errorf("%s with a cancelled context = %v", op.name, err)
				}
			}
			// Close during a background sweep.
			if !faultWait(30*time.Second, func() bool { return countRows(t, admin, setup.Table().Qualified()) < 2000 }) {
				t.Error("the background sweep did not start")
			}
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			goleak.VerifyNone(t, snapshot)
		})
	}
}

// TestLeakNew checks that a store made by New over the caller's pool leaves
// no goroutine after Close (the pool's own end with db.Close), and that a
// failed New leaves none either.
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
			st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(time.Millisecond), sqlstore.WithLogger(faultQuiet))
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
