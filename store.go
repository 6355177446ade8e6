// Package sqlstore keeps web sessions in the SQL database an application
// already runs: PostgreSQL, MySQL or MariaDB, or SQLite. It works over
// database/sql with the driver the application imports; this package imports
// none.
//
// A Store reads and writes sessions by id with one prepared statement and one
// round trip per call, decides expiry with one clock of its own (never the
// database's), stores ids hashed by default, and prunes expired sessions in
// the background in short batches. It knows who a session belongs to
// ([Store.SetOwned]), lists a user's sessions ([Store.Sessions]) and ends
// them ([Store.DeleteOwner]); an ended session stays ended, whatever a late
// write of it says. Adapters make it the store of github.com/alexedwards/scs
// (package scsstore), gorilla/sessions (package gorillastore) and Gin's
// gin-contrib/sessions (package ginstore).
//
// Not found is not an error: Get reports a missing, expired or ended session
// with found == false and a nil error, and Delete and Touch of a missing
// session do nothing.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-sqlstore/sqlstore/internal/req"
)

var (
	// ErrInvalidID is returned, before any query runs, for an id that is not
	// 1 to 255 bytes of printable ASCII (0x20 to 0x7E).
	ErrInvalidID = errors.New("sqlstore: invalid session id")
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("sqlstore: store is closed")
	// ErrDataTooLarge is returned by Set, before any query runs, for data
	// larger than the limit set with WithMaxDataSize, and for data the
	// database itself refuses for its size.
	ErrDataTooLarge = errors.New("sqlstore: session data too large")
	// ErrInvalidExpiry is returned by Set and Touch, before any query runs,
	// for an expiry before 1970 or after 9999.
	ErrInvalidExpiry = errors.New("sqlstore: expiry out of range")
	// ErrInvalidOwner is returned, before any query runs, for an owner that
	// is not 1 to 255 bytes of valid UTF-8 without NUL ([Store.SetOwned]
	// also takes "" for no owner).
	ErrInvalidOwner = errors.New("sqlstore: invalid owner")
)

// errNilContext is returned by every method given a nil context, which
// database/sql would panic on while holding the pool's lock.
var errNilContext = errors.New("nil context")

// maxIDLen is the longest session id accepted, in bytes.
const maxIDLen = 255

// Store keeps sessions in one table. It is safe for concurrent use. Create it
// with [New] or [Open] and release it with [Store.Close].
type Store struct {
	db       *sql.DB
	ownsDB   bool
	d        Dialect
	t        Table
	cfg      config
	log      *slog.Logger
	lockName string // advisory lock name of the table
	schema   string // resolved, unquoted schema of the table
	q        queries
	req      requests  // runs Get, Set, Touch and Delete
	crypt    *crypter  // encrypts data; nil without WithEncryption (crypt.go)
	obs      Observer  // WithObserver, or nil
	changed  string    // what New did to the table: "created", "upgraded" or ""
	times    req.Times // the dialect's encoding of times, for bind values

	// slots holds the writes in flight (WithWriteSlots, one by default)
	// when the dialect is a SerialWriter (SQLite): queued here, writes are
	// served in order, and only that many connections of the process wait
	// for the file lock; nil when the queue is off.
	slots chan struct{}
	// wq holds the waiting writes that can share a transaction: those of
	// the statements in batch, set when the slots are on and the request
	// statements are prepared on the pool (queue.go); nil ones never wait
	// in wq.
	wq    writeQueue
	batch struct{ set, touch, del *lazyStmt }
	// ckpt checkpoints SQLite's log outside the queue (checkpoint.go); nil
	// for other dialects or when the application checkpoints.
	ckpt *checkpointer

	closed atomic.Bool
	mu     sync.Mutex // guards wg.Add against Close
	wg     sync.WaitGroup
	ctx    context.Context // done when Close starts
	cancel context.CancelFunc
	once   sync.Once
	err    error      // result of Close
	sweep  sync.Mutex // one sweep at a time in this process
}

// queries holds the SQL of every statement the Store runs itself, built
// once by the dialect.
type queries struct {
	requestSQL
	sessions, count, rng, clear, prune, endCreated, stats string
}

