// Package req holds the bind values of the statements a sqlstore.Store runs
// on every request (those of Get, Set, Touch and Delete), typed, so that the
// compiler checks them and a driver's own path (package pgxnative) can pass
// them on without boxing each one. Each Values method is the one place the
// order of a statement's bind values is written for database/sql; a Runner
// keeps the same order, and the conformance suite run through it checks it.
package req

import (
	"context"
	"time"
)

// Epoch is the absolute cutoff bound for a zero Cutoff (a store without an
// absolute timeout): the Unix epoch, before any session's creation.
var Epoch = time.Unix(0, 0).UTC()

// CutoffTime returns the absolute cutoff t as bound: Epoch when zero.
func CutoffTime(t time.Time) time.Time {
	if t.IsZero() {
		return Epoch
	}
	return t
}

// Times turns the times of a request into bind values for database/sql.
type Times struct {
	Encode func(time.Time) any // the dialect's EncodeTime
	Epoch  any                 // Encode(Epoch), encoded once
}

// NewTimes returns the Times of a dialect's EncodeTime.
func NewTimes(encode func(time.Time) any) Times {
	return Times{Encode: encode, Epoch: encode(Epoch)}
}

// Cutoff returns the bind value of an absolute cutoff (CutoffTime).
func (e Times) Cutoff(t time.Time) any {
	if t.IsZero() {
		return e.Epoch
	}
	return e.Encode(t)
}

// Args holds the bind values of one statement for database/sql. The Values
// methods fill one the caller provides, which can stay on its stack.
type Args [7]any

// Get are the bind values of Dialect.Get. A zero Cutoff means no absolute
// timeout.
type Get struct {
	Key         string
	Now, Cutoff time.Time
}

// Values returns the bind values in the statement's order.
func (a Get) Values(e Times, to *Args) []any {
	to[0], to[1], to[2] = a.Key, e.Encode(a.Now), e.Cutoff(a.Cutoff)
	return to[:3]
}

// Set are the bind values of Dialect.Set. Now is both the created and the
// updated time of the row; Owner is nil for none, else a string.
type Set struct {
	Key         string
	Data        []byte
	Expiry, Now time.Time
	Owner       any
	SetOwner    bool
}

// Values returns the bind values in the statement's order.
func (a Set) Values(e Times, to *Args) []any {
	now := e.Encode(a.Now)
	*to = Args{a.Key, a.Data, e.Encode(a.Expiry), a.Owner, now, now, a.SetOwner}
	return to[:]
}

// Touch are the bind values of Dialect.Touch: the new expiry, now (the
// updated time, and the time liveness is judged at), the key, the throttle
// window [Low, High] that a write must leave, and the absolute cutoff (zero
// for none).
type Touch struct {
	Expiry, Now, Low, High, Cutoff time.Time
	Key                            string
}

// Values returns the bind values in the statement's order.
func (a Touch) Values(e Times, to *Args) []any {
	now := e.Encode(a.Now)
	*to = Args{e.Encode(a.Expiry), now, a.Key, now, e.Encode(a.Low), e.Encode(a.High), e.Cutoff(a.Cutoff)}
	return to[:]
}

// Delete are the bind values of Dialect.Delete.
type Delete struct {
	Key string
}

// Values returns the bind values in the statement's order.
func (a Delete) Values(_ Times, to *Args) []any {
	to[0] = a.Key
	return to[:1]
}

// Runner is a sqlstore.Querier that also runs the request statements from
// their typed bind values, in the order of the Values methods, encoding the
// times as its driver binds them (a zero Cutoff as the Unix epoch). A Store whose
// Querier is a Runner uses these methods instead of QueryRow and Exec. Get
// reports a missing row with an error for which errors.Is(err,
// sql.ErrNoRows) holds; the others return the rows the statement changed.
type Runner interface {
	Get(ctx context.Context, query string, a Get) ([]byte, error)
	Set(ctx context.Context, query string, a Set) (int64, error)
	Touch(ctx context.Context, query string, a Touch) (int64, error)
	Delete(ctx context.Context, query string, a Delete) (int64, error)
}
