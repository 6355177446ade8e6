package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"go.uber.org/goleak"
)

// TestNilContext: a nil context is an error before database/sql sees it
// (database/sql panics on one while it holds the pool's lock, and every
// later call on the pool then blocks), and the pool stays usable.
func TestNilContext(t *testing.T) {
	db := testdb.Open(t, "sqlite")
	var nilCtx context.Context
	if _, err := sqlstore.New(nilCtx, db); err == nil || !strings.Contains(err.Error(), "nil context") {
		t.Fatalf("New(nil context) = %v, want an error naming the nil context", err)
	}
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	calls := map[string]func() error{
		"Get":    func() error { _, _, err := s.Get(nilCtx, "id"); return err },
		"Set":    func() error { return s.Set(nilCtx, "id", []byte("x"), exp) },
		"Touch":  func() error { return s.Touch(nilCtx, "id", exp) },
		"Delete": func() error { return s.Delete(nilCtx, "id") },
		"Count":  func() error { _, err := s.Count(nilCtx); return err },
		"Clear":  func() error { return s.Clear(nilCtx) },
		"Range":  func() error { return s.Range(nilCtx, func(string, []byte, time.Time) bool { return true }) },
		"Stats":  func() error { _, err := s.Stats(nilCtx); return err },
		"Prune":  func() error { _, err := s.Prune(nilCtx); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "nil context") {
			t.Errorf("%s(nil context) = %v, want an error naming the nil context", name, err)
		}
	}
	// The pool was never touched with a nil context: it still serves.
	done := make(chan error, 1)
	go func() {
		if err := s.Set(ctx, "id", []byte("x"), exp); err != nil {
			done <- err
			return
		}
		_, _, err := s.Get(ctx, "id")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Set and Get after nil contexts: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Set and Get after nil contexts did not return: the pool is stuck")
	}
}

// TestSetTooLargeForDatabase: a row the database refuses for its size
// (TiDB's 6 MiB entry limit, below the store's default limit) is
// ErrDataTooLarge, as the store's own limit is.
func TestSetTooLargeForDatabase(t *testing.T) {
	c := mockDialects(t)[1] // MySQL, as TiDB speaks it
	db, mock := mockDB(t)
	c.expectNew(mock, true, true)
	s := newMockStore(t, c, db)
	refused := &mysql.MySQLError{Number: 8025, Message: "entry too large, the max entry size is 6291456, the size of data is 8388708"}
	now := c.at("2024-03-05 10:20:30.123")
	mock.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), c.at("2024-03-05 11:20:30.123"), nil, now, now, false).WillReturnError(refused)
	err := s.Set(context.Background(), mockID, []byte("x"), mockNow.Add(time.Hour))
	if !errors.Is(err, sqlstore.ErrDataTooLarge) || !errors.Is(err, refused) {
		t.Errorf("Set = %v, want ErrDataTooLarge wrapping the server's error", err)
	}
	mockMet(t, mock)
}

// TestLeakClose opens a store with Open (which owns its pool), runs every
// call, cancels some, lets the background pruner sweep, closes the store
// during a sweep and checks that no goroutine is left.
//
// Like every goroutine-leak test (TestLeakClose, TestLeakNew), it does not
// call t.Parallel: goleak looks at every goroutine of the process, so these
// run alone, before the parallel tests of the package start.
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
			fillExpired(t, admin, setup, 2000)
			setup.Close()
			snapshot := goleak.IgnoreCurrent()

			st, err := sqlstore.Open(ctx, dsnURL, sqlstore.WithTable(table), sqlstore.WithPruneInterval(20*time.Millisecond),
				sqlstore.WithPruneBatchSize(5), sqlstore.WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range everyOperation(st, st.DB(), sqlstore.WithTable(table), sqlstore.WithPruneInterval(time.Millisecond)) {
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
			if !pollUntil(30*time.Second, func() bool { return countRows(t, admin, setup.Table().Qualified()) < 2000 }) {
				t.Error("the background sweep did not start")
			}
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			goleak.VerifyNone(t, snapshot)
		})
	}
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

