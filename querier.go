package sqlstore

import "context"

// Querier runs the statements a Store issues on every request (those of Get,
// Set, Touch and Delete) through a driver's own interface instead of
// database/sql, for a driver whose native pool is faster than its
// database/sql driver. Package pgxnative provides one for pgx's pgxpool.
//
// With a Querier (WithQuerier), the Store prepares none of those statements
// itself: it passes the SQL of its dialect and the bind values, as database/sql
// would, and the Querier runs them. The Querier must report context
// cancellation and end its calls when their contexts end, as database/sql
// does. Everything else (creating the table, pruning, Count, Range, Clear,
// Stats) still goes through the *sql.DB given to New, which should reach the
// same database.
//
// If the Querier implements io.Closer, Store.Close closes it.
type Querier interface {
	// QueryRow runs query, which returns at most one row, with args as
	// bind values. Scanning the Row with no row reports an error for which
	// errors.Is(err, sql.ErrNoRows) holds.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs query, which returns no rows, with args as bind values.
	Exec(ctx context.Context, query string, args ...any) error
}

// Row is the result of Querier.QueryRow, as *sql.Row is of
// DB.QueryRowContext.
type Row interface {
	// Scan copies the row's columns into dest, or returns the error of the
	// query; sql.ErrNoRows (possibly wrapped) when there was no row.
	Scan(dest ...any) error
}

// RowsQuerier is a Querier that also reports how many rows a statement
// changed, so that a Store can tell a write that changed nothing (a Touch
// below the threshold, a Set of an ended session) to its Observer. Package
// pgxnative's Querier is one.
type RowsQuerier interface {
	Querier
	// ExecRows is Exec, returning the rows the statement changed.
	ExecRows(ctx context.Context, query string, args ...any) (int64, error)
}
