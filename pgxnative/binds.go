package pgxnative

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/go-sqlstore/sqlstore/internal/req"
)

// The querier runs Get, Set, Touch and Delete from their typed bind values
// (req.Runner). Passed to pgx as they are, a string, a []byte or a time.Time
// each costs an allocation (boxing into an interface, and pgx wrapping each
// time again), and so does the []any that holds them. Here the values go
// into a reused binds, and pgx gets pointers into it, which it encodes
// through its Valuer interfaces without allocating. The order of the values
// in each statement is that of the Values method of its req type.

// binds holds the bind values of one statement while it runs.
type binds struct {
	key, owner textArg
	data       bytesArg
	t          [5]timeArg
	args       [7]any
	dest       [1]any
	out        []byte
}

var bindsPool = sync.Pool{New: func() any { return new(binds) }}

// release clears b, so that the pool holds no session's data, and returns
// it to the pool.
func (b *binds) release() {
	*b = binds{}
	bindsPool.Put(b)
}

// textArg is a text bind value, NULL unless valid.
type textArg struct {
	s     string
	valid bool
}

func (a *textArg) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: a.s, Valid: a.valid}, nil
}

// bytesArg is a bytea bind value.
type bytesArg struct{ b []byte }

func (a *bytesArg) BytesValue() ([]byte, error) { return a.b, nil }

// timeArg is a timestamptz bind value.
type timeArg struct{ t time.Time }

func (a *timeArg) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: a.t, Valid: true}, nil
}

// Get runs Get's statement, returning the data pgx allocated for it.
func (q *querier) Get(ctx context.Context, query string, a req.Get) ([]byte, error) {
	b := bindsPool.Get().(*binds)
	defer b.release()
	b.key = textArg{a.Key, true}
	b.t[0].t, b.t[1].t = a.Now, req.CutoffTime(a.Cutoff)
	b.args = [7]any{&b.key, &b.t[0], &b.t[1]}
	b.dest[0] = &b.out
	err := q.pool.QueryRow(ctx, query, b.args[:3]...).Scan(b.dest[:]...)
	return b.out, err
}

// Set runs Set's statement.
func (q *querier) Set(ctx context.Context, query string, a req.Set) (int64, error) {
	b := bindsPool.Get().(*binds)
	defer b.release()
	owner, ok := a.Owner.(string) // or nil: NULL
	b.key, b.data, b.owner = textArg{a.Key, true}, bytesArg{a.Data}, textArg{owner, ok}
	b.t[0].t, b.t[1].t = a.Expiry, a.Now
	b.args = [7]any{&b.key, &b.data, &b.t[0], &b.owner, &b.t[1], &b.t[1], a.SetOwner}
	return q.ExecRows(ctx, query, b.args[:]...)
}

// Touch runs Touch's statement.
func (q *querier) Touch(ctx context.Context, query string, a req.Touch) (int64, error) {
	b := bindsPool.Get().(*binds)
	defer b.release()
	b.key = textArg{a.Key, true}
	b.t = [5]timeArg{{a.Expiry}, {a.Now}, {a.Low}, {a.High}, {req.CutoffTime(a.Cutoff)}}
	b.args = [7]any{&b.t[0], &b.t[1], &b.key, &b.t[1], &b.t[2], &b.t[3], &b.t[4]}
	return q.ExecRows(ctx, query, b.args[:]...)
}

// Delete runs Delete's statement.
func (q *querier) Delete(ctx context.Context, query string, a req.Delete) (int64, error) {
	b := bindsPool.Get().(*binds)
	defer b.release()
	b.key = textArg{a.Key, true}
	b.args[0] = &b.key
	return q.ExecRows(ctx, query, b.args[:1]...)
}

var _ req.Runner = (*querier)(nil)
