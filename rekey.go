package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Rekey rewrites, in short batches, every live session not encrypted under
// the first key (older keys, and plaintext rows when WithPlaintextReads
// allows them), and returns how many it rewrote.
//
// Rekey reads the live sessions in the order of their stored keys,
// WithPruneBatchSize at a time, resting WithPrunePause after each full
// batch, and rewrites each session that needs it on its own, through the
// same write path and retries as Set, with a compare-and-swap on the data it
// read: a Set that lands meanwhile is never undone (its data is already
// under the first key), a Delete is not undone, and the expiry is never
// changed, so a Touch meanwhile stands too. A row that does not decrypt is
// left as it is, logged and counted in [Stats].Undecryptable. Rekey is safe
// to run again and from several processes at once, and Close cancels it. It
// fails without [WithEncryption].
//
// To rotate: prepend the new key in every process (WithEncryption(new, old)),
// run Rekey, then drop the old key. To encrypt a table written without
// encryption: turn encryption on with WithPlaintextReads(true), run Rekey,
// then turn plaintext reads off.
func (s *Store) Rekey(ctx context.Context) (n int64, err error) {
	defer func(start time.Time) { s.observe(ctx, OpRekey, start, OutcomeDone, n, err) }(s.observing())
	return s.rekey(ctx, nil)
}

// rekeyRow is one row of a page Rekey read.
type rekeyRow struct {
	key  string
	data []byte
}

// rekey is Rekey, calling progress (when not nil) after every batch with the
// running totals of rewritten and of scanned sessions, for the CLI.
func (s *Store) rekey(ctx context.Context, progress func(rewritten, scanned int64)) (rewritten int64, err error) {
	if err := s.ready(ctx, OpRekey); err != nil {
		return 0, err
	}
	if s.crypt == nil {
		return 0, errors.New("sqlstore: rekey: encryption is off; give the keys with WithEncryption")
	}
	ctx, done, err := s.track(ctx)
	if err != nil {
		return 0, err
	}
	defer done()

	swap, err := s.db.PrepareContext(ctx, s.crypt.swap)
	if err != nil {
		return 0, s.wrap(ctx, OpRekey, err)
	}
	defer swap.Close()
	now := s.d.EncodeTime(s.now())
	batch := s.cfg.pruneBatchSize
	var scanned int64
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return rewritten, s.wrap(ctx, OpRekey, err)
		}
		page, err := s.rekeyPage(ctx, after, now, batch)
		if err != nil {
			return rewritten, err
		}
		for _, r := range page {
			n, err := s.rekeyOne(ctx, swap, r)
			rewritten += n
			if err != nil {
				return rewritten, err
			}
		}
		scanned += int64(len(page))
		if progress != nil {
			progress(rewritten, scanned)
		}
		if len(page) < batch {
			return rewritten, nil
		}
		after = page[len(page)-1].key
		if s.cfg.prunePause > 0 {
			t := time.NewTimer(s.cfg.prunePause)
			select {
			case <-ctx.Done():
				t.Stop()
				return rewritten, s.wrap(ctx, OpRekey, ctx.Err())
			case <-t.C:
			}
		}
	}
}

// rekeyPage reads at most limit live sessions whose keys sort after after.
func (s *Store) rekeyPage(ctx context.Context, after string, now any, limit int) ([]rekeyRow, error) {
	rows, err := s.db.QueryContext(ctx, s.crypt.page, after, now, limit)
	if err != nil {
		return nil, s.wrap(ctx, OpRekey, err)
	}
	defer rows.Close()
	var page []rekeyRow
	for rows.Next() {
		var r rekeyRow
		if err := rows.Scan(&r.key, &r.data); err != nil {
			return nil, s.wrap(ctx, OpRekey, err)
		}
		if r.data == nil {
			r.data = []byte{}
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, OpRekey, err)
	}
	return page, nil
}

// rekeyOne rewrites one row under the first key unless it is under it
// already or does not decrypt, and returns the rows it changed: 0 or 1.
func (s *Store) rekeyOne(ctx context.Context, swap *sql.Stmt, r rekeyRow) (int64, error) {
	if s.crypt.current(r.data) {
		return 0, nil
	}
	data, err := s.crypt.open(r.key, r.data, false)
	if err != nil {
		s.refused(OpRekey, r.key, err)
		return 0, nil
	}
	fresh := s.crypt.seal(r.key, data)
	if s.crypt.beforeSwap != nil {
		s.crypt.beforeSwap(r.key)
	}
	return s.write(ctx, OpRekey, func() (int64, error) { return rowsAffected(swap.ExecContext(ctx, fresh, r.key, r.data)) })
}
