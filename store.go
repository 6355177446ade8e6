// Package sqlstore keeps web sessions in the SQL database an application
// already runs: PostgreSQL, MySQL or MariaDB, or SQLite. It works over
// database/sql with the driver the application imports; this package imports
// none.
//
// A Store reads and writes sessions by id with one prepared statement and one
// round trip per call, decides expiry with one clock of its own (never the
// database's), stores ids hashed by default, and prunes expired sessions in
// the background in short batches. Adapters make it the store of
// github.com/alexedwards/scs (package scsstore) and of gorilla/sessions
// (package gorillastore).
//
// Not found is not an error: Get reports a missing or expired session with
// found == false and a nil error, and Delete and Touch of a missing session
// do nothing.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrInvalidID is returned, before any query runs, for an id that is not
	// 1 to 255 bytes of printable ASCII (0x20 to 0x7E).
	ErrInvalidID = errors.New("sqlstore: invalid session id")
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("sqlstore: store is closed")
	// ErrDataTooLarge is returned by Set, before any query runs, for data
	// larger than the limit set with WithMaxDataSize.
	ErrDataTooLarge = errors.New("sqlstore: session data too large")
	// ErrInvalidExpiry is returned by Set and Touch, before any query runs,
	// for an expiry before 1970 or after 9999.
	ErrInvalidExpiry = errors.New("sqlstore: expiry out of range")
)

// MaxIDLen is the longest session id accepted, in bytes.
const MaxIDLen = 255

// Store keeps sessions in one table. It is safe for concurrent use. Create it
// with New or Open and release it with Close.
type Store struct {
	db     *sql.DB
	ownsDB bool
	d      Dialect
	t      Table
	cfg    config
	log    *slog.Logger
	lock   string // advisory lock name of the table
	schema string // resolved, unquoted schema of the table

	q     queries
	qr    Querier // runs get, set, touch and del when set (WithQuerier)
	get   *sql.Stmt
	set   *sql.Stmt
	touch *sql.Stmt
	del   *sql.Stmt

	closed atomic.Bool
	mu     sync.Mutex // guards wg.Add against Close
	wg     sync.WaitGroup
	ctx    context.Context // done when Close starts
	cancel context.CancelFunc
	once   sync.Once
	err    error      // result of Close
	sweep  sync.Mutex // one sweep at a time in this process
	// writer holds the writes in flight (WithWriteSlots, one by default)
	// when the dialect is a SerialWriter (SQLite): queued here, writes are
	// served in order, and only that many connections of the process wait
	// for the file lock; nil when the queue is off.
	writer chan struct{}
}

// queries holds the SQL of every operation, built once by the dialect.
type queries struct {
	get, set, touch, del, count, rng, clear, prune, stats string
}

