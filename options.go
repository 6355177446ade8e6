package sqlstore

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/go-sqlstore/sqlstore/internal/defaults"
)

// An Option configures a Store. Options are checked by New, which returns an
// error naming the first invalid one.
type Option func(*config)

type config struct {
	dialect        Dialect
	schema         string
	table          string
	idCol          string
	dataCol        string
	expiryCol      string
	ownerCol       string
	createdCol     string
	updatedCol     string
	endedCol       string
	absolute       time.Duration
	createTable    bool
	pruneInterval  time.Duration
	defaultTTL     time.Duration
	logger         *slog.Logger
	now            func() time.Time
	hashedIDs      bool
	maxDataSize    int
	pruneBatchSize int
	prunePause     time.Duration
	touchThreshold time.Duration
	maxRetries     int
	tidbTTL        string
	querier        Querier
	sharedCache    bool // Open's SQLite DSN has cache=shared: a read can wait (LocalReader)
	observer       Observer
	writeSlots     int
	encryption     encryption // WithEncryption, WithPlaintextReads (crypt.go)
	errs           []error
}

func defaultConfig() config {
	return config{
		table:          defaults.Table,
		idCol:          defaults.IDColumn,
		dataCol:        defaults.DataColumn,
		expiryCol:      defaults.ExpiryColumn,
		ownerCol:       defaults.OwnerColumn,
		createdCol:     defaults.CreatedColumn,
		updatedCol:     defaults.UpdatedColumn,
		endedCol:       defaults.EndedColumn,
		createTable:    true,
		pruneInterval:  defaults.PruneInterval,
		defaultTTL:     defaults.TTL,
		now:            time.Now,
		hashedIDs:      true,
		maxDataSize:    defaults.MaxDataSize,
		pruneBatchSize: defaults.PruneBatchSize,
		prunePause:     defaults.PrunePause,
		touchThreshold: defaults.TouchThreshold,
		maxRetries:     defaults.MaxRetries,
		writeSlots:     defaults.WriteSlots,
	}
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("sqlstore: "+format, args...))
}

// WithDialect sets the database dialect. By default New detects it from the
// driver of the pool: lib/pq and pgx's stdlib (Postgres), go-sql-driver/mysql
// (MySQL), modernc.org/sqlite and mattn/go-sqlite3 (SQLite).
func WithDialect(d Dialect) Option {
	return func(c *config) {
		if d == nil {
			c.fail("WithDialect: nil dialect")
		}
		c.dialect = d
	}
}

// WithSchema sets the PostgreSQL schema, the MySQL database or the attached
// SQLite database holding the table. By default it is the connection's own
// (PostgreSQL's current_schema(), MySQL's DATABASE(), SQLite's "main").
func WithSchema(name string) Option {
	return func(c *config) {
		if err := validIdent("schema", name); err != nil {
			c.errs = append(c.errs, err)
		}
		c.schema = name
	}
}

// WithTable sets the table name. The default is "sessions". The expiry index
// is named after it: sessions_expiry_idx.
func WithTable(name string) Option {
	return func(c *config) { c.table = name }
}

// WithColumns sets the names of the id, data and expiry columns. The defaults
// are "token", "data" and "expiry".
func WithColumns(id, data, expiry string) Option {
	return func(c *config) { c.idCol, c.dataCol, c.expiryCol = id, data, expiry }
}

// WithOwnerColumns sets the names of the columns that record who a session
// belongs to ([Store.SetOwned]), when it was created and last updated, and
// whether it was ended ([Store.Delete]). The defaults are "owner",
// "created", "updated" and "ended". The owner index is named after the
// table: sessions_owner_idx.
func WithOwnerColumns(owner, created, updated, ended string) Option {
	return func(c *config) { c.ownerCol, c.createdCol, c.updatedCol, c.endedCol = owner, created, updated, ended }
}

// WithAbsoluteTimeout ends a session d after it was created, however
// active (OWASP's absolute timeout; gorilla/sessions has no such limit): a
// session older than that is expired for every read, for Touch and for
// Prune, whatever its expiry says. 0, the default, turns it off. Sessions
// written before the owner columns existed have no creation time and are
// not limited.
func WithAbsoluteTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail("WithAbsoluteTimeout: %v is negative", d)
		}
		c.absolute = d
	}
}

// WithCreateTable sets whether New creates the table and its indexes when
// the table is missing, and upgrades a table created before the owner
// columns (see [WithOwnerColumns]) in place, with online operations (the
// default, true). New runs no DDL when the table is current. With false,
// New only checks that the table, its columns and its indexes exist.
func WithCreateTable(create bool) Option {
	return func(c *config) { c.createTable = create }
}

// WithPruneInterval sets the mean interval between background sweeps of
// expired sessions; each wait is jittered by ±10%. The default is 5 minutes;
// zero or negative turns background pruning off (see Store.Prune).
func WithPruneInterval(d time.Duration) Option {
	return func(c *config) { c.pruneInterval = d }
}

// WithDefaultTTL sets the lifetime of a session that Set gets with a zero
// expiresAt. The default is 24 hours.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("WithDefaultTTL: %v is not positive", d)
		}
		c.defaultTTL = d
	}
}

