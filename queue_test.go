package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/go-sqlstore/sqlstore"
)

// TestMockWriteBatch pins how SQLite's write queue commits waiting writes:
// while one write holds the slot, the writes that queue behind it commit
// together in one transaction, in the order they came; a batch that fails
// fails each of its writes with the error and leaves the store working.
func TestMockWriteBatch(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			s, mock, c := newHeldSlotMock(t)
			ctx := testContext(t)
			exp := mockNow.Add(time.Hour)
			ioErr := errors.New("disk I/O error")
			mock.ExpectBegin()
			mock.ExpectExec(c.set).WithArgs(s.Key("queued-0"), sqlmock.AnyArg(), sqlmock.AnyArg(), nil, sqlmock.AnyArg(), sqlmock.AnyArg(), false).
				WillReturnResult(sqlmock.NewResult(0, 1))
			if fail {
				mock.ExpectExec(c.touch).WillReturnError(ioErr)
				mock.ExpectRollback()
			} else {
				mock.ExpectExec(c.touch).WillReturnResult(sqlmock.NewResult(0, 1))
				mock.ExpectExec(c.del).WithArgs(s.Key("queued-2")).WillReturnResult(sqlmock.NewResult(0, 1))
				mock.ExpectCommit()
			}
			// After the batch, a write alone again.
			mock.ExpectExec(c.set).WithArgs(s.Key("after"), sqlmock.AnyArg(), sqlmock.AnyArg(), nil, sqlmock.AnyArg(), sqlmock.AnyArg(), false).
				WillReturnResult(sqlmock.NewResult(0, 1))

			first := holdSlot(ctx, s)
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i, w := range []func() error{
				func() error { return s.Set(ctx, "queued-0", []byte("b"), exp) },
				func() error { return s.Touch(ctx, "queued-1", exp.Add(time.Hour)) },
				func() error { return s.Delete(ctx, "queued-2") },
			} {
				wg.Go(func() { errs[i] = w() })
				time.Sleep(30 * time.Millisecond) // queue in this order
			}
			if err := <-first; err != nil {
				t.Fatalf("first Set: %v", err)
			}
			wg.Wait()
			for i, err := range errs {
				switch {
				case fail && !errors.Is(err, ioErr):
					t.Errorf("queued write %d: %v; want the batch's error", i, err)
				case fail && !strings.HasPrefix(err.Error(), "sqlstore: "):
					t.Errorf("queued write %d: %q; want the prefix sqlstore:", i, err)
				case !fail && err != nil:
					t.Errorf("queued write %d: %v", i, err)
				}
			}
			if err := s.Set(ctx, "after", []byte("c"), exp); err != nil {
				t.Errorf("Set after the batch: %v", err)
			}
			mockMet(t, mock)
		})
	}
}

// TestWriteBatchContext shows on SQLite that a write waiting in the queue
// still ends with its context, and that the writes queued with it are
// committed all the same: 16 writers, every third with a context that ends
// while it waits behind a write held up by another connection's lock.
func TestWriteBatchContext(t *testing.T) {
	s := openTestStore(t, "sqlite")
	ctx := testContext(t)
	exp := time.Now().Add(time.Hour)
	// Another connection holds the write lock for 300 ms: the first write
	// waits in the busy handler with the slot, the others queue.
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fixtureSQL(t, "sqlite", "begin_write")); err != nil {
		t.Fatalf("begin: %v", err)
	}
	const writers = 16
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wctx := ctx
		if i%3 == 1 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
		}
		wg.Go(func() { errs[i] = s.Set(wctx, fmt.Sprintf("w-%02d", i), []byte{byte(i)}, exp) })
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := conn.ExecContext(ctx, fixtureSQL(t, "sqlite", "commit")); err != nil {
		t.Fatalf("commit: %v", err)
	}
	wg.Wait()
	for i, err := range errs {
		data, found, gerr := s.Get(ctx, fmt.Sprintf("w-%02d", i))
		switch {
		case i%3 == 1 && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("write %d: %v; want its context's deadline", i, err)
		case i%3 != 1 && err != nil:
			t.Errorf("write %d: %v", i, err)
		case i%3 != 1 && (gerr != nil || !found || len(data) != 1 || data[0] != byte(i)):
			t.Errorf("write %d: Get = %v, %v; want its data", i, data, gerr)
		}
	}
}

// TestMockWriteQueuedAlone pins that a write that waited in the queue alone
// runs as a statement of its own, with no transaction around it.
func TestMockWriteQueuedAlone(t *testing.T) {
	s, mock, c := newHeldSlotMock(t)
	ctx := testContext(t)
	mock.ExpectExec(c.del).WithArgs(s.Key("queued")).WillReturnResult(sqlmock.NewResult(0, 1))
	first := holdSlot(ctx, s)
	if err := s.Delete(ctx, "queued"); err != nil {
		t.Errorf("queued Delete: %v", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Set: %v", err)
	}
	mockMet(t, mock)
}

// newHeldSlotMock returns a store on a mock SQLite that expects, first, the
// Set of holdSlot: a write that holds the write slot for 300 ms.
func newHeldSlotMock(t *testing.T) (*sqlstore.Store, sqlmock.Sqlmock, mockDialect) {
	t.Helper()
	c := mockDialects(t)[2]
	db, mock := mockDB(t)
	c.expectNew(mock, true, true)
	s := newMockStore(t, c, db)
	mock.ExpectExec(c.set).WithArgs(s.Key("first"), sqlmock.AnyArg(), sqlmock.AnyArg(), nil, sqlmock.AnyArg(), sqlmock.AnyArg(), false).
		WillDelayFor(300 * time.Millisecond).WillReturnResult(sqlmock.NewResult(0, 1))
	return s, mock, c
}

// holdSlot starts the Set that newHeldSlotMock expects and returns once it
// holds the write slot, with the channel that gets its error.
func holdSlot(ctx context.Context, s *sqlstore.Store) <-chan error {
	first := make(chan error, 1)
	go func() { first <- s.Set(ctx, "first", []byte("a"), mockNow.Add(time.Hour)) }()
	time.Sleep(100 * time.Millisecond)
	return first
}