// New returns a Store over db, which the caller owns: Close never closes it.
// New validates the options and identifiers, detects the dialect unless
// WithDialect is given, creates the table and its expiry index if they are
// missing (or, with WithCreateTable(false), checks that they exist), prepares
// the statements and starts the background pruner.
//
// New runs no DDL when the table exists, so a role with only SELECT, INSERT,
// UPDATE and DELETE on it can use the store. For SQLite, the pool should set
// a busy timeout and WAL mode (see Open), or concurrent writers see
// "database is locked".
func New(ctx context.Context, db *sql.DB, opts ...Option) (_ *Store, err error) {
	defer func() {
		// Some drivers (lib/pq) report a cancelled query their own way:
		// keep the context's error in the chain, as the methods do.
		if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", err, cerr)
		}
	}()
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, cfg.errs[0]
	}
	for _, id := range []struct{ kind, name string }{
		{"table", cfg.table}, {"id column", cfg.idCol}, {"data column", cfg.dataCol}, {"expiry column", cfg.expiryCol},
	} {
		if err := validIdent(id.kind, id.name); err != nil {
			return nil, err
		}
	}
	if cfg.idCol == cfg.dataCol || cfg.idCol == cfg.expiryCol || cfg.dataCol == cfg.expiryCol {
		return nil, fmt.Errorf("sqlstore: column names %q, %q, %q are not distinct", cfg.idCol, cfg.dataCol, cfg.expiryCol)
	}
	if cfg.dialect == nil {
		d, err := detectDialect(db)
		if err != nil {
			return nil, err
		}
		cfg.dialect = d
	}
	if cfg.tidbTTL != "" && cfg.dialect.Name() != "mysql" {
		return nil, fmt.Errorf("sqlstore: WithTiDBTTL needs the MySQL dialect, not %s", cfg.dialect.Name())
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}

	d := cfg.dialect
	s := &Store{db: db, d: d, cfg: cfg, log: cfg.logger, qr: cfg.querier}
	if sw, ok := d.(SerialWriter); ok && sw.SerialWrites() && cfg.writeSlots > 0 {
		s.writer = make(chan struct{}, cfg.writeSlots)
	}
	s.t = Table{
		Name:      d.QuoteIdent(cfg.table),
		Index:     d.QuoteIdent(indexName(cfg.table)),
		ID:        d.QuoteIdent(cfg.idCol),
		Data:      d.QuoteIdent(cfg.dataCol),
		Expiry:    d.QuoteIdent(cfg.expiryCol),
		HashedIDs: cfg.hashedIDs,
		TTL:       cfg.tidbTTL,
	}
	if cfg.schema != "" {
		s.t.Schema = d.QuoteIdent(cfg.schema)
		s.schema = cfg.schema
	} else {
		var schema sql.NullString
		if err := db.QueryRowContext(ctx, d.CurrentSchema()).Scan(&schema); err != nil {
			return nil, fmt.Errorf("sqlstore: reading the current schema: %w", err)
		}
		if !schema.Valid || schema.String == "" {
			return nil, errors.New("sqlstore: the connection has no current schema or database; select one in the DSN or use WithSchema")
		}
		s.schema = schema.String
	}
	s.lock = lockName(s.schema, cfg.table)
	s.q = queries{
		get: d.Get(s.t), set: d.Set(s.t), touch: d.Touch(s.t), del: d.Delete(s.t),
		count: d.Count(s.t), rng: d.Range(s.t), clear: d.Clear(s.t), prune: d.Prune(s.t), stats: d.Stats(s.t),
	}

	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.closeStmts()
		return nil, err
	}

	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.pruneInterval > 0 {
		s.wg.Add(1)
		go s.pruneLoop()
	}
	return s, nil
}

// detectDialect picks the dialect from the package of the pool's driver.
func detectDialect(db *sql.DB) (Dialect, error) {
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	switch {
	case pkg == "github.com/lib/pq" || strings.HasPrefix(pkg, "github.com/jackc/pgx/"):
		return Postgres, nil
	case pkg == "github.com/go-sql-driver/mysql":
		return MySQL, nil
	case pkg == "modernc.org/sqlite" || pkg == "github.com/mattn/go-sqlite3":
		return SQLite, nil
	}
	return nil, fmt.Errorf("sqlstore: cannot tell the dialect of driver %s.%s; pass WithDialect(sqlstore.Postgres), MySQL or SQLite", pkg, t.Name())
}