// New returns a Store over db, which the caller owns: Close never closes it.
// New validates the options and identifiers, detects the dialect unless
// [WithDialect] is given, creates the table and its indexes if they are
// missing and upgrades in place a table made before the owner columns (or,
// with [WithCreateTable](false), checks that the table is current),
// prepares the statements and starts the background pruner.
//
// New runs no DDL when the table is current, so a role with only SELECT,
// INSERT, UPDATE and DELETE on it can use the store. For SQLite, the pool should set
// a busy timeout and WAL mode (see [Open]), or concurrent writers see
// "database is locked".
func New(ctx context.Context, db *sql.DB, opts ...Option) (_ *Store, err error) {
	if ctx == nil {
		return nil, fmt.Errorf("sqlstore: New: %w", errNilContext)
	}
	defer func() {
		// Some drivers (lib/pq) report a cancelled query their own way:
		// keep the context's error in the chain, as the methods do.
		err = withContextErr(ctx, err)
	}()
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.dialect == nil {
		d, err := detectDialect(db)
		if err != nil {
			return nil, err
		}
		cfg.dialect = d
		if err := cfg.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}

	d := cfg.dialect
	s := &Store{db: db, d: d, cfg: cfg, log: cfg.logger, obs: cfg.observer, t: cfg.tableFor(d), schema: cfg.schema,
		times: req.NewTimes(d.EncodeTime)}
	if sw, ok := d.(SerialWriter); ok && sw.SerialWrites() && cfg.writeSlots > 0 {
		s.slots = make(chan struct{}, cfg.writeSlots)
	}
	if s.schema == "" {
		var schema sql.NullString
		if err := db.QueryRowContext(ctx, d.CurrentSchema()).Scan(&schema); err != nil {
			return nil, fmt.Errorf("sqlstore: reading the current schema: %w", err)
		}
		if !schema.Valid || schema.String == "" {
			return nil, errors.New("sqlstore: the connection has no current schema or database; select one in the DSN or use WithSchema")
		}
		s.schema = schema.String
	}
	s.lockName = lockName(s.schema, cfg.table)
	s.q = queries{
		requestSQL: requestSQL{get: d.Get(s.t), set: d.Set(s.t), touch: d.Touch(s.t), delete: d.Delete(s.t)},
		sessions:   d.Sessions(s.t), count: d.Count(s.t), rng: d.Range(s.t), clear: d.Clear(s.t),
		prune: d.Prune(s.t), endCreated: d.EndCreated(s.t), stats: d.Stats(s.t),
	}
	if s.crypt, err = newCrypter(cfg.encryption, d, s.t); err != nil {
		return nil, err
	}

	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	if err := s.checkKeys(ctx); err != nil {
		return nil, err
	}
	if cfg.querier != nil {
		s.req = newNative(cfg.querier, s.q.requestSQL, s.times)
	} else {
		local, err := s.localReads(ctx)
		if err != nil {
			return nil, err
		}
		if s.ckpt, err = s.newCheckpointer(ctx); err != nil {
			return nil, err
		}
		p, err := newPrepared(ctx, db, s.q.requestSQL, s.times, local)
		if err != nil {
			return nil, err
		}
		s.req = p
		if s.slots != nil {
			s.batch.set, s.batch.touch, s.batch.del = &p.setStmt, &p.touchStmt, &p.delStmt
		}
	}

	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.pruneInterval > 0 {
		s.wg.Add(1)
		go s.pruneLoop()
	}
	if s.ckpt != nil {
		s.wg.Add(1)
		go s.checkpointLoop(s.ckpt)
	}
	return s, nil
}

// checkID returns ErrInvalidID, wrapped with the reason, unless id is 1 to
// 255 bytes of printable ASCII.
func checkID(id string) error {
	if len(id) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidID, len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: byte 0x%02x at %d is not printable ASCII", ErrInvalidID, c, i)
		}
	}
	return nil
}

