package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// The bind values of each statement a request runs, in the order the Dialect
// method of that statement documents. Each values method is the one place
// that order is written down; both ways of running a statement use it.

// getArgs are the bind values of Dialect.Get.
type getArgs struct {
	key         string
	now, cutoff any
}

func (a getArgs) values() []any { return []any{a.key, a.now, a.cutoff} }

// setArgs are the bind values of Dialect.Set. now is both the created and
// the updated time of the row; owner is nil for none.
type setArgs struct {
	key           string
	data          []byte
	expiry, owner any
	now           any
	setOwner      bool
}

func (a setArgs) values() []any {
	return []any{a.key, a.data, a.expiry, a.owner, a.now, a.now, a.setOwner}
}

// touchArgs are the bind values of Dialect.Touch: the new expiry, now (the
// updated time, and the time liveness is judged at), the key, the throttle
// window [low, high] that a write must leave, and the absolute cutoff.
type touchArgs struct {
	expiry, now, low, high, cutoff any
	key                            string
}

func (a touchArgs) values() []any {
	return []any{a.expiry, a.now, a.key, a.now, a.low, a.high, a.cutoff}
}

// deleteArgs are the bind values of Dialect.Delete.
type deleteArgs struct {
	key string
}

func (a deleteArgs) values() []any { return []any{a.key} }

// requests runs the four statements of a request. It is chosen once, in New:
// prepared statements on the Store's *sql.DB, or a Querier (WithQuerier).
// Its methods take typed arguments rather than []any so that, on the
// database/sql path, the bind values stay on the caller's stack. get reports
// a missing row with an error for which errors.Is(err, sql.ErrNoRows) holds;
// the writes return the rows they changed, or -1 when the path cannot tell.
type requests interface {
	get(ctx context.Context, a getArgs) ([]byte, error)
	set(ctx context.Context, a setArgs) (int64, error)
	touch(ctx context.Context, a touchArgs) (int64, error)
	delete(ctx context.Context, a deleteArgs) (int64, error)
	io.Closer
}

// requestSQL is the SQL of the four request statements.
type requestSQL struct {
	get, set, touch, delete string
}

// prepared runs the request statements as *sql.Stmts prepared on the pool.
// Get is prepared in New, whose error it reports. A write statement that a
// server refuses to prepare (MariaDB on a read-only replica) is prepared
// again when it is first run, so that a read-only Store still serves reads.
type prepared struct {
	getStmt                     *sql.Stmt
	setStmt, touchStmt, delStmt lazyStmt
}

// newPrepared prepares the request statements of q on db.
func newPrepared(ctx context.Context, db *sql.DB, q requestSQL) (*prepared, error) {
	st, err := db.PrepareContext(ctx, q.get)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: preparing %q: %w", q.get, err)
	}
	p := &prepared{getStmt: st}
	for _, l := range []struct {
		s *lazyStmt
		q string
	}{{&p.setStmt, q.set}, {&p.touchStmt, q.touch}, {&p.delStmt, q.delete}} {
		l.s.db, l.s.query = db, l.q
		l.s.prepare(ctx) //nolint:errcheck // a failure is reported when the statement runs
	}
	return p, nil
}

func (p *prepared) get(ctx context.Context, a getArgs) (data []byte, err error) {
	err = p.getStmt.QueryRowContext(ctx, a.values()...).Scan(&data)
	return data, err
}

func (p *prepared) set(ctx context.Context, a setArgs) (int64, error) {
	return p.setStmt.exec(ctx, a.values()...)
}

func (p *prepared) touch(ctx context.Context, a touchArgs) (int64, error) {
	return p.touchStmt.exec(ctx, a.values()...)
}

func (p *prepared) delete(ctx context.Context, a deleteArgs) (int64, error) {
	return p.delStmt.exec(ctx, a.values()...)
}

func (p *prepared) Close() error {
	return errors.Join(p.getStmt.Close(), p.setStmt.close(), p.touchStmt.close(), p.delStmt.close())
}

// lazyStmt is a statement prepared in New when the server allows, else on
// its first run.
type lazyStmt struct {
	db     *sql.DB
	query  string
	stmt   atomic.Pointer[sql.Stmt]
	mu     sync.Mutex // serializes preparing and closing
	closed bool
}

func (l *lazyStmt) prepare(ctx context.Context) (*sql.Stmt, error) {
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	if l.closed {
		return nil, ErrClosed
	}
	st, err := l.db.PrepareContext(ctx, l.query)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", l.query, err)
	}
	l.stmt.Store(st)
	return st, nil
}

func (l *lazyStmt) exec(ctx context.Context, args ...any) (int64, error) {
	st, err := l.prepare(ctx)
	if err != nil {
		return 0, err
	}
	return rowsAffected(st.ExecContext(ctx, args...))
}

// rowsAffected returns the rows a statement changed, or its error.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (l *lazyStmt) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if st := l.stmt.Load(); st != nil {
		return st.Close()
	}
	return nil
}

// native runs the request statements through a Querier.
type native struct {
	q   Querier
	sql requestSQL
}

func (n native) get(ctx context.Context, a getArgs) (data []byte, err error) {
	err = n.q.QueryRow(ctx, n.sql.get, a.values()...).Scan(&data)
	return data, err
}

func (n native) set(ctx context.Context, a setArgs) (int64, error) {
	return n.exec(ctx, n.sql.set, a.values()...)
}

func (n native) touch(ctx context.Context, a touchArgs) (int64, error) {
	return n.exec(ctx, n.sql.touch, a.values()...)
}

func (n native) delete(ctx context.Context, a deleteArgs) (int64, error) {
	return n.exec(ctx, n.sql.delete, a.values()...)
}

// exec runs a write through the Querier, with the rows it changed when the
// Querier reports them (RowsQuerier).
func (n native) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if rq, ok := n.q.(RowsQuerier); ok {
		return rq.ExecRows(ctx, query, args...)
	}
	return -1, n.q.Exec(ctx, query, args...)
}

// Close closes the Querier if it is an io.Closer.
func (n native) Close() error {
	if c, ok := n.q.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
