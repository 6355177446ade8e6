package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

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

// TestCanceledWriteWaitingForALock shows what a write whose context ends
// while it waits for a row lock leaves behind, per database: PostgreSQL
// cancels the statement on the server, so it is never applied; MariaDB's
// driver returns the context's error at once, but the server applies the
// statement once the lock is released. RELIABILITY.md states it.
func TestCanceledWriteWaitingForALock(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, kind)
			table := testdb.Table(t, db)
			ctx := context.Background()
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithHashedIDs(false))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			exp := time.Now().Add(time.Hour)
			if err := s.Set(ctx, "locked", []byte("before"), exp); err != nil {
				t.Fatal(err)
			}
			// Another transaction holds the row.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, lockRowSQL(kind, s), "locked"); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			if err := s.Set(short, "locked", []byte("after"), exp); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Set waiting for the lock = %v; want the context's error", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var got []byte
			deadline := time.Now().Add(2 * time.Second)
			for {
				got, _, err = s.Get(ctx, "locked")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) == "after" || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			want := map[string]string{"postgres": "before", "mysql": "after"}[kind]
			if string(got) != want {
				t.Fatalf("after the lock was released the session holds %q; want %q on %s", got, want, kind)
			}
		})
	}
}
