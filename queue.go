package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxBatch caps the writes that one transaction of the write queue commits
// together.
const maxBatch = 32

// queued is a write waiting in the write queue (SerialWriter dialects) that
// can share a transaction with others: Set, SetOwned, Touch, Delete and
// DeleteKey.
type queued struct {
	ctx  context.Context
	stmt *lazyStmt // the write's statement,
	args []any     // and its bind values
	rows int64
	err  error
	done chan struct{} // closed once rows and err are set
}

// writeQueue holds the queued writes, oldest first.
type writeQueue struct {
	mu      sync.Mutex
	pending []*queued
}

// queue runs a write that can share a transaction (st with args()) through
// the write queue. With the queue empty and a slot free it runs alone (f), as any
// other write does. Otherwise it waits in line: whichever queued write next
// gets a slot commits the oldest writes, up to maxBatch, in one transaction
// (serve), so that under load a commit and a turn of the write lock carry
// many writes instead of one. A write still ends when its context does;
// if its turn has come by then, it may be committed all the same, as any
// write whose context ends while it runs may be.
func (s *Store) queue(ctx context.Context, op Op, f func() (int64, error), st *lazyStmt, args func() []any) (int64, error) {
	s.wq.mu.Lock()
	empty := len(s.wq.pending) == 0
	s.wq.mu.Unlock()
	if empty {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			return s.alone(ctx, op, f)
		default:
		}
	}
	w := &queued{ctx: ctx, stmt: st, args: args(), done: make(chan struct{})}
	s.wq.mu.Lock()
	s.wq.pending = append(s.wq.pending, w)
	s.wq.mu.Unlock()
	for {
		select { // served: no more turns
		case <-w.done:
			return w.rows, w.err
		default:
		}
		if err := ctx.Err(); err != nil {
			s.wq.remove(w)
			return 0, err
		}
		select {
		case <-w.done:
			return w.rows, w.err
		case <-ctx.Done():
			s.wq.remove(w)
			return 0, ctx.Err()
		case s.slots <- struct{}{}:
			s.serve(ctx)
			<-s.slots
		}
	}
}

// alone runs write f in a statement of its own, with retries (attempt).
func (s *Store) alone(ctx context.Context, op Op, f func() (int64, error)) (rows int64, err error) {
	err = s.attempt(ctx, op, func() (err error) {
		rows, err = f()
		return err
	})
	return rows, err
}

// serve commits the oldest queued writes, up to maxBatch, in one
// transaction, with a write slot held, on the goroutine of a queued write
// whose context is ctx. Writes whose context has ended are left out. When
// ctx ends before the commit, the writes go back to the head of the queue
// for the next write to take a slot; any other failure is each write's.
func (s *Store) serve(ctx context.Context) {
	batch := s.wq.take(maxBatch)
	if len(batch) == 0 {
		return
	}
	err := s.commit(ctx, batch)
	switch {
	case err == nil:
		for _, w := range batch {
			close(w.done)
		}
	case ctx.Err() != nil:
		s.wq.putBack(batch)
	default:
		for _, w := range batch {
			w.rows, w.err = 0, err
			close(w.done)
		}
	}
}

// commit runs the writes of batch in one transaction on ctx (a single write
// in a statement of its own), setting each one's rows (or, for a write whose
// context has ended, its error), and commits it. On error it rolls back.
func (s *Store) commit(ctx context.Context, batch []*queued) (err error) {
	if len(batch) == 1 { // a statement of its own commits it
		w := batch[0]
		if w.err = w.ctx.Err(); w.err != nil {
			return nil
		}
		st, err := w.stmt.prepare(ctx)
		if err != nil {
			return err
		}
		w.rows, err = rowsAffected(st.ExecContext(ctx, w.args...))
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction of %d writes: %w", len(batch), err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	stmts := txStmts{tx: tx}
	for _, w := range batch {
		if w.err = w.ctx.Err(); w.err != nil {
			continue
		}
		st, err := stmts.get(ctx, w.stmt)
		if err != nil {
			return err
		}
		if w.rows, err = rowsAffected(st.ExecContext(ctx, w.args...)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// txStmts are the statements of one transaction of the queue: one for each
// request statement that its writes run.
type txStmts struct {
	tx *sql.Tx
	l  [3]*lazyStmt
	st [3]*sql.Stmt
}

// get returns l's statement in the transaction.
func (t *txStmts) get(ctx context.Context, l *lazyStmt) (*sql.Stmt, error) {
	i := 0
	for i < len(t.l) && t.l[i] != nil && t.l[i] != l {
		i++
	}
	if i < len(t.l) && t.l[i] == l {
		return t.st[i], nil
	}
	p, err := l.prepare(ctx)
	if err != nil {
		return nil, err
	}
	st := t.tx.StmtContext(ctx, p)
	if i < len(t.l) {
		t.l[i], t.st[i] = l, st
	}
	return st, nil
}

// ignoreDone drops the error of a rollback that found the transaction
// already ended (by the driver, or database/sql on a cancelled context).
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// take removes and returns the oldest n writes at most.
func (q *writeQueue) take(n int) []*queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.pending))
	batch := append([]*queued(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	return batch
}

// putBack returns batch to the head of the queue, in its order.
func (q *writeQueue) putBack(batch []*queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(batch, q.pending...)
}

// remove takes w out of the queue if it is still there.
func (q *writeQueue) remove(w *queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, p := range q.pending {
		if p == w {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return
		}
	}
}
