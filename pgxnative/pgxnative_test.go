package pgxnative

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/hook"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"github.com/go-sqlstore/sqlstore/sqlstoretest"
)

// openPool returns a pool to the test PostgreSQL server
// (SQLSTORE_POSTGRES_DSN) with params as run-time parameters, closed when
// the test ends.
func openPool(t testing.TB, params map[string]string) *pgxpool.Pool {
	t.Helper()
	dsnURL := testdb.DSN(t, "pgx")
	if params != nil {
		dsnURL = testdb.WithParams(t, dsnURL, params)
	}
	cfg, err := pgxpool.ParseConfig(dsnURL)
	if err != nil {
		t.Fatalf("pgxpool.ParseConfig: %v", err)
	}
	cfg.MaxConns = testdb.MaxConns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgxpool.NewWithConfig: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		testdb.Unavailable(t, "PostgreSQL (%s) is not reachable through pgxpool: %v", testdb.PostgresEnv, err)
	}
	return pool
}

// TestNew makes a store with New, as an application does, and checks that
// requests take the pool's own path, that Close releases all New opened
// (no goroutine left) and leaves the caller's pool open, and that a failed
// New leaves nothing behind. It does not run in parallel: goleak sees every
// goroutine of the process.
func TestNew(t *testing.T) {
	pool := openPool(t, nil)
	admin := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { admin.Close() })
	table := testdb.Table(t, admin)
	ctx := context.Background()
	snapshot := goleak.IgnoreCurrent()

	if _, err := New(ctx, pool, sqlstore.WithTable("no such table!")); err == nil || !strings.Contains(err.Error(), "no such table!") {
		t.Errorf("New with an invalid table name = %v, want an error naming it", err)
	}
	if _, err := New(ctx, nil); err == nil || !strings.Contains(err.Error(), "nil *pgxpool.Pool") {
		t.Errorf("New(nil pool) = %v, want an error naming it", err)
	}

	// newStore is New with the database/sql handle in the test's hands.
	db := stdlib.OpenDBFromPool(pool)
	s, err := newStore(ctx, pool, db, true, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if d := hook.Describe(s).Dialect; d != "postgres" {
		t.Errorf("dialect %s, want postgres", d)
	}
	data := []byte("pgx\x00\xff native")
	if err := s.Set(ctx, "live", data, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	// Every request from here on goes through the pool, not database/sql,
	// which (with no idle connections, as OpenDBFromPool sets it) would close
	// a connection after each use.
	before, acquired := db.Stats().MaxIdleClosed, pool.Stat().AcquireCount()
	const n = 50
	for i := range n {
		if got, found, err := s.Get(ctx, "live"); err != nil || !found || !bytes.Equal(got, data) {
			t.Fatalf("Get %d = %q, %v, %v; want %q", i, got, found, err, data)
		}
		if err := s.Touch(ctx, "live", time.Now().Add(2*time.Hour)); err != nil {
			t.Fatalf("Touch: %v", err)
		}
	}
	if err := s.Delete(ctx, "live"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := db.Stats().MaxIdleClosed - before; got != 0 {
		t.Errorf("%d requests used %d database/sql connections, want them on the pool", 2*n+1, got)
	}
	if got := pool.Stat().AcquireCount() - acquired; got < 2*n+1 {
		t.Errorf("%d requests acquired %d pool connections, want at least as many", 2*n+1, got)
	}
	// The rest goes through database/sql over the same pool.
	if err := s.Set(ctx, "old", data, time.Now().Add(-time.Minute)); err != nil {
		t.Fatalf("Set expired: %v", err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1", n, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
	if db.Stats().MaxIdleClosed == before {
		t.Error("Prune and Count used no database/sql connection")
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.PingContext(ctx); err == nil {
		t.Error("Close left open the *sql.DB that New opened")
	}
	if _, _, err := s.Get(ctx, "live"); !errors.Is(err, sqlstore.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Errorf("Close closed the caller's pool: %v", err)
	}
	goleak.VerifyNone(t, snapshot)
}

// TestConformance runs the conformance suite through the pool: every store
// the suite makes is built as New builds it, over a pool of its own for the
// time-zone tests.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	pools := map[*sql.DB]*pgxpool.Pool{}
	open := func(t testing.TB, params map[string]string) *sql.DB {
		p := openPool(t, params)
		db := stdlib.OpenDBFromPool(p)
		t.Cleanup(func() { db.Close() }) // before the pool's
		mu.Lock()
		pools[db] = p
		mu.Unlock()
		return db
	}
	shared := open(t, nil)
	sqlstoretest.Run(t, sqlstoretest.Config{
		Name: "pgxnative",
		Open: func(testing.TB) *sql.DB { return shared },
		OpenInTimeZone: func(t testing.TB, tz string) *sql.DB {
			return open(t, map[string]string{"timezone": tz})
		},
		New: func(ctx context.Context, db *sql.DB, opts ...sqlstore.Option) (*sqlstore.Store, error) {
			mu.Lock()
			p := pools[db]
			mu.Unlock()
			if p == nil {
				return nil, errors.New("test: the suite passed a *sql.DB it did not get from Open")
			}
			return newStore(ctx, p, db, false, opts...)
		},
	})
}

// boxedTimes is the Postgres dialect with times bound as pgtype.Timestamptz
// instead of time.Time: what the querier's typed path cannot take, so that
// it falls back to binding the values as they are.
type boxedTimes struct{ sqlstore.Dialect }

func (boxedTimes) EncodeTime(t time.Time) any { return pgtype.Timestamptz{Time: t.UTC(), Valid: true} }

// TestRunnerFallback runs every request through the querier's untyped
// fallback (times that are not time.Time) and checks that each does what
// the typed path does.
func TestRunnerFallback(t *testing.T) {
	pool := openPool(t, nil)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0),
		sqlstore.WithDialect(boxedTimes{sqlstore.Postgres}), sqlstore.WithQuerier(&querier{pool: pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.SetOwned(ctx, "a", "alice", []byte("1"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "b", []byte("2"), exp); err != nil {
		t.Fatal(err)
	}
	if data, found, err := s.Get(ctx, "a"); err != nil || !found || string(data) != "1" {
		t.Fatalf("Get(a) = %q, %v, %v; want 1", data, found, err)
	}
	if err := s.Touch(ctx, "a", exp.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := testdb.Row(t, s, "a"); !got.Equal(exp.Add(24 * time.Hour)) {
		t.Errorf("expiry after Touch = %v; want %v", got, exp.Add(24*time.Hour))
	}
	if list, err := s.Sessions(ctx, "alice"); err != nil || len(list) != 1 {
		t.Errorf("Sessions(alice) = %v, %v; want a's", list, err)
	}
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, "b"); err != nil || found {
		t.Errorf("Get(b) after Delete: found %v, err %v", found, err)
	}
}
