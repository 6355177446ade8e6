package sqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"go.uber.org/goleak"
)

func TestMockPruneWaitsForLock(t *testing.T) {
	for _, c := range mockDialects(t) {
		if c.tryLock == "" {
			continue // SQLite has no advisory lock
		}
		t.Run(c.name, func(t *testing.T) {
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			s := newMockStore(t, c, db)
			// Another process sweeps: the lock is taken twice, then free.
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(false)))
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(nil))
			c.expectPrune(mock, 1000, 3)
			if n, err := s.Prune(context.Background()); err != nil || n != 3 {
				t.Errorf("Prune = %d, %v; want 3 once the lock is free", n, err)
			}
			mockMet(t, mock)

			// A cancelled wait for the lock ends with the context's error.
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(false)))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := s.Prune(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Prune waiting for a held lock past its deadline = %v", err)
			}
			mockMet(t, mock)
		})
	}
}

// waitFor polls cond until it holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMockBackgroundPruner(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			// Every expectation is set before New starts the pruner.
			boom := errors.New("boom: server closed the connection")
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnError(boom)
				// Another process holds the lock: the sweep is skipped quietly.
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(mockRows("ok").AddRow(c.locked(false)))
			} else {
				mock.ExpectPrepare(c.prune).WillReturnError(boom)
			}
			c.expectPrune(mock, 1000, 3)
			logs := &logBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(mockClock),
				sqlstore.WithPruneInterval(20*time.Millisecond), sqlstore.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the sweeps", func() bool {
				return mock.ExpectationsWereMet() == nil && strings.Contains(logs.String(), "deleted=3")
			})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			out := logs.String()
			if !strings.Contains(out, "level=ERROR msg=\"sqlstore: background prune failed\" table="+c.schema+".sessions deleted=0") ||
				!strings.Contains(out, boom.Error()) {
				t.Errorf("the failed sweep was not logged as an error with its cause:\n%s", out)
			}
			before, _, ok := strings.Cut(out, "level=DEBUG msg=\"sqlstore: pruned expired sessions\" table="+c.schema+".sessions deleted=3")
			if !ok {
				t.Errorf("the sweep after the failure was not logged:\n%s", out)
			}
			// One failure logged before it: a sweep skipped because another
			// process holds the lock is not an error.
			if n := strings.Count(before, "level=ERROR"); n != 1 {
				t.Errorf("%d errors logged before the successful sweep, want 1:\n%s", n, before)
			}
			// Nothing runs after Close: no sweep, no log line, no goroutine.
			time.Sleep(100 * time.Millisecond)
			if after := logs.String(); after != out {
				t.Errorf("logged after Close:\n%s", strings.TrimPrefix(after, out))
			}
			mock.ExpectClose()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, leaks)
		})
	}
}

func TestMockCloseCancelsSweep(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			db, mock := mockDB(t)
			c.expectNew(mock, true, true)
			// The sweep hangs in its first statement.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillDelayFor(time.Hour).WillReturnRows(mockRows("ok").AddRow(c.locked(true)))
			} else {
				mock.ExpectPrepare(c.prune).WillDelayFor(time.Hour)
			}
			logs := &logBuffer{}
			s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(mockClock),
				sqlstore.WithPruneInterval(10*time.Millisecond), sqlstore.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the sweep to start", func() bool { return mock.ExpectationsWereMet() == nil })
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Errorf("Close = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not cancel the sweep in flight")
			}
			if out := logs.String(); out != "" {
				t.Errorf("a sweep cancelled by Close was logged:\n%s", out)
			}
			mock.ExpectClose()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, leaks)
		})
	}
	t.Run("Prune", func(t *testing.T) {
		c := mockDialects(t)[2]
		db, mock := mockDB(t)
		c.expectNew(mock, true, true)
		// Not newMockStore: its cleanup would call Close again, and block with
		// the first Close if that hangs.
		s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(mockClock), sqlstore.WithPruneInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		mock.ExpectPrepare(c.prune).WillDelayFor(time.Hour)
		pruned := make(chan error, 1)
		go func() {
			_, err := s.Prune(context.Background())
			pruned <- err
		}()
		waitFor(t, "Prune to start", func() bool { return mock.ExpectationsWereMet() == nil })
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not cancel the Prune in flight")
		}
		select {
		case err := <-pruned:
			if !errors.Is(err, sqlstore.ErrClosed) {
				t.Errorf("Prune cancelled by Close = %v; want ErrClosed", err)
			}
		default:
			t.Error("Close returned before the Prune in flight")
		}
	})
}
