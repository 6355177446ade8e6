package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestNilContext: a nil context is an error before database/sql sees it
// (database/sql panics on one while it holds the pool's lock, and every
// later call on the pool then blocks), and the pool stays usable.
func TestNilContext(t *testing.T) {
	db := testdb.Open(t, "sqlite")
	var nilCtx context.Context
	if _, err := sqlstore.New(nilCtx, db); err == nil || !strings.Contains(err.Error(), "nil context") {
		t.Fatalf("New(nil context) = %v, want an error naming the nil context", err)
	}
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	calls := map[string]func() error{
		"Get":    func() error { _, _, err := s.Get(nilCtx, "id"); return err },
		"Set":    func() error { return s.Set(nilCtx, "id", []byte("x"), exp) },
		"Touch":  func() error { return s.Touch(nilCtx, "id", exp) },
		"Delete": func() error { return s.Delete(nilCtx, "id") },
		"Count":  func() error { _, err := s.Count(nilCtx); return err },
		"Clear":  func() error { return s.Clear(nilCtx) },
		"Range":  func() error { return s.Range(nilCtx, func(string, []byte, time.Time) bool { return true }) },
		"Stats":  func() error { _, err := s.Stats(nilCtx); return err },
		"Prune":  func() error { _, err := s.Prune(nilCtx); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "nil context") {
			t.Errorf("%s(nil context) = %v, want an error naming the nil context", name, err)
		}
	}
	// The pool was never touched with a nil context: it still serves.
	done := make(chan error, 1)
	go func() {
		if err := s.Set(ctx, "id", []byte("x"), exp); err != nil {
			done <- err
			return
		}
		_, _, err := s.Get(ctx, "id")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Set and Get after nil contexts: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Set and Get after nil contexts did not return: the pool is stuck")
	}
}

// wrappingDriver stands for a driver wrapped by another package, as
// OpenTelemetry's otelsql wraps one: its package is not a driver's.
type wrappingDriver struct{ driver.Driver }

type wrappingConnector struct {
	d    wrappingDriver
	name string
}

func (c wrappingConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.name) }
func (c wrappingConnector) Driver() driver.Driver                        { return c.d }

// TestDetectDialectWrappedDriver: the dialect of a wrapped driver cannot be
// told; the error says to pass WithDialect, and with it the store works.
func TestDetectDialectWrappedDriver(t *testing.T) {
	inner, err := sql.Open("sqlite", "unused")
	if err != nil {
		t.Fatal(err)
	}
	inner.Close()
	db := sql.OpenDB(wrappingConnector{d: wrappingDriver{inner.Driver()}, name: filepath.Join(t.TempDir(), "wrapped.db")})
	defer db.Close()
	ctx := context.Background()
	_, err = sqlstore.New(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "WithDialect(sqlstore.SQLite)") || !strings.Contains(err.Error(), "wrappingDriver") {
		t.Fatalf("New over a wrapped driver = %v, want an error naming the driver and WithDialect", err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.WithDialect(sqlstore.SQLite), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("New with WithDialect over a wrapped driver: %v", err)
	}
	defer s.Close()
	if err := s.Set(ctx, "id", []byte("wrapped"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.Get(ctx, "id"); err != nil || !found || string(got) != "wrapped" {
		t.Fatalf("Get = %q, %v, %v", got, found, err)
	}
}

// TestColumnsDifferOnlyInCase: MySQL and SQLite fold the case of column
// names, so names that differ only in case are refused before any query.
func TestColumnsDifferOnlyInCase(t *testing.T) {
	opt := sqlstore.WithColumns("token", "Token", "expiry")
	if _, err := sqlstore.CreateTableSQL(sqlstore.MySQL, opt); err == nil || !strings.Contains(err.Error(), "not distinct") {
		t.Errorf("CreateTableSQL = %v, want an error saying the names are not distinct", err)
	}
	db, mock := smMock(t)
	if _, err := sqlstore.New(context.Background(), db, sqlstore.WithDialect(sqlstore.SQLite), opt); err == nil || !strings.Contains(err.Error(), "only in case") {
		t.Errorf("New = %v, want an error saying the names differ only in case", err)
	}
	smMet(t, mock) // no query ran
}

// TestSetTooLargeForDatabase: a row the database refuses for its size
// (TiDB's 6 MiB entry limit, below the store's default limit) is
// ErrDataTooLarge, as the store's own limit is.
func TestSetTooLargeForDatabase(t *testing.T) {
	c := smDialects(t)[1] // MySQL, as TiDB speaks it
	db, mock := smMock(t)
	c.expectNew(mock, true, true)
	s := smNew(t, c, db)
	refused := &mysql.MySQLError{Number: 8025, Message: "entry too large, the max entry size is 6291456, the size of data is 8388708"}
	now := c.at("2024-03-05 10:20:30.123")
	mock.ExpectExec(c.set).WithArgs(smKey, []byte("x"), c.at("2024-03-05 11:20:30.123"), nil, now, now, false).WillReturnError(refused)
	err := s.Set(context.Background(), smID, []byte("x"), smNow.Add(time.Hour))
	if !errors.Is(err, sqlstore.ErrDataTooLarge) || !errors.Is(err, refused) {
		t.Errorf("Set = %v, want ErrDataTooLarge wrapping the server's error", err)
	}
	smMet(t, mock)
}
