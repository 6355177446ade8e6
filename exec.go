package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/go-sqlstore/sqlstore/internal/req"
)

// The bind values of each statement a request runs, typed (package req).
type (
	getArgs    = req.Get
	setArgs    = req.Set
	touchArgs  = req.Touch
	deleteArgs = req.Delete
)

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
	db                          *sql.DB
	times                       req.Times
	localGet                    bool // the dialect's LocalReads said so in New
}

// newPrepared prepares the request statements of q on db, whose times bind
// as times encodes them. With localGet, Get's lookup waits on no other
// connection (LocalReader).
func newPrepared(ctx context.Context, db *sql.DB, q requestSQL, times req.Times, localGet bool) (*prepared, error) {
	st, err := db.PrepareContext(ctx, q.get)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: preparing %q: %w", q.get, err)
	}
	p := &prepared{getStmt: st, db: db, times: times, localGet: localGet}
	for _, l := range []struct {
		s *lazyStmt
		q string
	}{{&p.setStmt, q.set}, {&p.touchStmt, q.touch}, {&p.delStmt, q.delete}} {
		l.s.db, l.s.query = db, l.q
		l.s.prepare(ctx) //nolint:errcheck // a failure is reported when the statement runs
	}
	return p, nil
}

// get runs Get's statement. When the lookup cannot wait (local), it runs
// without cancellation, which spares database/sql and the driver a goroutine
// each, and the context is checked before and after it instead, so that a
// call whose context ends returns its error within one lookup.
func (p *prepared) get(ctx context.Context, a getArgs) (data []byte, err error) {
	qctx := ctx
	local := p.local()
	if local {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		qctx = context.WithoutCancel(ctx)
	}
	var args req.Args
	err = p.getStmt.QueryRowContext(qctx, a.Values(p.times, &args)...).Scan(&data)
	if local {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
	}
	return data, err
}

// local reports whether Get's lookup can run without cancellation: it waits
// on no other connection (LocalReader), and the pool has no limit, so that
// taking a connection never waits either. The limit is read on each call:
// SetMaxOpenConns may change it at any time.
func (p *prepared) local() bool {
	return p.localGet && p.db.Stats().MaxOpenConnections == 0
}

// localReads reports whether the dialect says a lookup by primary key in the
// store's schema waits on no other connection (LocalReader). It is false for
// a SQLite DSN with a shared cache, where a reader can wait on a table lock.
func (s *Store) localReads(ctx context.Context) (bool, error) {
	lr, ok := s.d.(LocalReader)
	if !ok || s.cfg.sharedCache {
		return false, nil
	}
	var local bool
	switch err := s.db.QueryRowContext(ctx, lr.LocalReads(), s.schema).Scan(&local); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlstore: reading whether lookups can wait: %w", err)
	}
	return local, nil
}

func (p *prepared) set(ctx context.Context, a setArgs) (int64, error) {
	var args req.Args
	return p.setStmt.exec(ctx, a.Values(p.times, &args)...)
}

func (p *prepared) touch(ctx context.Context, a touchArgs) (int64, error) {
	var args req.Args
	return p.touchStmt.exec(ctx, a.Values(p.times, &args)...)
}

func (p *prepared) delete(ctx context.Context, a deleteArgs) (int64, error) {
	var args req.Args
	return p.delStmt.exec(ctx, a.Values(p.times, &args)...)
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
	q     Querier
	sql   requestSQL
	times req.Times
}

func (n native) get(ctx context.Context, a getArgs) (data []byte, err error) {
	var args req.Args
	err = n.q.QueryRow(ctx, n.sql.get, a.Values(n.times, &args)...).Scan(&data)
	return data, err
}

func (n native) set(ctx context.Context, a setArgs) (int64, error) {
	var args req.Args
	return n.exec(ctx, n.sql.set, a.Values(n.times, &args)...)
}

func (n native) touch(ctx context.Context, a touchArgs) (int64, error) {
	var args req.Args
	return n.exec(ctx, n.sql.touch, a.Values(n.times, &args)...)
}

func (n native) delete(ctx context.Context, a deleteArgs) (int64, error) {
	var args req.Args
	return n.exec(ctx, n.sql.delete, a.Values(n.times, &args)...)
}

// exec runs a write through the Querier, with the rows it changed when the
// Querier reports them (RowsQuerier).
func (n native) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if rq, ok := n.q.(RowsQuerier); ok {
		return rq.ExecRows(ctx, query, args...)
	}
	return -1, n.q.Exec(ctx, query, args...)
}

// typed runs the request statements through a Querier that takes their
// typed bind values (req.Runner: package pgxnative's), which its driver can
// encode without boxing each one.
type typed struct {
	native
	r req.Runner
}

func (t typed) get(ctx context.Context, a getArgs) ([]byte, error) {
	return t.r.Get(ctx, t.sql.get, a)
}

func (t typed) set(ctx context.Context, a setArgs) (int64, error) {
	return t.r.Set(ctx, t.sql.set, a)
}

func (t typed) touch(ctx context.Context, a touchArgs) (int64, error) {
	return t.r.Touch(ctx, t.sql.touch, a)
}

func (t typed) delete(ctx context.Context, a deleteArgs) (int64, error) {
	return t.r.Delete(ctx, t.sql.delete, a)
}

// newNative returns the requests of a Querier, whose times bind as times
// encodes them: typed when it is a req.Runner, which encodes them itself.
func newNative(q Querier, sql requestSQL, times req.Times) requests {
	n := native{q: q, sql: sql, times: times}
	if r, ok := q.(req.Runner); ok {
		return typed{native: n, r: r}
	}
	return n
}

// Close closes the Querier if it is an io.Closer.
func (n native) Close() error {
	if c, ok := n.q.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
