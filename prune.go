package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"math/rand/v2"
	"reflect"
	"time"
)

// lockPoll is how often Prune asks again for a lock another process holds.
const lockPoll = 200 * time.Millisecond

// Prune runs one full sweep now and returns the number of expired sessions it
// deleted. It deletes in batches (WithPruneBatchSize), each its own short
// transaction through the expiry index, resting WithPrunePause between them,
// so it never holds a long lock nor hogs the database. Where
// the database has advisory locks (PostgreSQL, MySQL), at most one sweep of a
// table runs at a time across processes: Prune waits for a sweep elsewhere to
// finish, then runs its own. Close cancels a Prune in flight.
func (s *Store) Prune(ctx context.Context) (deleted int64, err error) {
	return s.PruneProgress(ctx, nil)
}

// PruneProgress is Prune, calling progress (when not nil) with the running
// total of deleted rows after every batch, for tools that report long sweeps.
func (s *Store) PruneProgress(ctx context.Context, progress func(deleted int64)) (deleted int64, err error) {
	done, err := s.track()
	if err != nil {
		return 0, err
	}
	defer done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	return s.sweepOnce(ctx, true, progress)
}

// pruneLoop sweeps at the jittered interval until Close.
func (s *Store) pruneLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(s.jitter())
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		n, err := s.sweepOnce(s.ctx, false, nil)
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error("sqlstore: background prune failed", "table", s.schema+"."+s.cfg.table, "deleted", n, "err", err)
		case n > 0:
			s.log.Debug("sqlstore: pruned expired sessions", "table", s.schema+"."+s.cfg.table, "deleted", n, "took", time.Since(start))
		}
		timer.Reset(s.jitter())
	}
}

// jitter returns the prune interval ±10%, so processes started together do
// not sweep together.
func (s *Store) jitter() time.Duration {
	iv := s.cfg.pruneInterval
	spread := iv / 5
	if spread <= 0 {
		return iv
	}
	return iv - spread/2 + rand.N(spread)
}

// sweepOnce deletes expired rows in batches until a batch comes back short.
// With wait false it skips the sweep when another one holds the lock.
func (s *Store) sweepOnce(ctx context.Context, wait bool, progress func(int64)) (int64, error) {
	if wait {
		s.sweep.Lock()
	} else if !s.sweep.TryLock() {
		return 0, nil
	}
	defer s.sweep.Unlock()

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, s.wrap(ctx, "prune", err)
	}
	defer conn.Close()
	if q := s.d.TryLock(); q != "" {
		for {
			var got sql.NullBool
			if err := conn.QueryRowContext(ctx, q, s.lock).Scan(&got); err != nil {
				return 0, s.wrap(ctx, "prune: taking the lock", err)
			}
			if got.Valid && got.Bool {
				break
			}
			if !wait {
				return 0, nil
			}
			select {
			case <-ctx.Done():
				return 0, s.wrap(ctx, "prune: waiting for the lock", ctx.Err())
			case <-time.After(lockPoll):
			}
		}
		defer s.unlock(conn)
	}

	stmt, err := conn.PrepareContext(ctx, s.q.prune)
	if err != nil {
		return 0, s.wrap(ctx, "prune", err)
	}
	defer stmt.Close()
	now := s.d.EncodeTime(s.now())
	var total int64
	for {
		// A statement on a sql.Conn does not check its context before it
		// runs, and lib/pq lets a quick one finish although the context
		// ended: check between batches, so that Close stops a sweep at once.
		if err := ctx.Err(); err != nil {
			return total, s.wrap(ctx, "prune", err)
		}
		var n int64
		err := s.retry(ctx, "prune", func() error {
			res, err := stmt.ExecContext(ctx, now, s.cfg.pruneBatchSize)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if progress != nil && n > 0 {
			progress(total)
		}
		if err != nil {
			return total, err
		}
		if n < int64(s.cfg.pruneBatchSize) {
			return total, nil
		}
		if s.cfg.prunePause > 0 {
			t := time.NewTimer(s.cfg.prunePause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, s.wrap(ctx, "prune", ctx.Err())
			case <-t.C:
			}
		}
	}
}

// unlock releases the sweep lock. If that fails (say, the sweep's context
// ended), the connection is discarded, which releases a session lock too.
func (s *Store) unlock(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, s.d.Unlock(), s.lock); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// maxBackoff caps the wait between two attempts of a write. With the default
// 16 retries a write waits at most about 2.3 s in all (3.4 s at the jitter's
// worst): long enough to outlast a burst of conflicts on one id through
// every node of a Galera cluster, which 8 retries capped at 100 ms were not.
const maxBackoff = 250 * time.Millisecond

// retry runs a write, retrying transient conflicts (deadlocks, serialization
// failures, Galera certification conflicts) with jittered exponential
// backoff, at most WithMaxRetries times. On SQLite the writes of one Store
// run one at a time (WithWriteSlots), in the order they came (see
// Store.writer).
func (s *Store) retry(ctx context.Context, op string, f func() error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return s.wrap(ctx, op, ctx.Err())
		}
	}
	if err := s.attempt(ctx, f); err != nil {
		return s.wrap(ctx, op, err)
	}
	return nil
}

// attempt runs f until it succeeds, fails with an error that is not
// transient, the context ends, or WithMaxRetries retries are spent, with
// jittered exponential backoff between tries; it returns f's last error.
func (s *Store) attempt(ctx context.Context, f func() error) error {
	backoff := time.Millisecond
	for try := 0; ; try++ {
		err := f()
		if err == nil || try >= s.cfg.maxRetries || !transient(err) || ctx.Err() != nil {
			return err
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
// (deadlock). It reads drivers' errors without importing them: SQLState()
// (lib/pq, pgx) or the Number field (go-sql-driver/mysql).
func transient(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if st, ok := e.(interface{ SQLState() string }); ok {
			switch st.SQLState() {
			case "40001", "40P01":
				return true
			}
		}
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("Number"); f.IsValid() && f.CanUint() && f.Uint() == 1213 {
				return true
			}
		}
	}
	return false
}
