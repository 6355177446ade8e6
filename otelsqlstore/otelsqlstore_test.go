package otelsqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
	"github.com/go-sqlstore/sqlstore/otelsqlstore"
)

type ctxKey struct{}

// rig is an Observer whose metrics a test collects with a manual reader.
type rig struct {
	reader *sdkmetric.ManualReader
	obs    *otelsqlstore.Observer
	common []attribute.KeyValue // WithAttributes
}

func newRig(t *testing.T, common ...attribute.KeyValue) *rig {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
		// A filter that reads each measurement's context, as any part of
		// a MeterProvider may: a nil one would panic here.
		sdkmetric.WithExemplarFilter(func(ctx context.Context) bool { return ctx.Value(ctxKey{}) != nil }))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	obs, err := otelsqlstore.New(otelsqlstore.WithMeterProvider(mp), otelsqlstore.WithAttributes(common...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = obs.Close() })
	return &rig{reader: reader, obs: obs, common: common}
}

// key returns the encoding of the attribute set of a data point: the
// rig's common attributes and kv.
func (r *rig) key(kv ...attribute.KeyValue) string {
	set := attribute.NewSet(append(slices.Clone(r.common), kv...)...)
	return set.Encoded(attribute.DefaultEncoder())
}

// op returns the key of an operation's data point.
func (r *rig) op(op, outcome string, kv ...attribute.KeyValue) string {
	return r.key(append([]attribute.KeyValue{
		attribute.String("sqlstore.operation.name", op),
		attribute.String("sqlstore.operation.outcome", outcome),
	}, kv...)...)
}

// snapshot is what one collection exported, by metric name and then by the
// encoded attribute set of each data point.
type snapshot struct {
	t       *testing.T
	metrics map[string]metricdata.Metrics
}

func (r *rig) collect(t *testing.T) snapshot {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	s := snapshot{t: t, metrics: map[string]metricdata.Metrics{}}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelsqlstore.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelsqlstore.ScopeName)
		}
		for _, m := range sm.Metrics {
			s.metrics[m.Name] = m
		}
	}
	return s
}

// metric returns the metric name with its unit checked, or false when it
// was not exported.
func (s snapshot) metric(name, unit string) (metricdata.Metrics, bool) {
	s.t.Helper()
	m, ok := s.metrics[name]
	if ok && m.Unit != unit {
		s.t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	return m, ok
}

// counter returns the values of the monotonic cumulative counter name.
func (s snapshot) counter(name, unit string) map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	m, ok := s.metric(name, unit)
	if !ok {
		return out
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		s.t.Fatalf("%s: %T (monotonic %v), want a cumulative monotonic Sum[int64]", name, m.Data, sum.IsMonotonic)
	}
	for _, dp := range sum.DataPoints {
		out[dp.Attributes.Encoded(attribute.DefaultEncoder())] = dp.Value
	}
	return out
}

// histogram returns the counts of the histogram name, after checking that
// each data point's buckets add up to its count and its sum is not negative.
func (s snapshot) histogram(name string) map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	m, ok := s.metric(name, "s")
	if !ok {
		return out
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		s.t.Fatalf("%s: %T, want a Histogram[float64]", name, m.Data)
	}
	for _, dp := range h.DataPoints {
		var n uint64
		for _, c := range dp.BucketCounts {
			n += c
		}
		if n != dp.Count || dp.Sum < 0 {
			s.t.Errorf("%s %s: buckets hold %d, count %d, sum %v", name, dp.Attributes.Encoded(attribute.DefaultEncoder()), n, dp.Count, dp.Sum)
		}
		out[dp.Attributes.Encoded(attribute.DefaultEncoder())] = int64(dp.Count)
	}
	return out
}

// gauge returns the values of the int64 gauge name.
func (s snapshot) gauge(name, unit string) map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	m, ok := s.metric(name, unit)
	if !ok {
		return out
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok {
		s.t.Fatalf("%s: %T, want a Gauge[int64]", name, m.Data)
	}
	for _, dp := range g.DataPoints {
		out[dp.Attributes.Encoded(attribute.DefaultEncoder())] = dp.Value
	}
	return out
}

func expect(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(m map[string]int64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "\n\t%s = %d", k, m[k])
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// withoutPrune returns m less the data points of op "prune".
func withoutPrune(m map[string]int64) map[string]int64 {
	out := maps.Clone(m)
	maps.DeleteFunc(out, func(k string, _ int64) bool { return strings.Contains(k, "sqlstore.operation.name=prune") })
	return out
}

const (
	operations = "sqlstore.operations"
	opDuration = "sqlstore.operation.duration"
	retries    = "sqlstore.operation.retries"
	pruneDur   = "sqlstore.prune.duration"
	pruned     = "sqlstore.prune.sessions"
	sessionCnt = "sqlstore.session.count"
)

// TestMetrics runs a known sequence of calls on a real Store and checks
// that the exported metrics are exactly what the sequence implies.
func TestMetrics(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testMetrics(t, kind)
		})
	}
}

