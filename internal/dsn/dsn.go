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

// Effective returns the dsn Parse uses for dsn: dsn itself, else
// DATABASE_URL, else sqlite:DefaultSQLiteFile.
func Effective(dsn string) string {
	if dsn == "" {
		dsn = os.Getenv("DATABASE_URL")
	}
	if dsn == "" {
		dsn = "sqlite:" + DefaultSQLiteFile
	}
	return dsn
}

// Parse maps dsn to a registered driver, its own DSN and the dialect name
// ("postgres", "mysql" or "sqlite"). An empty dsn falls back to DATABASE_URL,
// then to sqlite:DefaultSQLiteFile (see Effective). A dsn that Check refuses
// is refused before any driver sees it.
func Parse(dsn string) (driverName, driverDSN, dialect string, err error) {
	dsn = Effective(dsn)
	if dialect, err = check(dsn); err != nil {
		return "", "", "", err
	}
	if driverName, err = findDriver(dialect); err != nil {
		return "", "", "", err
	}
	switch dialect {
	case "postgres":
		return driverName, dsn, dialect, nil
	case "mysql":
		driverDSN, err = MySQL(dsn)
		return driverName, driverDSN, dialect, err
	}
	return driverName, SQLite(driverName, dsn), dialect, nil
}

// SharedCache reports whether a SQLite driver DSN opens the database in
// shared-cache mode (cache=shared), where a reader can wait for another
// connection's write: a table lock, not the file's.
func SharedCache(driverDSN string) bool {
	_, query, _ := strings.Cut(driverDSN, "?")
	for _, p := range strings.Split(query, "&") {
		if k, v, _ := strings.Cut(p, "="); strings.EqualFold(k, "cache") && strings.EqualFold(v, "shared") {
			return true
		}
	}
	return false
}

// Check returns an error, which never holds the dsn's user info, unless dsn
// is a URL that Parse accepts: a postgres://, postgresql:// or mysql:// URL
// whose user name and password are percent-encoded, or a sqlite: or file:
// dsn without user info. It looks for no driver.
//
// A URL whose user info is ambiguous is refused, because drivers disagree on
// where the user info ends (net/url and lib/pq split at the last @ before the
// path, pgx at the first @ before a /): so no driver can take part of a
// password for a host or database name and print it in an error.
func Check(dsn string) error {
	_, err := check(dsn)
	return err
}

// wantDSN lists the dsns sqlstore accepts, for error messages.
const wantDSN = "want a postgres://, postgresql://, mysql://, sqlite: or file: URL"

// encodeHint tells how to write special characters in user info.
const encodeHint = "percent-encode special characters of the user name and password (@ as %40, / as %2F, ? as %3F, # as %23, % as %25, a space as %20)"

// check is Check, returning the dialect of a good dsn.
func check(dsn string) (dialect string, err error) {
	scheme, rest, ok := cutScheme(dsn)
	if !ok {
		// It could be a driver's own format (user:pass@tcp(host)/db,
		// host=h password=p): print none of it.
		return "", fmt.Errorf("sqlstore: the dsn is not a URL: %s", wantDSN)
	}
	switch scheme {
	case "postgres", "postgresql":
		return "postgres", checkURL(dsn, scheme, rest)
	case "mysql":
		return "mysql", checkURL(dsn, scheme, rest)
	case "sqlite", "sqlite3", "file":
		if body, ok := strings.CutPrefix(rest, "//"); ok {
			// An @ before the path, or after a colon: user info, which a
			// SQLite dsn has no use for, and which would end up in a
			// file name.
			authority, _, _ := strings.Cut(body, "/")
			beforeAt, _, hasAt := strings.Cut(body, "@")
			if strings.Contains(authority, "@") || hasAt && strings.Contains(beforeAt, ":") {
				return "", fmt.Errorf("sqlstore: invalid dsn %s: a SQLite dsn has no user name or password; want sqlite:PATH, sqlite:///ABSOLUTE/PATH or file:PATH", Redact(dsn))
			}
		}
		return "sqlite", nil
	}
	return "", fmt.Errorf("sqlstore: unsupported dsn scheme %q: %s", scheme, wantDSN)
}

