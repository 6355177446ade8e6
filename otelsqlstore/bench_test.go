package otelsqlstore_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/otelsqlstore"
)

// BenchmarkObserve measures what the Observer adds to a call of the Store:
// one event recorded by the OpenTelemetry SDK (a counter and a histogram).
//
//	go test -run '^$' -bench Observe -benchmem -count 6
func BenchmarkObserve(b *testing.B) {
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(ctx)
	obs, err := otelsqlstore.New(otelsqlstore.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	defer obs.Close()
	for _, c := range []struct {
		name string
		e    sqlstore.Event
	}{
		{"get-hit", sqlstore.Event{Op: sqlstore.OpGet, Outcome: sqlstore.OutcomeHit, Duration: 300 * time.Microsecond}},
		{"set-error", sqlstore.Event{Op: sqlstore.OpSet, Outcome: sqlstore.OutcomeError, Duration: time.Millisecond, Err: sqlStateError("40001")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					obs.Observe(ctx, c.e)
				}
			})
		})
	}
}