// TestRaceMixedOps: 64 goroutines × 1,000 operations mixing Set, Get, Touch
// and Delete on 50 shared ids, on every database: no call fails, and every
// Get returns exactly a value some Set wrote for that id.
func TestRaceMixedOps(t *testing.T) {
	t.Parallel()
	const (
		workers = 64
		ops     = 1000
		nids    = 50
	)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// On SQLite, synchronous=NORMAL (safe in WAL mode) keeps the test
			// from timing fsync instead of races; writers still contend.
			s := openTestStoreDSN(t, kind, "_pragma=synchronous(NORMAL)", sqlstore.WithTouchThreshold(0))
			// 64 goroutines share 32 connections, as a bounded pool of an
			// application would, which also spares the shared servers.
			s.DB().SetMaxOpenConns(32)
			ids := make([]string, nids)
			for i := range ids {
				ids[i] = randomID(fmt.Sprintf("race-%02d-", i), 20)
			}
			type read struct {
				i     int
				value []byte
			}
			var (
				wg      sync.WaitGroup
				failed  atomic.Int64
				counts  [4]atomic.Int64 // set, get (found), touch, delete
				misses  atomic.Int64
				reads   = make([][]read, workers)
				written = make([]map[int]int, workers) // writer -> seq -> id index
			)
			start := time.Now()
			ctx := testContext(t)
			for w := range workers {
				written[w] = map[int]int{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := mrand.New(mrand.NewPCG(uint64(w), 42))
					for seq := range ops {
						i := r.IntN(nids)
						id := ids[i]
						var err error
						opStart := time.Now()
						switch p := r.IntN(100); {
						case p < 35:
							written[w][seq] = i
							err = s.Set(ctx, id, taggedValue(w, seq, i), time.Now().Add(time.Hour+time.Duration(r.IntN(3600))*time.Second))
							counts[0].Add(1)
						case p < 70:
							var v []byte
							var found bool
							v, found, err = s.Get(ctx, id)
							if found {
								reads[w] = append(reads[w], read{i, v})
								counts[1].Add(1)
							} else {
								misses.Add(1)
							}
						case p < 88:
							err = s.Touch(ctx, id, time.Now().Add(2*time.Hour+time.Duration(r.IntN(3600))*time.Second))
							counts[2].Add(1)
						default:
							err = s.Delete(ctx, id)
							counts[3].Add(1)
						}
						if err != nil {
							if failed.Add(1) <= 5 {
								t.Errorf("worker %d op %d (after %v): %v", w, seq, time.Since(opStart).Round(time.Millisecond), err)
							}
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(start)
			if n := failed.Load(); n > 0 {
				t.Fatalf("%d of %d calls failed", n, workers*ops)
			}
			check := func(where string, i int, v []byte) {
				w, seq, vi, ok := parseTaggedValue(v)
				if !ok || w >= workers || vi != i {
					t.Fatalf("%s of id %d returned %q, which no Set wrote", where, i, shortString(v))
				}
				if wi, wrote := written[w][seq]; !wrote || wi != i || !bytes.Equal(v, taggedValue(w, seq, i)) {
					t.Fatalf("%s of id %d returned %q, which no Set wrote", where, i, shortString(v))
				}
			}
			for _, rs := range reads {
				for _, r := range rs {
					check("Get", r.i, r.value)
				}
			}
			for i, id := range ids {
				v, found, err := s.Get(testContext(t), id)
				if err != nil {
					t.Fatal(err)
				}
				if found {
					check("final Get", i, v)
				}
			}
			t.Logf("%s: %d goroutines × %d ops in %v (%.0f ops/s): %d Set, %d Get found + %d not found, %d Touch, %d Delete, 0 errors, every value read was written",
				kind, workers, ops, took.Round(time.Millisecond), float64(workers*ops)/took.Seconds(),
				counts[0].Load(), counts[1].Load(), misses.Load(), counts[2].Load(), counts[3].Load())
		})
	}
}

// TestRaceTouchNeverRevives: Touch never brings back a deleted or an expired
// session, also when it races Delete.
func TestRaceTouchNeverRevives(t *testing.T) {
	const (
		sessions = 40 // per case
		touchers = 8
		touches  = 10
	)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			base := time.Date(2032, 2, 29, 23, 59, 59, 999_000_000, time.UTC)
			clock := testdb.NewClock(base)
			s := openTestStore(t, kind, sqlstore.WithTouchThreshold(0), sqlstore.WithClock(clock.Now))
			s.DB().SetMaxOpenConns(16)
			ctx := testContext(t)
			var touched atomic.Int64
			storm := func(id string, from int) {
				var wg sync.WaitGroup
				for g := range touchers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := range touches {
							exp := base.Add(time.Duration(from+g*touches+k+1) * time.Minute)
							if err := s.Touch(ctx, id, exp); err != nil {
								t.Errorf("Touch: %v", err)
								return
							}
							touched.Add(1)
						}
					}()
				}
				wg.Wait()
			}

			// Delete racing a Touch storm: whatever the interleaving, once
			// Delete has returned and the storm has ended, the session is gone
			// (Touch is an UPDATE of a live row; it never inserts).
			var wg sync.WaitGroup
			for n := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("race-del-%d", n)
					if err := s.Set(ctx, id, []byte("x"), base.Add(time.Hour)); err != nil {
						t.Error(err)
						return
					}
					var inner sync.WaitGroup
					inner.Add(2)
					go func() { defer inner.Done(); storm(id, 0) }()
					go func() {
						defer inner.Done()
						if err := s.Delete(ctx, id); err != nil {
							t.Error(err)
						}
					}()
					inner.Wait()
					storm(id, 1000) // a storm after Delete, too
					if _, found, err := s.Get(ctx, id); err != nil || found {
						t.Errorf("%s after Delete raced Touch: found %v, err %v; want gone", id, found, err)
					}
				}()
			}
			wg.Wait()

			// Expired sessions under a Touch storm: never found again, and
			// their stored expiry is untouched (seen by moving the clock back).
			exp := base.Add(time.Minute)
			for n := range sessions {
				if err := s.Set(ctx, fmt.Sprintf("race-exp-%d", n), []byte("y"), exp); err != nil {
					t.Fatal(err)
				}
			}
			clock.Set(exp) // expired: the expiry is not after now
			for n := range sessions {
				wg.Add(1)
				go func() { defer wg.Done(); storm(fmt.Sprintf("race-exp-%d", n), 2000) }()
			}
			wg.Wait()
			for n := range sessions {
				if _, found, err := s.Get(ctx, fmt.Sprintf("race-exp-%d", n)); err != nil || found {
					t.Fatalf("expired session touched: found %v, err %v", found, err)
				}
			}
			if c, err := s.Count(ctx); err != nil || c != 0 {
				t.Fatalf("Count after touching expired sessions = %d, %v; want 0", c, err)
			}
			clock.Set(exp.Add(-time.Millisecond))
			got := map[string]time.Time{}
			if err := s.Range(ctx, func(id string, _ []byte, e time.Time) bool { got[id] = e; return true }); err != nil {
				t.Fatal(err)
			}
			if len(got) != sessions {
				t.Fatalf("Range before expiry found %d sessions, want %d (deleted ones must stay deleted)", len(got), sessions)
			}
			for id, e := range got {
				if !e.Equal(exp) {
					t.Fatalf("Touch moved the expiry of an expired session %s to %v, want %v", id, e, exp)
				}
			}
			t.Logf("%s: %d touches on %d deleted (raced) and %d expired sessions: none revived", kind, touched.Load(), sessions, sessions)
		})
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
			if _, err := tx.ExecContext(ctx, lockRowSQL(t, kind, s), "locked"); err != nil {
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

// TestSecurityHashedIDsAtRest proves that with hashed ids (the default) no
// row and no column of the table holds a session id, in plain, hex or base64
// form, that with WithHashedIDs(false) the same check does find it (so the
// check can fail), and that Range yields the stored keys.
func TestSecurityHashedIDsAtRest(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, hashed := range []bool{true, false} {
				t.Run(fmt.Sprintf("hashed=%v", hashed), func(t *testing.T) {
					_, db, table := openTestDB(t, kind)
					s := newTestStore(t, db, table, sqlstore.WithHashedIDs(hashed))
					// Ids long enough that a chance match is impossible; data
					// that never holds the id.
					ids := []string{randomID("sess-", 43), randomID("", 64), randomID("x~!@#$%^&*()_+{}|:<>?", 32)}
					want := map[string]bool{}
					for i, id := range ids {
						if err := s.Set(testContext(t), id, fmt.Appendf(nil, "user=%d;role=admin", i), time.Now().Add(time.Hour)); err != nil {
							t.Fatalf("Set: %v", err)
						}
						key := id
						if hashed {
							sum := sha256.Sum256([]byte(id))
							key = hex.EncodeToString(sum[:])
						}
						if got := s.Key(id); got != key {
							t.Fatalf("Key(%q) = %q, want %q", id, got, key)
						}
						want[key] = true
					}
					dump := dumpTable(t, db, table)
					if len(dump) != len(ids) {
						t.Fatalf("table has %d rows, want %d", len(dump), len(ids))
					}
					cells := 0
					for _, id := range ids {
						leaked := 0
						for r, row := range dump {
							for c, cell := range row {
								cells++
								if forms := idLeaks(cell, id); len(forms) > 0 {
									leaked++
									if hashed {
										t.Errorf("row %d column %d holds the id %q (%v): %q", r, c, id, forms, cell)
									}
								}
							}
						}
						if !hashed && leaked == 0 {
							t.Errorf("with WithHashedIDs(false) the id %q is in no row: the check cannot see ids", id)
						}
					}
					got := map[string]bool{}
					err := s.Range(testContext(t), func(id string, _ []byte, _ time.Time) bool {
						got[id] = true
						return true
					})
					if err != nil {
						t.Fatalf("Range: %v", err)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("Range yielded %v, want the stored keys %v", got, want)
					}
					// A stored key is not a usable session id.
					if hashed {
						for key := range want {
							if _, found, err := s.Get(testContext(t), key); err != nil || found {
								t.Fatalf("Get(stored key) = found %v, %v; want not found", found, err)
							}
						}
					}
					t.Logf("%s hashed=%v: %d rows, %d cells searched for 3 ids in 4 encodings", kind, hashed, len(dump), cells)
				})
			}
		})
	}
}

