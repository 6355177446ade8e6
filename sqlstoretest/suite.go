package sqlstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/hook"
)

// clock is a settable clock for WithClock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock returns a clock standing at now.
func newClock(now time.Time) *clock { return &clock{now: now} }

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to now.
func (c *clock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Add moves the clock by d.
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// base is the suite's clock start: a millisecond-odd instant, labelled with
// a zone that has a non-hour offset, so that no test passes by accident.
var base = time.Date(2031, 10, 26, 1, 30, 15, 987_654_321, time.FixedZone("odd", 5*3600+45*60))

// tableName returns a table name no other test uses.
func tableName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "conf_" + hex.EncodeToString(b[:])
}

// env is one test's database, table and clock.
type env struct {
	t     *testing.T
	cfg   Config
	db    *sql.DB
	table string
	clock *clock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	db := cfg.Open(t)
	e := &env{t: t, cfg: cfg, db: db, table: tableName(), clock: newClock(base)}
	t.Cleanup(func() { dropTable(t, db, e.table) })
	return e
}

func dropTable(t testing.TB, db *sql.DB, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Errorf("drop table %s: %v", table, err)
	}
}

// store opens a store on the env's table with the suite's defaults (exact
// Touch, no background pruning, the env's clock) and closes it at cleanup.
func (e *env) store(opts ...sqlstore.Option) *sqlstore.Store {
	e.t.Helper()
	all := append([]sqlstore.Option{
		sqlstore.WithTable(e.table),
		sqlstore.WithClock(e.clock.Now),
		sqlstore.WithPruneInterval(0),
		sqlstore.WithTouchThreshold(0),
	}, e.cfg.Options...)
	all = append(all, opts...)
	s, err := e.cfg.new(ctx(e.t), e.db, all...)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustSet(t testing.TB, s *sqlstore.Store, id string, data []byte, exp time.Time) {
	t.Helper()
	if err := s.Set(ctx(t), id, data, exp); err != nil {
		t.Fatalf("Set(%q): %v", id, err)
	}
}

func wantGet(t testing.TB, s *sqlstore.Store, id string, want []byte) {
	t.Helper()
	got, found, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	if want == nil {
		if found {
			t.Fatalf("Get(%q) found %q, want not found", id, trim(got))
		}
		return
	}
	if !found {
		t.Fatalf("Get(%q): not found, want %q", id, trim(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q (%d bytes), want %q (%d bytes)", id, trim(got), len(got), trim(want), len(want))
	}
}

func trim(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}

func wantCount(t testing.TB, s *sqlstore.Store, want int64) {
	t.Helper()
	n, err := s.Count(ctx(t))
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("Count = %d, want %d", n, want)
	}
}

// ranged returns what Range yields, by stored key.
func ranged(t testing.TB, s *sqlstore.Store) map[string]time.Time {
	t.Helper()
	got := map[string]time.Time{}
	err := s.Range(ctx(t), func(id string, data []byte, exp time.Time) bool {
		got[id] = exp
		return true
	})
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	return got
}

// Run runs the conformance suite against the database cfg describes.
func Run(t *testing.T, cfg Config) {
	if cfg.Open == nil {
		t.Fatal("sqlstoretest: Config.Open is nil")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 64
	}
	if cfg.MaxDataSize == 0 {
		cfg.MaxDataSize = defaults.MaxDataSize
	} else {
		cfg.Options = append(slices.Clip(cfg.Options), sqlstore.WithMaxDataSize(cfg.MaxDataSize))
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Config)
	}{
		{"RoundTrip", testRoundTrip},
		{"BinarySafe", testBinarySafe},
		{"LargePayloads", testLargePayloads},
		{"NotFound", testNotFound},
		{"Upsert", testUpsert},
		{"DefaultTTL", testDefaultTTL},
		{"ExpiryExactToTheMillisecond", testExpiryExact},
		{"ExpiredNeverReturned", testExpiredNeverReturned},
		{"Touch", testTouch},
		{"TouchNeverRevives", testTouchNeverRevives},
		{"TouchThreshold", testTouchThreshold},
		{"Delete", testDelete},
		{"CountClearRange", testCountClearRange},
		{"RangeStops", testRangeStops},
		{"IDs", testIDs},
		{"PlainIDs", testPlainIDs},
		{"Prune", testPrune},
		{"BackgroundPrune", testBackgroundPrune},
		{"ConcurrentUpserts", testConcurrentUpserts},
		{"ConcurrentNew", testConcurrentNew},
		{"TableChecks", testTableChecks},
		{"TwoStores", testTwoStores},
		{"Close", testClose},
		{"Context", testContext},
		{"TimeZones", testTimeZones},
		{"Sessions", testSessions},
		{"InvalidOwners", testInvalidOwners},
		{"EndedStaysEnded", testEndedStaysEnded},
		{"Created", testCreated},
		{"DeleteOwner", testDeleteOwner},
		{"DeleteKey", testDeleteKey},
		{"DeleteOwnerRace", testDeleteOwnerRace},
		{"AbsoluteTimeout", testAbsoluteTimeout},
		{"Encryption", testEncryption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, cfg)
		})
	}
}

