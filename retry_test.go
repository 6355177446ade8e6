package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/go-sqlstore/sqlstore"
)

// gateQuerier holds every Exec until release is closed, counting how many
// are in flight at once.
type gateQuerier struct {
	release            chan struct{}
	inflight, greatest atomic.Int64
}

func (g *gateQuerier) QueryRow(context.Context, string, ...any) sqlstore.Row {
	return querierRow{err: errors.New("gate: no reads")}
}

func (g *gateQuerier) Exec(ctx context.Context, _ string, _ ...any) error {
	n := g.inflight.Add(1)
	defer g.inflight.Add(-1)
	for {
		m := g.greatest.Load()
		if n <= m || g.greatest.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestWriteSlots checks how many writes of one Store reach the database at
// once: on SQLite one by default, WithWriteSlots(n) of them, all with the
// queue off (0); other dialects never queue. A queued write ends with its
// context.
func TestWriteSlots(t *testing.T) {
	const writers = 8
	for _, tc := range []struct {
		name string
		c    mockDialect
		opts []sqlstore.Option
		want int64
	}{
		{"sqlite/default", mockDialects(t)[2], nil, 1},
		{"sqlite/2", mockDialects(t)[2], []sqlstore.Option{sqlstore.WithWriteSlots(2)}, 2},
		{"sqlite/off", mockDialects(t)[2], []sqlstore.Option{sqlstore.WithWriteSlots(0)}, writers},
		{"postgres/ignored", mockDialects(t)[0], []sqlstore.Option{sqlstore.WithWriteSlots(1)}, writers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gateQuerier{release: make(chan struct{})}
			s, _ := newQuerierStore(t, tc.c, g, tc.opts...)
			ctx := context.Background()
			errs := make(chan error, writers)
			for i := range writers {
				go func() { errs <- s.Set(ctx, fmt.Sprintf("id-%d", i), []byte("x"), time.Time{}) }()
			}
			deadline := time.Now().Add(10 * time.Second)
			for g.inflight.Load() < tc.want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // room for more to get in, if the queue let them
			if got := g.inflight.Load(); got != tc.want {
				t.Errorf("%d writes in flight at once, want %d", got, tc.want)
			}
			if tc.want < writers {
				// A write waiting its turn gives up when its context ends.
				cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				err := s.Delete(cctx, "waiting")
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sqlstore: delete: ") {
					t.Errorf("queued Delete whose context ended = %v, want context.DeadlineExceeded wrapped", err)
				}
			}
			close(g.release)
			for range writers {
				if err := <-errs; err != nil {
					t.Errorf("Set: %v", err)
				}
			}
			if got := g.greatest.Load(); got != tc.want {
				t.Errorf("at most %d writes in flight, want %d", got, tc.want)
			}
		})
	}
	if _, err := sqlstore.New(context.Background(), &sql.DB{}, sqlstore.WithWriteSlots(-1)); err == nil || !strings.Contains(err.Error(), "WithWriteSlots: -1 is negative") {
		t.Errorf("New(WithWriteSlots(-1)) = %v, want an error naming the option", err)
	}
}

