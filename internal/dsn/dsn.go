// Package dsn maps the URLs sqlstore.Open accepts to a registered
// database/sql driver and that driver's own DSN.
package dsn

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// DefaultSQLiteFile is the SQLite file used when no DSN is given and
// DATABASE_URL is unset.
const DefaultSQLiteFile = "sessions.db"

// SQLiteBusyTimeout is the busy timeout, in milliseconds, set on SQLite.
const SQLiteBusyTimeout = 10000

// driverImports names, per dialect, the database/sql driver names accepted,
// in order of preference, and the import that registers each.
var driverImports = map[string][][2]string{
	// pgx first: lib/pq cannot interrupt a call to a server that stopped
	// answering, whatever its context says.
	"postgres": {{"pgx", "github.com/jackc/pgx/v5/stdlib"}, {"postgres", "github.com/lib/pq"}},
	"mysql":    {{"mysql", "github.com/go-sql-driver/mysql"}},
	"sqlite":   {{"sqlite", "modernc.org/sqlite"}, {"sqlite3", "github.com/mattn/go-sqlite3"}},
}

// findDriver returns the first registered driver for a dialect.
func findDriver(dialect string) (string, error) {
	registered := sql.Drivers()
	var imports []string
	for _, c := range driverImports[dialect] {
		if slices.Contains(registered, c[0]) {
			return c[0], nil
		}
		imports = append(imports, fmt.Sprintf("_ %q", c[1]))
	}
	return "", fmt.Errorf("sqlstore: no %s driver is registered; add import %s to your program", dialect, strings.Join(imports, " or "))
}

// Parse maps dsn to a registered driver, its own DSN and the dialect name
// ("postgres", "mysql" or "sqlite"). An empty dsn falls back to DATABASE_URL,
// then to sqlite:DefaultSQLiteFile.
func Parse(dsn string) (driverName, driverDSN, dialect string, err error) {
	if dsn == "" {
		dsn = os.Getenv("DATABASE_URL")
	}
	if dsn == "" {
		dsn = "sqlite:" + DefaultSQLiteFile
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if driverName, err = findDriver("postgres"); err != nil {
			return "", "", "", err
		}
		return driverName, dsn, "postgres", nil
	case "mysql":
		if driverName, err = findDriver("mysql"); err != nil {
			return "", "", "", err
		}
		driverDSN, err = MySQL(dsn)
		return driverName, driverDSN, "mysql", err
	case "sqlite", "sqlite3", "file":
		if driverName, err = findDriver("sqlite"); err != nil {
			return "", "", "", err
		}
		return driverName, SQLite(driverName, dsn), "sqlite", nil
	}
	return "", "", "", fmt.Errorf("sqlstore: unsupported dsn %q (want a postgres://, mysql://, sqlite: or file: URL)", Redact(dsn))
}

// MySQL turns mysql://user:pass@host:port/db?params into
// go-sql-driver/mysql's user:pass@tcp(host:port)/db?params. A socket
// parameter selects a unix socket instead of TCP.
func MySQL(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("sqlstore: invalid mysql dsn %q: %w", Redact(dsn), errors.Unwrap(err))
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			b.WriteString(":" + p)
		}
		b.WriteString("@")
	}
	// Parameters pass on as written: the driver unescapes some (loc) but
	// not others (the comma of charset=utf8mb4,utf8).
	var params []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		if k, _, _ := strings.Cut(p, "="); p != "" && k != "socket" {
			params = append(params, p)
		}
	}
	if sock := u.Query().Get("socket"); sock != "" {
		b.WriteString("unix(" + sock + ")")
	} else if u.Host != "" {
		host := u.Host
		if u.Port() == "" {
			host += ":3306"
		}
		b.WriteString("tcp(" + host + ")")
	}
	b.WriteString("/" + strings.TrimPrefix(u.Path, "/"))
	if len(params) > 0 {
		b.WriteString("?" + strings.Join(params, "&"))
	}
	return b.String(), nil
}

// SQLite turns sqlite:PATH or a file: URI into the driver's DSN, adding a
// busy timeout, WAL mode, synchronous=NORMAL and immediate transactions
// unless the dsn sets them. NORMAL is SQLite's advice for WAL mode: a power
// loss may undo the last commits but never corrupts the file, and a commit
// does not wait for a disk flush (4x the writes of FULL here).
func SQLite(driverName, dsn string) string {
	path := dsn
	if !strings.HasPrefix(dsn, "file:") {
		_, rest, _ := strings.Cut(dsn, ":")
		path = "file:" + strings.TrimPrefix(rest, "//")
	}
	busy, wal, sync, txlock := fmt.Sprintf("_pragma=busy_timeout(%d)", SQLiteBusyTimeout), "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_txlock=immediate"
	if driverName == "sqlite3" { // mattn/go-sqlite3
		busy, wal, sync = fmt.Sprintf("_busy_timeout=%d", SQLiteBusyTimeout), "_journal_mode=WAL", "_synchronous=NORMAL"
	}
	_, query, _ := strings.Cut(path, "?")
	var params []string
	for _, p := range []struct{ has, add string }{{"busy_timeout", busy}, {"journal_mode", wal}, {"synchronous", sync}, {"_txlock", txlock}} {
		// synchronous=NORMAL is safe with WAL only: leave it to a dsn that
		// picks its own journal mode.
		if !strings.Contains(query, p.has) && (p.add != sync || !strings.Contains(query, "journal_mode")) {
			params = append(params, p.add)
		}
	}
	if len(params) == 0 {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + strings.Join(params, "&")
}

// Redact hides the password of a URL-shaped dsn, also of one that does not
// parse as a URL.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err == nil {
		if u.User == nil {
			return dsn
		}
		return u.Redacted()
	}
	// scheme://user:password@host...: the user info ends at the last @
	// before the path.
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	at := strings.LastIndex(authority, "@")
	user, _, hasPass := strings.Cut(authority[:max(at, 0)], ":")
	if at < 0 || !hasPass {
		return dsn
	}
	return scheme + "://" + user + ":xxxxx" + authority[at:] + path
}
