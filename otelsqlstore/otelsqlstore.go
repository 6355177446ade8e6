// Package otelsqlstore reports what a [sqlstore.Store] does as OpenTelemetry
// metrics. It is a module of its own, so that sqlstore itself depends on no
// part of OpenTelemetry; an [Observer] is given to the Store with
// [sqlstore.WithObserver]:
//
//	obs, err := otelsqlstore.New()
//	...
//	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithObserver(obs))
//
// # Metrics
//
// All come from the meter named by the package path
// ("github.com/go-sqlstore/sqlstore/otelsqlstore"). Attribute
// sqlstore.operation.name is the [sqlstore.Op] ("get", "set", "set_owned",
// "touch", "delete", "delete_key", "delete_owner", "sessions", "count",
// "range", "clear", "stats", "prune"); sqlstore.operation.outcome is the
// [sqlstore.Outcome] ("hit", "miss", "written", "skipped", "ended", "done",
// "error").
//
//   - sqlstore.operations (counter, {operation}): the operations that ended,
//     sweeps included, by sqlstore.operation.name and
//     sqlstore.operation.outcome, plus error.type when the outcome is
//     "error".
//   - sqlstore.operation.duration (histogram, s): the wall time of each
//     operation but sweeps, retries included, with the attributes of
//     sqlstore.operations.
//   - sqlstore.operation.retries (counter, {retry}): the attempts of a write
//     that met a transient conflict (a deadlock, a serialization failure)
//     and were tried again, by sqlstore.operation.name.
//   - sqlstore.prune.duration (histogram, s): the wall time of each sweep of
//     expired sessions (background or [sqlstore.Store.Prune]), by
//     sqlstore.operation.outcome ("done" or "error") and error.type. Its
//     buckets reach minutes, as a large sweep rests between batches.
//   - sqlstore.prune.sessions (counter, {session}): the sessions the sweeps
//     pruned, as [sqlstore.Store.Prune] counts them (Event.Rows of each
//     sweep).
//   - sqlstore.session.count (gauge, {session}): the sessions of the table by
//     sqlstore.session.state ("live", "ended", "expired"), as the latest
//     sweep found them right after it ran ([sqlstore.Stats]). The gauge never
//     queries the database: it reports nothing before the first sweep, and
//     the same figures until the next one, so its age is the prune interval
//     at most ([sqlstore.WithPruneInterval]), or the time since the last
//     [sqlstore.Store.Prune] when background sweeps are off. Processes that
//     share a table each report the whole table: aggregate them with max,
//     not sum.
//
// Every measurement also carries the attributes given with [WithAttributes].
//
// A Store's own sweep reads the table's Stats with [sqlstore.Store.Stats],
// so each sweep also counts one "stats" operation.
//
// # Errors
//
// error.type is low in cardinality: "closed" ([sqlstore.ErrClosed]),
// "invalid_id", "invalid_owner", "invalid_expiry", "data_too_large" (the
// other errors of package sqlstore), "canceled" and "timeout" (the context
// ended), the SQLSTATE of a PostgreSQL error (lib/pq, pgx) such as "40001",
// the number of a MySQL or MariaDB error (go-sql-driver/mysql) such as
// "1213", and otherwise the Go type of the error, as
// [go.opentelemetry.io/otel/semconv/v1.43.0.ErrorType] names it.
package otelsqlstore

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/go-sqlstore/sqlstore"
)

// ScopeName is the name of the meter the metrics come from.
const ScopeName = "github.com/go-sqlstore/sqlstore/otelsqlstore"

// The attribute keys of the metrics.
const (
	operationKey = attribute.Key("sqlstore.operation.name")    // the sqlstore.Op
	outcomeKey   = attribute.Key("sqlstore.operation.outcome") // the sqlstore.Outcome
	stateKey     = attribute.Key("sqlstore.session.state")     // live, ended or expired
)

// An Option configures an Observer.
type Option func(*config)

type config struct {
	mp    metric.MeterProvider
	attrs []attribute.KeyValue
}

// WithMeterProvider sets the MeterProvider the Observer's meter comes from.
// The default, or nil, is the global one ([otel.GetMeterProvider]); one that
// the program sets after New ([otel.SetMeterProvider]) still receives the
// metrics, as OpenTelemetry's global hands its meters to the first one set.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithAttributes adds attributes to every measurement, to tell stores
// apart, such as the table (semconv's db.collection.name) or the database
// system (db.system.name). Give each Store its own Observer with its own
// attributes: the sqlstore.session.count gauge holds one table's figures.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