// TestRaceSQLiteLocked: 32 goroutines write for 10 seconds through a store
// made by Open: zero "database is locked" (zero errors at all).
func TestRaceSQLiteLocked(t *testing.T) {
	t.Parallel()
	const (
		workers  = 32
		duration = 10 * time.Second
	)
	s := openTestStore(t, "sqlite", sqlstore.WithTouchThreshold(0))
	var (
		ops, locked, other atomic.Int64
		wg                 sync.WaitGroup
	)
	ctx := testContext(t)
	stop := time.Now().Add(duration)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for seq := 0; time.Now().Before(stop); seq++ {
				id := fmt.Sprintf("lock-%03d", r.IntN(200))
				var err error
				switch r.IntN(4) {
				case 0, 1:
					err = s.Set(ctx, id, taggedValue(w, seq%10000, 0), time.Now().Add(time.Hour))
				case 2:
					err = s.Touch(ctx, id, time.Now().Add(time.Duration(2+r.IntN(100))*time.Hour))
				default:
					err = s.Delete(ctx, id)
				}
				ops.Add(1)
				if err != nil {
					msg := err.Error()
					if strings.Contains(msg, "locked") || strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "busy") {
						locked.Add(1)
					} else {
						other.Add(1)
					}
					if locked.Load()+other.Load() <= 5 {
						t.Errorf("worker %d: %v", w, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("sqlite: %d goroutines wrote for %v: %d writes (%.0f/s), %d \"database is locked\", %d other errors",
		workers, duration, ops.Load(), float64(ops.Load())/duration.Seconds(), locked.Load(), other.Load())
	if locked.Load() != 0 || other.Load() != 0 {
		t.Fatalf("%d \"database is locked\" and %d other errors in %d writes", locked.Load(), other.Load(), ops.Load())
	}
}

func TestMockRetries(t *testing.T) {
	c := mockDialects(t)[1] // MySQL: the Galera case
	ctx := context.Background()
	exp := mockNow.Add(time.Hour)
	now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
	expAt := c.at("2024-03-05 11:20:30.123")
	type op struct {
		name   string
		expect func(mock sqlmock.Sqlmock) *sqlmock.ExpectedExec
		call   func(s *sqlstore.Store) error
	}
	ops := []op{
		{"Set", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.set).WithArgs(mockKey, []byte("x"), expAt, nil, now, now, false)
		}, func(s *sqlstore.Store) error { return s.Set(ctx, mockID, []byte("x"), exp) }},
		{"Touch", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.touch).WithArgs(expAt, now, mockKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut)
		}, func(s *sqlstore.Store) error { return s.Touch(ctx, mockID, exp) }},
		{"Delete", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.del).WithArgs(mockKey)
		}, func(s *sqlstore.Store) error { return s.Delete(ctx, mockID) }},
		{"Clear", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.clear).WithoutArgs()
		}, func(s *sqlstore.Store) error { return s.Clear(ctx) }},
	}
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"sqlstate-40001", &sqlStateError{"40001"}, true},
		{"sqlstate-40P01", &sqlStateError{"40P01"}, true},
		{"mysql-1213", &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}, true},
		{"wrapped-1213", fmt.Errorf("driver: %w", &mysql.MySQLError{Number: 1213, Message: "Deadlock"}), true},
		{"sqlstate-23505", &sqlStateError{"23505"}, false},
		{"mysql-1062", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{"mysql-1205", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false},
		{"plain", errors.New("deadlock"), false},
	} {
		for _, o := range ops {
			t.Run(tc.name+"/"+o.name, func(t *testing.T) {
				const maxRetries = 3
				db, mock := mockDB(t)
				c.expectNew(mock, true, true)
				s := newMockStore(t, c, db, sqlstore.WithMaxRetries(maxRetries))
				if !tc.transient {
					// One attempt only: a retry would meet the mock's own
					// "not expected" error instead of tc.err.
					o.expect(mock).WillReturnError(tc.err)
					if err := o.call(s); !errors.Is(err, tc.err) {
						t.Errorf("%s = %v; want %v, not retried", o.name, err, tc.err)
					}
					mockMet(t, mock)
					return
				}
				// Fails maxRetries times, then succeeds on the last attempt.
				for i := 0; i < maxRetries; i++ {
					o.expect(mock).WillReturnError(tc.err)
				}
				o.expect(mock).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := o.call(s); err != nil {
					t.Errorf("%s after %d transient failures = %v; want nil", o.name, maxRetries, err)
				}
				mockMet(t, mock)
				// Fails maxRetries+1 times: the error comes back, wrapped.
				for i := 0; i <= maxRetries; i++ {
					o.expect(mock).WillReturnError(tc.err)
				}
				if err := o.call(s); !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s after %d transient failures = %v; want the wrapped error", o.name, maxRetries+1, err)
				}
				mockMet(t, mock)
			})
		}
	}
	t.Run("zero-retries", func(t *testing.T) {
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		s := newMockStore(t, c, db, sqlstore.WithMaxRetries(0))
		e := &mysql.MySQLError{Number: 1213, Message: "Deadlock"}
		ops[0].expect(mock).WillReturnError(e)
		if err := ops[0].call(s); !errors.Is(err, e) {
			t.Errorf("Set with WithMaxRetries(0) = %v; want %v at once", err, e)
		}
		mockMet(t, mock)
	})
	t.Run("prune-batch", func(t *testing.T) {
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		s := newMockStore(t, c, db, sqlstore.WithPruneBatchSize(10))
		mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(int64(1)))
		mock.ExpectPrepare(c.prune)
		mock.ExpectExec(c.prune).WithArgs(now, 10).WillReturnError(&sqlStateError{"40001"})
		mock.ExpectExec(c.prune).WithArgs(now, 10).WillReturnResult(sqlmock.NewResult(0, 4))
		mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 1))
		if n, err := s.Prune(ctx); err != nil || n != 4 {
			t.Errorf("Prune with a retried batch = %d, %v; want 4", n, err)
		}
		mockMet(t, mock)
	})
	t.Run("not-for-reads", func(t *testing.T) {
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		s := newMockStore(t, c, db)
		e := &sqlStateError{"40001"}
		mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillReturnError(e)
		if _, _, err := s.Get(ctx, mockID); !errors.Is(err, e) {
			t.Errorf("Get = %v; want %v", err, e)
		}
		mockMet(t, mock)
	})
}
