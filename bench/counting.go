package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"
	"time"
)

// counter counts the statements a pool executes and those that changed a
// row (rows affected > 0), to see what touch throttling saves.
type counter struct {
	execs, writes atomic.Int64
	// onExec, if set, is told of every statement executed without
	// preparing it (such as DDL) and how long it took.
	onExec func(q string, d time.Duration, err error)
}

func (c *counter) note(res driver.Result, err error) {
	if err != nil {
		return
	}
	c.execs.Add(1)
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		c.writes.Add(1)
	}
}

// countingDB opens a pool of driverName whose statements c counts.
func countingDB(driverName, dsnStr string, c *counter) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsnStr)
	if err != nil {
		return nil, err
	}
	drv := db.Driver()
	db.Close()
	cn := &countingConnector{drv: drv, dsn: dsnStr, c: c}
	if dc, ok := drv.(driver.DriverContext); ok {
		if cn.base, err = dc.OpenConnector(dsnStr); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(cn), nil
}

type countingConnector struct {
	drv  driver.Driver
	base driver.Connector
	dsn  string
	c    *counter
}

func (k *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	var err error
	if k.base != nil {
		conn, err = k.base.Connect(ctx)
	} else {
		conn, err = k.drv.Open(k.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: k.c}, nil
}

func (k *countingConnector) Driver() driver.Driver { return k.drv }

type countingConn struct {
	driver.Conn
	c *counter
}

func (cc *countingConn) Prepare(q string) (driver.Stmt, error) {
	return cc.PrepareContext(context.Background(), q)
}

func (cc *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := cc.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, q)
	} else {
		st, err = cc.Conn.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: cc.c}, nil
}

func (cc *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := cc.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 the fallback database/sql itself uses for such drivers
	return cc.Conn.Begin()
}

func (cc *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := cc.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	start := time.Now()
	res, err := e.ExecContext(ctx, q, args)
	if cc.c.onExec != nil {
		cc.c.onExec(q, time.Since(start), err)
	}
	cc.c.note(res, err)
	return res, err
}

func (cc *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if qc, ok := cc.Conn.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

func (cc *countingConn) Ping(ctx context.Context) error {
	if p, ok := cc.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cc *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := cc.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cc *countingConn) IsValid() bool {
	if v, ok := cc.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (cc *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := cc.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingStmt struct {
	driver.Stmt
	c *counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	var res driver.Result
	var err error
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for such drivers
		res, err = s.Stmt.Exec(values(args))
	}
	s.c.note(res, err)
	return res, err
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	//lint:ignore SA1019 the fallback database/sql itself uses for such drivers
	return s.Stmt.Query(values(args))
}

func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}