// Observer records the events of a Store as OpenTelemetry metrics. It
// implements [sqlstore.Observer] and is safe for concurrent use.
type Observer struct {
	ops        metric.Int64Counter
	duration   metric.Float64Histogram
	retries    metric.Int64Counter
	pruneDur   metric.Float64Histogram
	pruned     metric.Int64Counter
	sessions   metric.Int64ObservableGauge
	reg        metric.Registration
	attrs      []attribute.KeyValue
	known      map[opOutcome]measureOpts // read-only after New
	retryKnown map[sqlstore.Op]measureOpts
	prunedOpts measureOpts
	stateSets  [3]metric.ObserveOption // live, ended, expired
	stats      atomic.Pointer[sqlstore.Stats]
	closeOnce  sync.Once
	closeErr   error
}

type opOutcome struct {
	op      sqlstore.Op
	outcome sqlstore.Outcome
}

// measureOpts holds one attribute set as the options of both Add and
// Record, built once so that a measurement allocates nothing for them.
type measureOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newMeasureOpts(attrs ...attribute.KeyValue) measureOpts {
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return measureOpts{add: []metric.AddOption{o}, record: []metric.RecordOption{o}}
}

var (
	ops = []sqlstore.Op{
		sqlstore.OpGet, sqlstore.OpSet, sqlstore.OpSetOwned, sqlstore.OpTouch, sqlstore.OpDelete,
		sqlstore.OpDeleteKey, sqlstore.OpDeleteOwner, sqlstore.OpSessions, sqlstore.OpCount,
		sqlstore.OpRange, sqlstore.OpClear, sqlstore.OpStats, sqlstore.OpPrune, sqlstore.OpRekey,
		sqlstore.OpCheckpoint,
	}
	// outcomes are those of an operation that ended without an error (an
	// error adds error.type, so its attribute set is built when it comes).
	outcomes = []sqlstore.Outcome{
		sqlstore.OutcomeHit, sqlstore.OutcomeMiss, sqlstore.OutcomeWritten, sqlstore.OutcomeSkipped,
		sqlstore.OutcomeEnded, sqlstore.OutcomeDone,
	}
)

// Bucket boundaries, in seconds. An operation's: 100 µs (a Get from a local
// SQLite file) to 10 s (a write waiting out retries); a sweep's: 1 ms to
// 10 minutes (a sweep of millions of rows, resting between batches).
var (
	operationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	pruneBuckets     = []float64{0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// New returns an Observer whose instruments come from the meter
// [ScopeName] of the MeterProvider ([WithMeterProvider]). It fails only
// when the MeterProvider refuses an instrument.
func New(opts ...Option) (*Observer, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	m := c.mp.Meter(ScopeName)
	o := &Observer{attrs: c.attrs}
	var err error
	if o.ops, err = m.Int64Counter("sqlstore.operations",
		metric.WithUnit("{operation}"),
		metric.WithDescription("Operations of the session store that ended, by operation and outcome.")); err != nil {
		return nil, err
	}
	if o.duration, err = m.Float64Histogram("sqlstore.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of the session store's operations, sweeps excepted."),
		metric.WithExplicitBucketBoundaries(operationBuckets...)); err != nil {
		return nil, err
	}
	if o.retries, err = m.Int64Counter("sqlstore.operation.retries",
		metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts of a write that met a transient conflict and were tried again.")); err != nil {
		return nil, err
	}
	if o.pruneDur, err = m.Float64Histogram("sqlstore.prune.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of the sweeps of expired sessions."),
		metric.WithExplicitBucketBoundaries(pruneBuckets...)); err != nil {
		return nil, err
	}
	if o.pruned, err = m.Int64Counter("sqlstore.prune.sessions",
		metric.WithUnit("{session}"),
		metric.WithDescription("Sessions pruned by the sweeps of expired sessions.")); err != nil {
		return nil, err
	}
	if o.sessions, err = m.Int64ObservableGauge("sqlstore.session.count",
		metric.WithUnit("{session}"),
		metric.WithDescription("Sessions in the table by state, as the latest sweep found them.")); err != nil {
		return nil, err
	}

	o.known = make(map[opOutcome]measureOpts, len(ops)*len(outcomes))
	o.retryKnown = make(map[sqlstore.Op]measureOpts, len(ops))
	for _, op := range ops {
		for _, oc := range outcomes {
			o.known[opOutcome{op, oc}] = o.opts(op, oc, nil)
		}
		o.retryKnown[op] = newMeasureOpts(o.with(operationKey.String(string(op)))...)
	}
	o.prunedOpts = newMeasureOpts(o.attrs...)
	for i, state := range []string{"live", "ended", "expired"} {
		o.stateSets[i] = metric.WithAttributeSet(attribute.NewSet(o.with(stateKey.String(state))...))
	}

	if o.reg, err = m.RegisterCallback(o.observeSessions, o.sessions); err != nil {
		return nil, err
	}
	return o, nil
}

// with returns the Observer's own attributes followed by kv.
func (o *Observer) with(kv ...attribute.KeyValue) []attribute.KeyValue {
	return append(append(make([]attribute.KeyValue, 0, len(o.attrs)+len(kv)), o.attrs...), kv...)
}

