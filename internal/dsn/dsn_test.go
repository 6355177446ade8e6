package dsn

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"
)

// This test binary registers fake drivers under the names of lib/pq
// ("postgres") and mattn/go-sqlite3 ("sqlite3") only: no MySQL driver, no
// pgx, no modernc sqlite. So Parse picks "postgres" and "sqlite3", and a
// mysql:// URL shows the missing-driver error.
type dsnFakeDriver struct{}

func (dsnFakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake") }

func init() {
	sql.Register("postgres", dsnFakeDriver{})
	sql.Register("sqlite3", dsnFakeDriver{})
}

func TestDSNPostgresPassThrough(t *testing.T) {
	for _, in := range []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgresql://u:p%40ss@db.example/app?sslmode=verify-full&application_name=web",
		"POSTGRES://u@h/db",
	} {
		drv, got, dialect, err := Parse(in)
		if err != nil || drv != "postgres" || got != in || dialect != "postgres" {
			t.Errorf("Parse(%q) = %q, %q, %q, %v; want postgres, the URL unchanged, postgres", in, drv, got, dialect, err)
		}
	}
}

func TestDSNMySQL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mysql://root@127.0.0.1:3306/test", "root@tcp(127.0.0.1:3306)/test"},
		{"mysql://root@localhost/test", "root@tcp(localhost:3306)/test"},
		{"mysql://u:secret@db.example:3307/app", "u:secret@tcp(db.example:3307)/app"},
		// Special characters in the password arrive decoded; the driver
		// splits user info at the last @ and the first colon.
		{"mysql://app:p%40ss%3Aw%2Frd%3F%23@db:3306/sessions", "app:p@ss:w/rd?#@tcp(db:3306)/sessions"},
		{"mysql://app@[::1]/app", "app@tcp([::1]:3306)/app"},
		{"mysql://app@[::1]:3307/app", "app@tcp([::1]:3307)/app"},
		// Parameters are kept as written, in order: the driver unescapes
		// some (loc) and not others (charset's comma).
		{"mysql://root@h:3306/db?parseTime=true&loc=Asia%2FKolkata", "root@tcp(h:3306)/db?parseTime=true&loc=Asia%2FKolkata"},
		{"mysql://root@h/db?charset=utf8mb4,utf8&collation=utf8mb4_bin", "root@tcp(h:3306)/db?charset=utf8mb4,utf8&collation=utf8mb4_bin"},
		{"mysql://root@h/db?time_zone=%27%2B00%3A00%27", "root@tcp(h:3306)/db?time_zone=%27%2B00%3A00%27"},
		// A socket parameter selects a unix socket and is not passed on.
		{"mysql://root@/db?socket=/run/mysqld/mysqld.sock", "root@unix(/run/mysqld/mysqld.sock)/db"},
		{"mysql://root@localhost/db?parseTime=true&socket=%2Ftmp%2Fmy.sock&loc=UTC", "root@unix(/tmp/my.sock)/db?parseTime=true&loc=UTC"},
		{"mysql://h/db", "tcp(h:3306)/db"},
	} {
		got, err := MySQL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("MySQL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := MySQL("mysql://u:secret@h:port/db"); err == nil || strings.Contains(err.Error(), "secret") || !strings.HasPrefix(err.Error(), "sqlstore: ") {
		t.Errorf("MySQL(bad port) error = %v; want a sqlstore: error without the password", err)
	}
}

