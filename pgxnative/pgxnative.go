// Package pgxnative runs a sqlstore.Store over a pgx connection pool
// (github.com/jackc/pgx/v5/pgxpool) instead of a database/sql driver.
//
// The statements of every request (Get, Set, Touch, Delete) go straight
// through the pool, which prepares each statement once per connection and
// caches it; everything else the Store does (creating the table, pruning,
// Count, Range, Clear, Stats) goes through a *sql.DB that pgx's stdlib opens
// over the same pool. The Store behaves exactly as one made by sqlstore.New:
// the same table, options, errors and contracts. Only the path to the
// database is shorter, which is worth most at high concurrency.
//
// The package imports pgx, and so only programs that use it link pgx; it
// links no SQLite or MySQL code.
package pgxnative

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/go-sqlstore/sqlstore"
)

// New returns a Store over pool, which the caller owns: Store.Close releases
// what New opened on top of it, never the pool itself, so close the pool
// after the Store. The options are those of sqlstore.New; the dialect is
// always sqlstore.Postgres.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	if pool == nil {
		return nil, errors.New("sqlstore: pgxnative.New: nil *pgxpool.Pool")
	}
	db := stdlib.OpenDBFromPool(pool)
	s, err := newStore(ctx, pool, db, true, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// newStore returns a Store whose requests go through pool and the rest
// through db, a database/sql handle over the same pool; with ownsDB the
// Store closes db when it closes.
func newStore(ctx context.Context, pool *pgxpool.Pool, db *sql.DB, ownsDB bool, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	q := &querier{pool: pool}
	if ownsDB {
		q.db = db
	}
	// The caller's options come first, so that the dialect and the
	// Querier, which must match the pool, are always these.
	all := make([]sqlstore.Option, 0, len(opts)+2)
	all = append(append(all, opts...), sqlstore.WithDialect(sqlstore.Postgres), sqlstore.WithQuerier(q))
	return sqlstore.New(ctx, db, all...)
}

// querier is the sqlstore.Querier over a pool. It closes db, the
// database/sql handle New opened over the pool, when the Store closes.
type querier struct {
	pool *pgxpool.Pool
	db   *sql.DB // nil when the caller owns it
}

func (q *querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.pool.QueryRow(ctx, query, args...)
}

func (q *querier) Exec(ctx context.Context, query string, args ...any) error {
	_, err := q.pool.Exec(ctx, query, args...)
	return err
}

// ExecRows makes the querier a sqlstore.RowsQuerier.
func (q *querier) ExecRows(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.pool.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q *querier) Close() error {
	if q.db == nil {
		return nil
	}
	return q.db.Close()
}
