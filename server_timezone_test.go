package sqlstore_test

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone names resolve even where the system has no zoneinfo

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// tzChildEnv is set, to the TZ it runs under, in the child processes of
// TestTimeZoneProcess.
const tzChildEnv = "SQLSTORE_TEST_TZ_CHILD"

// tzVariant is one way of connecting: DSN parameters that change the
// database session's time zone (and, for MySQL, parseTime and loc), and the
// value that the session's time zone (testdata/fixtures: session_time_zone)
// must then have, if any.
type tzVariant struct {
	kind, name string
	params     map[string]string
	want       string
}

var tzVariants = []tzVariant{
	{kind: "sqlite", name: "default"},
	{kind: "postgres", name: "default"},
	{kind: "postgres", name: "timezone=Pacific/Chatham", params: map[string]string{"timezone": "Pacific/Chatham"}, want: "Pacific/Chatham"},
	{kind: "postgres", name: "options=-c TimeZone=America/St_Johns", params: map[string]string{"options": "-c TimeZone=America/St_Johns"}, want: "America/St_Johns"},
	{kind: "pgx", name: "timezone=Asia/Kathmandu", params: map[string]string{"timezone": "Asia/Kathmandu"}, want: "Asia/Kathmandu"},
	{kind: "mysql", name: "default"},
	{kind: "mysql", name: "time_zone=+05:45", params: map[string]string{"time_zone": "'+05:45'"}, want: "+05:45"},
	{kind: "mysql", name: "time_zone=-03:30,parseTime", params: map[string]string{"time_zone": "'-03:30'", "parseTime": "true"}, want: "-03:30"},
	{kind: "mysql", name: "time_zone=+13:00,parseTime,loc=Asia/Kolkata", params: map[string]string{"time_zone": "'+13:00'", "parseTime": "true", "loc": "Asia/Kolkata"}, want: "+13:00"},
	{kind: "mysql", name: "parseTime,loc=Local", params: map[string]string{"parseTime": "true", "loc": "Local"}},
	{kind: "mysql", name: "time_zone=-12:00,loc=America/St_Johns", params: map[string]string{"time_zone": "'-12:00'", "loc": "America/St_Johns"}, want: "-12:00"},
}

