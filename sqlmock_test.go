package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/go-sqlstore/sqlstore"
)

// These tests pin, with go-sqlmock and exact matching, the SQL every
// operation sends on every dialect and the arguments it binds. The expected
// SQL is read from testdata/golden (goldenSQL), never built by the dialect
// under test; TestGolden checks those files against the dialects.

// smNow is the store clock of the mock tests: 2024-03-05 10:20:30.123 once
// truncated to the millisecond.
var smNow = time.Date(2024, 3, 5, 10, 20, 30, 123456789, time.UTC)

func smClock() time.Time { return smNow }

const (
	smID  = "session-id-1"
	smKey = "14cfca0a6d955280ebdc3d1f762426a26b39b698cf005ff977319b22d95120b8" // sha256sum of smID
)

// smDialect is what one dialect must send for the default names.
type smDialect struct {
	name                string
	d                   sqlstore.Dialect
	schemaQ, schema     string // current-schema query and its result
	columns, indexes    string
	lockName            string // advisory lock name of schema.sessions
	createLock          string
	create, createPlain []string // hashed ids, plain ids
	get, set, touch     string
	del, count, rng     string
	clear, prune, stats string
	endCreated          string
	size                string
	tryLock, unlock     string
}

// smColumns are the columns of a current table with the default names:
// those every version had, then those the upgrade adds.
var smColumns = []string{"token", "data", "expiry", "owner", "created", "updated", "ended"}

// smIndexes are the indexes of a current table with the default names,
// besides its primary key.
var smIndexes = []string{"sessions_expiry_idx", "sessions_owner_idx"}

// smEpoch is the Unix epoch, the cutoff every statement that judges
// liveness binds without WithAbsoluteTimeout.
const smEpoch = "1970-01-01 00:00:00.000"

// smDialects returns postgres, mysql and sqlite, in that order, with the
// statements of testdata/golden ("" where the dialect has none: no creation
// lock on MySQL and SQLite, no sweep lock on SQLite).
func smDialects(t testing.TB) []smDialect {
	t.Helper()
	cs := []smDialect{
		{name: "postgres", d: sqlstore.Postgres, schema: "public", lockName: "sqlstore_dc54aa1ba1426b6d"},
		{name: "mysql", d: sqlstore.MySQL, schema: "app", lockName: "sqlstore_7c072cc5b64f4149"},
		{name: "sqlite", d: sqlstore.SQLite, schema: "main", lockName: "sqlstore_cb1e0367ed7460b5"},
	}
	for i := range cs {
		c := &cs[i]
		q := func(name string) string { return goldenSQL(t, c.name, name) }
		c.schemaQ, c.columns, c.indexes, c.createLock = q("current_schema"), q("columns"), q("indexes"), q("create_lock")
		c.create, c.createPlain = goldenSQLs(t, c.name, "create_table"), goldenSQLs(t, c.name, "create_table_plain_ids")
		c.get, c.set, c.touch, c.del = q("get"), q("set"), q("touch"), q("delete")
		c.count, c.rng, c.clear, c.prune, c.stats = q("count"), q("range"), q("clear"), q("prune"), q("stats")
		c.endCreated = q("end_created")
		c.size, c.tryLock, c.unlock = q("table_size"), q("try_lock"), q("unlock")
		// The table and its two indexes: one CREATE TABLE, which names
		// both indexes, on MySQL; a statement each elsewhere.
		want := 3
		if c.name == "mysql" {
			want = 1
		}
		if len(c.create) != want || len(c.createPlain) != want {
			t.Fatalf("%s: %d and %d statements create the table; want %d", c.name, len(c.create), len(c.createPlain), want)
		}
	}
	return cs
}

// smUTC parses a UTC time written "2006-01-02 15:04:05.000".
func smUTC(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return t
}

// smTime matches a time.Time bind argument at the same instant, in UTC.
type smTime time.Time

func (a smTime) Match(v driver.Value) bool {
	t, ok := v.(time.Time)
	return ok && t.Equal(time.Time(a)) && t.Location() == time.UTC
}

// at returns how the dialect must bind the UTC time s: PostgreSQL a
// time.Time in UTC, MySQL the text itself, SQLite Unix milliseconds.
func (c smDialect) at(s string) driver.Value {
	switch c.name {
	case "postgres":
		return smTime(smUTC(s))
	case "mysql":
		return s
	}
	return smUTC(s).UnixMilli()
}

// raw returns the expiry value the dialect's driver scans for the UTC time s.
func (c smDialect) raw(s string) driver.Value {
	switch c.name {
	case "postgres":
		return smUTC(s).In(time.FixedZone("CET", 3600)) // lib/pq labels with the session zone
	case "mysql":
		return []byte(s + "000") // DATETIME(6) as text, without parseTime
	}
	return smUTC(s).UnixMilli()
}

// cutoff returns how the dialect must bind the cutoff of the absolute
// timeout without WithAbsoluteTimeout: the Unix epoch.
func (c smDialect) cutoff() driver.Value { return c.at(smEpoch) }

// boolean returns the value the dialect's driver scans for a boolean the
// query selects: MySQL and SQLite have none and answer 1 or 0.
func (c smDialect) boolean(b bool) driver.Value {
	if c.name == "postgres" {
		return b
	}
	if b {
		return int64(1)
	}
	return int64(0)
}

// locked returns the TryLock result row value.
func (c smDialect) locked(got bool) driver.Value {
	if c.name == "mysql" { // GET_LOCK returns 1 or 0
		if got {
			return int64(1)
		}
		return int64(0)
	}
	return got
}

func smMock(t *testing.T) (*sql.DB, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, mock
}

func smRows(cols ...string) *sqlmock.Rows { return sqlmock.NewRows(cols) }

// expectCatalog expects New's catalog queries with the default names: the
// schema, then the columns (all seven when the table exists, none if not),
// then, only when the table exists, its indexes (both valid).
func (c smDialect) expectCatalog(mock sqlmock.Sqlmock, exists bool) {
	mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("schema").AddRow(c.schema))
	cols := smRows("column_name")
	if !exists {
		mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
		return
	}
	for i := range smColumns { // in no particular order
		cols.AddRow(smColumns[(i+2)%len(smColumns)])
	}
	mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
	c.expectIndexes(mock)
}

// expectIndexes expects the query of the table's indexes, answering that
// both exist and are valid.
func (c smDialect) expectIndexes(mock sqlmock.Sqlmock) *sqlmock.ExpectedQuery {
	rows := smRows("name", "valid")
	for _, ix := range smIndexes {
		rows.AddRow(ix, c.boolean(true))
	}
	return mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnRows(rows)
}

