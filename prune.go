package sqlstore

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"
)

// Prune runs one full sweep now and returns the number of expired sessions it
// deleted. It deletes in batches (WithPruneBatchSize), each its own short
// transaction through the expiry index, resting WithPrunePause between them,
// so it never holds a long lock nor hogs the database. With
// [WithAbsoluteTimeout] it also ends, in batches, the sessions past the
// limit (counted in deleted too): their data goes at once, their rows at
// their expiry, so that no late write can start them again. Where
// the database has advisory locks (PostgreSQL, MySQL), at most one sweep of a
// table runs at a time across processes: Prune waits for a sweep elsewhere to
// finish, then runs its own. Close cancels a Prune in flight.
func (s *Store) Prune(ctx context.Context) (deleted int64, err error) {
	return s.prune(ctx, nil)
}

// prune is Prune, calling progress (when not nil) with the running total of
// deleted rows after every batch, for the CLI's progress line.
func (s *Store) prune(ctx context.Context, progress func(deleted int64)) (deleted int64, err error) {
	if err := s.ready(ctx, OpPrune); err != nil {
		return 0, err
	}
	ctx, done, err := s.track(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	return s.runSweep(ctx, true, progress)
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
		n, err := s.runSweep(s.ctx, false, nil)
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

// runSweep is sweepOnce, told to the Observer, if any, with the table's
// Stats after the sweep.
func (s *Store) runSweep(ctx context.Context, wait bool, progress func(int64)) (int64, error) {
	start := s.observing()
	n, err := s.sweepOnce(ctx, wait, progress)
	if s.obs != nil {
		e := Event{Op: OpPrune, Outcome: OutcomeDone, Duration: time.Since(start), Rows: n, Err: err}
		if err != nil {
			e.Outcome = OutcomeError
		} else if st, err := s.Stats(ctx); err == nil {
			e.Stats = &st
		}
		s.obs.Observe(ctx, e)
	}
	return n, err
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
	release, got, err := s.lock(ctx, conn, s.lockName, wait)
	if err != nil {
		return 0, s.wrap(ctx, "prune: taking the lock", err)
	}
	if !got {
		return 0, nil
	}
	defer release()

	t := s.now()
	total, err := s.batches(ctx, conn, s.q.prune, s.d.EncodeTime(t), 0, progress)
	if err == nil && s.cfg.absolute > 0 {
		total, err = s.batches(ctx, conn, s.q.endCreated, s.cutoff(t), total, progress)
	}
	return total, err
}

// batches runs the prune statement q (Args: bound, limit) on conn until a
// batch comes back short, resting WithPrunePause between batches, and
// returns total plus the rows it deleted.
func (s *Store) batches(ctx context.Context, conn *sql.Conn, q string, bound any, total int64, progress func(int64)) (int64, error) {
	stmt, err := conn.PrepareContext(ctx, q)
	if err != nil {
		return total, s.wrap(ctx, "prune", err)
	}
	defer stmt.Close()
	for {
		// A statement on a sql.Conn does not check its context before it
		// runs, and lib/pq lets a quick one finish although the context
		// ended: check between batches, so that Close stops a sweep at once.
		if err := ctx.Err(); err != nil {
			return total, s.wrap(ctx, "prune", err)
		}
		n, err := s.write(ctx, OpPrune, func() (int64, error) {
			return rowsAffected(stmt.ExecContext(ctx, bound, s.cfg.pruneBatchSize))
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
