// Package req holds the bind values of the statements a sqlstore.Store runs
// on every request (those of Get, Set, Touch and Delete), typed, so that the
// compiler checks them and a driver's own path (package pgxnative) can pass
// them on without boxing each one. Each Values method is the one place the
// order of a statement's bind values is written for database/sql; a Runner
// keeps the same order, and the conformance suite run through it checks it.
package req

import "context"

// Get are the bind values of Dialect.Get. Now and Cutoff are as the
// dialect's EncodeTime returns them.
type Get struct {
	Key         string
	Now, Cutoff any
}

// Values returns the bind values in the statement's order.
func (a Get) Values() []any { return []any{a.Key, a.Now, a.Cutoff} }

// Set are the bind values of Dialect.Set. Now is both the created and the
// updated time of the row; Owner is nil for none, else a string.
type Set struct {
	Key           string
	Data          []byte
	Expiry, Owner any
	Now           any
	SetOwner      bool
}

// Values returns the bind values in the statement's order.
func (a Set) Values() []any {
	return []any{a.Key, a.Data, a.Expiry, a.Owner, a.Now, a.Now, a.SetOwner}
}

// Touch are the bind values of Dialect.Touch: the new expiry, now (the
// updated time, and the time liveness is judged at), the key, the throttle
// window [Low, High] that a write must leave, and the absolute cutoff.
type Touch struct {
	Expiry, Now, Low, High, Cutoff any
	Key                            string
}

// Values returns the bind values in the statement's order.
func (a Touch) Values() []any {
	return []any{a.Expiry, a.Now, a.Key, a.Now, a.Low, a.High, a.Cutoff}
}

// Delete are the bind values of Dialect.Delete.
type Delete struct {
	Key string
}

// Values returns the bind values in the statement's order.
func (a Delete) Values() []any { return []any{a.Key} }

// Runner is a sqlstore.Querier that also runs the request statements from
// their typed bind values, in the order of the Values methods. A Store whose
// Querier is a Runner uses these methods instead of QueryRow and Exec. Get
// reports a missing row with an error for which errors.Is(err,
// sql.ErrNoRows) holds; the others return the rows the statement changed.
type Runner interface {
	Get(ctx context.Context, query string, a Get) ([]byte, error)
	Set(ctx context.Context, query string, a Set) (int64, error)
	Touch(ctx context.Context, query string, a Touch) (int64, error)
	Delete(ctx context.Context, query string, a Delete) (int64, error)
}