// Key returns what the store keeps in its id column for id: the lowercase
// hex SHA-256 of id with hashed ids (the default), else id itself. It is the
// id that [Store.Range] reports, so an application can tell which of the
// listed sessions is the current one.
func (s *Store) Key(id string) string {
	if !s.cfg.hashedIDs {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// now returns the store clock's now, truncated to the millisecond.
func (s *Store) now() time.Time { return truncMilli(s.cfg.now()) }

// cutoffAt returns the absolute timeout at now: sessions created at or
// before it are over. Without an absolute timeout it is zero.
func (s *Store) cutoffAt(now time.Time) time.Time {
	if s.cfg.absolute <= 0 {
		return time.Time{}
	}
	return now.Add(-s.cfg.absolute)
}

// cutoff returns the bind value of the absolute timeout at now; without an
// absolute timeout the Unix epoch, before any session's creation.
func (s *Store) cutoff(now time.Time) any { return s.times.Cutoff(s.cutoffAt(now)) }

// ready checks the store and the context before a call.
func (s *Store) ready(ctx context.Context, op Op) error {
	if ctx == nil {
		return fmt.Errorf("sqlstore: %s: %w", op, errNilContext)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// begin checks the store, the context and the id before a call.
func (s *Store) begin(ctx context.Context, op Op, id string) error {
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	return checkID(id)
}

// wrap prefixes err with the operation, reporting ErrClosed when a call
// raced Close and the context's error when the context ended.
func (s *Store) wrap(ctx context.Context, op Op, err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return withContextErr(ctx, fmt.Errorf("sqlstore: %s: %w", op, err))
}

// withContextErr adds the context's error to err when the context has ended
// and the driver reported the cancellation its own way (lib/pq does), so
// that errors.Is(err, context.Canceled) holds.
func withContextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", err, cerr)
	}
	return err
}

// expiry checks and truncates an expiry.
func (s *Store) expiry(t time.Time) (time.Time, error) {
	if t.IsZero() {
		t = s.cfg.now().Add(s.cfg.defaultTTL)
	}
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return time.Time{}, fmt.Errorf("%w: %s", ErrInvalidExpiry, t.UTC().Format(time.RFC3339))
	}
	return truncMilli(t), nil
}

// Get returns the data of the live session id. A missing or expired session
// is not an error: found is false and err nil. An expired row is never
// returned, whether or not it has been pruned.
func (s *Store) Get(ctx context.Context, id string) (data []byte, found bool, err error) {
	defer func(start time.Time) {
		outcome := OutcomeMiss
		if found {
			outcome = OutcomeHit
		}
		s.observe(ctx, OpGet, start, outcome, 0, err)
	}(s.observing())
	if err := s.begin(ctx, OpGet, id); err != nil {
		return nil, false, err
	}
	now, key := s.now(), s.Key(id)
	data, err = s.req.get(ctx, getArgs{Key: key, Now: now, Cutoff: s.cutoffAt(now)})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, s.wrap(ctx, OpGet, err)
	case s.crypt != nil:
		if data, found = s.decrypt(OpGet, key, data); !found {
			return nil, false, nil
		}
	case data == nil:
		data = []byte{}
	}
	return data, true, nil
}

// Set stores data for session id until expiresAt, inserting the session or
// replacing its data and expiry in one atomic upsert: concurrent Sets of one
// id do not fail, and the last write wins. A zero expiresAt means now plus the
// default TTL. Expiry is kept to the millisecond. Set keeps the owner the
// session has ([Store.SetOwned]).
//
// Set of a session that [Store.Delete] (or DeleteOwner, or DeleteKey) ended
// writes nothing and returns nil until the expiry the session had: a request
// that loaded the session before a logout and saves it after never logs the
// user back in. Session ids are random tokens, so a new session never needs
// an ended one's id.
func (s *Store) Set(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	return s.set(ctx, OpSet, id, nil, false, data, expiresAt)
}

// SetOwned is Set that also records who the session belongs to (a user id;
// "" for nobody), in the same single round trip, so that [Store.Sessions]
// lists it and [Store.DeleteOwner] ends it.
func (s *Store) SetOwned(ctx context.Context, id, owner string, data []byte, expiresAt time.Time) error {
	var o any
	if owner != "" {
		if err := checkOwner(owner); err != nil {
			return err
		}
		o = owner
	}
	return s.set(ctx, OpSetOwned, id, o, true, data, expiresAt)
}

