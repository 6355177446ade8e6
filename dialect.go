package sqlstore

import (
	"database/sql"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Dialect supplies the SQL of one database. Every method returns SQL text (or,
// for EncodeTime and DecodeTime, converts a value); the Store runs every
// statement, scans every row and wraps every error. Identifiers arrive in a
// Table already validated and quoted with QuoteIdent; values are always bind
// parameters, passed in the order documented on each method, so a dialect
// whose placeholders are positional ("?") must use them in that order.
//
// Postgres, MySQL and SQLite are the dialects this package ships. A Dialect
// for another database passes the same conformance suite
// (package sqlstoretest).
type Dialect interface {
	// Name returns the dialect's short name: "postgres", "mysql" or "sqlite".
	Name() string
	// QuoteIdent quotes one identifier that has passed the Store's
	// validation (letters, digits and underscores only).
	QuoteIdent(name string) string

	// CurrentSchema returns a query selecting the connection's default
	// schema (PostgreSQL), database (MySQL) or attached database (SQLite).
	CurrentSchema() string
	// Columns returns a query selecting the names of the columns of a
	// table. Args: schema, table (both unquoted).
	Columns() string
	// Indexes returns a query selecting the name of every index of a table
	// and whether it is valid (false for an index whose build failed and
	// that the database keeps unusable, as PostgreSQL keeps one after a
	// failed CREATE INDEX CONCURRENTLY). Args: schema, table (both unquoted).
	Indexes() string
	// CreateLock returns a statement, run first in the table-creation
	// transaction, that serializes concurrent creators; "" when the
	// database needs none. Args: lock name.
	CreateLock() string
	// CreateTable returns the statements, run in order in one transaction,
	// that create the table, its expiry index and its owner index when they
	// are missing. They take no arguments.
	CreateTable(t Table) []string
	// Upgrade returns the statements that bring a table created before the
	// owner, created, updated and ended columns to the current shape
	// without blocking its readers and writers: add the columns in missing
	// (a subset of t.Owner, t.Created, t.Updated, t.Ended), then build the
	// owner index, each run on its own, outside a transaction. The Store
	// treats "the column (index) already exists" from a process upgrading
	// at the same time as done. They take no arguments.
	Upgrade(t Table, missing []string) []string
	// DropIndex returns a statement that drops the index named (quoted)
	// without blocking writes, to rebuild one that is not valid. No args.
	DropIndex(t Table, index string) string
	// DDLTimeout returns a statement that bounds how long this
	// connection's DDL waits for a lock (so that an upgrade queued behind a
	// long transaction does not stall every query behind it), and one that
	// restores the default; "" where the database needs none.
	DDLTimeout() (set, reset string)

	// Get selects data of a live session. Args: key, now, cutoff (sessions
	// created at or before cutoff have passed the absolute timeout).
	Get(t Table) string
	// Set inserts a session or replaces it in one atomic upsert, unless the
	// stored row was ended (ended true) and has not expired: then it
	// changes nothing. Over a live row it replaces data, expiry and
	// updated, keeps created (setting it when NULL) and keeps the owner
	// unless setOwner; over an expired row it starts a new session: every
	// column as inserted (owner NULL unless setOwner). Args: key, data,
	// expiry, owner (NULL for none), created (now), updated (now), setOwner
	// (a boolean).
	Set(t Table) string
	// Touch moves the expiry of a live session and sets updated, unless the
	// move is shorter than the throttle window [low, high]. Args: expiry,
	// updated (now), key, now, low, high, cutoff.
	Touch(t Table) string
	// Delete ends one session: it marks the row ended and clears its data,
	// so that no Set or Touch revives it until it expires. Args: key.
	Delete(t Table) string
	// DeleteOwner ends every live session of an owner, except those whose
	// keys are given (keep of them). Args: owner, now, then keep keys.
	DeleteOwner(t Table, keep int) string
	// Sessions selects key, data, created, updated and expiry of every live
	// session of an owner, the most recently updated first. Args: owner,
	// now, cutoff.
	Sessions(t Table) string
	// Count counts live sessions. Args: now, cutoff.
	Count(t Table) string
	// Range selects key, data and expiry of every live session.
	// Args: now, cutoff.
	Range(t Table) string
	// Clear deletes every session. No args.
	Clear(t Table) string
	// Prune deletes at most limit expired sessions, oldest first, through
	// the expiry index. Args: now, limit.
	Prune(t Table) string
	// EndCreated ends, as Delete does, at most limit sessions created at or
	// before cutoff (past the absolute timeout) that are not ended yet, so
	// that no late write starts them again before Prune removes them at
	// their expiry. Args: cutoff, limit.
	EndCreated(t Table) string
	// Stats selects the count of live sessions, of ended ones not yet
	// expired, of expired ones (including those past the absolute
	// timeout), which together are every row, then the earliest and the
	// latest expiry (NULL on an empty table). Args: now, cutoff, now,
	// cutoff, now, cutoff.
	Stats(t Table) string

	// The statements of encryption (WithEncryption): New's check of the
	// keys, and Store.Rekey.

	// Newest selects key and data of at most limit sessions, live or
	// expired, latest expiry first. Args: limit.
	Newest(t Table) string
	// Page selects key and data of at most limit live sessions whose key
	// sorts after a given key, in key order. Args: after, now, limit.
	Page(t Table) string
	// SwapData replaces the data of one session only while it still holds
	// the old data, so that a write that landed since it was read is kept.
	// Args: data, key, old data.
	SwapData(t Table) string

	// TableSize returns a query selecting the bytes the table and its
	// indexes take, as the database reports them. Args: schema, table.
	TableSize() string

	// TryLock returns a query that takes a session-level lock without
	// waiting and selects whether it got it; "" when the database has no
	// such lock. Args: lock name.
	TryLock() string
	// Unlock releases the lock TryLock took. Args: lock name.
	Unlock() string

	// EncodeTime converts an expiry or a "now", already truncated to the
	// millisecond, to the bind value the time columns compare with.
	EncodeTime(t time.Time) any
	// DecodeTime converts a scanned time back to a time in UTC.
	DecodeTime(v any) (time.Time, error)
}

// SerialWriter is an optional interface of a Dialect whose database takes
// one writer at a time, as SQLite does. A Store over such a dialect queues
// its own writes, in arrival order, and lets one at a time (WithWriteSlots)
// reach the driver, instead of letting them all wait in the driver's busy
// handler, which serves waiters in no order and so can time one out
// ("database is locked") under load. Writes of single sessions that wait
// in the queue commit together, in one transaction.
type SerialWriter interface {
	SerialWrites() bool
}

// LocalReader is an optional interface of a Dialect whose database runs in
// the application's process and can serve a lookup by primary key without
// waiting on any other connection, as SQLite does in WAL mode, where readers
// never wait for the writer. When LocalReads says so in New, and while the
// pool has no SetMaxOpenConns limit (so that no connection is waited for
// either), [Store.Get] runs its lookup without the per-query cancellation of
// database/sql and the driver, which costs each query a goroutine in both:
// it checks its context before the lookup and after it instead, and so still
// returns the context's error once the context has ended, within one
// lookup. Every other read and every write keeps full cancellation.
//
// SQLite's shared-cache mode (cache=shared, which SQLite discourages) makes a
// reader wait for another connection's write to the same table: Open leaves
// this path off for such a DSN, but New cannot see the DSN of a pool, so do
// not give New a pool in that mode without a SetMaxOpenConns limit.
type LocalReader interface {
	// LocalReads returns a query selecting one boolean: whether a lookup by
	// primary key in the schema waits on no other connection. Args: schema.
	LocalReads() string
}

// Checkpointer is an optional interface of a Dialect whose database appends
// commits to a write-ahead log that a checkpoint copies back into the
// database file, as SQLite in WAL mode does. By default SQLite checkpoints
// in the commit that grows the log past its limit, inside that write: with
// the Store's write queue (see [SerialWriter]) every queued write then waits
// for the checkpoint, disk syncs included. So when AutoCheckpoint reports a
// limit in New, the Store checkpoints in the background instead, on its own
// connection and outside the queue, whenever its writes have grown the log
// by about a quarter of the limit; the commits then rarely reach it. With no
// limit (0: the application checkpoints, as with Litestream) the Store runs
// none. Each checkpoint is reported to the Observer as [OpCheckpoint].
type Checkpointer interface {
	// AutoCheckpoint returns a query selecting one integer: the log size,
	// in pages, at which a commit checkpoints (0 or less: never).
	AutoCheckpoint() string
	// Checkpoint returns a statement that checkpoints the table's database
	// without waiting for readers or writers, selecting three integers:
	// whether another checkpoint held it off (1 or 0), the pages in the
	// log, and the pages of the log now in the database file (-1 and -1
	// when the database keeps no log).
	Checkpoint(t Table) string
}

// Table names the session table for a Dialect. Every identifier is already
// validated and quoted by the dialect's QuoteIdent.
type Table struct {
	Schema     string // quoted schema, or "" for the connection's default
	Name       string // quoted table name, not qualified
	Index      string // quoted expiry index name, not qualified
	OwnerIndex string // quoted owner index name, not qualified
	ID         string // quoted id (key) column
	Data       string // quoted data column
	Expiry     string // quoted expiry column
	Owner      string // quoted owner column: who the session belongs to, or NULL
	Created    string // quoted created column: the session's first Set, or NULL before the upgrade
	Updated    string // quoted updated column: the last Set or Touch that wrote
	Ended      string // quoted ended column: true once Delete ended the session
	HashedIDs  bool   // the id column holds 64 hex digits of SHA-256
	TTL        string // TiDB only: TTL_JOB_INTERVAL of a native TTL table, or ""
}

// Qualified returns the table name qualified with its schema, if any.
func (t Table) Qualified() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// maxIdentLen is the longest identifier accepted, in bytes: PostgreSQL's
// limit (63); MySQL's is 64.
const maxIdentLen = 63

// validIdent reports why name is not an identifier the store accepts: 1 to 63
// bytes of letters, digits and underscores, not starting with a digit. Quotes,
// backticks, spaces, dots and control characters never reach a dialect.
func validIdent(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("sqlstore: %s name is empty", kind)
	case len(name) > maxIdentLen:
		return fmt.Errorf("sqlstore: %s name %.20q... is %d bytes, more than %d", kind, name, len(name), maxIdentLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("sqlstore: %s name %q is not valid UTF-8", kind, name)
	}
	for i, r := range name {
		if r > 0xFFFF {
			return fmt.Errorf("sqlstore: %s name %q: character %q at byte %d is outside the Basic Multilingual Plane, which MySQL identifiers cannot hold", kind, name, r, i)
		}
		if r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r)) {
			continue
		}
		return fmt.Errorf("sqlstore: %s name %q: character %q at byte %d is not allowed (use letters, digits and underscores, not starting with a digit)", kind, name, r, i)
	}
	if scripts := mixedScripts(name); scripts != nil {
		return fmt.Errorf("sqlstore: %s name %q mixes letters of the scripts %s, the mark of a look-alike name", kind, name, strings.Join(scripts, ", "))
	}
	return nil
}