func testMetrics(t *testing.T, kind string) {
	ctx := context.Background()
	db := testdb.Open(t, kind)
	table := testdb.Table(t, db)
	r := newRig(t, attribute.String("db.collection.name", table))
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := testdb.NewClock(t0)
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithClock(clock.Now),
		sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(5*time.Second), sqlstore.WithObserver(r.obs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string, want bool) {
		t.Helper()
		_, found, err := s.Get(ctx, id)
		must(err)
		if found != want {
			t.Fatalf("Get(%q): found %v, want %v", id, found, want)
		}
	}

	// Nothing happened yet: nothing is exported.
	snap := r.collect(t)
	if len(snap.metrics) != 0 {
		t.Errorf("before any call: %d metrics exported, want none", len(snap.metrics))
	}

	for _, id := range []string{"a", "b", "c"} {
		must(s.Set(ctx, id, []byte("data "+id), t0.Add(time.Hour))) // set written
	}
	must(s.Set(ctx, "d", []byte("data d"), t0.Add(3*time.Hour))) // set written
	get("a", true)                                               // get hit
	get("missing", false)                                        // get miss
	must(s.Touch(ctx, "a", t0.Add(time.Hour+time.Second)))       // touch skipped: below the threshold
	must(s.Touch(ctx, "b", t0.Add(2*time.Hour)))                 // touch written
	must(s.Delete(ctx, "d"))                                     // delete ended
	must(s.Delete(ctx, "missing"))                               // delete skipped
	must(s.Set(ctx, "d", []byte("again"), t0.Add(3*time.Hour)))  // set skipped: d was ended
	get("d", false)                                              // get miss
	if _, _, err := s.Get(ctx, ""); !errors.Is(err, sqlstore.ErrInvalidID) {
		t.Fatalf("Get of an empty id: %v, want ErrInvalidID", err) // get error
	}

	want := map[string]int64{
		r.op("set", "written"): 4,
		r.op("set", "skipped"): 1,
		r.op("get", "hit"):     1,
		r.op("get", "miss"):    2,
		r.op("get", "error", attribute.String("error.type", "invalid_id")): 1,
		r.op("touch", "skipped"):  1,
		r.op("touch", "written"):  1,
		r.op("delete", "ended"):   1,
		r.op("delete", "skipped"): 1,
	}
	snap = r.collect(t)
	expect(t, operations+" before the first sweep", snap.counter(operations, "{operation}"), want)
	expect(t, opDuration+" counts before the first sweep", snap.histogram(opDuration), want)
	expect(t, sessionCnt+" before the first sweep", snap.gauge(sessionCnt, "{session}"), map[string]int64{})
	expect(t, pruned+" before the first sweep", snap.counter(pruned, "{session}"), map[string]int64{})
	expect(t, retries, snap.counter(retries, "{retry}"), map[string]int64{})

	// 90 minutes on, a and c have expired (b was touched to 2 h, d ends at
	// 3 h): the sweep deletes 2, and leaves b live and d ended.
	clock.Set(t0.Add(90 * time.Minute))
	n, err := s.Prune(ctx)
	must(err)
	if n != 2 {
		t.Fatalf("first Prune deleted %d, want 2", n)
	}
	want[r.op("prune", "done")] = 1
	want[r.op("stats", "done")] = 1 // the sweep's own Stats
	snap = r.collect(t)
	ops := snap.counter(operations, "{operation}")
	expect(t, operations+" after the first sweep", ops, want)
	expect(t, opDuration+" counts after the first sweep", snap.histogram(opDuration), withoutPrune(ops))
	expect(t, pruneDur+" counts after the first sweep", snap.histogram(pruneDur),
		map[string]int64{r.key(attribute.String("sqlstore.operation.outcome", "done")): 1})
	expect(t, pruned+" after the first sweep", snap.counter(pruned, "{session}"), map[string]int64{r.key(): 2})
	state := func(live, ended, expired int64) map[string]int64 {
		return map[string]int64{
			r.key(attribute.String("sqlstore.session.state", "live")):    live,
			r.key(attribute.String("sqlstore.session.state", "ended")):   ended,
			r.key(attribute.String("sqlstore.session.state", "expired")): expired,
		}
	}
	gauge := snap.gauge(sessionCnt, "{session}")
	expect(t, sessionCnt+" after the first sweep", gauge, state(1, 1, 0))

	// The gauge is what Stats says right after the sweep.
	st, err := s.Stats(ctx)
	must(err)
	want[r.op("stats", "done")]++
	expect(t, sessionCnt+" against Stats", gauge, state(st.Live, st.Ended, st.Expired))

	// The gauge reports the figures it was given, without asking the
	// database: a session written now shows at the next sweep only.
	must(s.Set(ctx, "e", []byte("data e"), t0.Add(4*time.Hour)))
	must(s.Set(ctx, "f", []byte("data f"), t0.Add(4*time.Hour)))
	want[r.op("set", "written")] += 2
	expect(t, sessionCnt+" after two Sets", r.collect(t).gauge(sessionCnt, "{session}"), state(1, 1, 0))

	// 150 minutes on, b has expired too: the second sweep deletes it and
	// the gauge moves to the latest figures (e and f live, d still ended).
	clock.Set(t0.Add(150 * time.Minute))
	n, err = s.Prune(ctx)
	must(err)
	if n != 1 {
		t.Fatalf("second Prune deleted %d, want 1", n)
	}
	want[r.op("prune", "done")]++
	want[r.op("stats", "done")]++
	snap = r.collect(t)
	ops = snap.counter(operations, "{operation}")
	expect(t, operations+" at the end", ops, want)
	expect(t, opDuration+" counts at the end", snap.histogram(opDuration), withoutPrune(ops))
	expect(t, pruneDur+" counts at the end", snap.histogram(pruneDur),
		map[string]int64{r.key(attribute.String("sqlstore.operation.outcome", "done")): 2})
	expect(t, pruned+" at the end", snap.counter(pruned, "{session}"), map[string]int64{r.key(): 3})
	expect(t, sessionCnt+" at the end", snap.gauge(sessionCnt, "{session}"), state(2, 1, 0))
	expect(t, retries+" at the end", snap.counter(retries, "{retry}"), map[string]int64{})
}