// set is Set and SetOwned.
func (s *Store) set(ctx context.Context, op Op, id string, owner any, setOwner bool, data []byte, expiresAt time.Time) (err error) {
	var rows int64
	defer func(start time.Time) { s.observe(ctx, op, start, written(rows), rows, err) }(s.observing())
	if err := s.begin(ctx, op, id); err != nil {
		return err
	}
	if len(data) > s.cfg.maxDataSize {
		return fmt.Errorf("%w: %d bytes, more than the limit of %d (WithMaxDataSize)", ErrDataTooLarge, len(data), s.cfg.maxDataSize)
	}
	exp, err := s.expiry(expiresAt)
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	key := s.Key(id)
	a := setArgs{Key: key, Data: s.sealData(key, data), Expiry: exp, Owner: owner, Now: s.now(), SetOwner: setOwner}
	rows, err = s.writeTx(ctx, op, func() (int64, error) { return s.req.set(ctx, a) }, s.batch.set, func() []any { return a.Values(s.times, new(req.Args)) })
	if err != nil && tooLarge(err) {
		return fmt.Errorf("%w: %d bytes, refused by the database: %w", ErrDataTooLarge, len(data), err)
	}
	return err
}

// checkOwner returns ErrInvalidOwner, wrapped with the reason, unless owner
// is 1 to 255 bytes of valid UTF-8 without NUL.
func checkOwner(owner string) error {
	switch {
	case owner == "":
		return fmt.Errorf("%w: empty", ErrInvalidOwner)
	case len(owner) > maxIDLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidOwner, len(owner), maxIDLen)
	case !utf8.ValidString(owner):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidOwner)
	case strings.IndexByte(owner, 0) >= 0:
		return fmt.Errorf("%w: holds a NUL byte", ErrInvalidOwner)
	}
	return nil
}

// Touch moves the expiry of the live session id to expiresAt (a zero
// expiresAt means now plus the default TTL). It never revives an expired or
// deleted session, and a missing session is not an error. A move shorter than
// the touch threshold ([WithTouchThreshold]) writes nothing.
func (s *Store) Touch(ctx context.Context, id string, expiresAt time.Time) (err error) {
	var rows int64
	defer func(start time.Time) { s.observe(ctx, OpTouch, start, written(rows), rows, err) }(s.observing())
	if err := s.begin(ctx, OpTouch, id); err != nil {
		return err
	}
	exp, err := s.expiry(expiresAt)
	if err != nil {
		return err
	}
	th, now := s.cfg.touchThreshold, s.now()
	a := touchArgs{
		Key: s.Key(id), Expiry: exp, Now: now, Cutoff: s.cutoffAt(now), Low: exp.Add(-th), High: exp.Add(th),
	}
	rows, err = s.writeTx(ctx, OpTouch, func() (int64, error) { return s.req.touch(ctx, a) }, s.batch.touch, func() []any { return a.Values(s.times, new(req.Args)) })
	return err
}

// Delete ends session id: Get no longer finds it and, until the expiry it
// had, Set, SetOwned and Touch of it write nothing (see [Store.Set]).
// Deleting a missing session is not an error. [Store.Prune] removes the row
// once it has expired.
func (s *Store) Delete(ctx context.Context, id string) (err error) {
	var rows int64
	defer func(start time.Time) { s.observe(ctx, OpDelete, start, ended(rows), rows, err) }(s.observing())
	if err := s.begin(ctx, OpDelete, id); err != nil {
		return err
	}
	a := deleteArgs{Key: s.Key(id)}
	rows, err = s.writeTx(ctx, OpDelete, func() (int64, error) { return s.req.delete(ctx, a) }, s.batch.del, func() []any { return a.Values(s.times, new(req.Args)) })
	return err
}

// DeleteKey ends one session, as Delete does, by the key that
// [Store.Sessions] and [Store.Range] report (what the id column holds: the
// SHA-256 of the id with hashed ids), for a "sign out that device" button.
func (s *Store) DeleteKey(ctx context.Context, key string) (err error) {
	var rows int64
	defer func(start time.Time) { s.observe(ctx, OpDeleteKey, start, ended(rows), rows, err) }(s.observing())
	if err := s.begin(ctx, OpDeleteKey, key); err != nil {
		return err
	}
	a := deleteArgs{Key: key}
	rows, err = s.writeTx(ctx, OpDeleteKey, func() (int64, error) { return s.req.delete(ctx, a) }, s.batch.del, func() []any { return a.Values(s.times, new(req.Args)) })
	return err
}