// loadLocation loads a zone or fails the test.
func loadLocation(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestTimeZone: for every database and every session time zone and MySQL
// parseTime/loc variant, with a clock in non-UTC zones, every expiry decision
// is exact to the millisecond: a session expiring at E is found at E-1ms and
// not at E, Count, Range and Stats agree, Range returns E exactly, the stored
// value is E, Touch and Prune are exact, and Touch never revives it.
func TestTimeZone(t *testing.T) {
	if tz := os.Getenv(tzChildEnv); tz != "" {
		// Prove the process really runs in tz.
		now := time.Now()
		_, got := now.Zone()
		_, want := now.In(loadLocation(t, tz)).Zone()
		if got != want {
			t.Fatalf("TZ=%s: time.Local is at offset %d, want %d", tz, got, want)
		}
		t.Logf("process time zone %s: offset %+d s", tz, got)
	}
	for _, v := range tzVariants {
		t.Run(v.kind+"/"+v.name, func(t *testing.T) {
			t.Parallel()
			dsnKind := v.kind
			if dsnKind == "pgx" {
				dsnKind = "postgres"
			}
			dsn := testdb.DSN(t, dsnKind)
			if len(v.params) > 0 {
				dsn = testdb.WithParams(t, dsn, v.params)
			}
			db := testdb.OpenDSN(t, v.kind, dsn)
			db.SetMaxOpenConns(4)
			if v.kind != "sqlite" { // SQLite has no session time zone
				var zone string
				q := fixtureSQL(t, v.kind, "session_time_zone")
				if err := db.QueryRowContext(testContext(t), q).Scan(&zone); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if v.want != "" && zone != v.want {
					t.Fatalf("session time zone is %q, want %q: the DSN parameter did not take effect", zone, v.want)
				}
				t.Logf("session time zone %s", zone)
			}
			checkTZExact(t, v.kind, db, testdb.Table(t, db))
		})
	}
}

// checkTZExact runs the exactness checks on one pool.
func checkTZExact(t *testing.T, kind string, db *sql.DB, table string) {
	kathmandu, stJohns := loadLocation(t, "Asia/Kathmandu"), loadLocation(t, "America/St_Johns")
	// E is the last millisecond before St. John's moves its clocks forward
	// (and carries sub-millisecond digits the store must drop); the clock
	// reads in Kathmandu.
	e := time.Date(2031, 3, 9, 1, 59, 59, 999_654_321, stJohns)
	em := e.Truncate(time.Millisecond)
	clock := testdb.NewClock(e.Add(-2 * time.Hour).In(kathmandu))
	s := newTestStore(t, db, table, sqlstore.WithClock(clock.Now), sqlstore.WithTouchThreshold(0))
	ctx := testContext(t)
	const id = "tz-session"

	// expect checks every reading of the table at now.
	expect := func(now time.Time, live bool, exp time.Time) {
		t.Helper()
		clock.Set(now)
		_, found, err := s.Get(ctx, id)
		if err != nil || found != live {
			t.Fatalf("at %v (expiry %v): Get found %v, err %v; want %v", now, exp.UTC(), found, err, live)
		}
		n, err := s.Count(ctx)
		if err != nil || (n == 1) != live || n > 1 {
			t.Fatalf("at %v: Count = %d, %v; want live %v", now, n, err, live)
		}
		var got []time.Time
		if err := s.Range(ctx, func(_ string, _ []byte, x time.Time) bool { got = append(got, x); return true }); err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != live || len(got) > 1 {
			t.Fatalf("at %v: Range yielded %v; want live %v", now, got, live)
		}
		if live && (!got[0].Equal(exp) || got[0].Location() != time.UTC) {
			t.Fatalf("Range expiry = %v, want %v in UTC", got[0], exp.UTC())
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (st.Live == 1) != live || st.Live+st.Expired != 1 || !st.Oldest.Equal(exp) {
			t.Fatalf("at %v: Stats = %+v; want live %v, expiry %v", now, st, live, exp.UTC())
		}
		// The stored value itself is the instant, to the millisecond.
		// (MySQL's DATETIME(6) holds UTC: it is read whatever the session
		// zone.)
		var ms int64
		q := fixtureSQL(t, kind, "stored_expiry_ms", s.Table().Expiry, s.Table().Qualified())
		if err := db.QueryRowContext(ctx, q).Scan(&ms); err != nil {
			t.Fatal(err)
		}
		if ms != exp.UnixMilli() {
			t.Fatalf("stored expiry is %d ms (%v), want %d ms (%v)", ms, time.UnixMilli(ms).UTC(), exp.UnixMilli(), exp.UTC())
		}
	}

	if err := s.Set(ctx, id, []byte("tz"), e); err != nil {
		t.Fatal(err)
	}
	expect(em.Add(-time.Millisecond), true, em)
	expect(em, false, em)
	expect(em.Add(time.Millisecond), false, em)
	expect(em.Add(-time.Millisecond).In(stJohns), true, em) // the clock going back finds it again

	// Touch is exact too, to an expiry labelled in yet another zone.
	clock.Set(em.Add(-time.Hour))
	t2 := em.Add(3*time.Hour + 7*time.Millisecond + 999*time.Microsecond).In(time.FixedZone("Marquesas", -(9*3600 + 30*60)))
	t2m := t2.Truncate(time.Millisecond)
	if err := s.Touch(ctx, id, t2); err != nil {
		t.Fatal(err)
	}
	expect(t2m.Add(-time.Millisecond), true, t2m)
	expect(t2m, false, t2m)

	// Touch of the expired session changes nothing.
	clock.Set(t2m)
	if err := s.Touch(ctx, id, t2m.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	expect(t2m, false, t2m)
	expect(t2m.Add(-time.Millisecond), true, t2m)

	// Prune deletes it at t2m, not a millisecond before.
	for _, p := range []struct {
		now  time.Time
		want int64
	}{{t2m.Add(-time.Millisecond), 0}, {t2m, 1}} {
		clock.Set(p.now)
		if n, err := s.Prune(ctx); err != nil || n != p.want {
			t.Fatalf("Prune at %v = %d, %v; want %d", p.now, n, err, p.want)
		}
	}
}

// TestTimeZoneProcess re-runs this test binary with the process time zone
// (TZ) set to UTC, Asia/Kolkata and America/St_Johns, running TestTimeZone
// and the conformance suite there: both must pass in each. time.Local is
// global, so a child process is the only honest way to change it.
func TestTimeZoneProcess(t *testing.T) {
	if os.Getenv(tzChildEnv) != "" {
		t.Skip("already a time zone child")
	}
	if testing.Short() {
		t.Skip("-short: the time zone children re-run the suite")
	}
	// One child at a time: each runs the conformance suite, whose pools
	// would together take too many connections of the shared servers.
	for _, tz := range []string{"UTC", "Asia/Kolkata", "America/St_Johns"} {
		t.Run(strings.ReplaceAll(tz, "/", "_"), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^(TestTimeZone|TestConformance)$", "-test.count=1", "-test.timeout=3m", "-test.v")
			cmd.Env = append(os.Environ(), "TZ="+tz, tzChildEnv+"="+tz)
			out, err := cmd.CombinedOutput()
			passes := strings.Count(string(out), "--- PASS")
			skips := strings.Count(string(out), "--- SKIP")
			if err != nil || !strings.Contains(string(out), "\nPASS\n") {
				t.Fatalf("TZ=%s: %v\n%s", tz, err, lastLines(string(out), 60))
			}
			if testdb.InCI() && skips > 0 {
				t.Errorf("TZ=%s: %d tests skipped under CI", tz, skips)
			}
			t.Logf("TZ=%s: TestTimeZone and TestConformance passed (%d passed, %d skipped)", tz, passes, skips)
		})
	}
}

// lastLines returns the last n lines of s, with the failures first.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	var fails []string
	for _, l := range lines {
		if strings.Contains(l, "FAIL") || strings.Contains(l, "_test.go:") {
			fails = append(fails, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("%s\n...\n%s", strings.Join(fails, "\n"), strings.Join(lines, "\n"))
}