// expectNew expects New with the default names: the catalog queries, the
// creation transaction when the table is missing, the four prepares.
func (c smDialect) expectNew(mock sqlmock.Sqlmock, exists, hashed bool) []*sqlmock.ExpectedPrepare {
	c.expectCatalog(mock, exists)
	if !exists {
		mock.ExpectBegin()
		if c.createLock != "" {
			mock.ExpectExec(c.createLock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
		}
		create := c.create
		if !hashed {
			create = c.createPlain
		}
		for _, q := range create {
			mock.ExpectExec(q).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 0))
		}
		mock.ExpectCommit()
	}
	var preps []*sqlmock.ExpectedPrepare
	for _, q := range []string{c.get, c.set, c.touch, c.del} {
		preps = append(preps, mock.ExpectPrepare(q))
	}
	return preps
}

// expectPrune expects one sweep deleting the given batch results. (It does
// not check that the statement is closed: sqlmock records that without a
// lock, a data race when the sweep runs in the background; TestMockOperations
// checks it.)
func (c smDialect) expectPrune(mock sqlmock.Sqlmock, batch int, results ...int64) *sqlmock.ExpectedPrepare {
	if c.tryLock != "" {
		mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
	}
	prep := mock.ExpectPrepare(c.prune)
	for _, n := range results {
		mock.ExpectExec(c.prune).WithArgs(c.at("2024-03-05 10:20:30.123"), batch).WillReturnResult(sqlmock.NewResult(0, n))
	}
	if c.unlock != "" {
		mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	return prep
}

func smNew(t *testing.T, c smDialect, db *sql.DB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithDialect(c.d), sqlstore.WithClock(smClock), sqlstore.WithPruneInterval(0),
	}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func smMet(t *testing.T, mock sqlmock.Sqlmock) {
	t.Helper()
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}

func TestMockNew(t *testing.T) {
	for _, c := range smDialects(t) {
		for _, exists := range []bool{false, true} {
			for _, hashed := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/exists=%v/hashed=%v", c.name, exists, hashed), func(t *testing.T) {
					db, mock := smMock(t)
					preps := c.expectNew(mock, exists, hashed)
					for _, p := range preps {
						p.WillBeClosed()
					}
					s := smNew(t, c, db, sqlstore.WithHashedIDs(hashed))
					if s.Dialect() != c.d || s.DB() != db {
						t.Error("Dialect() or DB() is not what New was given")
					}
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					smMet(t, mock) // includes: the four statements were closed
					if err := db.Ping(); err != nil {
						t.Errorf("Close closed the caller's pool: %v", err)
					}
				})
			}
		}
	}
}

// smHostileLock is the advisory lock name of the table of the hostile
// names (sqlstore.GoldenHostileNames).
const smHostileLock = "sqlstore_3b5ff5099f49f1a8"

// TestMockHostileNames runs New, with WithSchema, WithTable and WithColumns
// of the hostile names, and every operation: each sends its statement of
// testdata/golden/*_hostile.sql, and binds the schema and table unquoted
// where they are values.
func TestMockHostileNames(t *testing.T) {
	n := sqlstore.GoldenHostileNames
	opts := []sqlstore.Option{sqlstore.WithSchema(n.Schema), sqlstore.WithTable(n.Table), sqlstore.WithColumns(n.ID, n.Data, n.Expiry)}
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			q := func(name string) string { return hostileSQL(t, c.name, name) }
			create := hostileSQLs(t, c.name, "create_table")
			db, mock := smMock(t)
			// WithSchema: no current-schema query.
			mock.ExpectQuery(q("columns")).WithArgs(n.Schema, n.Table).WillReturnRows(smRows("column_name"))
			mock.ExpectBegin()
			if lock := q("create_lock"); lock != "" {
				mock.ExpectExec(lock).WithArgs(smHostileLock).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			for _, stmt := range create {
				mock.ExpectExec(stmt).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 0))
			}
			mock.ExpectCommit()
			for _, name := range []string{"get", "set", "touch", "delete"} {
				mock.ExpectPrepare(q(name))
			}
			s := smNew(t, c, db, opts...)
			smMet(t, mock)

			// CreateTableSQL gives the same statements.
			if got, err := sqlstore.CreateTableSQL(c.d, opts...); err != nil || strings.Join(got, "\n") != strings.Join(create, "\n") {
				t.Errorf("CreateTableSQL = %q, %v; want %q", got, err, create)
			}

			// Every operation sends its statement; the driver's error ends it.
			boom := errors.New("boom")
			now, exp, cut := c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 11:20:30.123"), c.cutoff()
			mock.ExpectQuery(q("get")).WithArgs(smKey, now, cut).WillReturnError(boom)
			mock.ExpectExec(q("set")).WithArgs(smKey, []byte("x"), exp, nil, now, now, false).WillReturnError(boom)
			mock.ExpectExec(q("touch")).WithArgs(exp, now, smKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillReturnError(boom)
			mock.ExpectExec(q("delete")).WithArgs(smKey).WillReturnError(boom)
			mock.ExpectQuery(q("count")).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectExec(q("clear")).WithoutArgs().WillReturnError(boom)
			mock.ExpectQuery(q("range")).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectQuery(q("stats")).WithArgs(now, cut, now, cut, now, cut).WillReturnError(boom)
			mock.ExpectQuery(q("table_size")).WithArgs(n.Schema, n.Table).WillReturnError(boom)
			tryLock, unlock := q("try_lock"), q("unlock")
			if tryLock != "" {
				mock.ExpectQuery(tryLock).WithArgs(smHostileLock).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(q("prune")).WillBeClosed()
			mock.ExpectExec(q("prune")).WithArgs(now, 1000).WillReturnError(boom)
			if unlock != "" {
				mock.ExpectExec(unlock).WithArgs(smHostileLock).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			if tryLock != "" { // PruneProgress
				mock.ExpectQuery(tryLock).WithArgs(smHostileLock).WillReturnError(boom)
			} else {
				mock.ExpectPrepare(q("prune")).WillReturnError(boom)
			}
			for op, err := range smAllCalls(context.Background(), s) {
				if !errors.Is(err, boom) {
					t.Errorf("%s = %v; want the driver's error after the expected statement", op, err)
				}
			}
			smMet(t, mock)
		})
	}
}