func testRoundTrip(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	exp := base.Add(time.Hour)
	mustSet(t, s, "session-1", []byte("hello"), exp)
	mustSet(t, s, "session-2", []byte("world"), exp)
	wantGet(t, s, "session-1", []byte("hello"))
	wantGet(t, s, "session-2", []byte("world"))
	// The returned slice is the caller's: changing it changes nothing stored.
	got, _, _ := s.Get(ctx(t), "session-1")
	got[0] = 'X'
	wantGet(t, s, "session-1", []byte("hello"))
}

func testBinarySafe(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := map[string][]byte{
		"empty":        {},
		"nul":          {0},
		"nuls":         {0, 0, 'a', 0, 0},
		"invalid-utf8": {0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1},
		"every-byte":   all,
		"quote-chars":  []byte(`'"\;--/*` + "`"),
		"trailing-sp":  []byte("data   "),
	}
	for id, data := range cases {
		mustSet(t, s, id, data, base.Add(time.Hour))
	}
	for id, data := range cases {
		wantGet(t, s, id, data)
	}
	// nil data is stored as empty data, and found.
	mustSet(t, s, "nil", nil, base.Add(time.Hour))
	got, found, err := s.Get(ctx(t), "nil")
	if err != nil || !found || got == nil || len(got) != 0 {
		t.Fatalf("Get(nil data) = %v, %v, %v; want empty non-nil, true, nil", got, found, err)
	}
}

func testLargePayloads(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	for _, n := range []int{1, 1 << 10, 64<<10 + 1, 1 << 20, cfg.MaxDataSize} {
		if n > cfg.MaxDataSize {
			continue
		}
		data := make([]byte, n)
		_, _ = rand.Read(data)
		id := fmt.Sprintf("big-%d", n)
		mustSet(t, s, id, data, base.Add(time.Hour))
		wantGet(t, s, id, data)
	}
	err := s.Set(ctx(t), "too-big", make([]byte, cfg.MaxDataSize+1), base.Add(time.Hour))
	if !errors.Is(err, sqlstore.ErrDataTooLarge) {
		t.Fatalf("Set(MaxDataSize + 1) = %v, want ErrDataTooLarge", err)
	}
	wantGet(t, s, "too-big", nil)
}

func testNotFound(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	data, found, err := s.Get(ctx(t), "missing")
	if err != nil || found || data != nil {
		t.Fatalf("Get(missing) = %q, %v, %v; want nil, false, nil", data, found, err)
	}
}

