package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sqlstore/sqlstore"
)

// These tests pin what a Store hands a Querier (WithQuerier): the same SQL
// and bind values the prepared statements get in TestMockOperations, and
// the same error handling. The *sql.DB is a sqlmock that sees New's catalog
// queries and no prepares.

// querierCall is one call a fakeQuerier received.
type querierCall struct {
	method, query string
	args          []any
}

// fakeQuerier records its calls and answers them with the next result
// queued, or with success (and no row for QueryRow) when none is.
type fakeQuerier struct {
	mu       sync.Mutex
	calls    []querierCall
	results  []querierResult
	closes   int
	closeErr error
}

type querierResult struct {
	data []byte // QueryRow's row; nil data and nil err means no row
	err  error
}

type querierRow querierResult

func (r querierRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if r.data == nil {
		return fmt.Errorf("fake: %w", sql.ErrNoRows) // wrapped, as pgx's is
	}
	if len(dest) != 1 {
		return fmt.Errorf("fake: Scan into %d values, want 1", len(dest))
	}
	*dest[0].(*[]byte) = append([]byte(nil), r.data...)
	return nil
}

func (f *fakeQuerier) next(method, query string, args []any) querierResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, querierCall{method, query, args})
	if len(f.results) == 0 {
		return querierResult{}
	}
	r := f.results[0]
	f.results = f.results[1:]
	return r
}

func (f *fakeQuerier) QueryRow(_ context.Context, query string, args ...any) sqlstore.Row {
	return querierRow(f.next("QueryRow", query, args))
}

func (f *fakeQuerier) Exec(_ context.Context, query string, args ...any) error {
	return f.next("Exec", query, args).err
}

func (f *fakeQuerier) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	return f.closeErr
}

func (f *fakeQuerier) take() []querierCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// wantCall checks that calls is exactly one call of method with query and
// bind values matching want (sqlmock.Argument matchers or equal values).
func wantCall(t *testing.T, op string, calls []querierCall, method, query string, want ...driver.Value) {
	t.Helper()
	if len(calls) != 1 {
		t.Errorf("%s: %d Querier calls %v, want 1", op, len(calls), calls)
		return
	}
	c := calls[0]
	if c.method != method || c.query != query {
		t.Errorf("%s: Querier.%s(%q), want %s(%q)", op, c.method, c.query, method, query)
	}
	if len(c.args) != len(want) {
		t.Errorf("%s: args %v, want %v", op, c.args, want)
		return
	}
	for i, w := range want {
		ok := reflect.DeepEqual(c.args[i], w)
		if m, isMatcher := w.(sqlmock.Argument); isMatcher {
			ok = m.Match(c.args[i])
		}
		if !ok {
			t.Errorf("%s: arg %d = %#v, want %#v", op, i, c.args[i], w)
		}
	}
}

// newQuerierStore makes a store with q over a sqlmock that expects New's catalog
// queries on an existing table and no prepared statement.
func newQuerierStore(t *testing.T, c mockDialect, q sqlstore.Querier, opts ...sqlstore.Option) (*sqlstore.Store, sqlmock.Sqlmock) {
	t.Helper()
	db, mock := mockDB(t)
	c.expectCatalog(mock, true)
	s := newMockStore(t, c, db, append([]sqlstore.Option{sqlstore.WithQuerier(q)}, opts...)...)
	mockMet(t, mock)
	return s, mock
}