func TestMockOperations(t *testing.T) {
	for _, c := range smDialects(t) {
		for _, hashed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/hashed=%v", c.name, hashed), func(t *testing.T) {
				key := smKey
				if !hashed {
					key = smID
				}
				ctx := context.Background()
				db, mock := smMock(t)
				c.expectNew(mock, true, hashed)
				s := smNew(t, c, db, sqlstore.WithHashedIDs(hashed), sqlstore.WithPruneBatchSize(2))
				smMet(t, mock)
				if got := s.Key(smID); got != key {
					t.Fatalf("Key(%q) = %q, want %q", smID, got, key)
				}
				now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
				ist := time.FixedZone("IST", 5*3600+1800)
				exp := time.Date(2024, 3, 6, 15, 0, 0, 987654321, ist) // 09:30:00.987654321 UTC

				// Get: found, binary-safe.
				payload := []byte("a\x00b\xff\xfe")
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(smRows("data").AddRow(payload))
				data, found, err := s.Get(ctx, smID)
				if err != nil || !found || !bytes.Equal(data, payload) {
					t.Errorf("Get = %q, %v, %v; want %q, true, nil", data, found, err, payload)
				}
				// Get: an empty value is found and not nil.
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(smRows("data").AddRow([]byte{}))
				data, found, err = s.Get(ctx, smID)
				if err != nil || !found || data == nil || len(data) != 0 {
					t.Errorf("Get(empty) = %#v, %v, %v; want []byte{}, true, nil", data, found, err)
				}
				// Get: missing is not an error.
				mock.ExpectQuery(c.get).WithArgs(key, now, cut).WillReturnRows(smRows("data"))
				data, found, err = s.Get(ctx, smID)
				if err != nil || found || data != nil {
					t.Errorf("Get(missing) = %q, %v, %v; want nil, false, nil", data, found, err)
				}

				// Set: expiry converted to UTC and truncated to the millisecond,
				// no owner, now as created and updated, the owner kept.
				mock.ExpectExec(c.set).WithArgs(key, payload, c.at("2024-03-06 09:30:00.987"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Set(ctx, smID, payload, exp); err != nil {
					t.Errorf("Set: %v", err)
				}
				// Set: zero expiry is now + 24h; nil data is stored as empty.
				mock.ExpectExec(c.set).WithArgs(key, []byte{}, c.at("2024-03-06 10:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Set(ctx, smID, nil, time.Time{}); err != nil {
					t.Errorf("Set(nil, zero): %v", err)
				}

				// Touch: expiry, now (updated), key, now, then the 5 s window
				// around the expiry, then the cutoff.
				mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-06 09:30:00.987"), now, key, now,
					c.at("2024-03-06 09:29:55.987"), c.at("2024-03-06 09:30:05.987"), cut).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := s.Touch(ctx, smID, exp); err != nil {
					t.Errorf("Touch: %v", err)
				}
				mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-06 10:20:30.123"), now, key, now,
					c.at("2024-03-06 10:20:25.123"), c.at("2024-03-06 10:20:35.123"), cut).WillReturnResult(sqlmock.NewResult(0, 0))
				if err := s.Touch(ctx, smID, time.Time{}); err != nil {
					t.Errorf("Touch(zero): %v", err)
				}

				// Delete: the UPDATE that ends the session; a missing id is
				// not an error.
				if !strings.HasPrefix(c.del, "UPDATE ") {
					t.Fatalf("delete of testdata/golden/%s.sql is %q; want the UPDATE that ends the session", c.name, c.del)
				}
				mock.ExpectExec(c.del).WithArgs(key).WillReturnResult(sqlmock.NewResult(0, 0))
				if err := s.Delete(ctx, smID); err != nil {
					t.Errorf("Delete: %v", err)
				}

				// Count.
				mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnRows(smRows("count").AddRow(int64(7)))
				if n, err := s.Count(ctx); err != nil || n != 7 {
					t.Errorf("Count = %d, %v; want 7", n, err)
				}

				// Clear: no arguments.
				mock.ExpectExec(c.clear).WithoutArgs().WillReturnResult(sqlmock.NewResult(0, 12))
				if err := s.Clear(ctx); err != nil {
					t.Errorf("Clear: %v", err)
				}

				// Range: decodes expiry to UTC, stops when fn returns false,
				// closes the rows.
				mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(smRows("token", "data", "expiry").
					AddRow("k1", []byte("one"), c.raw("2024-03-06 09:30:00.987")).
					AddRow("k2", []byte{}, c.raw("2024-03-07 00:00:00.001")).
					AddRow("k3", []byte("three"), c.raw("2024-03-08 00:00:00.000"))).RowsWillBeClosed()
				type item struct {
					id, data string
					exp      time.Time
				}
				var seen []item
				err = s.Range(ctx, func(id string, data []byte, exp time.Time) bool {
					if data == nil {
						t.Errorf("Range gave nil data for %s", id)
					}
					seen = append(seen, item{id, string(data), exp})
					return len(seen) < 2
				})
				if err != nil || len(seen) != 2 {
					t.Fatalf("Range = %v after %d calls; want nil after 2", err, len(seen))
				}
				for i, w := range []item{{"k1", "one", smUTC("2024-03-06 09:30:00.987")}, {"k2", "", smUTC("2024-03-07 00:00:00.001")}} {
					if g := seen[i]; g.id != w.id || g.data != w.data || !g.exp.Equal(w.exp) || g.exp.Location() != time.UTC {
						t.Errorf("Range item %d = %+v, want %+v in UTC", i, g, w)
					}
				}

				// Stats: now, cutoff, now, cutoff, now, cutoff; live, ended, expired,
				// earliest and latest expiry.
				mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(smRows("live", "ended", "expired", "min", "max").
					AddRow(int64(3), int64(4), int64(2), c.raw("2024-03-01 00:00:00.000"), c.raw("2024-04-01 12:00:00.500")))
				st, err := s.Stats(ctx)
				if err != nil || st.Live != 3 || st.Ended != 4 || st.Expired != 2 || !st.Oldest.Equal(smUTC("2024-03-01 00:00:00.000")) ||
					!st.Newest.Equal(smUTC("2024-04-01 12:00:00.500")) || st.Newest.Location() != time.UTC || st.Oldest.Location() != time.UTC {
					t.Errorf("Stats = %+v, %v", st, err)
				}
				mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(smRows("live", "ended", "expired", "min", "max").
					AddRow(int64(0), int64(0), int64(0), nil, nil))
				if st, err := s.Stats(ctx); err != nil || st != (sqlstore.Stats{}) {
					t.Errorf("Stats(empty) = %+v, %v; want zero", st, err)
				}

				// TableSize: schema and table unquoted; NULL is 0.
				mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnRows(smRows("size").AddRow(int64(16384)))
				if n, err := s.TableSize(ctx); err != nil || n != 16384 {
					t.Errorf("TableSize = %d, %v; want 16384", n, err)
				}
				mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnRows(smRows("size").AddRow(nil))
				if n, err := s.TableSize(ctx); err != nil || n != 0 {
					t.Errorf("TableSize(NULL) = %d, %v; want 0", n, err)
				}

				// Prune: batches of 2 until a short one (2, 2, 1): 5 rows,
				// behind the advisory lock on PostgreSQL and MySQL.
				c.expectPrune(mock, 2, 2, 2, 1).WillBeClosed()
				if n, err := s.Prune(ctx); err != nil || n != 5 {
					t.Errorf("Prune = %d, %v; want 5", n, err)
				}
				// A sweep ending on a full batch asks once more.
				c.expectPrune(mock, 2, 2, 2, 0)
				var progress []int64
				if n, err := s.PruneProgress(ctx, func(n int64) { progress = append(progress, n) }); err != nil || n != 4 {
					t.Errorf("PruneProgress = %d, %v; want 4", n, err)
				}
				if fmt.Sprint(progress) != "[2 4]" {
					t.Errorf("PruneProgress reported %v, want [2 4]", progress)
				}
				smMet(t, mock)
			})
		}
	}
}