// ensureTable checks the table and creates it when it is missing and
// creation is on.
func (s *Store) ensureTable(ctx context.Context) error {
	// Reading the catalog while another process creates a table can meet a
	// transient conflict (a Galera node applying the DDL): retried as writes are.
	var missing []string
	err := s.attempt(ctx, func() (err error) {
		missing, err = s.missingColumns(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if missing == nil {
		return nil
	}
	name := s.schema + "." + s.cfg.table
	if len(missing) < 3 { // the table exists without some columns: never alter it
		return fmt.Errorf("sqlstore: table %s has no column %s", name, strings.Join(missing, ", no column "))
	}
	if !s.cfg.createTable {
		return fmt.Errorf("sqlstore: table %s does not exist; create it with the statements of schema/%s.sql or `sqlstore migrate`, or use WithCreateTable(true)", name, s.d.Name())
	}
	if err := s.attempt(ctx, func() error { return s.createTable(ctx) }); err != nil {
		return fmt.Errorf("sqlstore: table %s does not exist and creating it failed: %w; have a role that may create it run schema/%s.sql or `sqlstore migrate`", name, err, s.d.Name())
	}
	return nil
}

// missingColumns returns the names of the store's columns the table lacks:
// nil when it has them all, all three when the table is missing.
func (s *Store) missingColumns(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Columns(), s.schema, s.cfg.table)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
		}
		have[c] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	var missing []string
	for _, c := range []string{s.cfg.idCol, s.cfg.dataCol, s.cfg.expiryCol} {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

// createTable runs the dialect's DDL in one transaction, behind its lock.
func (s *Store) createTable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if q := s.d.CreateLock(); q != "" {
		if _, err := tx.ExecContext(ctx, q, s.lock); err != nil {
			return err
		}
	}
	for _, q := range s.d.CreateTable(s.t) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// CreateTableSQL returns the statements that create the table and its expiry
// index for dialect d with the given options, as New runs them. It is what
// the schema/ files hold for the default names.
func CreateTableSQL(d Dialect, opts ...Option) ([]string, error) {
	cfg := defaultConfig()
	cfg.dialect = d
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, cfg.errs[0]
	}
	if cfg.dialect == nil {
		return nil, errors.New("sqlstore: CreateTableSQL: nil dialect")
	}
	for _, n := range []string{cfg.table, cfg.idCol, cfg.dataCol, cfg.expiryCol} {
		if err := validIdent("identifier", n); err != nil {
			return nil, err
		}
	}
	d = cfg.dialect
	t := Table{
		Name: d.QuoteIdent(cfg.table), Index: d.QuoteIdent(indexName(cfg.table)),
		ID: d.QuoteIdent(cfg.idCol), Data: d.QuoteIdent(cfg.dataCol), Expiry: d.QuoteIdent(cfg.expiryCol),
		HashedIDs: cfg.hashedIDs, TTL: cfg.tidbTTL,
	}
	if cfg.schema != "" {
		t.Schema = d.QuoteIdent(cfg.schema)
	}
	return d.CreateTable(t), nil
}

func (s *Store) prepare(ctx context.Context) error {
	if s.qr != nil {
		return nil // the Querier runs them
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{{&s.get, s.q.get}, {&s.set, s.q.set}, {&s.touch, s.q.touch}, {&s.del, s.q.del}} {
		st, err := s.db.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("sqlstore: preparing %q: %w", p.q, err)
		}
		*p.stmt = st
	}
	return nil
}

func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.get, s.set, s.touch, s.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d }

// DB returns the store's pool.
func (s *Store) DB() *sql.DB { return s.db }

// Table returns the quoted names the store's statements use.
func (s *Store) Table() Table { return s.t }

// Now returns the time of the store's clock (WithClock), truncated to the
// millisecond: the "now" of its expiry decisions. Adapters that turn a
// max-age into an expiry start from it.
func (s *Store) Now() time.Time { return s.now() }

// CheckID returns ErrInvalidID, wrapped with the reason, unless id is 1 to
// 255 bytes of printable ASCII.
func CheckID(id string) error {
	if len(id) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidID, len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: byte 0x%02x at %d is not printable ASCII", ErrInvalidID, c, i)
		}
	}
	return nil
}

// Key returns what the store keeps in its id column for id: the lowercase
// hex SHA-256 of id with hashed ids (the default), else id itself.
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

// begin checks the store and the id before a call.
func (s *Store) begin(id string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return CheckID(id)
}

// wrap prefixes err with the operation, reporting ErrClosed when a call
// raced Close and the context's error when the context ended.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		// The driver reported the cancellation its own way: keep both.
		return fmt.Errorf("sqlstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
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
	if err := s.begin(id); err != nil {
		return nil, false, err
	}
	key, now := s.Key(id), s.d.EncodeTime(s.now())
	if s.qr != nil {
		err = s.qr.QueryRow(ctx, s.q.get, key, now).Scan(&data)
	} else {
		err = s.get.QueryRowContext(ctx, key, now).Scan(&data)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap(ctx, "get", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, true, nil
}

// Set stores data for session id until expiresAt, inserting the session or
// replacing its data and expiry in one atomic upsert: concurrent Sets of one
// id do not fail, and the last write wins. A zero expiresAt means now plus the
// default TTL. Expiry is kept to the millisecond.
func (s *Store) Set(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	if err := s.begin(id); err != nil {
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
	key, e := s.Key(id), s.d.EncodeTime(exp)
	return s.retry(ctx, "set", func() error {
		if s.qr != nil {
			return s.qr.Exec(ctx, s.q.set, key, data, e)
		}
		_, err := s.set.ExecContext(ctx, key, data, e)
		return err
	})
}

// Touch moves the expiry of the live session id to expiresAt (a zero
// expiresAt means now plus the default TTL). It never revives an expired or
// deleted session, and a missing session is not an error. A move shorter than
// the touch threshold (WithTouchThreshold) writes nothing.
func (s *Store) Touch(ctx context.Context, id string, expiresAt time.Time) error {
	if err := s.begin(id); err != nil {
		return err
	}
	exp, err := s.expiry(expiresAt)
	if err != nil {
		return err
	}
	th := s.cfg.touchThreshold
	lo, hi := exp, exp
	if th > 0 {
		lo, hi = exp.Add(-th), exp.Add(th)
	}
	key, e, now := s.Key(id), s.d.EncodeTime(exp), s.d.EncodeTime(s.now())
	el, eh := s.d.EncodeTime(lo), s.d.EncodeTime(hi)
	return s.retry(ctx, "touch", func() error {
		if s.qr != nil {
			return s.qr.Exec(ctx, s.q.touch, e, key, now, el, eh)
		}
		_, err := s.touch.ExecContext(ctx, e, key, now, el, eh)
		return err
	})
}

// Delete deletes session id. Deleting a missing session is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.begin(id); err != nil {
		return err
	}
	key := s.Key(id)
	return s.retry(ctx, "delete", func() error {
		if s.qr != nil {
			return s.qr.Exec(ctx, s.q.del, key)
		}
		_, err := s.del.ExecContext(ctx, key)
		return err
	})
}

// Count returns the number of live sessions.
func (s *Store) Count(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, s.q.count, s.d.EncodeTime(s.now())).Scan(&n); err != nil {
		return 0, s.wrap(ctx, "count", err)
	}
	return n, nil
}

