// Command sqlstore is the operator's tool for a sqlstore session table: it
// prints the DDL, creates the table, prunes expired sessions and reports
// statistics, on PostgreSQL, MySQL/MariaDB and SQLite.
//
//	sqlstore schema  -dialect postgres|mysql|sqlite [-schema S] [-table T] [-columns id,data,expiry] [-hashed-ids=true]
//	sqlstore migrate -dsn DSN [flags]
//	sqlstore prune   -dsn DSN [-batch N] [-timeout D] [flags]
//	sqlstore stats   -dsn DSN [-json] [flags]
//	sqlstore rekey   -dsn DSN [-batch N] [-timeout D] [flags]    (keys in SQLSTORE_KEYS)
//
// The DSN is a URL as sqlstore.Open takes it (postgres://..., mysql://...,
// sqlite:FILE); without -dsn, DATABASE_URL is used. Errors are one line on
// stderr, starting with "sqlstore:"; the exit status is 0 on success, 1 on
// failure and 2 on a usage error. SIGINT and SIGTERM cancel the command in
// flight, as -timeout does; a command whose database does not give up within
// a few seconds of that is abandoned with an error. A second signal kills the
// process at once.
//
// Install it with
//
//	go install github.com/go-sqlstore/sqlstore/cmd/sqlstore@latest
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	// pgx, not lib/pq: lib/pq cannot interrupt a call to a server that
	// stopped answering, so neither -timeout nor a signal would stop it.
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling, so that a
	// second one kills a command that does not stop.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
