package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"modernc.org/sqlite"

	"github.com/go-sqlstore/sqlstore"
)

// eventLog is an Observer that keeps the events of one operation.
type eventLog struct {
	op     sqlstore.Op
	mu     sync.Mutex
	events []sqlstore.Event
	seen   chan struct{} // one send per event, never blocking
}

func newEventLog(op sqlstore.Op) *eventLog {
	return &eventLog{op: op, seen: make(chan struct{}, 1)}
}

func (l *eventLog) Observe(_ context.Context, e sqlstore.Event) {
	if e.Op != l.op {
		return
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.seen <- struct{}{}:
	default:
	}
}

func (l *eventLog) all() []sqlstore.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sqlstore.Event(nil), l.events...)
}

// wait waits up to 10 seconds for at least n events.
func (l *eventLog) wait(t *testing.T, n int) []sqlstore.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if es := l.all(); len(es) >= n {
			return es
		}
		select {
		case <-l.seen:
		case <-deadline:
			t.Fatalf("%d %s events after 10s, want %d", len(l.all()), l.op, n)
		}
	}
}

// checkpointDialect is SQLite with the checkpoint statement of a test.
type checkpointDialect struct {
	sqlstore.Dialect
	checkpoint string
}

func (checkpointDialect) SerialWrites() bool { return true }

func (d checkpointDialect) AutoCheckpoint() string {
	return d.Dialect.(sqlstore.Checkpointer).AutoCheckpoint()
}

func (d checkpointDialect) Checkpoint(sqlstore.Table) string { return d.checkpoint }

// holdGate is what the SQL function sqlstore_test_hold of the SQLite
// connections of the tests waits on: it tells started and returns once
// release is closed, or after 20 seconds. Only TestCheckpointOutsideQueue
// calls it, and sets a new gate on each run.
type holdGate struct{ started, release chan struct{} }

var hold struct {
	once sync.Once
	mu   sync.Mutex
	gate *holdGate
}

// newHold registers sqlstore_test_hold once and returns a fresh gate.
func newHold(t *testing.T) *holdGate {
	hold.once.Do(func() {
		err := sqlite.RegisterScalarFunction("sqlstore_test_hold", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			hold.mu.Lock()
			g := hold.gate
			hold.mu.Unlock()
			select {
			case g.started <- struct{}{}:
			default:
			}
			select { // a bound, so that a regression fails instead of hanging
			case <-g.release:
			case <-time.After(20 * time.Second):
			}
			return int64(0), nil
		})
		if err != nil {
			t.Fatalf("registering sqlstore_test_hold: %v", err)
		}
	})
	g := &holdGate{started: make(chan struct{}, 1), release: make(chan struct{})}
	hold.mu.Lock()
	hold.gate = g
	hold.mu.Unlock()
	return g
}

// TestCheckpointOutsideQueue holds the Store's background checkpoint on a
// SQLite database and shows that writes go on meanwhile: the checkpoint runs
// on a connection of its own, outside the write queue, so no write waits
// for it.
func TestCheckpointOutsideQueue(t *testing.T) {
	gate := newHold(t)
	events := newEventLog(sqlstore.OpCheckpoint)
	d := checkpointDialect{Dialect: sqlstore.SQLite, checkpoint: fixtureSQL(t, "sqlite", "checkpoint_hold")}
	// A limit of 16 pages: a checkpoint is due after the first write.
	s := openTestStoreDSN(t, "sqlite", "_pragma=wal_autocheckpoint(16)", sqlstore.WithDialect(d), sqlstore.WithObserver(events))
	ctx := testContext(t)
	exp := time.Now().Add(time.Hour)
	if err := s.Set(ctx, "first", []byte("a"), exp); err != nil {
		t.Fatalf("Set: %v", err)
	}
	select {
	case <-gate.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint started within 10s of a write")
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(gate.release)
		}
	}
	defer release()

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range 50 {
		id := fmt.Sprintf("during-%02d", i)
		if err := s.Set(wctx, id, []byte(id), exp); err != nil {
			t.Fatalf("Set %d while the checkpoint runs: %v", i, err)
		}
		if err := s.Touch(wctx, id, exp.Add(time.Hour)); err != nil {
			t.Fatalf("Touch %d while the checkpoint runs: %v", i, err)
		}
	}
	if err := s.Delete(wctx, "during-00"); err != nil {
		t.Fatalf("Delete while the checkpoint runs: %v", err)
	}
	if n := len(events.all()); n != 0 {
		t.Fatalf("%d checkpoints ended while the checkpoint was held", n)
	}
	release()
	es := events.wait(t, 1)
	if es[0].Err != nil || es[0].Outcome != sqlstore.OutcomeDone {
		t.Errorf("checkpoint event %+v, want done without error", es[0])
	}
	if n, err := s.Count(ctx); err != nil || n != 50 {
		t.Errorf("Count = %d, %v; want 50", n, err)
	}
}

