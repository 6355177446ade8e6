// Package testdb gives tests a database of each kind the store supports and
// a table of their own. SQLite is always there (a file in the test's temporary
// directory); PostgreSQL and MariaDB/MySQL come from SQLSTORE_POSTGRES_DSN and
// SQLSTORE_MYSQL_DSN. A test whose database is not configured or not reachable
// is skipped with a message, except under CI=true, where it fails.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "github.com/lib/pq"              // registers "postgres"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
)

// Environment variables holding the DSNs of the real servers, as URLs that
// sqlstore.Open accepts (postgres://..., mysql://...).
const (
	PostgresEnv = "SQLSTORE_POSTGRES_DSN"
	MySQLEnv    = "SQLSTORE_MYSQL_DSN"
)

// MaxConns caps the pools OpenDSN opens to a server.
const MaxConns = 12

// Kinds lists the databases every feature is tested on.
var Kinds = []string{"sqlite", "postgres", "mysql"}

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it in CI, because something it needs
// is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: a real-database test may not be skipped)", msg)
	}
	t.Skip(msg)
}

// DSN returns a URL DSN for kind: for "sqlite" a new file in the test's
// temporary directory, otherwise the environment variable's value.
func DSN(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "sessions.db")
	case "postgres", "pgx":
		return env(t, PostgresEnv)
	case "mysql":
		return env(t, MySQLEnv)
	}
	t.Fatalf("testdb: unknown kind %q", kind)
	return ""
}

func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Unavailable(t, "%s is not set; set it to run this test against a real server (see README, Running the tests)", name)
	}
	return v
}

// WithParams returns dsn with the query parameters added or replaced.
func WithParams(t testing.TB, dsnURL string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(dsnURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if u.Opaque != "" { // sqlite:path
		q := ""
		for k, v := range params {
			q += "&" + url.QueryEscape(k) + "=" + url.QueryEscape(v)
		}
		if strings.Contains(dsnURL, "?") {
			return dsnURL + q
		}
		return dsnURL + "?" + strings.TrimPrefix(q, "&")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenDSN opens and pings a pool for a URL DSN, closed when the test ends.
// Kind "postgres" opens a PostgreSQL DSN with lib/pq, kind "pgx" with pgx.
func OpenDSN(t testing.TB, kind, dsnURL string) *sql.DB {
	t.Helper()
	driverName, driverDSN, _, err := dsn.Parse(dsnURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	switch kind {
	case "postgres":
		driverName = "postgres" // lib/pq, which Open would pass over for pgx
	case "pgx":
		driverName = "pgx"
	}
	db, err := sql.Open(driverName, driverDSN)
	if err != nil {
		t.Fatalf("testdb: open %s: %v", kind, err)
	}
	t.Cleanup(func() { db.Close() })
	if kind != "sqlite" {
		// Many tests run at once against one server: stay well inside its
		// connection limit (PostgreSQL's default is 100, MariaDB's 151).
		db.SetMaxOpenConns(MaxConns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		Unavailable(t, "%s at %s is not reachable: %v", kind, dsn.Redact(dsnURL), err)
	}
	return db
}

// SilentServer returns the address of a listener on 127.0.0.1 that accepts
// connections and never answers, as a hung database server does. It and the
// connections it holds close when the test ends.
func SilentServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Open opens a pool for kind ("sqlite", "postgres", "pgx" or "mysql").
func Open(t testing.TB, kind string) *sql.DB {
	t.Helper()
	return OpenDSN(t, kind, DSN(t, kind))
}

// Name returns a table name no other test uses: prefix, then random hex.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// Table returns a fresh table name and drops that table when the test ends.
func Table(t testing.TB, db *sql.DB) string {
	t.Helper()
	name := Name("t")
	t.Cleanup(func() { Drop(t, db, name) })
	return name
}

// Drop drops a table if it exists.
func Drop(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Errorf("testdb: drop table %s: %v", table, err)
	}
}

// OffsetClock is real time plus an offset the test advances: for tests where
// a session manager reads real time and the store reads this clock.
type OffsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns real time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Add moves the clock by d.
func (c *OffsetClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// Row returns the stored data and expiry of session id, found through Range
// so that it sees what the table holds, live rows only.
func Row(t testing.TB, s *sqlstore.Store, id string) (data []byte, exp time.Time, found bool) {
	t.Helper()
	key := s.Key(id)
	err := s.Range(context.Background(), func(k string, d []byte, x time.Time) bool {
		if k == key {
			data, exp, found = d, x, true
			return false
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return data, exp, found
}

// Clock is a settable clock for sqlstore.WithClock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to now.
func (c *Clock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Writes is a sqlstore.Observer that records the writes of a Store as "set"
// or "touch", for the tests of adapters that choose between the two.
type Writes struct {
	mu  sync.Mutex
	ops []string
}

// Observe records a Set (or SetOwned) and a Touch, once each call ends.
func (w *Writes) Observe(_ context.Context, e sqlstore.Event) {
	var op string
	switch e.Op {
	case sqlstore.OpSet, sqlstore.OpSetOwned:
		op = "set"
	case sqlstore.OpTouch:
		op = "touch"
	default:
		return
	}
	if e.Outcome == sqlstore.OutcomeRetried {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, op)
}

// Take returns the writes recorded since the last Take.
func (w *Writes) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := w.ops
	w.ops = nil
	return ops
}