// TestSecurityDataSize proves the data size limit: data up to the limit
// round-trips byte-exact, one byte more gets ErrDataTooLarge before any
// query runs and writes nothing; for the default 8 MiB and a custom limit.
func TestSecurityDataSize(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := openTestDB(t, kind)
			if kind == "mysql" {
				var session, global int64
				if err := db.QueryRowContext(testContext(t), fixtureSQL(t, "mysql", "max_allowed_packet")).Scan(&session, &global); err != nil {
					t.Fatal(err)
				}
				t.Logf("mysql max_allowed_packet: session %d, global %d (%d MiB)", session, global, global>>20)
				if global < sqlstore.DefaultMaxDataSize {
					t.Errorf("max_allowed_packet %d is below the default data limit %d", global, sqlstore.DefaultMaxDataSize)
				}
			}
			for _, limit := range []int{sqlstore.DefaultMaxDataSize, 1000} {
				t.Run(fmt.Sprint(limit), func(t *testing.T) {
					var opts []sqlstore.Option
					if limit != sqlstore.DefaultMaxDataSize {
						opts = append(opts, sqlstore.WithMaxDataSize(limit))
					}
					s := newTestStore(t, db, table, opts...)
					if err := s.Clear(testContext(t)); err != nil {
						t.Fatal(err)
					}
					exp := time.Now().Add(time.Hour)
					data := make([]byte, limit)
					_, _ = rand.Read(data)
					if err := s.Set(testContext(t), "at-limit", data, exp); err != nil {
						t.Fatalf("Set of %d bytes (the limit): %v", limit, err)
					}
					got, found, err := s.Get(testContext(t), "at-limit")
					if err != nil || !found || !bytes.Equal(got, data) {
						t.Fatalf("Get of %d bytes: found %v, %d bytes, equal %v, err %v", limit, found, len(got), bytes.Equal(got, data), err)
					}
					over := append(data, 0x5a)
					err = s.Set(testContext(t), "over-limit", over, exp)
					if !errors.Is(err, sqlstore.ErrDataTooLarge) {
						t.Fatalf("Set of %d bytes (limit %d) = %v, want ErrDataTooLarge", len(over), limit, err)
					}
					// Nothing is written, and a too-large Set does not touch an
					// existing session either.
					err = s.Set(testContext(t), "at-limit", over, exp)
					if !errors.Is(err, sqlstore.ErrDataTooLarge) {
						t.Fatalf("Set of %d bytes over an existing session = %v, want ErrDataTooLarge", len(over), err)
					}
					if _, found, err := s.Get(testContext(t), "over-limit"); err != nil || found {
						t.Fatalf("Get(over-limit) after ErrDataTooLarge: found %v, err %v", found, err)
					}
					if got, _, _ := s.Get(testContext(t), "at-limit"); !bytes.Equal(got, data) {
						t.Fatalf("a refused Set changed the existing session")
					}
					if n, err := s.Count(testContext(t)); err != nil || n != 1 {
						t.Fatalf("Count = %d, %v; want 1", n, err)
					}
					t.Logf("%s: %d bytes round-trip byte-exact; %d bytes get ErrDataTooLarge", kind, limit, len(over))
				})
			}
			// "Before any query": on a store whose pool is closed, the
			// oversized Set still reports ErrDataTooLarge, while a Set within
			// the limit reaches the (closed) pool and fails there.
			t.Run("BeforeAnyQuery", func(t *testing.T) {
				db2 := testdb.OpenDSN(t, kind, dsn)
				s, err := sqlstore.New(testContext(t), db2, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithMaxDataSize(10))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				db2.Close()
				if err := s.Set(testContext(t), "x", make([]byte, 11), time.Now().Add(time.Hour)); !errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Fatalf("Set over the limit on a closed pool = %v, want ErrDataTooLarge", err)
				}
				if err := s.Set(testContext(t), "x", make([]byte, 10), time.Now().Add(time.Hour)); err == nil || errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Fatalf("Set within the limit on a closed pool = %v, want the pool's error", err)
				}
			})
		})
	}
	t.Run("InvalidLimit", func(t *testing.T) {
		_, db, table := openTestDB(t, "sqlite")
		for _, n := range []int{0, -1} {
			if _, err := sqlstore.New(testContext(t), db, sqlstore.WithTable(table), sqlstore.WithMaxDataSize(n)); err == nil {
				t.Errorf("WithMaxDataSize(%d) accepted", n)
			}
		}
	})
}