// DeleteOwner ends every live session of owner, as Delete does, except
// those whose ids are in keep (such as the current one, for "sign out
// everywhere else"), and returns how many it ended. It is one statement, so
// a session that a concurrent Set of the same owner writes is either ended
// or written after it, never revived.
func (s *Store) DeleteOwner(ctx context.Context, owner string, keep ...string) (n int64, err error) {
	defer func(start time.Time) { s.observe(ctx, OpDeleteOwner, start, OutcomeEnded, n, err) }(s.observing())
	if err := s.ready(ctx, OpDeleteOwner); err != nil {
		return 0, err
	}
	if err := checkOwner(owner); err != nil {
		return 0, err
	}
	args := make([]any, 0, 2+len(keep))
	args = append(args, owner, s.d.EncodeTime(s.now()))
	for _, id := range keep {
		if err := checkID(id); err != nil {
			return 0, err
		}
		args = append(args, s.Key(id))
	}
	q := s.d.DeleteOwner(s.t, len(keep))
	return s.write(ctx, OpDeleteOwner, func() (int64, error) { return rowsAffected(s.db.ExecContext(ctx, q, args...)) })
}

// Session is a live session as [Store.Sessions] lists it.
type Session struct {
	Key     string    // what the id column holds: the SHA-256 of the id with hashed ids (see [Store.Key])
	Owner   string    // who the session belongs to
	Data    []byte    // the session's data
	Created time.Time // first Set of this id; zero for a session written before the owner columns existed
	Updated time.Time // last Set, or Touch that moved the expiry
	Expiry  time.Time // when it expires
}

// Sessions lists the live sessions of owner, most recently active first,
// through the owner index. With hashed ids, compare a Session's Key with
// [Store.Key] of the current id to tell "this device".
func (s *Store) Sessions(ctx context.Context, owner string) (out []Session, err error) {
	defer func(start time.Time) { s.observe(ctx, OpSessions, start, OutcomeDone, int64(len(out)), err) }(s.observing())
	if err := s.ready(ctx, OpSessions); err != nil {
		return nil, err
	}
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	now := s.now()
	rows, err := s.db.QueryContext(ctx, s.q.sessions, owner, s.d.EncodeTime(now), s.cutoff(now))
	if err != nil {
		return nil, s.wrap(ctx, OpSessions, err)
	}
	defer rows.Close()
	for rows.Next() {
		ss := Session{Owner: owner}
		var created, updated, expiry any
		if err := rows.Scan(&ss.Key, &ss.Data, &created, &updated, &expiry); err != nil {
			return nil, s.wrap(ctx, OpSessions, err)
		}
		for _, p := range []struct {
			raw any
			t   *time.Time
		}{{created, &ss.Created}, {updated, &ss.Updated}, {expiry, &ss.Expiry}} {
			if p.raw == nil {
				continue
			}
			if *p.t, err = s.d.DecodeTime(p.raw); err != nil {
				return nil, s.wrap(ctx, OpSessions, err)
			}
		}
		if s.crypt != nil {
			var ok bool
			if ss.Data, ok = s.decrypt(OpSessions, ss.Key, ss.Data); !ok {
				continue
			}
		}
		if ss.Data == nil {
			ss.Data = []byte{}
		}
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, OpSessions, err)
	}
	return out, nil
}

// Count returns the number of live sessions.
func (s *Store) Count(ctx context.Context) (n int64, err error) {
	defer func(start time.Time) { s.observe(ctx, OpCount, start, OutcomeDone, n, err) }(s.observing())
	if err := s.ready(ctx, OpCount); err != nil {
		return 0, err
	}
	now := s.now()
	if err := s.db.QueryRowContext(ctx, s.q.count, s.d.EncodeTime(now), s.cutoff(now)).Scan(&n); err != nil {
		return 0, s.wrap(ctx, OpCount, err)
	}
	return n, nil
}

// Clear deletes every session, live or expired.
func (s *Store) Clear(ctx context.Context) (err error) {
	var rows int64
	defer func(start time.Time) { s.observe(ctx, OpClear, start, OutcomeDone, rows, err) }(s.observing())
	if err := s.ready(ctx, OpClear); err != nil {
		return err
	}
	rows, err = s.write(ctx, OpClear, func() (int64, error) { return rowsAffected(s.db.ExecContext(ctx, s.q.clear)) })
	return err
}

