package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"
)

// lockPoll is how often a Store asks again for a lock another process holds.
const lockPoll = 200 * time.Millisecond

// lock takes the session-level lock name on conn (Dialect.TryLock), which
// serializes sweeps, and upgrades, of one table across processes. With wait
// it polls until it gets the lock or ctx ends; polling, rather than a
// blocking lock call, holds no snapshot open meanwhile, which PostgreSQL's
// CREATE INDEX CONCURRENTLY in another process would wait for. got is false
// only without wait, when another process holds the lock. Where the
// database has no such lock, got is true and release does nothing.
func (s *Store) lock(ctx context.Context, conn *sql.Conn, name string, wait bool) (release func(), got bool, err error) {
	q := s.d.TryLock()
	if q == "" {
		return func() {}, true, nil
	}
	for {
		var ok sql.NullBool
		if err := conn.QueryRowContext(ctx, q, name).Scan(&ok); err != nil {
			return nil, false, err
		}
		if ok.Valid && ok.Bool {
			return func() { s.unlock(conn, name) }, true, nil
		}
		if !wait {
			return nil, false, nil
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}

// unlock releases a lock. If that fails (say, the caller's context ended),
// the connection is discarded, which releases a session lock too.
func (s *Store) unlock(conn *sql.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, s.d.Unlock(), name); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}
