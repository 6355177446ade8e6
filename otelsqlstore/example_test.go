package otelsqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	_ "modernc.org/sqlite" // the program chooses the driver

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/otelsqlstore"
)

// The wiring: an Observer on the global MeterProvider, which the program
// sets up with its exporter (otel.SetMeterProvider), given to the Store.
func Example() {
	dir, err := os.MkdirTemp("", "otelsqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := "sqlite:" + filepath.Join(dir, "sessions.db")
	ctx := context.Background()

	obs, err := otelsqlstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()
	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	if err := store.Set(ctx, "session-id", []byte("user=42"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	data, found, err := store.Get(ctx, "session-id")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %v\n", data, found)
	// Output: user=42 true
}

// A MeterProvider of the program's own, and an attribute naming the table
// on every measurement. A manual reader shows what was recorded.
func ExampleWithMeterProvider() {
	dir, err := os.MkdirTemp("", "otelsqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := "sqlite:" + filepath.Join(dir, "sessions.db")
	ctx := context.Background()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	obs, err := otelsqlstore.New(
		otelsqlstore.WithMeterProvider(mp),
		otelsqlstore.WithAttributes(semconv.DBCollectionName("sessions")),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer obs.Close()
	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_ = store.Set(ctx, "session-id", []byte("user=42"), time.Now().Add(time.Hour))
	_, _, _ = store.Get(ctx, "session-id")
	_, _, _ = store.Get(ctx, "another-id")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "sqlstore.operations" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				op, _ := dp.Attributes.Value("sqlstore.operation.name")
				outcome, _ := dp.Attributes.Value("sqlstore.operation.outcome")
				table, _ := dp.Attributes.Value(semconv.DBCollectionNameKey)
				fmt.Printf("%s %s %s: %d\n", table.AsString(), op.AsString(), outcome.AsString(), dp.Value)
			}
		}
	}
	// Unordered output:
	// sessions set written: 1
	// sessions get hit: 1
	// sessions get miss: 1
}
