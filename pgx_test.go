package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"github.com/go-sqlstore/sqlstore/sqlstoretest"
)

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

// TestPgxSmoke calls every operation of the store once through pgx, with
// the real clock and default options (background pruner included), as an
// application would.
func TestPgxSmoke(t *testing.T) {
	db := testdb.Open(t, "pgx")
	table := testdb.Table(t, db)
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithTouchThreshold(0))
	if err != nil {
		t.Fatalf("New over pgx: %v", err)
	}
	defer s.Close()
	if s.Dialect() != sqlstore.Postgres {
		t.Fatalf("detected dialect %s over pgx, want postgres", s.Dialect().Name())
	}

	now := time.Now()
	data := []byte("pgx\x00\xff data")
	if err := s.Set(ctx, "live", data, now.Add(time.Hour)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set(ctx, "old", []byte("x"), now.Add(-time.Minute)); err != nil {
		t.Fatalf("Set expired: %v", err)
	}
	if got, found, err := s.Get(ctx, "live"); err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v, %v; want %q", got, found, err, data)
	}
	if _, found, err := s.Get(ctx, "old"); err != nil || found {
		t.Fatalf("Get expired: found %v, %v; want not found", found, err)
	}
	later := now.Add(2 * time.Hour).Truncate(time.Millisecond)
	if err := s.Touch(ctx, "live", later); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	var ranged int
	err = s.Range(ctx, func(id string, d []byte, exp time.Time) bool {
		ranged++
		if id != s.Key("live") || !bytes.Equal(d, data) || !exp.Equal(later) {
			t.Errorf("Range yielded %s, %q, %v; want %s, %q, %v", id, d, exp, s.Key("live"), data, later)
		}
		return true
	})
	if err != nil || ranged != 1 {
		t.Fatalf("Range: %d rows, %v; want 1", ranged, err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Live != 1 || st.Expired != 1 || !st.Newest.Equal(later) {
		t.Fatalf("Stats = %+v, %v; want 1 live, 1 expired, newest %v", st, err, later)
	}
	if size, err := s.TableSize(ctx); err != nil || size <= 0 {
		t.Fatalf("TableSize = %d, %v; want > 0", size, err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if err := s.Delete(ctx, "live"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found, err := s.Get(ctx, "live"); err != nil || found {
		t.Fatalf("Get after Delete: found %v, %v", found, err)
	}
	if err := s.Set(ctx, "again", nil, time.Time{}); err != nil {
		t.Fatalf("Set with the default TTL: %v", err)
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after Clear = %d, %v", n, err)
	}

	// A cancelled context comes back as the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Set(cctx, "c", []byte("x"), time.Time{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Set with a cancelled context = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := s.Get(ctx, "live"); err != sqlstore.ErrClosed {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}
