package sqlstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"time"
)

// maxBackoff caps the wait between two attempts of a write. With the default
// retries a write waits a few seconds in all: long enough to outlast a burst
// of conflicts on one id through every node of a Galera cluster.
const maxBackoff = 250 * time.Millisecond

// write runs a write: it waits for a write slot where the dialect takes one
// writer at a time (see Store.slots), then runs f with retries (attempt),
// and wraps the error with op. It returns the rows f reports.
func (s *Store) write(ctx context.Context, op Op, f func() (int64, error)) (int64, error) {
	return s.writeTx(ctx, op, f, nil, nil)
}

// writeTx is write for the write of one session, which st with the bind
// values args() runs too (nil st: never together with others): with the
// write queue on, writes that wait commit together (Store.queue).
func (s *Store) writeTx(ctx context.Context, op Op, f func() (int64, error), st *lazyStmt, args func() []any) (rows int64, err error) {
	switch {
	case s.slots == nil:
		rows, err = s.alone(ctx, op, f)
	case st != nil:
		rows, err = s.queue(ctx, op, f, st, args)
	default:
		select {
		case s.slots <- struct{}{}:
			rows, err = s.alone(ctx, op, f)
			<-s.slots
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		return rows, s.wrap(ctx, op, err)
	}
	if s.ckpt != nil {
		s.ckpt.wrote()
	}
	return rows, nil
}

// attempt runs f until it succeeds, fails with an error that is not
// transient, the context ends, or WithMaxRetries retries are spent, with
// jittered exponential backoff between tries; it returns f's last error.
// Each retry of an operation (op not "") is told to the Observer.
func (s *Store) attempt(ctx context.Context, op Op, f func() error) error {
	backoff := time.Millisecond
	for try := 0; ; try++ {
		err := f()
		if err == nil || try >= s.cfg.maxRetries || !transient(err) || ctx.Err() != nil {
			return err
		}
		if s.obs != nil && op != "" {
			s.obs.Observe(ctx, Event{Op: op, Outcome: OutcomeRetried, Err: err})
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// transient reports whether err is a conflict that the same statement may
// not meet again: SQLSTATE 40001 (serialization failure, Galera
// certification conflict) or 40P01 (PostgreSQL deadlock), or MySQL error 1213
// (deadlock).
func transient(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01":
		return true
	}
	n, ok := mysqlErrorNumber(err)
	return ok && n == 1213
}

// tooLarge reports whether err is the database refusing a row or a packet
// for its size below the store's own limit: TiDB's entry limit (8025),
// MySQL's max_allowed_packet (1153), or PostgreSQL's program limits (54000).
func tooLarge(err error) bool {
	if sqlState(err) == "54000" {
		return true
	}
	n, ok := mysqlErrorNumber(err)
	return ok && (n == 8025 || n == 1153)
}

// sqlState returns the SQLSTATE of the first error in err's chain that
// reports one, as lib/pq's and pgx's errors do, or "".
func sqlState(err error) string {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		return st.SQLState()
	}
	return ""
}

// mysqlErrorPkg and mysqlErrorName name go-sql-driver/mysql's error type,, which the root package reads without importing the driver.
const mysqlErrorPkg, mysqlErrorName = "github.com/go-sql-driver/mysql", "MySQLError"

// mysqlErrorNumber returns the server error number of the first
// *mysql.MySQLError (go-sql-driver/mysql) in err's chain. The type is matched
// by its package path and name, not by the shape of a field, so no other
// error type is read; TestMySQLErrorNumber pins it against the driver's own
// type.
func mysqlErrorNumber(err error) (n uint16, ok bool) {
	walk(err, func(e error) bool {
		t := reflect.TypeOf(e)
		if t.Kind() != reflect.Pointer || t.Elem().PkgPath() != mysqlErrorPkg || t.Elem().Name() != mysqlErrorName {
			return false
		}
		v := reflect.ValueOf(e).Elem()
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("Number"); f.IsValid() && f.Kind() == reflect.Uint16 {
				n, ok = uint16(f.Uint()), true
			}
		}
		return true
	})
	return n, ok
}

// walk calls visit for err and every error it wraps, depth first, until
// visit returns true. It sees through Unwrap() error, Unwrap() []error, and
// wrappers that hide their cause from Unwrap but hand it to errors.As (as
// the DSN scrubber of Open does).
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		case interface{ As(any) bool }:
			var inner error
			if !u.As(&inner) || inner == err {
				return false
			}
			err = inner
		default:
			return false
		}
	}
	return false
}
