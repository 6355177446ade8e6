package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-sqlstore/sqlstore/internal/dsn"
)

// Open opens a pool for dsn and returns a Store over it that owns the pool:
// Close closes it. The dsn is one of
//
//	postgres://user:pass@host:5432/db?sslmode=disable  (also postgresql://)
//	mysql://user:pass@host:3306/db?param=value
//	sqlite:path/to/file.db  or a file: URI such as file:sessions.db?mode=rwc
//
// An empty dsn falls back to the DATABASE_URL environment variable, then to
// the SQLite file sessions.db in the working directory.
//
// The user name and password of a URL must be percent-encoded where they
// hold characters special in URLs (@ as %40, / as %2F, ? as %3F, # as %23,
// % as %25, a space as %20): Open refuses a dsn whose user info it cannot
// delimit the way every driver would. No error of Open holds the password.
//
// Open uses the drivers the program registered: it imports none. When the
// driver a dsn needs is missing, the error names the import that adds it.
// For SQLite, Open turns on WAL mode and a 10-second busy timeout, so that
// concurrent writers wait for each other instead of failing with "database is
// locked".
func Open(ctx context.Context, dsnStr string, opts ...Option) (*Store, error) {
	dsnStr = dsn.Effective(dsnStr)
	driverName, driverDSN, dialect, err := dsn.Parse(dsnStr)
	if err != nil {
		return nil, dsn.Scrub(err, dsnStr)
	}
	d := map[string]Dialect{"postgres": Postgres, "mysql": MySQL, "sqlite": SQLite}[dialect]
	db, err := sql.Open(driverName, driverDSN)
	if err != nil {
		// A driver's parse error may quote its DSN, password included
		// (lib/pq does).
		return nil, dsn.Scrub(fmt.Errorf("sqlstore: open: %w", err), dsnStr, driverDSN)
	}
	shared := func(c *config) { c.sharedCache = dsn.SharedCache(driverDSN) }
	s, err := New(ctx, db, append([]Option{WithDialect(d), shared}, opts...)...)
	if err != nil {
		db.Close()
		return nil, dsn.Scrub(err, dsnStr, driverDSN)
	}
	s.ownsDB = true
	return s, nil
}

// RedactDSN returns dsn fit for a log line or an error message: the
// password of a URL replaced by xxxxx, as are password parameters. It fails
// closed: when it cannot tell where the user info of dsn ends, it hides the
// user name too, and more; when dsn is not a URL, everything before its
// last @. Open's errors are redacted the same way, driver messages included.
func RedactDSN(dsnStr string) string { return dsn.Redact(dsnStr) }
