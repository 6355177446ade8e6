package main

import (
	"context"
	"encoding/json"
	"expvar"
	"sync"

	"github.com/go-sqlstore/sqlstore"
)

// metrics is the smallest exporter of the store's metrics there is: an
// sqlstore.Observer that counts every operation by its outcome and keeps the
// session counts of the latest sweep, published with the standard library's
// expvar at /debug/vars when METRICS is set. A real service would give the
// store otelsqlstore's Observer instead (module
// github.com/go-sqlstore/sqlstore/otelsqlstore), which reports the same to
// OpenTelemetry.
type metrics struct {
	ops      expvar.Map // "get hit", "set written", "touch skipped", ... → count
	sessions expvar.Map // "live", "ended", "expired", from the latest sweep's Stats
}

// publishOnce publishes the one metrics value of the process: expvar names
// are global, and run may serve more than once in a test.
var (
	publishOnce sync.Once
	published   *metrics
)

// newMetrics returns the process's metrics, published under "sqlstore".
func newMetrics() *metrics {
	publishOnce.Do(func() {
		published = &metrics{}
		expvar.Publish("sqlstore", expvar.Func(func() any {
			return map[string]json.RawMessage{ // expvar.Map's String is its JSON
				"operations": json.RawMessage(published.ops.String()),
				"sessions":   json.RawMessage(published.sessions.String()),
			}
		}))
	})
	return published
}

// Observe counts one operation, and takes the counts of a sweep.
func (m *metrics) Observe(_ context.Context, e sqlstore.Event) {
	m.ops.Add(string(e.Op)+" "+string(e.Outcome), 1)
	if e.Stats != nil {
		for name, n := range map[string]int64{"live": e.Stats.Live, "ended": e.Stats.Ended, "expired": e.Stats.Expired} {
			v := new(expvar.Int)
			v.Set(n)
			m.sessions.Set(name, v)
		}
	}
}