// opts returns the options of an operation's measurements: its name and
// outcome, and error.type for an error.
func (o *Observer) opts(op sqlstore.Op, outcome sqlstore.Outcome, err error) measureOpts {
	if err == nil && outcome != sqlstore.OutcomeError {
		if m, ok := o.known[opOutcome{op, outcome}]; ok {
			return m
		}
	}
	kv := o.with(operationKey.String(string(op)), outcomeKey.String(string(outcome)))
	if outcome == sqlstore.OutcomeError {
		kv = append(kv, semconv.ErrorTypeKey.String(errorType(err)))
	}
	return newMeasureOpts(kv...)
}

// Observe records e. It implements [sqlstore.Observer].
func (o *Observer) Observe(ctx context.Context, e sqlstore.Event) {
	if ctx == nil { // a call with a nil context fails, and is still reported
		ctx = context.Background()
	}
	switch {
	case e.Outcome == sqlstore.OutcomeRetried:
		m, ok := o.retryKnown[e.Op]
		if !ok {
			m = newMeasureOpts(o.with(operationKey.String(string(e.Op)))...)
		}
		o.retries.Add(ctx, 1, m.add...)
	case e.Op == sqlstore.OpPrune:
		m := o.opts(e.Op, e.Outcome, e.Err)
		o.ops.Add(ctx, 1, m.add...)
		o.pruneDur.Record(ctx, e.Duration.Seconds(), o.pruneOpts(e.Outcome, e.Err)...)
		if e.Rows > 0 {
			o.pruned.Add(ctx, e.Rows, o.prunedOpts.add...)
		}
		if e.Stats != nil {
			st := *e.Stats
			o.stats.Store(&st)
		}
	default:
		m := o.opts(e.Op, e.Outcome, e.Err)
		o.ops.Add(ctx, 1, m.add...)
		o.duration.Record(ctx, e.Duration.Seconds(), m.record...)
	}
}

// pruneOpts returns the options of a sweep's duration: its outcome, and
// error.type for an error.
func (o *Observer) pruneOpts(outcome sqlstore.Outcome, err error) []metric.RecordOption {
	kv := o.with(outcomeKey.String(string(outcome)))
	if outcome == sqlstore.OutcomeError {
		kv = append(kv, semconv.ErrorTypeKey.String(errorType(err)))
	}
	return []metric.RecordOption{metric.WithAttributes(kv...)}
}

// observeSessions reports the Stats of the latest sweep, if any.
func (o *Observer) observeSessions(_ context.Context, obs metric.Observer) error {
	st := o.stats.Load()
	if st == nil {
		return nil
	}
	obs.ObserveInt64(o.sessions, st.Live, o.stateSets[0])
	obs.ObserveInt64(o.sessions, st.Ended, o.stateSets[1])
	obs.ObserveInt64(o.sessions, st.Expired, o.stateSets[2])
	return nil
}

// Close unregisters the callback of the sqlstore.session.count gauge, which
// otherwise keeps the Observer reachable from its MeterProvider; call it
// when the Store is closed, if the MeterProvider outlives it. The counters
// and histograms go on recording the events the Observer is still given.
func (o *Observer) Close() error {
	o.closeOnce.Do(func() { o.closeErr = o.reg.Unregister() })
	return o.closeErr
}

// errorType returns the value of error.type for err (see the package
// documentation): low in cardinality, and stable across messages.
func errorType(err error) string {
	switch {
	case err == nil:
		return semconv.ErrorTypeOther.Value.AsString()
	case errors.Is(err, sqlstore.ErrClosed):
		return "closed"
	case errors.Is(err, sqlstore.ErrInvalidID):
		return "invalid_id"
	case errors.Is(err, sqlstore.ErrInvalidOwner):
		return "invalid_owner"
	case errors.Is(err, sqlstore.ErrInvalidExpiry):
		return "invalid_expiry"
	case errors.Is(err, sqlstore.ErrDataTooLarge):
		return "data_too_large"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		if code := st.SQLState(); code != "" {
			return code
		}
	}
	if n, ok := mysqlNumber(err); ok {
		return strconv.Itoa(n)
	}
	return semconv.ErrorType(err).Value.AsString()
}

// mysqlNumber returns the number of the first go-sql-driver/mysql
// *MySQLError in err's chain, read by reflection so that this module
// imports no driver.
func mysqlNumber(err error) (int, bool) {
	for _, e := range chain(err) {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			continue
		}
		if t := v.Elem().Type(); t.PkgPath() != "github.com/go-sql-driver/mysql" || t.Name() != "MySQLError" {
			continue
		}
		if f := v.Elem().FieldByName("Number"); f.IsValid() && f.CanUint() {
			return int(f.Uint()), true
		}
	}
	return 0, false
}

// chain returns err and the errors it wraps, depth first, as errors.As
// visits them.
func chain(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			out = append(out, e)
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			default:
				return
			}
		}
	}
	walk(err)
	return out
}