func TestMockOperations(t *testing.T) {
	for _, c := range mockDialects(t) {
		for _, hashed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/hashed=%v", c.name, hashed), func(t *testing.T) {
				key := mockKey
				if !hashed {
					key = mockID
				}
				ctx := context.Background()
				db, mock := mockDB(t)
				c.expectNew(mock, true, hashed)
				s := newMockStore(t, c, db, sqlstore.WithHashedIDs(hashed), sqlstore.WithPruneBatchSize(2))
				mockMet(t, mock)
				if got := s.Key(mockID); got != key {
					t.Fatalf("Key(%q) = %q, want %q", mockID, got, key)
				}
				now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
				ist := time.FixedZone("IST", 5*3600+1800)
				exp := time.Date(2024, 3, 6, 15, 0, 0, 987654321, ist) // 09:30:00.987654321 UTC

				// Get: found, binary-safe.
				payload := []byte("a\x00b\xff\xfe")
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(mockRows("data").AddRow(payload))
				data, found, err := s.Get(ctx, mockID)
				if err != nil || !found || !bytes.Equal(data, payload) {
					t.Errorf("Get = %q, %v, %v; want %q, true, nil", data, found, err, payload)
				}
				// Get: an empty value is found and not nil.
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(mockRows("data").AddRow([]byte{}))
				data, found, err = s.Get(ctx, mockID)
				if err != nil || !found || data == nil || len(data) != 0 {
					t.Errorf("Get(empty) = %#v, %v, %v; want []byte{}, true, nil", data, found, err)
				}
				// Get: missing is not an error.
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(mockRows("data"))
				data, found, err = s.Get(ctx, mockID)
				if err != nil || found || data != nil {
					t.Errorf("Get(missing) = %q, %v, %v; want nil, false, nil", data, found, err)
				}

				// Set: expiry converted to UTC and truncated to the millisecond,
				// no owner, now as created and updated, the owner kept.
				mock.ExpectExec(c.set).WithArgs(key, payload, c.at("2024-03-06 09:30:00.987"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Set(ctx, mockID, payload, exp); err != nil {
					t.Errorf("Set: %v", err)
				}
				// Set: zero expiry is now + 24h; nil data is stored as empty.
				mock.ExpectExec(c.set).WithArgs(key, []byte{}, c.at("2024-03-06 10:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Set(ctx, mockID, nil, time.Time{}); err != nil {
					t.Errorf("Set(nil, zero): %v", err)
				}

				// Touch: expiry, now (updated), key, now, then the 5 s window
				// around the expiry, then the cutoff.
				mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-06 09:30:00.987"), now, key, now,
					c.at("2024-03-06 09:29:55.987"), c.at("2024-03-06 09:30:05.987"), cut).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Touch(ctx, mockID, exp); err != nil {
					t.Errorf("Touch: %v", err)
				}
				mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-06 10:20:30.123"), now, key, now,
					c.at("2024-03-06 10:20:25.123"), c.at("2024-03-06 10:20:35.123"), cut).WillReturnResult(sqlmock.NewResult(0, 0))
				if err := s.Touch(ctx, mockID, time.Time{}); err != nil {
					t.Errorf("Touch(zero): %v", err)
				}

				// Delete: the UPDATE that ends the session (a statement of
				// the same verb as touch, an UPDATE); a missing id is not an
				// error.
				if verb, _, _ := strings.Cut(c.del, " "); !strings.HasPrefix(c.touch, verb+" ") {
					t.Fatalf("delete of testdata/golden/%s.sql is %q; want the UPDATE that ends the session, as touch is an UPDATE", c.name, c.del)
				}
				mock.ExpectExec(c.del).WithArgs(key).WillReturnResult(sqlmock.NewResult(0, 0))
				if err := s.Delete(ctx, mockID); err != nil {
					t.Errorf("Delete: %v", err)
				}

				// Count.
				mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnRows(mockRows("count").AddRow(int64(7)))
				if n, err := s.Count(ctx); err != nil || n != 7 {
					t.Errorf("Count = %d, %v; want 7", n, err)
				}

				// Clear: no arguments.
				mock.ExpectExec(c.clear).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 12))
				if err := s.Clear(ctx); err != nil {
					t.Errorf("Clear: %v", err)
				}

				// Range: decodes expiry to UTC, stops when fn returns false,
				// closes the rows.
				mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(mockRows("token", "data", "expiry").
					AddRow("k1", []byte("one"), c.raw("2024-03-06 09:30:00.987")).
					AddRow("k2", []byte{}, c.raw("2024-03-07 00:00:00.001")).
					AddRow("k3", []byte("three"), c.raw("2024-03-08 00:00:00.000"))).RowsWillBeClosed()
				type item struct {
					id, data string
					exp      time.Time
				}
				var seen []item
				err = s.Range(ctx, func(id string, data []byte, exp time.Time) bool {
					if data == nil {
						t.Errorf("Range gave nil data for %s", id)
					}
					seen = append(seen, item{id, string(data), exp})
					return len(seen) < 2
				})
				if err != nil || len(seen) != 2 {
					t.Fatalf("Range = %v after %d calls; want nil after 2", err, len(seen))
				}
				for i, w := range []item{{"k1", "one", utcTime("2024-03-06 09:30:00.987")}, {"k2", "", utcTime("2024-03-07 00:00:00.001")}} {
					if g := seen[i]; g.id != w.id || g.data != w.data || !g.exp.Equal(w.exp) || g.exp.Location() != time.UTC {
						t.Errorf("Range item %d = %+v, want %+v in UTC", i, g, w)
					}
				}

				// Stats: now, cutoff, now, cutoff, now, cutoff; live, ended, expired,
				// earliest and latest expiry.
				mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(mockRows("live", "ended", "expired", "min", "max").
					AddRow(int64(3), int64(4), int64(2), c.raw("2024-03-01 00:00:00.000"), c.raw("2024-04-01 12:00:00.500")))
				st, err := s.Stats(ctx)
				if err != nil || st.Live != 3 || st.Ended != 4 || st.Expired != 2 || !st.Oldest.Equal(utcTime("2024-03-01 00:00:00.000")) ||
					!st.Newest.Equal(utcTime("2024-04-01 12:00:00.500")) || st.Newest.Location() != time.UTC || st.Oldest.Location() != time.UTC {
					t.Errorf("Stats = %+v, %v", st, err)
				}
				mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(mockRows("live", "ended", "expired", "min", "max").
					AddRow(int64(0), int64(0), int64(0), nil, nil))
				if st, err := s.Stats(ctx); err != nil || st != (sqlstore.Stats{}) {
					t.Errorf("Stats(empty) = %+v, %v; want zero", st, err)
				}

				// TableSize: schema and table unquoted; NULL is 0.
				mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnRows(mockRows("size").AddRow(int64(16384)))
				if n, err := s.TableSize(ctx); err != nil || n != 16384 {
					t.Errorf("TableSize = %d, %v; want 16384", n, err)
				}
				mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnRows(mockRows("size").AddRow(nil))
				if n, err := s.TableSize(ctx); err != nil || n != 0 {
					t.Errorf("TableSize(NULL) = %d, %v; want 0", n, err)
				}

				// Prune: batches of 2 until a short one (2, 2, 1): 5 rows,
				// behind the advisory lock on PostgreSQL and MySQL.
				c.expectPrune(mock, 2, 2, 2, 1).WillBeClosed()
				if n, err := s.Prune(ctx); err != nil || n != 5 {
					t.Errorf("Prune = %d, %v; want 5", n, err)
				}
				// A sweep ending on a full batch asks once more.
				c.expectPrune(mock, 2, 2, 2, 0)
				var progress []int64
				if n, err := s.PruneProgress(ctx, func(n int64) { progress = append(progress, n) }); err != nil || n != 4 {
					t.Errorf("PruneProgress = %d, %v; want 4", n, err)
				}
				if fmt.Sprint(progress) != "[2 4]" {
					t.Errorf("PruneProgress reported %v, want [2 4]", progress)
				}
				mockMet(t, mock)
			})
		}
	}
}