// Range calls fn for every live session, streaming rows from the database
// without holding them all in memory, and stops when fn returns false. id is
// what the store keeps in its id column: with hashed ids (the default), the
// hash, not the id the session was set with (see [Store.Key]). data is fn's
// own copy. Range holds one connection of the pool while it runs, so fn may
// call the store as long as the pool has another.
func (s *Store) Range(ctx context.Context, fn func(id string, data []byte, expiresAt time.Time) bool) (err error) {
	defer func(start time.Time) { s.observe(ctx, OpRange, start, OutcomeDone, 0, err) }(s.observing())
	if err := s.ready(ctx, OpRange); err != nil {
		return err
	}
	now := s.now()
	rows, err := s.db.QueryContext(ctx, s.q.rng, s.d.EncodeTime(now), s.cutoff(now))
	if err != nil {
		return s.wrap(ctx, OpRange, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			data []byte
			raw  any
		)
		if err := rows.Scan(&id, &data, &raw); err != nil {
			return s.wrap(ctx, OpRange, err)
		}
		exp, err := s.d.DecodeTime(raw)
		if err != nil {
			return s.wrap(ctx, OpRange, err)
		}
		if s.crypt != nil {
			var ok bool
			if data, ok = s.decrypt(OpRange, id, data); !ok {
				continue
			}
		}
		if data == nil {
			data = []byte{}
		}
		if !fn(id, data, exp) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(ctx, OpRange, err)
	}
	return rows.Close()
}

// Stats describes the table at one moment.
type Stats struct {
	Live    int64 // sessions not yet expired nor ended
	Ended   int64 // sessions ended (Delete) that have not yet expired
	Expired int64 // expired sessions, ended or not, and those past the absolute timeout, not yet pruned

	Oldest, Newest time.Time // earliest and latest expiry; zero when the table is empty

	// Undecryptable counts, in this Store since New, the reads of a row
	// that did not decrypt (WithEncryption) and so was reported missing: by
	// Get, skipped by Range, or left as it is by Rekey. It counts reads, not
	// rows: a row read twice counts twice. Always 0 without encryption.
	Undecryptable int64
}

// Stats counts live and expired sessions and finds the earliest and latest
// expiry, in one query.
func (s *Store) Stats(ctx context.Context) (_ Stats, err error) {
	defer func(start time.Time) { s.observe(ctx, OpStats, start, OutcomeDone, 0, err) }(s.observing())
	if err := s.ready(ctx, OpStats); err != nil {
		return Stats{}, err
	}
	var st Stats
	var lo, hi any
	t := s.now()
	now, cutoff := s.d.EncodeTime(t), s.cutoff(t)
	if err := s.db.QueryRowContext(ctx, s.q.stats, now, cutoff, now, cutoff, now, cutoff).Scan(&st.Live, &st.Ended, &st.Expired, &lo, &hi); err != nil {
		return Stats{}, s.wrap(ctx, OpStats, err)
	}
	for _, p := range []struct {
		raw any
		t   *time.Time
	}{{lo, &st.Oldest}, {hi, &st.Newest}} {
		if p.raw == nil {
			continue
		}
		t, err := s.d.DecodeTime(p.raw)
		if err != nil {
			return Stats{}, s.wrap(ctx, OpStats, err)
		}
		*p.t = t
	}
	st.Undecryptable = s.undecryptable()
	return st, nil
}

// tableSize returns the bytes the table and its indexes take, as the
// database reports them (MySQL's figure is InnoDB's estimate).
func (s *Store) tableSize(ctx context.Context) (int64, error) {
	if err := s.ready(ctx, "table size"); err != nil {
		return 0, err
	}
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.d.TableSize(), s.schema, s.cfg.table).Scan(&n); err != nil {
		return 0, s.wrap(ctx, "table size", err)
	}
	return n.Int64, nil
}

// Close stops the background pruner, cancels a sweep in flight and waits for
// it, and closes the prepared statements and the Querier, if it is an
// io.Closer ([WithQuerier]); with [Open] it also closes the pool, and with
// [New] never. Close is idempotent. Every call after Close returns
// [ErrClosed].
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		errs := []error{s.req.Close()}
		if s.ownsDB {
			errs = append(errs, s.db.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.err = fmt.Errorf("sqlstore: close: %w", err)
		}
	})
	return s.err
}

// track registers a long call (a sweep, a rekey) that Close must wait for,
// and returns ctx ended also by Close, so that the call stops when the Store
// does; it fails after Close. done ends the registration.
func (s *Store) track(ctx context.Context) (_ context.Context, done func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, nil, ErrClosed
	}
	s.wg.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel(); s.wg.Done() }, nil
}
