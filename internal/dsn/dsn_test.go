package dsn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
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
		// Not a valid URL (bad port): unsure of the user info, Redact
		// hides all of it.
		{"mysql://u:secret@h:port/db?x=1", "mysql://xxxxx@h:port/db?x=1"},
		{"mysql://u@h:port/db", "mysql://xxxxx@h:port/db"},
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

// specials are the characters that URLs treat specially, or that net/url
// refuses in user info, each tried in a password.
var specials = []string{"/", "#", "?", "%", "@", ":", " ", "&", "=", "+", ";", "[", "]", "'", `"`, "`", `\`, "ä", "€", "%zz", "%41", "@@", "/@", ":@/"}

// leakPassword returns a password holding special, whose two halves are
// markers that must never show.
func leakPassword(special string) string { return "Alpha7" + special + "Omega9" }

// leaks reports whether s shows a marker of leakPassword.
func leaks(s string) bool { return strings.Contains(s, "Alpha7") || strings.Contains(s, "Omega9") }

// leakDSNs returns dsns of every scheme with password pw, written raw and
// percent-encoded.
func leakDSNs(pw string) []string {
	enc := url.UserPassword("user", pw).String()
	var out []string
	for _, scheme := range []string{"postgres", "postgresql", "POSTGRES", "mysql", "sqlite", "sqlite3", "file", "redis", "oracle"} {
		out = append(out,
			scheme+"://user:"+pw+"@127.0.0.1:1/db?sslmode=disable",
			scheme+"://"+enc+"@127.0.0.1:1/db",
			scheme+"://user:"+pw+"@127.0.0.1:1",
			scheme+"://user:"+pw+"@/db?host=/tmp",
			scheme+":user:"+pw+"@tcp(127.0.0.1:1)/db",
		)
	}
	return append(out,
		"user:"+pw+"@tcp(127.0.0.1:1)/db", // go-sql-driver/mysql's own format
		"host=127.0.0.1 user=u password="+pw+" dbname=db",
		"host=127.0.0.1 user=u password='"+pw+"' dbname=db",
		"postgres://127.0.0.1:1/db?user=u&password="+url.QueryEscape(pw),
		"postgres://127.0.0.1:1/db?user=u&sslpassword="+pw,
	)
}

func TestDSNRedactSpecialPasswords(t *testing.T) {
	t.Parallel()
	for _, sp := range specials {
		pw := leakPassword(sp)
		for _, d := range leakDSNs(pw) {
			if got := Redact(d); leaks(got) {
				t.Errorf("Redact(%q) = %q: shows the password", d, got)
			}
			if err := Check(d); err != nil && leaks(err.Error()) {
				t.Errorf("Check(%q) = %q: shows the password", d, err)
			}
			if _, _, _, err := Parse(d); err != nil && leaks(err.Error()) {
				t.Errorf("Parse(%q) = %q: shows the password", d, err)
			}
			// A message quoting the dsn as drivers do, or pieces of it
			// as a driver that splits at the first @ would.
			for _, msg := range []string{
				fmt.Sprintf("pq: parse %q: invalid port", d),
				"cannot parse `" + d + "`: failed",
				"invalid dsn " + d,
				"password " + pw + ", " + url.PathEscape(pw) + ", " + url.QueryEscape(pw),
			} {
				if !strings.Contains(d, pw) && !strings.Contains(d, url.QueryEscape(pw)) && !strings.Contains(d, url.UserPassword("", pw).String()[1:]) {
					continue // the dsn does not hold the password as written here
				}
				if got := ScrubText(msg, d); leaks(got) {
					t.Errorf("ScrubText(%q, %q) = %q: shows the password", msg, d, got)
				}
			}
			// A driver that ends the user info at the first @, /, ? or #
			// takes the rest for the host or database.
			if strings.ContainsAny(sp, "/?#@") {
				msg := "lookup Omega9@127.0.0.1: no such host; database \"Omega9@127.0.0.1:1/db\"; invalid port \":Alpha7\""
				if got := ScrubText(msg, d); leaks(got) {
					t.Errorf("ScrubText(%q, %q) = %q: shows the password", msg, d, got)
				}
			}
		}
	}
}

func TestDSNCheckRefusesAmbiguousUserInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// Drivers disagree on where such user info ends.
		{"postgres://u:pa@ss@h/db", "an @ is not where the user info ends"},
		{"postgres://u:pa/ss@h/db", "an @ is not where the user info ends"},
		{"postgres://u:1/ss@h/db", "an @ is not where the user info ends"},
		{"mysql://u:pa?ss@h/db", "an @ is not where the user info ends"},
		{"mysql://u:pa#ss@h/db", "an @ is not where the user info ends"},
		{"postgres://h/db?application_name=a@b", "any other @ as %40"},
		// Not URL syntax.
		{"postgres://u:pa ss@h/db", "not valid URL syntax"},
		{"postgres://u:pa%zz@h/db", "not valid URL syntax"},
		{"mysql://u:pä@h/db", "not valid URL syntax"},
		{"mysql://u:p\"s@h/db", "not valid URL syntax"},
		{"postgres://u:p@h:port/db", "the port is not a number"},
		{"postgres://u:p@h/d%zzb", "a % does not start a %XX escape"},
		{"postgres:db", "want postgres://HOST/DATABASE"},
		// SQLite has no user info.
		{"sqlite://u:p@h/s.db", "a SQLite dsn has no user name or password"},
		{"sqlite://u:p/x@h/s.db", "a SQLite dsn has no user name or password"},
		{"file://u@h/s.db", "a SQLite dsn has no user name or password"},
		// Unknown schemes and non-URLs are named, never quoted.
		{"redis://u:p@h/0", `unsupported dsn scheme "redis"`},
		{"u:p@tcp(h)/db", `unsupported dsn scheme "u"`},
		{"host=h password=p", "the dsn is not a URL"},
		{"", "the dsn is not a URL"},
	} {
		err := Check(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("Check(%q) = %v; want a sqlstore: error containing %q", tc.in, err, tc.want)
		}
	}
	for _, ok := range []string{
		"postgres://u:p%40ss%2Fw%3F%23%25%20rd@h:5432/db?sslmode=disable",
		"postgresql://u:p;&=+$,!*'()~ss@h/db",
		"postgres:///db?host=/var/run/postgresql",
		"postgres://h1,h2:5433/db",
		"mysql://u:p:ss@[::1]:3306/db?parseTime=true",
		"sqlite:/srv/a@b/s.db",
		"sqlite:///srv/s.db",
		"sqlite://rel/s.db",
		"file:s.db?mode=ro",
	} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v; want nil", ok, err)
		}
	}
}

func TestDSNRedactKeepsWhatIsSafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p%40ss@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?user=u&password=p%40ss&sslmode=disable", "postgres://h/db?user=u&password=xxxxx&sslmode=disable"},
		{"postgres://u:pa@ss@h/db", "postgres://xxxxx@h/db"},
		{"postgres://u:pa/ss@h/db", "postgres://xxxxx@h/db"},
		{"postgres://u:pass/db", "postgres://xxxxx/db"},         // no @: the host part could be a password
		{"user:pw@tcp(h:3306)/db", "user:xxxxx@tcp(h:3306)/db"}, // "user:" reads as a scheme
		{"host=h user=u password='a b' dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"sqlite:/srv/s.db?mode=ro", "sqlite:/srv/s.db?mode=ro"},
		{"redis://:pw@h/0", "redis://:xxxxx@h/0"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDSNScrubError(t *testing.T) {
	t.Parallel()
	d := "postgres://u:Alpha7%2FOmega9@h:x/db"
	inner := fmt.Errorf("parse %q: %w", d, context.DeadlineExceeded)
	err := Scrub(fmt.Errorf("sqlstore: open: %w", inner), d)
	if leaks(err.Error()) || !strings.Contains(err.Error(), "sqlstore: open: parse ") {
		t.Errorf("Scrub: %q; want the message without the password", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("Scrub hides the error's chain from errors.Is")
	}
	var target interface{ Timeout() bool }
	if !errors.As(err, &target) {
		t.Error("Scrub hides the error's chain from errors.As")
	}
	if u := errors.Unwrap(err); u != nil {
		t.Errorf("errors.Unwrap of a scrubbed error gives %q, with the password", u)
	}
	plain := errors.New("dial tcp: connection refused")
	if got := Scrub(plain, d); got != plain {
		t.Errorf("Scrub changed an error with nothing to hide: %v", got)
	}
	if Scrub(nil, d) != nil {
		t.Error("Scrub(nil) is not nil")
	}
}

func TestDSNScrubTextKeepsTheRest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ msg, dsn, want string }{
		// Nothing secret: the message stays as it is, user name included.
		{"failed to connect to `user=postgres database=test`: refused", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			"failed to connect to `user=postgres database=test`: refused"},
		{"failed to connect to `user=app database=test`: refused", "postgres://app:S3cretPw@db/test",
			"failed to connect to `user=app database=test`: refused"},
		// The dsn quoted whole becomes its redacted form.
		{`parse "postgres://app:S3cretPw@db:x/test": invalid port`, "postgres://app:S3cretPw@db:x/test",
			`parse "postgres://xxxxx@db:x/test": invalid port`},
		// A dsn that is not one of those given is caught by its shape.
		{"dial postgres://app:S3cretPw@db/test failed", "", "dial postgres://app:xxxxx@db/test failed"},
		{"dial postgres://app:S3cr/etPw@db/test failed", "", "dial postgres://xxxxx@db/test failed"},
		{"bad host=h password='a b' dbname=d", "", "bad host=h password=xxxxx dbname=d"},
		// The scheme of a dsn with unclear user info is not a secret.
		{"invalid mysql dsn mysql://xxxxx@h/db", "mysql://u:p/w@h/db", "invalid mysql dsn mysql://xxxxx@h/db"},
	} {
		if got := ScrubText(tc.msg, tc.dsn); got != tc.want {
			t.Errorf("ScrubText(%q, %q) = %q, want %q", tc.msg, tc.dsn, got, tc.want)
		}
	}
}

func TestDSNSQLiteFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, path string
		ok       bool
	}{
		{"sqlite:sessions.db", "sessions.db", true},
		{"sqlite:/var/lib/app/s.db?_pragma=busy_timeout(1)", "/var/lib/app/s.db", true},
		{"sqlite:///var/lib/app/s.db", "/var/lib/app/s.db", true},
		{"sqlite://rel/s.db", "rel/s.db", true},
		{"SQLITE3:s.db", "s.db", true},
		{"file:s.db?mode=ro", "s.db", true},
		{"file:///srv/s%20x.db", "/srv/s x.db", true},
		{"file://localhost/srv/s.db", "/srv/s.db", true},
		{"file:a%3Fb.db", "a?b.db", true},
		{"file://elsewhere/srv/s.db", "", false},
		{"sqlite::memory:", "", false},
		{"file:x?mode=memory&cache=shared", "", false},
		{"file:/x.db?vfs=memdb", "", false},
		{"postgres://h/db", "", false},
		{"sessions.db", "", false},
	} {
		if path, ok := SQLiteFile(tc.in); path != tc.path || ok != tc.ok {
			t.Errorf("SQLiteFile(%q) = %q, %v; want %q, %v", tc.in, path, ok, tc.path, tc.ok)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"sqlite:s.db", "sqlite:s.db?mode=rw"},
		{"file:s.db?_pragma=busy_timeout(1)", "file:s.db?_pragma=busy_timeout(1)&mode=rw"},
		{"file:s.db?mode=ro", "file:s.db?mode=ro"},
		{"file:s.db?mode=rwc", "file:s.db?mode=rwc"},
		{"sqlite::memory:", "sqlite::memory:"},
		{"postgres://h/db", "postgres://h/db"},
	} {
		if got := NoCreate(tc.in); got != tc.want {
			t.Errorf("NoCreate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSharedCache(t *testing.T) {
	for dsn, want := range map[string]bool{
		"file:s.db?cache=shared&_pragma=journal_mode(WAL)": true,
		"file:s.db?_pragma=busy_timeout(1)&CACHE=Shared":   true,
		"file:s.db?cache=private":                          false,
		"file:cache=shared.db":                             false,
		"file:s.db?_pragma=journal_mode(WAL)":              false,
	} {
		if got := SharedCache(dsn); got != want {
			t.Errorf("SharedCache(%q) = %v; want %v", dsn, got, want)
		}
	}
}