func TestMockTouchThresholdAndTTL(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			exp := utcTime("2024-03-05 12:00:00.250")
			now := c.at("2024-03-05 10:20:30.123")

			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db, sqlstore.WithTouchThreshold(time.Minute), sqlstore.WithDefaultTTL(time.Hour))
			mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-05 12:00:00.250"), now, mockKey, now,
				c.at("2024-03-05 11:59:00.250"), c.at("2024-03-05 12:01:00.250"), c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, mockID, exp); err != nil {
				t.Error(err)
			}
			mock.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), c.at("2024-03-05 11:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, mockID, []byte("x"), time.Time{}); err != nil {
				t.Error(err)
			}
			mockMet(t, mock)

			// Threshold 0: the window is the expiry itself, so every Touch writes.
			db, mock = mockDB(t)
			c.expectNew(mock, true, true)
			s = newMockStore(t, c, db, sqlstore.WithTouchThreshold(0))
			mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-05 12:00:00.250"), now, mockKey, now,
				c.at("2024-03-05 12:00:00.250"), c.at("2024-03-05 12:00:00.250"), c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, mockID, exp); err != nil {
				t.Error(err)
			}
			mockMet(t, mock)
		})
	}
}

// TestMockAbsoluteTimeout: with WithAbsoluteTimeout, every statement that
// judges liveness binds now minus the timeout as its cutoff, and a sweep
// runs EndCreated with that cutoff after Prune.
func TestMockAbsoluteTimeout(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db, sqlstore.WithAbsoluteTimeout(90*time.Minute), sqlstore.WithPruneBatchSize(2))
			mockMet(t, mock)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 08:50:30.123")
			exp := c.at("2024-03-05 11:20:30.123")

			mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillReturnRows(mockRows("data"))
			if _, found, err := s.Get(ctx, mockID); err != nil || found {
				t.Errorf("Get = %v, %v; want not found", found, err)
			}
			// Set binds no cutoff: created is now.
			mock.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), exp, nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, mockID, []byte("x"), mockNow.Add(time.Hour)); err != nil {
				t.Errorf("Set: %v", err)
			}
			mock.ExpectExec(c.touch).WithArgs(exp, now, mockKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).
				WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, mockID, mockNow.Add(time.Hour)); err != nil {
				t.Errorf("Touch: %v", err)
			}
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnRows(mockRows("count").AddRow(int64(2)))
			if n, err := s.Count(ctx); err != nil || n != 2 {
				t.Errorf("Count = %d, %v; want 2", n, err)
			}
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(mockRows("token", "data", "expiry"))
			if err := s.Range(ctx, func(string, []byte, time.Time) bool { return true }); err != nil {
				t.Errorf("Range: %v", err)
			}
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(mockRows("live", "ended", "expired", "min", "max").
				AddRow(int64(1), int64(0), int64(5), nil, nil))
			if st, err := s.Stats(ctx); err != nil || st != (sqlstore.Stats{Live: 1, Expired: 5}) {
				t.Errorf("Stats = %+v, %v; want 1 live, 5 expired", st, err)
			}

			// A sweep: the expired sessions in batches of 2 (2, 1), then
			// those past the absolute timeout (2, 0), each statement
			// prepared and closed, all behind the one lock.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnResult(sqlmock.NewResult(0, 2))
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectPrepare(c.endCreated).WillBeClosed()
			mock.ExpectExec(c.endCreated).WithArgs(cut, 2).WillReturnResult(sqlmock.NewResult(0, 2))
			mock.ExpectExec(c.endCreated).WithArgs(cut, 2).WillReturnResult(sqlmock.NewResult(0, 0))
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			var progress []int64
			if n, err := s.PruneProgress(ctx, func(n int64) { progress = append(progress, n) }); err != nil || n != 5 {
				t.Errorf("PruneProgress = %d, %v; want 5", n, err)
			}
			if fmt.Sprint(progress) != "[2 3 5]" {
				t.Errorf("PruneProgress reported %v, want [2 3 5]", progress)
			}
			mockMet(t, mock)

			// A failed Prune batch ends the sweep before EndCreated.
			boom := errors.New("boom")
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnError(boom)
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			if _, err := s.Prune(ctx); !errors.Is(err, boom) {
				t.Errorf("Prune with a failing batch = %v; want boom", err)
			}
			mockMet(t, mock)
		})
	}
	// A negative timeout is refused before any query.
	db, mock := mockDB(t)
	if _, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithAbsoluteTimeout(-time.Second)); err == nil ||
		!strings.Contains(err.Error(), "WithAbsoluteTimeout: -1s is negative") {
		t.Errorf("New(WithAbsoluteTimeout(-1s)) = %v; want an error naming the option", err)
	}
	mockMet(t, mock)
}