func TestMockTouchThresholdAndTTL(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			exp := smUTC("2024-03-05 12:00:00.250")
			now := c.at("2024-03-05 10:20:30.123")

			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db, sqlstore.WithTouchThreshold(time.Minute), sqlstore.WithDefaultTTL(time.Hour))
			mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-05 12:00:00.250"), now, smKey, now,
				c.at("2024-03-05 11:59:00.250"), c.at("2024-03-05 12:01:00.250"), c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, smID, exp); err != nil {
				t.Error(err)
			}
			mock.ExpectExec(c.set).WithArgs(smKey, []byte("x"), c.at("2024-03-05 11:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, smID, []byte("x"), time.Time{}); err != nil {
				t.Error(err)
			}
			smMet(t, mock)

			// Threshold 0: the window is the expiry itself, so every Touch writes.
			db, mock = smMock(t)
			c.expectNew(mock, true, true)
			s = smNew(t, c, db, sqlstore.WithTouchThreshold(0))
			mock.ExpectExec(c.touch).WithArgs(c.at("2024-03-05 12:00:00.250"), now, smKey, now,
				c.at("2024-03-05 12:00:00.250"), c.at("2024-03-05 12:00:00.250"), c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, smID, exp); err != nil {
				t.Error(err)
			}
			smMet(t, mock)
		})
	}
}

// TestMockAbsoluteTimeout: with WithAbsoluteTimeout, every statement that
// judges liveness binds now minus the timeout as its cutoff, and a sweep
// runs EndCreated with that cutoff after Prune.
func TestMockAbsoluteTimeout(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db, sqlstore.WithAbsoluteTimeout(90*time.Minute), sqlstore.WithPruneBatchSize(2))
			smMet(t, mock)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 08:50:30.123")
			exp := c.at("2024-03-05 11:20:30.123")

			mock.ExpectQuery(c.get).WithArgs(smKey, now, cut).WillReturnRows(smRows("data"))
			if _, found, err := s.Get(ctx, smID); err != nil || found {
				t.Errorf("Get = %v, %v; want not found", found, err)
			}
			// Set binds no cutoff: created is now.
			mock.ExpectExec(c.set).WithArgs(smKey, []byte("x"), exp, nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, smID, []byte("x"), smNow.Add(time.Hour)); err != nil {
				t.Errorf("Set: %v", err)
			}
			mock.ExpectExec(c.touch).WithArgs(exp, now, smKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).
				WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, smID, smNow.Add(time.Hour)); err != nil {
				t.Errorf("Touch: %v", err)
			}
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnRows(smRows("count").AddRow(int64(2)))
			if n, err := s.Count(ctx); err != nil || n != 2 {
				t.Errorf("Count = %d, %v; want 2", n, err)
			}
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(smRows("token", "data", "expiry"))
			if err := s.Range(ctx, func(string, []byte, time.Time) bool { return true }); err != nil {
				t.Errorf("Range: %v", err)
			}
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(smRows("live", "ended", "expired", "min", "max").
				AddRow(int64(1), int64(0), int64(5), nil, nil))
			if st, err := s.Stats(ctx); err != nil || st != (sqlstore.Stats{Live: 1, Expired: 5}) {
				t.Errorf("Stats = %+v, %v; want 1 live, 5 expired", st, err)
			}

			// A sweep: the expired sessions in batches of 2 (2, 1), then
			// those past the absolute timeout (2, 0), each statement
			// prepared and closed, all behind the one lock.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnResult(sqlmock.NewResult(0, 2))
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectPrepare(c.endCreated).WillBeClosed()
			mock.ExpectExec(c.endCreated).WithArgs(cut, 2).WillReturnResult(sqlmock.NewResult(0, 2))
			mock.ExpectExec(c.endCreated).WithArgs(cut, 2).WillReturnResult(sqlmock.NewResult(0, 0))
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			var progress []int64
			if n, err := s.PruneProgress(ctx, func(n int64) { progress = append(progress, n) }); err != nil || n != 5 {
				t.Errorf("PruneProgress = %d, %v; want 5", n, err)
			}
			if fmt.Sprint(progress) != "[2 3 5]" {
				t.Errorf("PruneProgress reported %v, want [2 3 5]", progress)
			}
			smMet(t, mock)

			// A failed Prune batch ends the sweep before EndCreated.
			boom := errors.New("boom")
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 2).WillReturnError(boom)
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			if _, err := s.Prune(ctx); !errors.Is(err, boom) {
				t.Errorf("Prune with a failing batch = %v; want boom", err)
			}
			smMet(t, mock)
		})
	}
	// A negative timeout is refused before any query.
	db, mock := smMock(t)
	if _, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithAbsoluteTimeout(-time.Second)); err == nil ||
		!strings.Contains(err.Error(), "WithAbsoluteTimeout: -1s is negative") {
		t.Errorf("New(WithAbsoluteTimeout(-1s)) = %v; want an error naming the option", err)
	}
	smMet(t, mock)
}

// smAllCalls calls every method of s and returns the errors by name.
func smAllCalls(ctx context.Context, s *sqlstore.Store) map[string]error {
	errs := map[string]error{}
	_, _, errs["Get"] = s.Get(ctx, smID)
	errs["Set"] = s.Set(ctx, smID, []byte("x"), smNow.Add(time.Hour))
	errs["Touch"] = s.Touch(ctx, smID, smNow.Add(time.Hour))
	errs["Delete"] = s.Delete(ctx, smID)
	_, errs["Count"] = s.Count(ctx)
	errs["Clear"] = s.Clear(ctx)
	errs["Range"] = s.Range(ctx, func(string, []byte, time.Time) bool { return true })
	_, errs["Stats"] = s.Stats(ctx)
	_, errs["TableSize"] = s.TableSize(ctx)
	_, errs["Prune"] = s.Prune(ctx)
	_, errs["PruneProgress"] = s.PruneProgress(ctx, func(int64) {})
	return errs
}