// sqlStateError is a driver error with a SQLSTATE, as lib/pq's and pgx's are.
type sqlStateError string

func (e sqlStateError) Error() string    { return "ERROR: SQLSTATE " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// failingQuerier runs a Store's statements on a *sql.DB, except that each
// write first returns the errors queued in fail, one per call.
type failingQuerier struct {
	db   *sql.DB
	mu   sync.Mutex
	fail []error
}

func (q *failingQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return q.db.QueryRowContext(ctx, query, args...)
}

func (q *failingQuerier) Exec(ctx context.Context, query string, args ...any) error {
	_, err := q.ExecRows(ctx, query, args...)
	return err
}

func (q *failingQuerier) ExecRows(ctx context.Context, query string, args ...any) (int64, error) {
	q.mu.Lock()
	if len(q.fail) > 0 {
		err := q.fail[0]
		q.fail = q.fail[1:]
		q.mu.Unlock()
		return 0, err
	}
	q.mu.Unlock()
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TestRetriesAndErrors runs a Store whose writes meet a transient conflict
// and then a permanent error: the retry is counted by operation, and
// neither in sqlstore.operations nor in the duration histogram; errors are
// counted by error.type.
func TestRetriesAndErrors(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t, "sqlite")
	r := newRig(t)
	q := &failingQuerier{db: db, fail: []error{sqlStateError("40001"), sqlStateError("40001")}}
	s, err := sqlstore.New(ctx, db, sqlstore.WithPruneInterval(0), sqlstore.WithQuerier(q), sqlstore.WithObserver(r.obs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// Two conflicts, then the write: two retries, one operation.
	if err := s.Set(ctx, "a", []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A permanent error, which is not retried.
	q.fail = []error{sqlStateError("22001")}
	if err := s.Set(ctx, "a", []byte("x"), time.Time{}); err == nil {
		t.Fatal("Set with a failing write: no error")
	}
	// A context that has ended.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Get(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v", err)
	}
	// A nil context: the call fails, and the Observer, told with that nil
	// context, still counts it.
	var nilCtx context.Context
	if _, _, err := s.Get(nilCtx, "a"); err == nil {
		t.Fatal("Get with a nil context: no error")
	}
	// A closed store.
	s.Close()
	if err := s.Touch(ctx, "a", time.Time{}); !errors.Is(err, sqlstore.ErrClosed) {
		t.Fatalf("Touch of a closed store: %v", err)
	}

	snap := r.collect(t)
	want := map[string]int64{
		r.op("set", "written"): 1,
		r.op("set", "error", attribute.String("error.type", "22001")):               1,
		r.op("get", "error", attribute.String("error.type", "canceled")):            1,
		r.op("get", "error", attribute.String("error.type", "*errors.errorString")): 1,
		r.op("touch", "error", attribute.String("error.type", "closed")):            1,
	}
	ops := snap.counter(operations, "{operation}")
	expect(t, operations, ops, want)
	expect(t, opDuration+" counts", snap.histogram(opDuration), ops)
	expect(t, retries, snap.counter(retries, "{retry}"),
		map[string]int64{r.key(attribute.String("sqlstore.operation.name", "set")): 2})
}

// TestEvents gives the Observer events directly: those a real store
// rarely produces (a failed sweep, a sweep whose Stats failed, a retry of a
// sweep's batch).
func TestEvents(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, attribute.String("db.system.name", "postgresql"))
	r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeDone, Duration: 2 * time.Second, Rows: 5,
		Stats: &sqlstore.Stats{Live: 7, Ended: 3, Expired: 1}})
	// A sweep whose Stats failed leaves the gauge at the previous figures.
	r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeDone, Duration: time.Second, Rows: 0})
	// A failed sweep, after deleting 4 rows.
	r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeError, Duration: time.Second, Rows: 4,
		Err: fmt.Errorf("sqlstore: prune: %w", context.DeadlineExceeded)})
	r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeRetried, Err: sqlStateError("40P01")})
	// Rows -1: the path could not tell.
	r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeDone, Duration: time.Second, Rows: -1})

	snap := r.collect(t)
	expect(t, operations, snap.counter(operations, "{operation}"), map[string]int64{
		r.op("prune", "done"): 3,
		r.op("prune", "error", attribute.String("error.type", "timeout")): 1,
	})
	expect(t, opDuration, snap.histogram(opDuration), map[string]int64{})
	expect(t, pruneDur, snap.histogram(pruneDur), map[string]int64{
		r.key(attribute.String("sqlstore.operation.outcome", "done")):                                             3,
		r.key(attribute.String("sqlstore.operation.outcome", "error"), attribute.String("error.type", "timeout")): 1,
	})
	expect(t, pruned, snap.counter(pruned, "{session}"), map[string]int64{r.key(): 9})
	expect(t, retries, snap.counter(retries, "{retry}"), map[string]int64{r.key(attribute.String("sqlstore.operation.name", "prune")): 1})
	expect(t, sessionCnt, snap.gauge(sessionCnt, "{session}"), map[string]int64{
		r.key(attribute.String("sqlstore.session.state", "live")):    7,
		r.key(attribute.String("sqlstore.session.state", "ended")):   3,
		r.key(attribute.String("sqlstore.session.state", "expired")): 1,
	})
	if m, ok := snap.metric(pruneDur, "s"); ok {
		h := m.Data.(metricdata.Histogram[float64])
		for _, dp := range h.DataPoints {
			if dp.Attributes.Encoded(attribute.DefaultEncoder()) == r.key(attribute.String("sqlstore.operation.outcome", "done")) && dp.Sum != 4 {
				t.Errorf("%s sum %v s, want 4", pruneDur, dp.Sum)
			}
		}
	}

	// After Close the gauge reports nothing.
	if err := r.obs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.obs.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	expect(t, sessionCnt+" after Close", r.collect(t).gauge(sessionCnt, "{session}"), map[string]int64{})
}