// checkURL checks a postgres:// or mysql:// dsn.
func checkURL(dsn, scheme, rest string) error {
	body, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return fmt.Errorf("sqlstore: invalid dsn %s: want %s://HOST/DATABASE, with USER:PASSWORD@ before HOST if needed", Redact(dsn), scheme)
	}
	authority, after := body, ""
	if i := strings.IndexAny(body, "/?#"); i >= 0 {
		authority, after = body[:i], body[i:]
	}
	if strings.Count(authority, "@") > 1 || strings.Contains(after, "@") {
		return fmt.Errorf("sqlstore: invalid dsn %s: an @ is not where the user info ends; %s, and any other @ as %%40", Redact(dsn), encodeHint)
	}
	if _, err := url.Parse(dsn); err != nil {
		return fmt.Errorf("sqlstore: invalid dsn %s: %s", Redact(dsn), urlProblem(dsn, err))
	}
	return nil
}

// urlProblem describes why url.Parse refused dsn without quoting any of it:
// net/url's messages quote the part at fault, which can be a piece of the
// password.
func urlProblem(dsn string, err error) string {
	if _, rerr := url.Parse(Redact(dsn)); rerr == nil {
		return "the user name or password is not valid URL syntax; " + encodeHint
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid port"):
		return "the port is not a number; if the host part holds a password, " + encodeHint
	case strings.Contains(msg, "invalid URL escape"):
		return "a % does not start a %XX escape; write a % as %25"
	case strings.Contains(msg, "control character"):
		return "the dsn holds a control character"
	case strings.Contains(msg, "invalid character") || strings.Contains(msg, "missing ']'"):
		return "the host name holds a character that is not allowed there"
	}
	return "not a valid URL; " + encodeHint
}

// cutScheme returns the lowercased scheme of s and what follows its colon;
// ok is false when s does not start with a scheme (a letter, then letters,
// digits, +, - or ., then a colon).
func cutScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", s, false
	}
	for j := range i {
		c := s[j]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", s, false
		}
	}
	return strings.ToLower(s[:i]), s[i+1:], true
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

// SQLiteFile returns the file a sqlite:, sqlite3: or file: dsn names,
// percent-decoded as SQLite decodes URI file names; ok is false for other
// dsns and for in-memory databases.
func SQLiteFile(dsn string) (path string, ok bool) {
	scheme, rest, isURL := cutScheme(dsn)
	if !isURL || scheme != "sqlite" && scheme != "sqlite3" && scheme != "file" {
		return "", false
	}
	if scheme != "file" {
		rest = strings.TrimPrefix(rest, "//") // as SQLite does with it
	}
	path, query, _ := strings.Cut(rest, "?")
	path, _, _ = strings.Cut(path, "#")
	if after, ok := strings.CutPrefix(path, "//"); ok { // file://[localhost]/abs
		host, abs, _ := strings.Cut(after, "/")
		if host != "" && host != "localhost" {
			return "", false
		}
		path = "/" + abs
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	q, _ := url.ParseQuery(query)
	if path == "" || path == ":memory:" || q.Get("mode") == "memory" || strings.HasPrefix(query, "vfs=memdb") || q.Get("vfs") == "memdb" {
		return "", false
	}
	return path, true
}

// NoCreate returns a sqlite:, sqlite3: or file: dsn that opens its file
// read-write but fails, instead of creating it, when the file is missing:
// SQLite's mode=rw, unless the dsn sets a mode of its own. Other dsns come
// back as they are.
func NoCreate(dsn string) string {
	if _, ok := SQLiteFile(dsn); !ok {
		return dsn
	}
	_, query, hasQuery := strings.Cut(dsn, "?")
	if q, _ := url.ParseQuery(query); q.Has("mode") {
		return dsn
	}
	if hasQuery {
		return dsn + "&mode=rw"
	}
	return dsn + "?mode=rw"
}
