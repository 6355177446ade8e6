package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// maxCheckpointEvery caps the writes between two background checkpoints,
// however little each adds to the log.
const maxCheckpointEvery = 4096

// checkpointer runs the background checkpoints of a Checkpointer dialect
// (SQLite in WAL mode): after every so many writes of the Store, a
// goroutine of the Store checkpoints on a connection of its own, outside
// the write queue, so that no commit of the Store grows the log to the
// limit at which SQLite checkpoints inside that commit, holding up the
// writes queued behind it. How many writes is learned from how much the
// last ones grew the log, aiming at target pages between two checkpoints.
type checkpointer struct {
	query  string
	target int64        // log pages the writes may add between two checkpoints
	every  atomic.Int64 // writes between two checkpoints
	writes atomic.Int64 // writes since the last checkpoint
	wake   chan struct{}

	// The last checkpoint's log and copied pages (checkpointLoop only).
	log, copied int64
}

// newCheckpointer returns the Store's checkpointer, or nil when the dialect
// is no Checkpointer or the connection never checkpoints on its own (the
// application does). It runs the dialect's AutoCheckpoint query on ctx.
func (s *Store) newCheckpointer(ctx context.Context) (*checkpointer, error) {
	cp, ok := s.d.(Checkpointer)
	if !ok {
		return nil, nil
	}
	var limit sql.NullInt64
	switch err := s.db.QueryRowContext(ctx, cp.AutoCheckpoint()).Scan(&limit); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("sqlstore: reading the checkpoint limit: %w", err)
	}
	if !limit.Valid || limit.Int64 <= 0 {
		return nil, nil
	}
	c := &checkpointer{query: cp.Checkpoint(s.t), target: max(limit.Int64/4, 1), wake: make(chan struct{}, 1)}
	c.every.Store(max(c.target/4, 1)) // until measured: four pages a write
	return c, nil
}

// wrote counts a write of the Store and wakes the checkpoint loop when the
// count is due. It never waits.
func (c *checkpointer) wrote() {
	if c.writes.Add(1) >= c.every.Load() {
		select {
		case c.wake <- struct{}{}:
		default: // a checkpoint is already due
		}
	}
}

// checkpointLoop runs a checkpoint each time the writes call for one, until
// Close.
func (s *Store) checkpointLoop(c *checkpointer) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-c.wake:
		}
		if c.writes.Load() < c.every.Load() {
			continue // woken before the last checkpoint set a later mark
		}
		s.checkpoint(c)
	}
}

// checkpoint runs one checkpoint and sets from its result when the next is
// due. A failure is logged and observed; the writes go on, and SQLite's own
// checkpoint in a commit still bounds the log.
func (s *Store) checkpoint(c *checkpointer) {
	start := s.observing()
	n := c.writes.Swap(0)
	var busy, log, copied int64
	err := s.db.QueryRowContext(s.ctx, c.query).Scan(&busy, &log, &copied)
	if s.ctx.Err() != nil {
		return // Close
	}
	if err != nil {
		s.log.Warn("sqlstore: background checkpoint failed", "table", s.schema+"."+s.cfg.table, "err", err)
		s.observe(s.ctx, OpCheckpoint, start, OutcomeDone, 0, fmt.Errorf("sqlstore: %s: %w", OpCheckpoint, err))
		return
	}
	c.every.Store(c.next(n, log, copied))
	s.observe(s.ctx, OpCheckpoint, start, OutcomeDone, max(copied, 0), nil)
}

// next returns how many writes to let run before the next checkpoint, given
// that the last n writes left log pages in the log, copied of them now in
// the database file. A log that the previous checkpoint copied whole starts
// again from its beginning with the next write, so then all of it is new.
func (c *checkpointer) next(n, log, copied int64) int64 {
	grew := log
	if c.copied < c.log {
		grew = log - c.log // the log could not start again
	}
	c.log, c.copied = log, copied
	switch {
	case log < 0: // no log: the journal is not WAL
		return maxCheckpointEvery
	case n <= 0 || grew <= 0:
		return c.every.Load()
	}
	return min(max(c.target*n/grew, 1), maxCheckpointEvery)
}
