package sqlstore

import (
	"context"
	"time"
)

// Observer is told of every operation of a Store when it ends: what it was,
// how it ended and how long it took, for metrics (package otelsqlstore, a
// module of its own, turns them into OpenTelemetry metrics). Observe runs on
// the goroutine of the call it reports, so it must be quick and safe for
// concurrent use. Set one with [WithObserver]; without one a Store measures
// nothing.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// Op names the operation of an [Event].
type Op string

// The operations of a Store. OpPrune is one sweep, in the background or by
// [Store.Prune]; OpRekey a whole [Store.Rekey], whose rewrites of single
// rows report their retries under OpRekey too; OpCheckpoint one background
// checkpoint of SQLite's log (see [Checkpointer]), with Rows the pages it
// copied into the database file.
const (
	OpGet         Op = "get"
	OpSet         Op = "set"
	OpSetOwned    Op = "set_owned"
	OpTouch       Op = "touch"
	OpDelete      Op = "delete"
	OpDeleteKey   Op = "delete_key"
	OpDeleteOwner Op = "delete_owner"
	OpSessions    Op = "sessions"
	OpCount       Op = "count"
	OpRange       Op = "range"
	OpClear       Op = "clear"
	OpStats       Op = "stats"
	OpPrune       Op = "prune"
	OpRekey       Op = "rekey"
	OpCheckpoint  Op = "checkpoint"
)

// Outcome is how an operation ended.
type Outcome string

// The outcomes of an [Event].
const (
	OutcomeHit     Outcome = "hit"     // Get found the session
	OutcomeMiss    Outcome = "miss"    // Get found none (missing, expired or ended)
	OutcomeWritten Outcome = "written" // Set or Touch wrote the session
	OutcomeSkipped Outcome = "skipped" // Set or Touch wrote nothing: a Touch below the threshold or of no live session, a Set of an ended one; Delete of no session
	OutcomeEnded   Outcome = "ended"   // Delete, DeleteKey or DeleteOwner ended Event.Rows sessions
	OutcomeDone    Outcome = "done"    // any other operation that succeeded; Rows for Clear, OpPrune, OpRekey and OpCheckpoint
	OutcomeError   Outcome = "error"   // the operation failed with Event.Err
	OutcomeRetried Outcome = "retried" // one attempt of a write met a transient conflict (Event.Err) and is tried again; the operation's own event follows
)

// Event describes one operation of a Store.
type Event struct {
	Op       Op
	Outcome  Outcome
	Duration time.Duration // wall time of the whole call, retries included; 0 with OutcomeRetried
	Rows     int64         // sessions ended, cleared or pruned; -1 when the path cannot tell
	Err      error         // with OutcomeError and OutcomeRetried
	// Stats is the table's Stats, taken once after each sweep (OpPrune)
	// while an Observer is set; nil on other events, or when taking it
	// failed.
	Stats *Stats
}

// observing returns the start of a call when an Observer is set, else the
// zero time, so that a Store without one reads no clock.
func (s *Store) observing() time.Time {
	if s.obs == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports a call that started at start to the Observer, if any.
// With err, the outcome is OutcomeError.
func (s *Store) observe(ctx context.Context, op Op, start time.Time, outcome Outcome, rows int64, err error) {
	if s.obs == nil {
		return
	}
	if err != nil {
		outcome = OutcomeError
	}
	s.obs.Observe(ctx, Event{Op: op, Outcome: outcome, Duration: time.Since(start), Rows: rows, Err: err})
}

// written is the outcome of a Set or Touch that changed rows rows.
func written(rows int64) Outcome {
	if rows == 0 {
		return OutcomeSkipped
	}
	return OutcomeWritten
}

// ended is the outcome of a Delete that changed rows rows.
func ended(rows int64) Outcome {
	if rows == 0 {
		return OutcomeSkipped
	}
	return OutcomeEnded
}
