package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-sqlstore/sqlstore/internal/dsn"
)

// DefaultSQLiteFile is the SQLite database Open uses, in the working
// directory, when it is given no DSN and DATABASE_URL is unset.
const DefaultSQLiteFile = dsn.DefaultSQLiteFile

// Open opens a pool for dsn and returns a Store over it that owns the pool:
// Close closes it. The dsn is one of
//
//	postgres://user:pass@host:5432/db?sslmode=disable  (also postgresql://)
//	mysql://user:pass@host:3306/db?param=value
//	sqlite:path/to/file.db  or a file: URI such as file:sessions.db?mode=rwc
//
// An empty dsn falls back to the DATABASE_URL environment variable, then to
// the SQLite file DefaultSQLiteFile in the working directory.
//
// Open uses the drivers the program registered: it imports none. When the
// driver a dsn needs is missing, the error names the import that adds it.
// For SQLite, Open turns on WAL mode and a 10-second busy timeout, so that
// concurrent writers wait for each other instead of failing with "database is
// locked".
func Open(ctx context.Context, dsnStr string, opts ...Option) (*Store, error) {
	driverName, driverDSN, dialect, err := dsn.Parse(dsnStr)
	if err != nil {
		return nil, err
	}
	d := map[string]Dialect{"postgres": Postgres, "mysql": MySQL, "sqlite": SQLite}[dialect]
	db, err := sql.Open(driverName, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	s, err := New(ctx, db, append([]Option{WithDialect(d)}, opts...)...)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}