// TestCheckpoints writes through a Store on SQLite with the default
// checkpoint limit, with none (the application checkpoints, so the Store
// must not), and in rollback-journal mode (no log to checkpoint).
func TestCheckpoints(t *testing.T) {
	for _, c := range []struct {
		name, params string
		each         int // Sets by each of 4 goroutines
		want         func(t *testing.T, es []sqlstore.Event, walBytes int64)
	}{
		{"default", "", 750, func(t *testing.T, es []sqlstore.Event, walBytes int64) {
			var copied int64
			for _, e := range es {
				copied += e.Rows
			}
			if len(es) == 0 || copied == 0 {
				t.Errorf("%d checkpoints copied %d pages; want some", len(es), copied)
			}
		}},
		{"application checkpoints", "_pragma=wal_autocheckpoint(0)", 750, func(t *testing.T, es []sqlstore.Event, walBytes int64) {
			if len(es) != 0 {
				t.Errorf("%d checkpoints with wal_autocheckpoint(0); want none", len(es))
			}
			// Nothing checkpointed: the log holds every write, far more
			// than the default limit of 1000 pages.
			if walBytes < 1000*4096 {
				t.Errorf("log of %d bytes: something checkpointed it", walBytes)
			}
		}},
		{"rollback journal", "_pragma=journal_mode(DELETE)", 100, func(t *testing.T, es []sqlstore.Event, walBytes int64) {
			// The first checkpoint finds no log and puts the next off.
			if len(es) > 1 {
				t.Errorf("%d checkpoints without a log; want at most 1", len(es))
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			events := newEventLog(sqlstore.OpCheckpoint)
			dsn, _, table := openTestDB(t, "sqlite")
			wal := strings.TrimPrefix(dsn, "sqlite:") + "-wal"
			if c.params != "" {
				dsn += "?" + c.params
			}
			ctx := testContext(t)
			s, err := sqlstore.Open(ctx, dsn, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithObserver(events))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			const writers = 4
			each := c.each
			data := bytes.Repeat([]byte("x"), 1024)
			exp := time.Now().Add(time.Hour)
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						if err := s.Set(ctx, fmt.Sprintf("w%d-%04d", w, i), data, exp); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Set: %v", err)
			}
			var walBytes int64
			if fi, err := os.Stat(wal); err == nil {
				walBytes = fi.Size()
			}
			if n, err := s.Count(ctx); err != nil || n != int64(writers*each) {
				t.Errorf("Count = %d, %v; want %d", n, err, writers*each)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			es := events.all()
			for _, e := range es {
				if e.Err != nil {
					t.Errorf("checkpoint failed: %v", e.Err)
				}
			}
			c.want(t, es, walBytes)
		})
	}
}

// TestCheckpointFails gives the Store a checkpoint that fails: the failure
// is logged and observed, and the writes go on.
func TestCheckpointFails(t *testing.T) {
	events := newEventLog(sqlstore.OpCheckpoint)
	var logs logBuffer
	d := checkpointDialect{Dialect: sqlstore.SQLite, checkpoint: fixtureSQL(t, "sqlite", "checkpoint_wrong_shape")}
	s := openTestStoreDSN(t, "sqlite", "_pragma=wal_autocheckpoint(16)", sqlstore.WithDialect(d), sqlstore.WithObserver(events),
		sqlstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := testContext(t)
	exp := time.Now().Add(time.Hour)
	for i := range 20 {
		if err := s.Set(ctx, fmt.Sprintf("id-%d", i), []byte("a"), exp); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
	}
	e := events.wait(t, 1)[0]
	if e.Outcome != sqlstore.OutcomeError || e.Err == nil || !strings.HasPrefix(e.Err.Error(), "sqlstore: checkpoint: ") {
		t.Errorf("event %+v; want an error prefixed \"sqlstore: checkpoint: \"", e)
	}
	if got := logs.String(); !strings.Contains(got, "background checkpoint failed") {
		t.Errorf("log %q; want the failure", got)
	}
	if n, err := s.Count(ctx); err != nil || n != 20 {
		t.Errorf("Count = %d, %v; want 20", n, err)
	}
}

// TestMockCheckpoint pins what the Store sends for its checkpoints on SQLite:
// New reads the limit, and a write that makes one due is followed by the
// dialect's checkpoint, on the pool.
func TestMockCheckpoint(t *testing.T) {
	c := mockDialects(t)[2]
	c.checkpointPages = 16 // a quarter is 4 pages, so one is due after each write
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c.expectNew(mock, true, true)
	events := newEventLog(sqlstore.OpCheckpoint)
	s := newMockStore(t, c, db, sqlstore.WithObserver(events))
	mock.ExpectExec(c.set).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectQuery(c.checkpoint).WithoutArgs().WillReturnRows(mockRows("busy", "log", "checkpointed").AddRow(0, 6, 6))
	if err := s.Set(context.Background(), mockID, []byte("a"), mockNow.Add(time.Hour)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	e := events.wait(t, 1)[0]
	if e.Err != nil || e.Rows != 6 {
		t.Errorf("event %+v; want 6 pages copied", e)
	}
	mockMet(t, mock)
}