func TestMockDriverErrorsWrapped(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			boom := errors.New("boom: connection reset by peer")
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
			exp := c.at("2024-03-05 11:20:30.123")
			mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillReturnError(boom)
			mock.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), exp, nil, now, now, false).WillReturnError(boom)
			mock.ExpectExec(c.touch).WithArgs(exp, now, mockKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillReturnError(boom)
			mock.ExpectExec(c.del).WithArgs(mockKey).WillReturnError(boom)
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectExec(c.clear).WithoutArgs().WillReturnError(boom)
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnError(boom)
			mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnError(boom)
			// Prune: the batch fails; the lock is still released.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 1000).WillReturnError(boom)
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			// PruneProgress: the lock query (or, on SQLite, the prepare) fails.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnError(boom)
			} else {
				mock.ExpectPrepare(c.prune).WillReturnError(boom)
			}

			for op, err := range callEveryOperation(context.Background(), s) {
				if !errors.Is(err, boom) || !strings.HasPrefix(fmt.Sprint(err), "sqlstore: ") {
					t.Errorf("%s error = %v; want a sqlstore: error wrapping the driver's", op, err)
				}
			}
			mockMet(t, mock)

			// A row error in the middle of Range is wrapped too.
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(mockRows("token", "data", "expiry").
				AddRow("k1", []byte("a"), c.raw("2024-03-06 00:00:00.000")).
				AddRow("k2", []byte("b"), c.raw("2024-03-06 00:00:00.000")).RowError(1, boom))
			calls := 0
			err := s.Range(context.Background(), func(string, []byte, time.Time) bool { calls++; return true })
			if !errors.Is(err, boom) || calls != 1 || !strings.HasPrefix(err.Error(), "sqlstore: range") {
				t.Errorf("Range with a row error = %v after %d calls; want the wrapped error after 1", err, calls)
			}
			// An expiry of a type the dialect does not know is an error, not a zero time.
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(mockRows("token", "data", "expiry").
				AddRow("k1", []byte("a"), true))
			if err := s.Range(context.Background(), func(string, []byte, time.Time) bool { return true }); err == nil {
				t.Error("Range with a bool expiry: nil error")
			}
			mockMet(t, mock)
		})
	}
}