func TestQuerierOperations(t *testing.T) {
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			q := &fakeQuerier{}
			s, mock := newQuerierStore(t, c, q)
			ctx := context.Background()
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
			exp := time.Date(2024, 3, 6, 9, 30, 0, 987654321, time.UTC)
			payload := []byte("a\x00b\xff")

			q.results = []querierResult{{data: payload}, {data: []byte{}}, {}}
			data, found, err := s.Get(ctx, mockID)
			if err != nil || !found || string(data) != string(payload) {
				t.Errorf("Get = %q, %v, %v; want %q, true, nil", data, found, err, payload)
			}
			wantCall(t, "Get", q.take(), "QueryRow", c.get, mockKey, now, cut)
			if data, found, err := s.Get(ctx, mockID); err != nil || !found || data == nil || len(data) != 0 {
				t.Errorf("Get(empty) = %#v, %v, %v; want []byte{}, true, nil", data, found, err)
			}
			q.take()
			if data, found, err := s.Get(ctx, mockID); err != nil || found || data != nil {
				t.Errorf("Get(missing, wrapped sql.ErrNoRows) = %q, %v, %v; want nil, false, nil", data, found, err)
			}
			q.take()

			if err := s.Set(ctx, mockID, payload, exp); err != nil {
				t.Errorf("Set: %v", err)
			}
			wantCall(t, "Set", q.take(), "Exec", c.set, mockKey, payload, c.at("2024-03-06 09:30:00.987"), nil, now, now, false)
			if err := s.Set(ctx, mockID, nil, exp); err != nil {
				t.Errorf("Set(nil): %v", err)
			}
			wantCall(t, "Set(nil)", q.take(), "Exec", c.set, mockKey, []byte{}, c.at("2024-03-06 09:30:00.987"), nil, now, now, false)
			if err := s.Touch(ctx, mockID, exp); err != nil {
				t.Errorf("Touch: %v", err)
			}
			wantCall(t, "Touch", q.take(), "Exec", c.touch, c.at("2024-03-06 09:30:00.987"), now, mockKey, now,
				c.at("2024-03-06 09:29:55.987"), c.at("2024-03-06 09:30:05.987"), cut)
			if err := s.Delete(ctx, mockID); err != nil {
				t.Errorf("Delete: %v", err)
			}
			wantCall(t, "Delete", q.take(), "Exec", c.del, mockKey)

			// The rest still goes through the pool.
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnRows(mockRows("n").AddRow(int64(3)))
			if n, err := s.Count(ctx); err != nil || n != 3 {
				t.Errorf("Count = %d, %v; want 3 through the *sql.DB", n, err)
			}
			// Invalid input reaches neither.
			if _, _, err := s.Get(ctx, ""); !errors.Is(err, sqlstore.ErrInvalidID) {
				t.Errorf("Get(\"\") = %v, want ErrInvalidID", err)
			}
			if calls := q.take(); len(calls) != 0 {
				t.Errorf("calls after Count and an invalid id: %v, want none", calls)
			}
			mockMet(t, mock)
		})
	}
}

func TestQuerierErrors(t *testing.T) {
	c := mockDialects(t)[0]
	ctx := context.Background()
	boom := errors.New("boom")
	q := &fakeQuerier{}
	s, _ := newQuerierStore(t, c, q, sqlstore.WithMaxRetries(3))

	q.results = []querierResult{{err: boom}}
	if _, found, err := s.Get(ctx, mockID); !errors.Is(err, boom) || found || !strings.HasPrefix(err.Error(), "sqlstore: get: ") {
		t.Errorf("Get with a failing Querier = %v, %v; want boom wrapped as sqlstore: get", found, err)
	}
	// A transient conflict is retried; a lasting one is returned once the
	// retries are spent.
	conflict := &sqlStateError{code: "40001"}
	q.take()
	q.results = []querierResult{{err: conflict}, {err: conflict}}
	if err := s.Set(ctx, mockID, []byte("x"), time.Time{}); err != nil {
		t.Errorf("Set after two conflicts = %v, want nil", err)
	}
	if n := len(q.take()); n != 3 {
		t.Errorf("Set after two conflicts ran %d times, want 3", n)
	}
	q.results = []querierResult{{err: conflict}, {err: conflict}, {err: conflict}, {err: conflict}}
	if err := s.Delete(ctx, mockID); !errors.Is(err, conflict) || !strings.HasPrefix(err.Error(), "sqlstore: delete: ") {
		t.Errorf("Delete after lasting conflicts = %v, want the conflict wrapped", err)
	}
	if n := len(q.take()); n != 4 {
		t.Errorf("Delete with lasting conflicts ran %d times, want 1 + 3 retries", n)
	}
	q.results = []querierResult{{err: boom}}
	if err := s.Touch(ctx, mockID, time.Time{}); !errors.Is(err, boom) {
		t.Errorf("Touch with a failing Querier = %v, want boom", err)
	}
	if n := len(q.take()); n != 1 {
		t.Errorf("Touch with a lasting error ran %d times, want 1 (not transient)", n)
	}

	// A context that ended is reported as such even when the Querier words
	// it its own way.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	q.results = []querierResult{{err: errors.New("driver: query cancelled")}}
	if _, _, err := s.Get(cctx, mockID); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestQuerierClose(t *testing.T) {
	c := mockDialects(t)[2]
	q := &fakeQuerier{closeErr: errors.New("close failed")}
	s, _ := newQuerierStore(t, c, q)
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "close failed") {
		t.Errorf("Close = %v, want the Querier's close error", err)
	}
	if err := s.Close(); err == nil {
		t.Errorf("second Close = nil, want the first result again")
	}
	if q.closes != 1 {
		t.Errorf("Querier closed %d times, want once", q.closes)
	}
	for op, err := range callEveryOperation(context.Background(), s) {
		if !errors.Is(err, sqlstore.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
	if calls := q.take(); len(calls) != 0 {
		t.Errorf("Querier calls after Close: %v", calls)
	}

	if _, err := sqlstore.New(context.Background(), &sql.DB{}, sqlstore.WithQuerier(nil)); err == nil || !strings.Contains(err.Error(), "WithQuerier: nil Querier") {
		t.Errorf("New(WithQuerier(nil)) = %v, want an error naming the option", err)
	}
}