func TestMockDriverErrorsWrapped(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			boom := errors.New("boom: connection reset by peer")
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
			exp := c.at("2024-03-05 11:20:30.123")
			mock.ExpectQuery(c.get).WithArgs(smKey, now, cut).WillReturnError(boom)
			mock.ExpectExec(c.set).WithArgs(smKey, []byte("x"), exp, nil, now, now, false).WillReturnError(boom)
			mock.ExpectExec(c.touch).WithArgs(exp, now, smKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillReturnError(boom)
			mock.ExpectExec(c.del).WithArgs(smKey).WillReturnError(boom)
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectExec(c.clear).WithoutArgs().WillReturnError(boom)
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnError(boom)
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnError(boom)
			mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillReturnError(boom)
			// Prune: the batch fails; the lock is still released.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
			}
			mock.ExpectPrepare(c.prune).WillBeClosed()
			mock.ExpectExec(c.prune).WithArgs(now, 1000).WillReturnError(boom)
			if c.unlock != "" {
				mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			// PruneProgress: the lock query (or, on SQLite, the prepare) fails.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnError(boom)
			} else {
				mock.ExpectPrepare(c.prune).WillReturnError(boom)
			}

			for op, err := range smAllCalls(context.Background(), s) {
				if !errors.Is(err, boom) || !strings.HasPrefix(fmt.Sprint(err), "sqlstore: ") {
					t.Errorf("%s error = %v; want a sqlstore: error wrapping the driver's", op, err)
				}
			}
			smMet(t, mock)

			// A row error in the middle of Range is wrapped too.
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(smRows("token", "data", "expiry").
				AddRow("k1", []byte("a"), c.raw("2024-03-06 00:00:00.000")).
				AddRow("k2", []byte("b"), c.raw("2024-03-06 00:00:00.000")).RowError(1, boom))
			calls := 0
			err := s.Range(context.Background(), func(string, []byte, time.Time) bool { calls++; return true })
			if !errors.Is(err, boom) || calls != 1 || !strings.HasPrefix(err.Error(), "sqlstore: range") {
				t.Errorf("Range with a row error = %v after %d calls; want the wrapped error after 1", err, calls)
			}
			// An expiry of a type the dialect does not know is an error, not a zero time.
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillReturnRows(smRows("token", "data", "expiry").
				AddRow("k1", []byte("a"), true))
			if err := s.Range(context.Background(), func(string, []byte, time.Time) bool { return true }); err == nil {
				t.Error("Range with a bool expiry: nil error")
			}
			smMet(t, mock)
		})
	}
}

// smNoQuery reports an error that says a query reached the mock.
func smNoQuery(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "expect") {
		t.Errorf("%s ran a query: %v", op, err)
	}
}

func TestMockContextCanceled(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name+"/before", func(t *testing.T) {
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			for op, err := range smAllCalls(ctx, s) {
				if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s with a cancelled context = %v; want a sqlstore: error wrapping context.Canceled", op, err)
				}
				smNoQuery(t, op, err)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/during", func(t *testing.T) {
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
			exp := c.at("2024-03-05 11:20:30.123")
			slow := time.Minute
			mock.ExpectQuery(c.get).WithArgs(smKey, now, cut).WillDelayFor(slow).WillReturnRows(smRows("x").AddRow(int64(1)))
			mock.ExpectExec(c.set).WithArgs(smKey, []byte("x"), exp, nil, now, now, false).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectExec(c.touch).WithArgs(exp, now, smKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectExec(c.del).WithArgs(smKey).WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(c.count).WithArgs(now, cut).WillDelayFor(slow).WillReturnRows(smRows("x").AddRow(int64(1)))
			mock.ExpectExec(c.clear).WithoutArgs().WillDelayFor(slow).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(c.rng).WithArgs(now, cut).WillDelayFor(slow).WillReturnRows(smRows("x").AddRow(int64(1)))
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillDelayFor(slow).WillReturnRows(smRows("x").AddRow(int64(1)))
			mock.ExpectQuery(c.size).WithArgs(c.schema, "sessions").WillDelayFor(slow).WillReturnRows(smRows("x").AddRow(int64(1)))
			for i := 0; i < 2; i++ { // Prune and PruneProgress
				if c.tryLock != "" {
					mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillDelayFor(slow).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
				} else {
					mock.ExpectPrepare(c.prune).WillDelayFor(slow)
				}
			}
			errs := map[string]error{}
			for _, op := range []string{"Get", "Set", "Touch", "Delete", "Count", "Clear", "Range", "Stats", "TableSize", "Prune", "PruneProgress"} {
				ctx, cancel := context.WithCancel(context.Background())
				timer := time.AfterFunc(20*time.Millisecond, cancel)
				done := make(chan struct{})
				go func() {
					defer close(done)
					switch op {
					case "Get":
						_, _, errs[op] = s.Get(ctx, smID)
					case "Set":
						errs[op] = s.Set(ctx, smID, []byte("x"), smNow.Add(time.Hour))
					case "Touch":
						errs[op] = s.Touch(ctx, smID, smNow.Add(time.Hour))
					case "Delete":
						errs[op] = s.Delete(ctx, smID)
					case "Count":
						_, errs[op] = s.Count(ctx)
					case "Clear":
						errs[op] = s.Clear(ctx)
					case "Range":
						errs[op] = s.Range(ctx, func(string, []byte, time.Time) bool { return true })
					case "Stats":
						_, errs[op] = s.Stats(ctx)
					case "TableSize":
						_, errs[op] = s.TableSize(ctx)
					case "Prune":
						_, errs[op] = s.Prune(ctx)
					case "PruneProgress":
						_, errs[op] = s.PruneProgress(ctx, nil)
					}
				}()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not return after its context was cancelled", op)
				}
				timer.Stop()
				if err := errs[op]; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s cancelled during the query = %v; want a sqlstore: error wrapping context.Canceled", op, err)
				}
			}
			smMet(t, mock)
		})
	}
	t.Run("deadline", func(t *testing.T) {
		c := smDialects(t)[0]
		db, mock := smMock(t)
		c.expectNew(mock, true, true)
		s := smNew(t, c, db)
		mock.ExpectQuery(c.get).WithArgs(smKey, c.at("2024-03-05 10:20:30.123"), c.cutoff()).WillDelayFor(time.Minute).WillReturnRows(smRows("x").AddRow(int64(1)))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, _, err := s.Get(ctx, smID); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get past its deadline = %v; want context.DeadlineExceeded", err)
		}
	})
}

