// Package hook gives the module's own packages (the CLI, the adapters) what a
// sqlstore.Store knows but does not export. Package sqlstore sets every
// function in its init, so they are never nil once it is linked; each takes
// the *sqlstore.Store as store.
package hook

import (
	"context"
	"time"
)

// Info names a store's dialect and table, unquoted.
type Info struct {
	Dialect                          string // "postgres", "mysql" or "sqlite"
	Schema, Table, Index, OwnerIndex string
}

var (
	// Describe returns the dialect and names of store.
	Describe func(store any) Info
	// Now returns the time of store's clock, truncated to the millisecond.
	Now func(store any) time.Time
	// TableSize returns the bytes store's table and indexes take.
	TableSize func(ctx context.Context, store any) (int64, error)
	// Prune is Store.Prune, calling progress with the running total of
	// deleted rows after every batch.
	Prune func(ctx context.Context, store any, progress func(deleted int64)) (int64, error)
	// DDL returns what New did to store's table: "created", "upgraded", or
	// "" when the table was current.
	DDL func(store any) string
	// Denied reports whether err is the database refusing a statement for
	// want of a privilege.
	Denied func(err error) bool
	// MissingSchema reports whether err says the table's schema (MySQL:
	// database) does not exist.
	MissingSchema func(err error) bool
	// Rekey is Store.Rekey, calling progress with the running totals of
	// rewritten and of scanned sessions after every batch.
	Rekey func(ctx context.Context, store any, progress func(rewritten, scanned int64)) (int64, error)
)