func testUpsert(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "u", []byte("one"), base.Add(time.Hour))
	mustSet(t, s, "u", []byte("two"), base.Add(2*time.Hour))
	wantGet(t, s, "u", []byte("two"))
	wantCount(t, s, 1)
	if got := ranged(t, s)[s.Key("u")]; !got.Equal(truncMs(base.Add(2 * time.Hour))) {
		t.Fatalf("expiry after upsert = %v, want %v", got, base.Add(2*time.Hour))
	}
	// An upsert may shorten a session, even into the past.
	mustSet(t, s, "u", []byte("three"), base.Add(-time.Second))
	wantGet(t, s, "u", nil)
	// And a Set brings back an expired session (it is a new write).
	mustSet(t, s, "u", []byte("four"), base.Add(time.Minute))
	wantGet(t, s, "u", []byte("four"))
}

func truncMs(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func testDefaultTTL(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithDefaultTTL(90 * time.Minute))
	mustSet(t, s, "ttl", []byte("x"), time.Time{})
	got := ranged(t, s)[s.Key("ttl")]
	if want := truncMs(base.Add(90 * time.Minute)); !got.Equal(want) {
		t.Fatalf("zero expiresAt stored %v, want now + DefaultTTL = %v", got, want)
	}
	e.clock.Add(90*time.Minute - time.Millisecond)
	wantGet(t, s, "ttl", []byte("x"))
	e.clock.Add(time.Millisecond)
	wantGet(t, s, "ttl", nil)
}

func testExpiryExact(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	exp := base.Add(37*time.Minute + 250*time.Millisecond)
	mustSet(t, s, "edge", []byte("x"), exp)
	got := ranged(t, s)[s.Key("edge")]
	if want := truncMs(exp); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Range expiry = %v, want %v in UTC", got, want)
	}
	e.clock.Set(truncMs(exp).Add(-time.Millisecond))
	wantGet(t, s, "edge", []byte("x"))
	wantCount(t, s, 1)
	e.clock.Set(truncMs(exp))
	wantGet(t, s, "edge", nil)
	wantCount(t, s, 0)
	if n := len(ranged(t, s)); n != 0 {
		t.Fatalf("Range at expiry yielded %d sessions, want 0", n)
	}
}

func testExpiredNeverReturned(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "old", []byte("old"), base.Add(-time.Millisecond))
	mustSet(t, s, "live", []byte("live"), base.Add(time.Millisecond))
	wantGet(t, s, "old", nil)
	wantGet(t, s, "live", []byte("live"))
	wantCount(t, s, 1)
	if r := ranged(t, s); len(r) != 1 {
		t.Fatalf("Range yielded %d sessions, want 1", len(r))
	}
}

func testTouch(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "t", []byte("data"), base.Add(time.Minute))
	later := base.Add(time.Hour + 3*time.Millisecond)
	if err := s.Touch(ctx(t), "t", later); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if got := ranged(t, s)[s.Key("t")]; !got.Equal(truncMs(later)) {
		t.Fatalf("expiry after Touch = %v, want %v", got, later)
	}
	e.clock.Set(truncMs(later).Add(-time.Millisecond))
	wantGet(t, s, "t", []byte("data"))
	// Touch may also shorten.
	if err := s.Touch(ctx(t), "t", e.clock.Now().Add(time.Millisecond)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	e.clock.Add(time.Millisecond)
	wantGet(t, s, "t", nil)
	// Touch of a missing id is not an error.
	if err := s.Touch(ctx(t), "nobody", base.Add(time.Hour)); err != nil {
		t.Fatalf("Touch(missing) = %v, want nil", err)
	}
	wantGet(t, s, "nobody", nil)
}

func testTouchNeverRevives(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "expired", []byte("x"), base.Add(-time.Second))
	mustSet(t, s, "deleted", []byte("y"), base.Add(time.Hour))
	if err := s.Delete(ctx(t), "deleted"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"expired", "deleted"} {
		if err := s.Touch(ctx(t), id, base.Add(24*time.Hour)); err != nil {
			t.Fatalf("Touch(%s): %v", id, err)
		}
		wantGet(t, s, id, nil)
	}
	wantCount(t, s, 0)
}

