package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// BenchmarkOverhead measures what sqlstore itself costs per call: each
// operation through the Store against the least code that can do it (one
// prepared statement, the id as given), both over a driver that answers
// without a database. With no network and no server in the way the
// difference is sqlstore's own time and allocations, the same on every run
// and every machine load, which the benchmarks against real databases
// cannot resolve (their round trip is 100 times larger and noisier):
//
//	go test -run '^$' -bench Overhead -benchmem -count 6
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	db := sql.OpenDB(nullConnector{})
	defer db.Close()
	db.SetMaxIdleConns(4)
	s, err := sqlstore.New(ctx, db, sqlstore.WithDialect(sqlstore.Postgres), sqlstore.WithSchema("public"),
		sqlstore.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := sqlstore.Postgres
	t := sqlstore.Table{Schema: d.QuoteIdent("public"), Name: d.QuoteIdent("sessions"),
		ID: d.QuoteIdent("token"), Data: d.QuoteIdent("data"), Expiry: d.QuoteIdent("expiry")}
	prep := func(q string) *sql.Stmt {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	get, set, touch := prep(d.Get(t)), prep(d.Set(t)), prep(d.Touch(t))
	id, data := benchID(), make([]byte, benchPayload)
	var epoch any = time.Unix(0, 0).UTC() // the absolute timeout's cutoff when there is none

	b.Run("Get/sqlstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, found, err := s.Get(ctx, id); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
	// The same Get with an Observer that does nothing: what telling one
	// costs the Store (reading the clock, building the Event).
	so, err := sqlstore.New(ctx, db, sqlstore.WithDialect(sqlstore.Postgres), sqlstore.WithSchema("public"),
		sqlstore.WithPruneInterval(0), sqlstore.WithObserver(nopObserver{}))
	if err != nil {
		b.Fatal(err)
	}
	defer so.Close()
	b.Run("Get/sqlstore+observer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, found, err := so.Get(ctx, id); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("Get/floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got []byte
			if err := get.QueryRowContext(ctx, id, time.Now(), epoch).Scan(&got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set/sqlstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Set(ctx, id, data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set/floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now()
			if _, err := set.ExecContext(ctx, id, data, now.Add(time.Hour), nil, now, now, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Touch/sqlstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Touch(ctx, id, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Touch/floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now()
			exp := now.Add(time.Hour)
			if _, err := touch.ExecContext(ctx, exp, now, id, now, exp, exp, epoch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nopObserver is an Observer that does nothing.
type nopObserver struct{}

func (nopObserver) Observe(context.Context, sqlstore.Event) {}

// nullConnector is a database/sql driver with no database behind it: the
// catalog queries list the default columns and indexes, every other query
// returns one row of one column (a fixed 1 KiB value), every statement
// affects one row.
type nullConnector struct{}

func (nullConnector) Connect(context.Context) (driver.Conn, error) { return nullConn{}, nil }
func (nullConnector) Driver() driver.Driver                        { return nullDriver{} }

type nullDriver struct{}

func (nullDriver) Open(string) (driver.Conn, error) { return nullConn{}, nil }

type nullConn struct{}

func (nullConn) Prepare(q string) (driver.Stmt, error) { return nullStmt{q: q}, nil }
func (nullConn) Close() error                          { return nil }
func (nullConn) Begin() (driver.Tx, error)             { return nullTx{}, nil }

type nullTx struct{}

func (nullTx) Commit() error   { return nil }
func (nullTx) Rollback() error { return nil }

type nullStmt struct{ q string }

func (nullStmt) Close() error  { return nil }
func (nullStmt) NumInput() int { return -1 }
func (nullStmt) Exec([]driver.Value) (driver.Result, error) {
	return driver.RowsAffected(1), nil
}

var nullValue = make([]byte, benchPayload)

func (s nullStmt) Query([]driver.Value) (driver.Rows, error) {
	switch {
	case strings.Contains(s.q, "information_schema"): // the table's columns
		return &nullRows{rows: [][]driver.Value{{"token"}, {"data"}, {"expiry"}, {"owner"}, {"created"}, {"updated"}, {"ended"}}}, nil
	case strings.Contains(s.q, "pg_index"): // its indexes
		return &nullRows{rows: [][]driver.Value{{"sessions_expiry_idx", true}, {"sessions_owner_idx", true}}}, nil
	}
	return &nullRows{rows: [][]driver.Value{{nullValue}}}, nil
}

type nullRows struct {
	rows [][]driver.Value
	i    int
}

func (r *nullRows) Columns() []string { return make([]string, len(r.rows[0])) }
func (*nullRows) Close() error        { return nil }
func (r *nullRows) Next(dest []driver.Value) error {
	if r.i == len(r.rows) {
		return io.EOF
	}
	copy(dest, r.rows[r.i])
	r.i++
	return nil
}