// TestConcurrent reports events from many goroutines while collecting, for
// the race detector.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpGet, Outcome: sqlstore.OutcomeHit, Duration: time.Microsecond})
				if i%50 == 0 {
					r.obs.Observe(ctx, sqlstore.Event{Op: sqlstore.OpPrune, Outcome: sqlstore.OutcomeDone,
						Stats: &sqlstore.Stats{Live: int64(g)}})
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			r.collect(t)
		}
	})
	wg.Wait()
	snap := r.collect(t)
	if got := snap.counter(operations, "{operation}")[r.op("get", "hit")]; got != goroutines*each {
		t.Errorf("get hit = %d, want %d", got, goroutines*each)
	}
}

// globalSet tells whether a run of TestGlobalMeterProvider (go test
// -count) has set the global MeterProvider, which hands the meters made
// before to the first one set only.
var globalSet bool

// TestGlobalMeterProvider checks that New without WithMeterProvider uses
// the global MeterProvider: on the first run, one set after New.
func TestGlobalMeterProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	if globalSet {
		otel.SetMeterProvider(mp)
	}
	obs, err := otelsqlstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if !globalSet {
		otel.SetMeterProvider(mp)
		globalSet = true
	}

	obs.Observe(context.Background(), sqlstore.Event{Op: sqlstore.OpCount, Outcome: sqlstore.OutcomeDone})
	r := &rig{reader: reader, obs: obs}
	expect(t, operations, r.collect(t).counter(operations, "{operation}"), map[string]int64{r.op("count", "done"): 1})
}