// Clear deletes every session, live or expired.
func (s *Store) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.retry(ctx, "clear", func() error {
		_, err := s.db.ExecContext(ctx, s.q.clear)
		return err
	})
}

// Range calls fn for every live session, streaming rows from the database
// without holding them all in memory, and stops when fn returns false. id is
// what the store keeps in its id column: with hashed ids (the default), the
// hash, not the id the session was set with (see Key). data is fn's own copy.
// Range holds one connection of the pool while it runs, so fn may call the
// store as long as the pool has another.
func (s *Store) Range(ctx context.Context, fn func(id string, data []byte, expiresAt time.Time) bool) error {
	if s.closed.Load() {
		return ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, s.q.rng, s.d.EncodeTime(s.now()))
	if err != nil {
		return s.wrap(ctx, "range", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			data []byte
			raw  any
		)
		if err := rows.Scan(&id, &data, &raw); err != nil {
			return s.wrap(ctx, "range", err)
		}
		exp, err := s.d.DecodeTime(raw)
		if err != nil {
			return s.wrap(ctx, "range", err)
		}
		if data == nil {
			data = []byte{}
		}
		if !fn(id, data, exp) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(ctx, "range", err)
	}
	return rows.Close()
}

// Stats describes the table at one moment.
type Stats struct {
	Live, Expired  int64     // sessions not yet expired, and expired ones not yet pruned
	Oldest, Newest time.Time // earliest and latest expiry; zero when the table is empty
}

// Stats counts live and expired sessions and finds the earliest and latest
// expiry, in one query.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if s.closed.Load() {
		return Stats{}, ErrClosed
	}
	var st Stats
	var lo, hi any
	now := s.d.EncodeTime(s.now())
	if err := s.db.QueryRowContext(ctx, s.q.stats, now, now).Scan(&st.Live, &st.Expired, &lo, &hi); err != nil {
		return Stats{}, s.wrap(ctx, "stats", err)
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
			return Stats{}, s.wrap(ctx, "stats", err)
		}
		*p.t = t
	}
	return st, nil
}

// TableSize returns the bytes the table and its indexes take, as the
// database reports them (MySQL's figure is InnoDB's estimate).
func (s *Store) TableSize(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.d.TableSize(), s.schema, s.cfg.table).Scan(&n); err != nil {
		return 0, s.wrap(ctx, "table size", err)
	}
	return n.Int64, nil
}

// Close stops the background pruner, cancels a sweep in flight and waits for
// it, and closes the prepared statements and the Querier, if it is an
// io.Closer (WithQuerier); with Open it also closes the pool, and with New
// never. Close is idempotent. Every call after Close returns
// ErrClosed.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		errs := []error{s.closeStmts()}
		if c, ok := s.qr.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		if s.ownsDB {
			errs = append(errs, s.db.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.err = fmt.Errorf("sqlstore: close: %w", err)
		}
	})
	return s.err
}

// track registers a call that Close must wait for; it fails after Close.
func (s *Store) track() (done func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.wg.Add(1)
	return s.wg.Done, nil
}