// scriptSets are the scripts one name may mix, as Japanese, Chinese and
// Korean text mixes them with Latin (Unicode TS #39, highly restrictive).
var scriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScripts returns the scripts of the letters of name when they are not
// written together (such as Latin and Cyrillic, as in a "sessions" with a
// Cyrillic "о"), else nil.
func mixedScripts(name string) []string {
	var seen []string
	for _, r := range name {
		s := scriptOf(r)
		if s != "" && !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
	if len(seen) < 2 {
		return nil
	}
	for _, set := range scriptSets {
		if !slices.ContainsFunc(seen, func(s string) bool { return !slices.Contains(set, s) }) {
			return nil
		}
	}
	return seen
}

// scriptOf returns the Unicode script of r, or "" for the Common and
// Inherited scripts that every script uses (digits, underscore, marks).
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return "Latin"
		}
		return ""
	}
	for name, table := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// indexName derives the expiry index name from the table name, so that two
// stores in one database (or, on SQLite, one file) have distinct indexes.
// Names too long for the suffix are shortened and made unique with a hash.
func indexName(table string) string { return derivedName(table, "_expiry_idx") }

// ownerIndexName derives the owner index name from the table name.
func ownerIndexName(table string) string { return derivedName(table, "_owner_idx") }

// derivedName is table+suffix, shortened to maxIdentLen with a hash of the
// table name when too long.
func derivedName(table, suffix string) string {
	if len(table)+len(suffix) <= maxIdentLen {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	keep := maxIdentLen - len(suffix) - len(tag)
	for keep > 0 && !utf8.RuneStart(table[keep]) {
		keep--
	}
	return table[:keep] + tag + suffix
}

// lockName derives the advisory lock name of a table from its schema and
// name: short, ASCII and the same in every process.
func lockName(schema, table string) string {
	h := fnv.New64a()
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(table))
	return fmt.Sprintf("sqlstore_%016x", h.Sum64())
}

// truncMilli truncates t to the millisecond, the precision of every expiry.
func truncMilli(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

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
	return nil, fmt.Errorf("sqlstore: cannot tell the dialect of driver %s.%s (a driver wrapped by another package, such as otelsql, hides it); pass WithDialect(sqlstore.Postgres), WithDialect(sqlstore.MySQL) or WithDialect(sqlstore.SQLite)", pkg, t.Name())
}

// keepClause returns " AND id NOT IN (p0, p1, ...)" with keep placeholders
// made by param, or "" when keep is 0.
func keepClause(t Table, keep int, param func(i int) string) string {
	if keep == 0 {
		return ""
	}
	ps := make([]string, keep)
	for i := range ps {
		ps[i] = param(i)
	}
	return fmt.Sprintf(" AND %s NOT IN (%s)", t.ID, strings.Join(ps, ", "))
}