func TestMockContextCanceled(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name+"/before", func(t *testing.T) {
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			for op, err := range callEveryOperation(ctx, s) {
				if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s with a cancelled context = %v; want a sqlstore: error wrapping context.Canceled", op, err)
				}
				wantNoQuery(t, op, err)
			}
			mockMet(t, mock)
		})
		t.Run(c.name+"/during", func(t *testing.T) {
			db, mock := mockDB(t)
			c := c
			c.lookupsWait = true // a Get that can wait keeps cancellation; TestMockLocalGet
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
			exp := c.at("2024-03-05 11:20:30.123")
			slow := time.Minute
			mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillDelayFor(slow).WillReturnRows(mockRows("x").AddRow(int64(1)))
			mock.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), exp, nil, now, now, false).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectExec(c.touch).WithArgs(exp, now, mockKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectExec(c.del).WithArgs(mockKey).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillDelayFor(slow).WillReturnRows(mockRows("x").AddRow(int64(1)))
			mock.ExpectExec(c.clear).WithoutArgs().WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillDelayFor(slow).WillReturnRows(mockRows("x").AddRow(int64(1)))
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillDelayFor(slow).WillReturnRows(mockRows("x").AddRow(int64(1)))
			mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillDelayFor(slow).WillReturnRows(mockRows("x").AddRow(int64(1)))
			for i := 0; i < 2; i++ { // Prune and PruneProgress
				if c.tryLock != "" {
					mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillDelayFor(slow).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
				} else {
					mock.ExpectPrepare(c.prune).WillDelayFor(slow)
				}
			}
			errs := map[string]error{}
			for _, op := range []string{"Get", "Set", "Touch", "Delete", "Count", "Clear", "Range", "Stats", "TableSize", "Prune", "PruneProgress"} {
				ctx, cancel := context.WithCancel(context.Background())
				timer := time.AfterFunc(20*time.Millisecond, cancel)
				done := make(chan struct{})
				go func() {
					defer close(done)
					switch op {
					case "Get":
						_, _, errs[op] = s.Get(ctx, mockID)
					case "Set":
						errs[op] = s.Set(ctx, mockID, []byte("x"), mockNow.Add(time.Hour))
					case "Touch":
						errs[op] = s.Touch(ctx, mockID, mockNow.Add(time.Hour))
					case "Delete":
						errs[op] = s.Delete(ctx, mockID)
					case "Count":
						_, errs[op] = s.Count(ctx)
					case "Clear":
						errs[op] = s.Clear(ctx)
					case "Range":
						errs[op] = s.Range(ctx, func(string, []byte, time.Time) bool { return true })
					case "Stats":
						_, errs[op] = s.Stats(ctx)
					case "TableSize":
						_, errs[op] = s.TableSize(ctx)
					case "Prune":
						_, errs[op] = s.Prune(ctx)
					case "PruneProgress":
						_, errs[op] = s.PruneProgress(ctx, nil)
					}
				}()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not return after its context was cancelled", op)
				}
				timer.Stop()
				if err := errs[op]; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s cancelled during the query = %v; want a sqlstore: error wrapping context.Canceled", op, err)
				}
			}
			mockMet(t, mock)
		})
	}
	t.Run("deadline", func(t *testing.T) {
		c := mockDialects(t)[0]
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		s := newMockStore(t, c, db)
		mock.ExpectQuery(c.get).WithArgs(mockKey, c.at("2024-03-05 10:20:30.123"), c.cutoff()).WillDelayFor(time.Minute).WillReturnRows(mockRows("x").AddRow(int64(1)))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, _, err := s.Get(ctx, mockID); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get past its deadline = %v; want context.DeadlineExceeded", err)
		}
	})
}