func TestMockInvalidInputRunsNoQuery(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, mock := smMock(t)
			c.expectNew(mock, true, false)
			s := smNew(t, c, db, sqlstore.WithHashedIDs(false), sqlstore.WithMaxDataSize(8))
			smMet(t, mock)
			// No expectations are left: a query would fail with the mock's
			// error instead of the sentinel.
			exp := smNow.Add(time.Hour)
			for _, id := range []string{"", strings.Repeat("a", 256), "a\x00b", "a\tb", "line\n", "\x7f", "sessão", "\xff", "日本"} {
				_, _, gerr := s.Get(ctx, id)
				for op, err := range map[string]error{
					"Get": gerr, "Set": s.Set(ctx, id, []byte("x"), exp), "Touch": s.Touch(ctx, id, exp), "Delete": s.Delete(ctx, id),
				} {
					if !errors.Is(err, sqlstore.ErrInvalidID) {
						t.Errorf("%s(%q) = %v; want ErrInvalidID", op, id, err)
					}
					smNoQuery(t, op, err)
				}
			}
			for _, data := range [][]byte{make([]byte, 9), make([]byte, 1<<20)} {
				if err := s.Set(ctx, smID, data, exp); !errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Errorf("Set(%d bytes) with WithMaxDataSize(8) = %v; want ErrDataTooLarge", len(data), err)
				}
			}
			for _, bad := range []time.Time{
				time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
				time.Date(1970, 1, 1, 3, 0, 0, 0, time.FixedZone("IST", 19800)), // 1969 in UTC
				time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			} {
				if err := s.Set(ctx, smID, []byte("x"), bad); !errors.Is(err, sqlstore.ErrInvalidExpiry) {
					t.Errorf("Set(expiry %v) = %v; want ErrInvalidExpiry", bad, err)
				}
				if err := s.Touch(ctx, smID, bad); !errors.Is(err, sqlstore.ErrInvalidExpiry) {
					t.Errorf("Touch(expiry %v) = %v; want ErrInvalidExpiry", bad, err)
				}
			}
			smMet(t, mock)

			// The limits themselves pass: a 255-byte printable id, 8 bytes of data.
			long := strings.Repeat("~", 255)
			mock.ExpectExec(c.set).WithArgs(long, []byte("12345678"), c.at("2024-03-05 11:20:30.123"), nil, c.at("2024-03-05 10:20:30.123"), c.at("2024-03-05 10:20:30.123"), false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(ctx, long, []byte("12345678"), exp); err != nil {
				t.Errorf("Set(255-byte id, 8 bytes): %v", err)
			}
			smMet(t, mock)
		})
	}
}

func TestMockClosed(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db, sqlstore.WithPruneInterval(time.Hour))
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v; want nil", err)
			}
			for op, err := range smAllCalls(context.Background(), s) {
				if !errors.Is(err, sqlstore.ErrClosed) {
					t.Errorf("%s after Close = %v; want ErrClosed", op, err)
				}
			}
			smMet(t, mock)
			if err := db.PingContext(context.Background()); err != nil {
				t.Errorf("Close closed the caller's pool: %v", err)
			}
		})
	}
}

// smStateErr is an error like lib/pq's and pgx's: it has SQLState().
type smStateErr struct{ code string }

func (e *smStateErr) Error() string {
	return "ERROR: could not serialize access (SQLSTATE " + e.code + ")"
}
func (e *smStateErr) SQLState() string { return e.code }

func TestMockRetries(t *testing.T) {
	c := smDialects(t)[1] // MySQL: the Galera case
	ctx := context.Background()
	exp := smNow.Add(time.Hour)
	now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()
	expAt := c.at("2024-03-05 11:20:30.123")
	type op struct {
		name   string
		expect func(mock sqlmock.Sqlmock) *sqlmock.ExpectedExec
		call   func(s *sqlstore.Store) error
	}
	ops := []op{
		{"Set", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.set).WithArgs(smKey, []byte("x"), expAt, nil, now, now, false)
		}, func(s *sqlstore.Store) error { return s.Set(ctx, smID, []byte("x"), exp) }},
		{"Touch", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.touch).WithArgs(expAt, now, smKey, now, c.at("2024-03-05 11:20:25.123"), c.at("2024-03-05 11:20:35.123"), cut)
		}, func(s *sqlstore.Store) error { return s.Touch(ctx, smID, exp) }},
		{"Delete", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.del).WithArgs(smKey)
		}, func(s *sqlstore.Store) error { return s.Delete(ctx, smID) }},
		{"Clear", func(m sqlmock.Sqlmock) *sqlmock.ExpectedExec {
			return m.ExpectExec(c.clear).WithoutArgs()
		}, func(s *sqlstore.Store) error { return s.Clear(ctx) }},
	}
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"sqlstate-40001", &smStateErr{"40001"}, true},
		{"sqlstate-40P01", &smStateErr{"40P01"}, true},
		{"mysql-1213", &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}, true},
		{"wrapped-1213", fmt.Errorf("driver: %w", &mysql.MySQLError{Number: 1213, Message: "Deadlock"}), true},
		{"sqlstate-23505", &smStateErr{"23505"}, false},
		{"mysql-1062", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{"mysql-1205", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false},
		{"plain", errors.New("deadlock"), false},
	} {
		for _, o := range ops {
			t.Run(tc.name+"/"+o.name, func(t *testing.T) {
				const maxRetries = 3
				db, mock := smMock(t)
				c.expectNew(mock, true, true)
				s := smNew(t, c, db, sqlstore.WithMaxRetries(maxRetries))
				if !tc.transient {
					// One attempt only: a retry would meet the mock's own
					// "not expected" error instead of tc.err.
					o.expect(mock).WillReturnError(tc.err)
					if err := o.call(s); !errors.Is(err, tc.err) {
						t.Errorf("%s = %v; want %v, not retried", o.name, err, tc.err)
					}
					smMet(t, mock)
					return
				}
				// Fails maxRetries times, then succeeds on the last attempt.
				for i := 0; i < maxRetries; i++ {
					o.expect(mock).WillReturnError(tc.err)
				}
				o.expect(mock).WillReturnResult(sqlmock.NewResult(0, 1))
				if err := o.call(s); err != nil {
					t.Errorf("%s after %d transient failures = %v; want nil", o.name, maxRetries, err)
				}
				smMet(t, mock)
				// Fails maxRetries+1 times: the error comes back, wrapped.
				for i := 0; i <= maxRetries; i++ {
					o.expect(mock).WillReturnError(tc.err)
				}
				if err := o.call(s); !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("%s after %d transient failures = %v; want the wrapped error", o.name, maxRetries+1, err)
				}
				smMet(t, mock)
			})
		}
	}
	t.Run("zero-retries", func(t *testing.T) {
		db, mock := smMock(t)
		c.expectNew(mock, true, true)
		s := smNew(t, c, db, sqlstore.WithMaxRetries(0))
		e := &mysql.MySQLError{Number: 1213, Message: "Deadlock"}
		ops[0].expect(mock).WillReturnError(e)
		if err := ops[0].call(s); !errors.Is(err, e) {
			t.Errorf("Set with WithMaxRetries(0) = %v; want %v at once", err, e)
		}
		smMet(t, mock)
	})
	t.Run("prune-batch", func(t *testing.T) {
		db, mock := smMock(t)
		c.expectNew(mock, true, true)
		s := smNew(t, c, db, sqlstore.WithPruneBatchSize(10))
		mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(int64(1)))
		mock.ExpectPrepare(c.prune)
		mock.ExpectExec(c.prune).WithArgs(now, 10).WillReturnError(&smStateErr{"40001"})
		mock.ExpectExec(c.prune).WithArgs(now, 10).WillReturnResult(sqlmock.NewResult(0, 4))
		mock.ExpectExec(c.unlock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 1))
		if n, err := s.Prune(ctx); err != nil || n != 4 {
			t.Errorf("Prune with a retried batch = %d, %v; want 4", n, err)
		}
		smMet(t, mock)
	})
	t.Run("not-for-reads", func(t *testing.T) {
		db, mock := smMock(t)
		c.expectNew(mock, true, true)
		s := smNew(t, c, db)
		e := &smStateErr{"40001"}
		mock.ExpectQuery(c.get).WithArgs(smKey, now, cut).WillReturnError(e)
		if _, _, err := s.Get(ctx, smID); !errors.Is(err, e) {
			t.Errorf("Get = %v; want %v", err, e)
		}
		smMet(t, mock)
	})
}

func TestMockNewErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range smDialects(t) {
		t.Run(c.name+"/missing-column", func(t *testing.T) {
			// A table without a column it always had is never altered.
			db, mock := smMock(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			cols := smRows("c")
			for _, col := range smColumns {
				if col == "expiry" {
					col = "expires"
				}
				cols.AddRow(col)
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
			c.expectIndexes(mock)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			want := "sqlstore: table " + c.schema + ".sessions has no column expiry"
			if err == nil || err.Error() != want {
				t.Errorf("New = %v; want %q (and no DDL)", err, want)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/missing-table-no-create", func(t *testing.T) {
			db, mock := smMock(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(smRows("c"))
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d), sqlstore.WithCreateTable(false))
			for _, want := range []string{"sqlstore: table " + c.schema + ".sessions does not exist", "schema/" + c.name + ".sql", "`sqlstore migrate`"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v; want it to contain %q", err, want)
				}
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/create-denied", func(t *testing.T) {
			db, mock := smMock(t)
			denied := &smStateErr{"42501"}
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(smRows("c"))
			mock.ExpectBegin()
			if c.createLock != "" {
				mock.ExpectExec(c.createLock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			mock.ExpectExec(c.create[0]).WithoutArgs().WillReturnError(denied)
			mock.ExpectRollback()
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, denied) {
				t.Errorf("New = %v; want it to wrap the driver's error", err)
			}
			for _, want := range []string{"sqlstore: table " + c.schema + ".sessions does not exist and this role may not create it", "run schema/" + c.name + ".sql", "`sqlstore migrate`"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v; want it to contain %q", err, want)
				}
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/create-fails", func(t *testing.T) {
			// Not a privilege error: no hint about roles, only what failed.
			db, mock := smMock(t)
			full := &smStateErr{"53100"}
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(smRows("c"))
			mock.ExpectBegin()
			if c.createLock != "" {
				mock.ExpectExec(c.createLock).WithArgs(c.lockName).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			mock.ExpectExec(c.create[0]).WithoutArgs().WillReturnError(full)
			mock.ExpectRollback()
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, full) || !strings.HasPrefix(err.Error(), "sqlstore: creating table "+c.schema+".sessions: ") ||
				strings.Contains(err.Error(), "role") {
				t.Errorf("New = %v; want the driver's error after the table's name, and no hint about roles", err)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/prepare-get-fails", func(t *testing.T) {
			db, mock := smMock(t)
			boom := errors.New("boom")
			c.expectCatalog(mock, true)
			mock.ExpectPrepare(c.get).WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: preparing") {
				t.Errorf("New = %v; want a wrapped prepare error", err)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/prepare-write-fails", func(t *testing.T) {
			// A server that refuses to prepare a write (MariaDB on a
			// read-only replica) leaves a Store that reads; the write
			// reports the refusal, and is prepared again when next run.
			db, mock := smMock(t)
			boom := errors.New("boom")
			c.expectCatalog(mock, true)
			mock.ExpectPrepare(c.get).WillBeClosed()
			mock.ExpectPrepare(c.set).WillBeClosed()
			mock.ExpectPrepare(c.touch).WillReturnError(boom)
			mock.ExpectPrepare(c.del).WillBeClosed()
			s, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d), sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(0))
			if err != nil {
				t.Fatalf("New = %v; want a Store that can read", err)
			}
			mock.ExpectPrepare(c.touch).WillReturnError(boom)
			if err := s.Touch(ctx, smID, time.Now().Add(time.Hour)); !errors.Is(err, boom) || !strings.Contains(err.Error(), "sqlstore: touch: preparing") {
				t.Errorf("Touch = %v; want the wrapped prepare error", err)
			}
			any := sqlmock.AnyArg()
			mock.ExpectPrepare(c.touch).WillBeClosed().ExpectExec().WithArgs(any, any, smKey, any, any, any, c.cutoff()).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Touch(ctx, smID, time.Now().Add(time.Hour)); err != nil {
				t.Errorf("second Touch = %v; want it prepared and run", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			smMet(t, mock) // every statement prepared was closed
		})
		t.Run(c.name+"/columns-query-fails", func(t *testing.T) {
			db, mock := smMock(t)
			boom := errors.New("boom")
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: reading the columns of "+c.schema+".sessions") {
				t.Errorf("New = %v", err)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/indexes-query-fails", func(t *testing.T) {
			db, mock := smMock(t)
			boom := errors.New("boom")
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(c.schema))
			cols := smRows("c")
			for _, col := range smColumns {
				cols.AddRow(col)
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols)
			mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnError(boom)
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sqlstore: reading the indexes of "+c.schema+".sessions") {
				t.Errorf("New = %v", err)
			}
			smMet(t, mock)
		})
		t.Run(c.name+"/no-schema", func(t *testing.T) {
			db, mock := smMock(t)
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("s").AddRow(nil))
			_, err := sqlstore.New(ctx, db, sqlstore.WithDialect(c.d))
			if err == nil || !strings.Contains(err.Error(), "WithSchema") {
				t.Errorf("New with no current database = %v; want an error suggesting WithSchema", err)
			}
			smMet(t, mock)
		})
	}

	// Errors found before any query runs.
	db, mock := smMock(t)
	for _, tc := range []struct {
		opts []sqlstore.Option
		want string
	}{
		{nil, "pass WithDialect"}, // sqlmock's driver cannot be detected
		{[]sqlstore.Option{sqlstore.WithDialect(nil)}, "sqlstore: WithDialect: nil dialect"},
		{[]sqlstore.Option{sqlstore.WithClock(nil)}, "sqlstore: WithClock: nil clock"},
		{[]sqlstore.Option{sqlstore.WithDefaultTTL(0)}, "sqlstore: WithDefaultTTL: 0s is not positive"},
		{[]sqlstore.Option{sqlstore.WithMaxDataSize(-1)}, "sqlstore: WithMaxDataSize: -1 is not positive"},
		{[]sqlstore.Option{sqlstore.WithPruneBatchSize(0)}, "sqlstore: WithPruneBatchSize: 0 is not positive"},
		{[]sqlstore.Option{sqlstore.WithTouchThreshold(-time.Second)}, "sqlstore: WithTouchThreshold: -1s is negative"},
		{[]sqlstore.Option{sqlstore.WithMaxRetries(-1)}, "sqlstore: WithMaxRetries: -1 is negative"},
		{[]sqlstore.Option{sqlstore.WithTiDBTTL("1 DAY")}, "sqlstore: WithTiDBTTL"},
		{[]sqlstore.Option{sqlstore.WithDialect(sqlstore.Postgres), sqlstore.WithTiDBTTL("1h")}, "needs the MySQL dialect"},
		{[]sqlstore.Option{sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithColumns("a", "b", "a")}, "not distinct"},
	} {
		_, err := sqlstore.New(ctx, db, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New = %v; want an error containing %q", err, tc.want)
		}
		smNoQuery(t, "New", err)
	}
	smMet(t, mock)
	if _, err := sqlstore.New(ctx, nil); err == nil {
		t.Error("New(nil db) = nil error")
	}
}