func testTouchThreshold(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithTouchThreshold(time.Minute))
	exp := base.Add(time.Hour)
	mustSet(t, s, "th", []byte("x"), exp)
	// A move shorter than the threshold writes nothing.
	if err := s.Touch(ctx(t), "th", exp.Add(59*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := ranged(t, s)[s.Key("th")]; !got.Equal(truncMs(exp)) {
		t.Fatalf("Touch below the threshold moved expiry to %v, want it at %v", got, exp)
	}
	if err := s.Touch(ctx(t), "th", exp.Add(-59*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := ranged(t, s)[s.Key("th")]; !got.Equal(truncMs(exp)) {
		t.Fatalf("Touch below the threshold moved expiry to %v, want it at %v", got, exp)
	}
	// A move of the threshold or more is written.
	if err := s.Touch(ctx(t), "th", exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := ranged(t, s)[s.Key("th")]; !got.Equal(truncMs(exp.Add(time.Minute))) {
		t.Fatalf("Touch by the threshold: expiry %v, want %v", got, exp.Add(time.Minute))
	}
}

func testDelete(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "d1", []byte("1"), base.Add(time.Hour))
	mustSet(t, s, "d2", []byte("2"), base.Add(time.Hour))
	if err := s.Delete(ctx(t), "d1"); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "d1", nil)
	wantGet(t, s, "d2", []byte("2"))
	if err := s.Delete(ctx(t), "d1"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
}

func testCountClearRange(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	want := map[string]time.Time{}
	for i := range 25 {
		id := fmt.Sprintf("c%02d", i)
		exp := base.Add(time.Duration(i+1) * time.Minute).Add(time.Duration(i) * time.Millisecond)
		mustSet(t, s, id, []byte(id), exp)
		want[s.Key(id)] = truncMs(exp)
	}
	for i := range 5 {
		mustSet(t, s, fmt.Sprintf("x%d", i), []byte("expired"), base.Add(-time.Minute))
	}
	wantCount(t, s, 25)
	got := map[string][]byte{}
	err := s.Range(ctx(t), func(id string, data []byte, exp time.Time) bool {
		if w, ok := want[id]; !ok || !w.Equal(exp) {
			t.Errorf("Range yielded %s expiring %v; want %v (present %v)", id, exp, w, ok)
		}
		got[id] = data
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Fatalf("Range yielded %d sessions, want 25", len(got))
	}
	if string(got[s.Key("c07")]) != "c07" {
		t.Fatalf("Range data of c07 = %q", got[s.Key("c07")])
	}
	if err := s.Clear(ctx(t)); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, 0)
	e.clock.Add(-time.Hour) // the expired rows are gone too
	wantCount(t, s, 0)
}

func testRangeStops(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	for i := range 50 {
		mustSet(t, s, fmt.Sprintf("r%d", i), []byte("x"), base.Add(time.Hour))
	}
	calls := 0
	err := s.Range(ctx(t), func(string, []byte, time.Time) bool {
		calls++
		return calls < 3
	})
	if err != nil || calls != 3 {
		t.Fatalf("Range stopping after 3: %d calls, err %v", calls, err)
	}
	// fn may call the store while Range runs.
	err = s.Range(ctx(t), func(id string, _ []byte, _ time.Time) bool {
		if _, err := s.Count(ctx(t)); err != nil {
			t.Errorf("Count inside Range: %v", err)
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testIDs(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	for _, hashed := range []bool{true, false} {
		e.table = tableName()
		t.Cleanup(func(table string) func() { return func() { dropTable(t, e.db, table) } }(e.table))
		s := e.store(sqlstore.WithHashedIDs(hashed))
		longest := strings.Repeat("~", 255)
		printable := make([]byte, 0, 95)
		for c := byte(0x20); c <= 0x7e; c++ {
			printable = append(printable, c)
		}
		distinct := []string{"a", "a ", " a", "A", longest, string(printable), `'; DROP TABLE x; --`, "%", "_", `\`}
		for i, id := range distinct {
			mustSet(t, s, id, []byte{byte(i)}, base.Add(time.Hour))
		}
		for i, id := range distinct {
			wantGet(t, s, id, []byte{byte(i)})
		}
		wantCount(t, s, int64(len(distinct)))
		for _, bad := range []string{"", longest + "~", "tab\t", "nl\n", "nul\x00", "del\x7f", "é", "\xff"} {
			if err := s.Set(ctx(t), bad, []byte("x"), base.Add(time.Hour)); !errors.Is(err, sqlstore.ErrInvalidID) {
				t.Errorf("Set(%q) = %v, want ErrInvalidID", bad, err)
			}
			if _, _, err := s.Get(ctx(t), bad); !errors.Is(err, sqlstore.ErrInvalidID) {
				t.Errorf("Get(%q) = %v, want ErrInvalidID", bad, err)
			}
			if err := s.Touch(ctx(t), bad, base.Add(time.Hour)); !errors.Is(err, sqlstore.ErrInvalidID) {
				t.Errorf("Touch(%q) = %v, want ErrInvalidID", bad, err)
			}
			if err := s.Delete(ctx(t), bad); !errors.Is(err, sqlstore.ErrInvalidID) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidID", bad, err)
			}
		}
		wantCount(t, s, int64(len(distinct)))
	}
}

func testPlainIDs(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithHashedIDs(false))
	mustSet(t, s, "plain-id", []byte("x"), base.Add(time.Hour))
	r := ranged(t, s)
	if _, ok := r["plain-id"]; !ok || s.Key("plain-id") != "plain-id" {
		t.Fatalf("with plain ids Range yielded %v, want the id itself", r)
	}
	hashed := tableName()
	h := e.store(sqlstore.WithHashedIDs(true), sqlstore.WithTable(hashed))
	t.Cleanup(func() { dropTable(t, e.db, hashed) })
	mustSet(t, h, "plain-id", []byte("x"), base.Add(time.Hour))
	r = ranged(t, h)
	key := h.Key("plain-id")
	if _, ok := r[key]; !ok || len(key) != 64 || key == "plain-id" {
		t.Fatalf("with hashed ids Range yielded %v, want the 64-hex key %s", r, key)
	}
}

func testPrune(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithPruneBatchSize(7))
	for i := range 30 {
		mustSet(t, s, fmt.Sprintf("gone%d", i), []byte("x"), base.Add(-time.Duration(i+1)*time.Second))
	}
	for i := range 12 {
		mustSet(t, s, fmt.Sprintf("kept%d", i), []byte("y"), base.Add(time.Duration(i+1)*time.Second))
	}
	mustSet(t, s, "edge", []byte("z"), base) // expires exactly now: pruned
	n, err := s.Prune(ctx(t))
	if err != nil || n != 31 {
		t.Fatalf("Prune = %d, %v; want 31, nil", n, err)
	}
	wantCount(t, s, 12)
	// The pruned rows are gone, not merely hidden.
	e.clock.Add(-time.Hour)
	wantCount(t, s, 12)
	e.clock.Add(time.Hour)
	n, err = s.Prune(ctx(t))
	if err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v; want 0, nil", n, err)
	}
	var progress []int64
	e.clock.Add(time.Minute)
	n, err = hook.Prune(ctx(t), s, func(d int64) { progress = append(progress, d) })
	if err != nil || n != 12 || len(progress) != 2 || progress[1] != 12 {
		t.Fatalf("Prune with progress = %d, %v, progress %v; want 12 in batches of 7", n, err, progress)
	}
}

func testBackgroundPrune(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithPruneInterval(20 * time.Millisecond))
	mustSet(t, s, "bg-old", []byte("x"), base.Add(-time.Second))
	mustSet(t, s, "bg-new", []byte("y"), base.Add(time.Hour))
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.Stats(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Live + st.Expired; n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background pruner left %+v after 30s, want 1 row", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantGet(t, s, "bg-new", []byte("y"))
}

func testConcurrentUpserts(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	ids := []string{"hot-1", "hot-2", "hot-3", "hot-4"}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for g := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := ids[(g+i)%len(ids)]
				if err := s.Set(context.Background(), id, fmt.Appendf(nil, "g%d-i%d", g, i), base.Add(time.Hour)); err != nil {
					failures.Add(1)
					t.Errorf("Set: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d concurrent upserts failed", failures.Load())
	}
	wantCount(t, s, int64(len(ids)))
	for _, id := range ids {
		got, found, err := s.Get(ctx(t), id)
		if err != nil || !found || !bytes.HasPrefix(got, []byte("g")) {
			t.Fatalf("Get(%s) = %q, %v, %v", id, got, found, err)
		}
	}
}

func testConcurrentNew(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	const n = 8
	var wg sync.WaitGroup
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := append([]sqlstore.Option{sqlstore.WithTable(e.table), sqlstore.WithPruneInterval(0)}, cfg.Options...)
			stores[i], errs[i] = cfg.new(ctx(t), e.db, opts...)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent New %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	mustSet(t, stores[0], "shared", []byte("x"), time.Now().Add(time.Hour))
	wantGet(t, stores[n-1], "shared", []byte("x"))
}

func testTableChecks(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	opts := append([]sqlstore.Option{sqlstore.WithTable(e.table), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(false)}, cfg.Options...)
	_, err := cfg.new(ctx(t), e.db, opts...)
	if err == nil || !strings.Contains(err.Error(), e.table) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("New(WithCreateTable(false)) on a missing table = %v, want an error naming the table", err)
	}
	// A table lacking a column is reported, never altered.
	if _, err := e.db.ExecContext(ctx(t), "CREATE TABLE "+e.table+" (token VARCHAR(255) PRIMARY KEY, data VARCHAR(10))"); err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{true, false} {
		opts := append([]sqlstore.Option{sqlstore.WithTable(e.table), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(create)}, cfg.Options...)
		_, err = cfg.new(ctx(t), e.db, opts...)
		if err == nil || !strings.Contains(err.Error(), "expiry") {
			t.Fatalf("New on a table without expiry (create %v) = %v, want an error naming the column", create, err)
		}
	}
	// Once created, a store with creation off finds it.
	name := tableName()
	e.store(sqlstore.WithTable(name))
	t.Cleanup(func() { dropTable(t, e.db, name) })
	opts = append([]sqlstore.Option{sqlstore.WithTable(name), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(false)}, cfg.Options...)
	s2, err := cfg.new(ctx(t), e.db, opts...)
	if err != nil {
		t.Fatalf("New(WithCreateTable(false)) on an existing table: %v", err)
	}
	s2.Close()
}

func testTwoStores(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	a := e.store()
	other := tableName()
	t.Cleanup(func() { dropTable(t, e.db, other) })
	b := e.store(sqlstore.WithTable(other))
	mustSet(t, a, "same-id", []byte("a"), base.Add(time.Hour))
	mustSet(t, b, "same-id", []byte("b"), base.Add(time.Hour))
	wantGet(t, a, "same-id", []byte("a"))
	wantGet(t, b, "same-id", []byte("b"))
	if err := a.Clear(ctx(t)); err != nil {
		t.Fatal(err)
	}
	wantGet(t, b, "same-id", []byte("b"))
}

func testClose(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithPruneInterval(time.Hour))
	mustSet(t, s, "c", []byte("x"), base.Add(time.Hour))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c := ctx(t)
	checks := map[string]error{}
	_, _, checks["Get"] = s.Get(c, "c")
	checks["Set"] = s.Set(c, "c", nil, time.Time{})
	checks["Touch"] = s.Touch(c, "c", time.Time{})
	checks["Delete"] = s.Delete(c, "c")
	_, checks["Count"] = s.Count(c)
	checks["Clear"] = s.Clear(c)
	checks["Range"] = s.Range(c, func(string, []byte, time.Time) bool { return true })
	_, checks["Prune"] = s.Prune(c)
	for op, err := range checks {
		if !errors.Is(err, sqlstore.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
	// The caller's pool stays open.
	if err := e.db.PingContext(c); err != nil {
		t.Fatalf("Close closed the caller's pool: %v", err)
	}
	s2 := e.store()
	wantGet(t, s2, "c", []byte("x"))
}

func testContext(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSet(t, s, "ctx", []byte("x"), base.Add(time.Hour))
	c, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, _, checks["Get"] = s.Get(c, "ctx")
	checks["Set"] = s.Set(c, "ctx", []byte("y"), base.Add(time.Hour))
	checks["Touch"] = s.Touch(c, "ctx", base.Add(2*time.Hour))
	checks["Delete"] = s.Delete(c, "ctx")
	_, checks["Count"] = s.Count(c)
	checks["Clear"] = s.Clear(c)
	checks["Range"] = s.Range(c, func(string, []byte, time.Time) bool { return true })
	_, checks["Prune"] = s.Prune(c)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	wantGet(t, s, "ctx", []byte("x"))
	_, err := cfg.new(c, e.db, sqlstore.WithTable(tableName()))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context = %v, want context.Canceled", err)
	}
}

// testTimeZones writes and reads through pools in different database time
// zones (and, for MySQL, parseTime/loc), with a clock labelled in yet other
// zones: every expiry decision stays exact to the millisecond.
func testTimeZones(t *testing.T, cfg Config) {
	if cfg.OpenInTimeZone == nil {
		t.Skip("Config.OpenInTimeZone is not set")
	}
	e := newEnv(t, cfg)
	zones := []string{"Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "UTC"}
	clockZones := []string{"Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kathmandu", "Europe/London"}
	stores := make([]*sqlstore.Store, len(zones))
	clocks := make([]*clock, len(zones))
	for i, tz := range zones {
		loc, err := time.LoadLocation(clockZones[i])
		if err != nil {
			t.Skipf("time zone data missing: %v", err)
		}
		db := cfg.OpenInTimeZone(t, tz)
		clocks[i] = newClock(base.In(loc))
		opts := append([]sqlstore.Option{sqlstore.WithTable(e.table), sqlstore.WithClock(clocks[i].Now), sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(0)}, cfg.Options...)
		s, err := cfg.new(ctx(t), db, opts...)
		if err != nil {
			t.Fatalf("New in %s: %v", tz, err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	for w, writer := range stores {
		id := fmt.Sprintf("tz-%d", w)
		exp := base.Add(time.Duration(w+1)*time.Hour + 321*time.Millisecond).In(clocks[w].Now().Location())
		mustSet(t, writer, id, []byte(zones[w]), exp)
		for r, reader := range stores {
			clocks[r].Set(truncMs(exp).Add(-time.Millisecond).In(clocks[r].Now().Location()))
			wantGet(t, reader, id, []byte(zones[w]))
			if got := ranged(t, reader)[reader.Key(id)]; !got.Equal(truncMs(exp)) {
				t.Fatalf("written in %s, read in %s: Range expiry %v, want %v", zones[w], zones[r], got, truncMs(exp))
			}
			clocks[r].Set(truncMs(exp))
			wantGet(t, reader, id, nil)
		}
		// Touch in another zone moves it exactly.
		r := (w + 1) % len(stores)
		clocks[r].Set(base)
		moved := exp.Add(17*time.Minute + 5*time.Millisecond)
		if err := stores[r].Touch(ctx(t), id, moved); err != nil {
			t.Fatal(err)
		}
		clocks[w].Set(truncMs(moved).Add(-time.Millisecond))
		wantGet(t, writer, id, []byte(zones[w]))
		clocks[w].Set(truncMs(moved))
		wantGet(t, writer, id, nil)
	}
}