func TestMockInvalidInputRunsNoQuery(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, mock := mockDB(t)
			c.expectNew(mock, true, false)
			s := newMockStore(t, c, db, sqlstore.WithHashedIDs(false), sqlstore.WithMaxDataSize(8))
			mockMet(t, mock)
			// No expectations are left: a query would fail with the mock's
			// error instead of the sentinel.
			exp := mockNow.Add(time.Hour)
			for _, id := range []string{"", strings.Repeat("a", 256), "a\x00b", "a\tb", "line\n", "\x7f", "sessão", "\xff", "日本"} {
				_, _, gerr := s.Get(ctx, id)
				for op, err := range map[string]error{
					"Get": gerr, "Set": s.Set(ctx, id, []byte("x"), exp), "Touch": s.Touch(ctx, id, exp), "Delete": s.Delete(ctx, id),
				} {
					if !errors.Is(err, sqlstore.ErrInvalidID) {
						t.Errorf("%s(%q) = %v; want ErrInvalidID", op, id, err)
					}
					wantNoQuery(t, op, err)
				}
			}
			for _, data := range [][]byte{make([]byte, 9), make([]byte, 1<<20)} {
				if err := s.Set(ctx, mockID, data, exp); !errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Errorf("Set(%d bytes) with WithMaxDataSize(8) = %v; want ErrDataTooLarge", len(data), err)
				}
			}
			for _, bad := range []time.Time{
				time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
				time.Date(1970, 1, 1, 3, 0, 0, 0, time.FixedZone("IST", 19800)), // 1969 in UTC
				time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			} {
				if err := s.Set(ctx, mockID, []byte("x"), bad); !errors.Is(err, sqlstore.ErrInvalidExpiry) {
					t.Errorf("Set(expiry %v) = %v; want ErrInvalidExpiry", bad, err)
				}
				if err := s.Touch(ctx, mockID, bad); !errors.Is(err, sqlstore.ErrInvalidExpiry) {
					t.Errorf("Touch(expiry %v) = %v; want ErrInvalidExpiry", bad, err)
				}
			}
			mockMet(t, mock)

			// The limits themselves pass: a 255-byte printable id, 8 bytes of data.
			long := strings.Repeat("~", 255)
			mock.ExpectExec(c.set).WithArgs(long, []byte("12345678"), c.at("2024-03-05 11:20:30.123"), nil, c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 10:20:30.123"), false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, long, []byte("12345678"), exp); err != nil {
				t.Errorf("Set(255-byte id, 8 bytes): %v", err)
			}
			mockMet(t, mock)
		})
	}
}

func TestMockClosed(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db, sqlstore.WithPruneInterval(time.Hour))
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v; want nil", err)
			}
			for op, err := range callEveryOperation(context.Background(), s) {
				if !errors.Is(err, sqlstore.ErrClosed) {
					t.Errorf("%s after Close = %v; want ErrClosed", op, err)
				}
			}
			mockMet(t, mock)
			if err := db.PingContext(context.Background()); err != nil {
				t.Errorf("Close closed the caller's pool: %v", err)
			}
		})
	}
}