func TestDSNMissingDriver(t *testing.T) {
	_, _, _, err := Parse("mysql://root@127.0.0.1:3306/test")
	if err == nil {
		t.Fatal("Parse(mysql://...) with no MySQL driver registered: nil error")
	}
	for _, want := range []string{"sqlstore: ", "mysql", `import _ "github.com/go-sql-driver/mysql"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing driver error %q does not contain %q", err, want)
		}
	}
	if _, _, _, err := Parse("oracle://u:topsecret@h/db"); err == nil || !strings.Contains(err.Error(), "unsupported") || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Parse(oracle://...) error = %v; want unsupported, password hidden", err)
	}
}

func TestDSNSQLite(t *testing.T) {
	const (
		modernc = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		mattn   = "_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"
	)
	for _, tc := range []struct{ driver, in, want string }{
		{"sqlite", "sqlite:sessions.db", "file:sessions.db?" + modernc},
		{"sqlite", "sqlite:/var/lib/app/s.db", "file:/var/lib/app/s.db?" + modernc},
		{"sqlite", "sqlite:///var/lib/app/s.db", "file:/var/lib/app/s.db?" + modernc},
		{"sqlite", "sqlite://rel/s.db", "file:rel/s.db?" + modernc},
		{"sqlite", "sqlite3:s.db", "file:s.db?" + modernc},
		{"sqlite", "file:s.db", "file:s.db?" + modernc},
		{"sqlite", "file:s.db?mode=rwc&cache=shared", "file:s.db?mode=rwc&cache=shared&" + modernc},
		// What the dsn sets is kept, and not set twice.
		{"sqlite", "file:s.db?_pragma=busy_timeout(500)", "file:s.db?_pragma=busy_timeout(500)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"},
		{"sqlite", "sqlite:s.db?_pragma=journal_mode(DELETE)&_txlock=deferred", "file:s.db?_pragma=journal_mode(DELETE)&_txlock=deferred&_pragma=busy_timeout(10000)"},
		{"sqlite", "sqlite:s.db?_pragma=synchronous(FULL)", "file:s.db?_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"},
		// A directory named like a parameter is not a parameter.
		{"sqlite", "sqlite:/srv/busy_timeout/journal_mode/_txlock.db", "file:/srv/busy_timeout/journal_mode/_txlock.db?" + modernc},
		// mattn/go-sqlite3 spells the parameters its own way.
		{"sqlite3", "sqlite:sessions.db", "file:sessions.db?" + mattn},
		{"sqlite3", "file:s.db?_busy_timeout=1", "file:s.db?_busy_timeout=1&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"},
		{"sqlite3", "file:s.db?_journal_mode=WAL&_busy_timeout=1&_txlock=exclusive", "file:s.db?_journal_mode=WAL&_busy_timeout=1&_txlock=exclusive"},
	} {
		if got := SQLite(tc.driver, tc.in); got != tc.want {
			t.Errorf("SQLite(%q, %q) =\n  %q, want\n  %q", tc.driver, tc.in, got, tc.want)
		}
	}
	// Parse picks the registered mattn driver here.
	drv, got, dialect, err := Parse("sqlite:/tmp/x.db")
	if err != nil || drv != "sqlite3" || dialect != "sqlite" || got != "file:/tmp/x.db?"+mattn {
		t.Errorf("Parse(sqlite:/tmp/x.db) = %q, %q, %q, %v", drv, got, dialect, err)
	}
}

func TestDSNEmptyFallsBack(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://env@db/app")
	drv, got, dialect, err := Parse("")
	if err != nil || drv != "postgres" || got != "postgres://env@db/app" || dialect != "postgres" {
		t.Errorf("Parse(\"\") with DATABASE_URL set = %q, %q, %q, %v; want DATABASE_URL", drv, got, dialect, err)
	}
	// An explicit dsn wins over DATABASE_URL.
	if _, got, _, _ := Parse("sqlite:a.db"); !strings.HasPrefix(got, "file:a.db?") {
		t.Errorf("Parse(sqlite:a.db) with DATABASE_URL set = %q; want the given dsn", got)
	}
	t.Setenv("DATABASE_URL", "")
	drv, got, dialect, err = Parse("")
	if err != nil || drv != "sqlite3" || dialect != "sqlite" || !strings.HasPrefix(got, "file:"+DefaultSQLiteFile+"?") || DefaultSQLiteFile != "sessions.db" {
		t.Errorf("Parse(\"\") without DATABASE_URL = %q, %q, %q, %v; want file:sessions.db", drv, got, dialect, err)
	}
}

func TestDSNRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"mysql://root:p%40ss@h:3306/db?x=1", "mysql://root:xxxxx@h:3306/db?x=1"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"sqlite:s.db", "sqlite:s.db"},
		// Not a valid URL (bad port): the password is hidden all the same.
		{"mysql://u:secret@h:port/db?x=1", "mysql://u:xxxxx@h:port/db?x=1"},
		{"mysql://u@h:port/db", "mysql://u@h:port/db"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "p%40ss") {
			t.Errorf("Redact(%q) = %q leaks the password", tc.in, got)
		}
	}
}