// WithLogger sets the logger of background errors (failed sweeps). The
// default is slog.Default() as it is when New runs.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithClock sets the clock of every expiry decision: what "now" is in Get,
// Touch, Count, Range and Prune, and the base of the default TTL. The default
// is time.Now. The database's own clock is never used.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("WithClock: nil clock")
		}
		c.now = now
	}
}

// WithHashedIDs sets whether ids are stored as the hex SHA-256 of the id (the
// default, true), so that a copy of the table yields no usable session id.
// With false ids are stored as given, as other stores keep them. Range yields
// what is stored: with hashing, the hashes.
func WithHashedIDs(hashed bool) Option {
	return func(c *config) { c.hashedIDs = hashed }
}

// WithMaxDataSize sets the largest data Set accepts, in bytes; larger data
// gets ErrDataTooLarge before the database is asked. The default, 8 MiB, fits
// MariaDB's default max_allowed_packet (16 MiB). The limit is on the data
// the caller gives: with WithEncryption each row holds 37 bytes more.
func WithMaxDataSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.fail("WithMaxDataSize: %d is not positive", n)
		}
		c.maxDataSize = n
	}
}

// WithPruneBatchSize sets how many expired rows one DELETE of a sweep removes
// at most; each batch is its own short transaction. The default is 1000.
func WithPruneBatchSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.fail("WithPruneBatchSize: %d is not positive", n)
		}
		c.pruneBatchSize = n
	}
}

// WithPrunePause sets how long a sweep rests after each full batch before
// the next, so that a long sweep leaves the database room for the requests
// it serves meanwhile. The default is 10 milliseconds; zero sweeps without
// rest.
func WithPrunePause(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail("WithPrunePause: %v is negative", d)
		}
		c.prunePause = d
	}
}

// WithTouchThreshold sets the smallest move of an expiry that Touch writes:
// a Touch that would move the expiry by less (either way) changes nothing,
// so a busy site does not write on every request. The default is 5 seconds;
// zero makes every Touch write.
func WithTouchThreshold(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail("WithTouchThreshold: %v is negative", d)
		}
		c.touchThreshold = d
	}
}

// WithMaxRetries sets how many times a write that failed with a transient
// conflict (a deadlock, a serialization failure, a Galera certification
// conflict) is retried, with jittered exponential backoff from 1 ms up to
// 250 ms between attempts. The default is 16; zero turns retries off.
func WithMaxRetries(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail("WithMaxRetries: %d is negative", n)
		}
		c.maxRetries = n
	}
}

var ttlInterval = regexp.MustCompile(`^[1-9][0-9]{0,5}[mhd]$`)

// WithTiDBTTL makes New create the table as a TiDB TTL table, so that TiDB
// deletes expired rows itself every interval ("1m", "1h", "1d"). Reads still
// filter on expiry, and Prune still works. Use it only with TiDB, whose
// time_zone must be UTC for TTL to match the stored expiry.
func WithTiDBTTL(interval string) Option {
	return func(c *config) {
		if !ttlInterval.MatchString(interval) {
			c.fail("WithTiDBTTL: interval %q is not a number followed by m, h or d", interval)
		}
		c.tidbTTL = interval
	}
}

// WithQuerier makes the Store run the statements of Get, Set, Touch and
// Delete through q instead of prepared statements on its *sql.DB (see
// Querier). Package pgxnative builds a Store over a pgx pool with it.
func WithQuerier(q Querier) Option {
	return func(c *config) {
		if q == nil {
			c.fail("WithQuerier: nil Querier")
		}
		c.querier = q
	}
}

// WithWriteSlots sets how many writes of the Store (Set, Touch, Delete,
// Clear, prune batches) reach the driver at once on a database that takes
// one writer at a time (SQLite: a [SerialWriter] dialect); the others wait in
// Go, in arrival order, and give up when their context ends. Other dialects
// ignore it.
//
// The default, 1, hands SQLite's write lock from one write to the next with
// no write of the Store waiting in the driver's busy handler, which retries
// a locked database at growing intervals and in no order. Sets, Touches and
// Deletes that wait behind a write then commit together, up to 32 in one
// transaction, in arrival order: one commit and one turn of the lock for
// all of them. A batch that fails fails each of its writes with its error
// (none of them is committed). With more slots, several writes or batches
// race for the lock, one of them in the busy handler: under sustained load
// writes finish in a less even order, and where the lock is held nearly all
// the time (a slow fsync) one can wait out the busy timeout and fail with
// "database is locked". Zero turns the queue off, leaving every write to the
// busy handler. BENCHMARKS.md measures each.
func WithWriteSlots(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail("WithWriteSlots: %d is negative", n)
		}
		c.writeSlots = n
	}
}

// WithObserver sets the Observer told of every operation of the Store (see
// [Observer]). The default is none, which costs nothing.
func WithObserver(o Observer) Option {
	return func(c *config) {
		if o == nil {
			c.fail("WithObserver: nil Observer")
		}
		c.observer = o
	}
}