func TestMockPruneWaitsForLock(t *testing.T) {
	for _, c := range smDialects(t) {
		if c.tryLock == "" {
			continue // SQLite has no advisory lock
		}
		t.Run(c.name, func(t *testing.T) {
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			s := smNew(t, c, db)
			// Another process sweeps: the lock is taken twice, then free.
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(false)))
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(nil))
			c.expectPrune(mock, 1000, 3)
			if n, err := s.Prune(context.Background()); err != nil || n != 3 {
				t.Errorf("Prune = %d, %v; want 3 once the lock is free", n, err)
			}
			smMet(t, mock)

			// A cancelled wait for the lock ends with the context's error.
			mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(false)))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := s.Prune(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Prune waiting for a held lock past its deadline = %v", err)
			}
			smMet(t, mock)
		})
	}
}

// smLog is a concurrency-safe buffer for a slog handler.
type smLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *smLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *smLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// smWait polls cond until it holds or 20 seconds pass.
func smWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMockBackgroundPruner(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			// Every expectation is set before New starts the pruner.
			boom := errors.New("boom: server closed the connection")
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnError(boom)
				// Another process holds the lock: the sweep is skipped quietly.
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillReturnRows(smRows("ok").AddRow(c.locked(false)))
			} else {
				mock.ExpectPrepare(c.prune).WillReturnError(boom)
			}
			c.expectPrune(mock, 1000, 3)
			logs := &smLog{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(smClock),
				sqlstore.WithPruneInterval(20*time.Millisecond), sqlstore.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			smWait(t, "the sweeps", func() bool {
				return mock.ExpectationsWereMet() == nil && strings.Contains(logs.String(), "deleted=3")
			})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			out := logs.String()
			if !strings.Contains(out, "level=ERROR msg=\"sqlstore: background prune failed\" table="+c.schema+".sessions deleted=0") ||
				!strings.Contains(out, boom.Error()) {
				t.Errorf("the failed sweep was not logged as an error with its cause:\n%s", out)
			}
			before, _, ok := strings.Cut(out, "level=DEBUG msg=\"sqlstore: pruned expired sessions\" table="+c.schema+".sessions deleted=3")
			if !ok {
				t.Errorf("the sweep after the failure was not logged:\n%s", out)
			}
			// One failure logged before it: a sweep skipped because another
			// process holds the lock is not an error.
			if n := strings.Count(before, "level=ERROR"); n != 1 {
				t.Errorf("%d errors logged before the successful sweep, want 1:\n%s", n, before)
			}
			// Nothing runs after Close: no sweep, no log line, no goroutine.
			time.Sleep(100 * time.Millisecond)
			if after := logs.String(); after != out {
				t.Errorf("logged after Close:\n%s", strings.TrimPrefix(after, out))
			}
			mock.ExpectClose()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, leaks)
		})
	}
}

func TestMockCloseCancelsSweep(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			db, mock := smMock(t)
			c.expectNew(mock, true, true)
			// The sweep hangs in its first statement.
			if c.tryLock != "" {
				mock.ExpectQuery(c.tryLock).WithArgs(c.lockName).WillDelayFor(time.Hour).WillReturnRows(smRows("ok").AddRow(c.locked(true)))
			} else {
				mock.ExpectPrepare(c.prune).WillDelayFor(time.Hour)
			}
			logs := &smLog{}
			s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(smClock),
				sqlstore.WithPruneInterval(10*time.Millisecond), sqlstore.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			smWait(t, "the sweep to start", func() bool { return mock.ExpectationsWereMet() == nil })
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Errorf("Close = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not cancel the sweep in flight")
			}
			if out := logs.String(); out != "" {
				t.Errorf("a sweep cancelled by Close was logged:\n%s", out)
			}
			mock.ExpectClose()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, leaks)
		})
	}
	t.Run("Prune", func(t *testing.T) {
		c := smDialects(t)[2]
		db, mock := smMock(t)
		c.expectNew(mock, true, true)
		// Not smNew: its cleanup would call Close again, and block with
		// the first Close if that hangs.
		s, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(c.d), sqlstore.WithClock(smClock), sqlstore.WithPruneInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		mock.ExpectPrepare(c.prune).WillDelayFor(time.Hour)
		pruned := make(chan error, 1)
		go func() {
			_, err := s.Prune(context.Background())
			pruned <- err
		}()
		smWait(t, "Prune to start", func() bool { return mock.ExpectationsWereMet() == nil })
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not cancel the Prune in flight")
		}
		select {
		case err := <-pruned:
			if !errors.Is(err, sqlstore.ErrClosed) {
				t.Errorf("Prune cancelled by Close = %v; want ErrClosed", err)
			}
		default:
			t.Error("Close returned before the Prune in flight")
		}
	})
}

// TestMockNewRetriesCatalogConflicts: a transient conflict while New reads
// the catalog or creates the table (a Galera node applying another process's
// DDL answers 1213) is retried, not returned.
func TestMockNewRetriesCatalogConflicts(t *testing.T) {
	for _, c := range smDialects(t) {
		t.Run(c.d.Name(), func(t *testing.T) {
			db, mock := smMock(t)
			conflict := &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}
			mock.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("schema").AddRow(c.schema))
			cols := func() *sqlmock.Rows {
				rows := smRows("column_name")
				for _, col := range smColumns {
					rows.AddRow(col)
				}
				return rows
			}
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			// A conflict reading the indexes reads the columns again.
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols())
			mock.ExpectQuery(c.indexes).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			mock.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnRows(cols())
			c.expectIndexes(mock)
			for _, q := range []string{c.get, c.set, c.touch, c.del} {
				mock.ExpectPrepare(q)
			}
			smNew(t, c, db)
			smMet(t, mock)

			// Retries stop at WithMaxRetries, and the error is the conflict.
			db2, mock2 := smMock(t)
			mock2.ExpectQuery(c.schemaQ).WithoutArgs().WillReturnRows(smRows("schema").AddRow(c.schema))
			for range 3 {
				mock2.ExpectQuery(c.columns).WithArgs(c.schema, "sessions").WillReturnError(conflict)
			}
			_, err := sqlstore.New(context.Background(), db2, sqlstore.WithDialect(c.d), sqlstore.WithMaxRetries(2), sqlstore.WithPruneInterval(0))
			if !errors.Is(err, conflict) {
				t.Fatalf("New after 3 conflicts = %v, want the conflict", err)
			}
			smMet(t, mock2)
		})
	}
}
