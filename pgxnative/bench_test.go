package pgxnative

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// BenchmarkStore runs Get, Set and Touch through pgx's pool, with the
// context of an HTTP request (one that can be cancelled) and with
// context.Background(), for the allocations of the native path (the
// comparison with scs's pgxstore is the tool in bench/):
//
//	go test -run '^$' -bench . -benchmem ./pgxnative
//	go test -run '^$' -bench 'Store/background/Get' -memprofile mem.out ./pgxnative
func BenchmarkStore(b *testing.B) {
	pool := openPool(b, nil)
	admin := stdlib.OpenDBFromPool(pool)
	b.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	s, err := New(ctx, pool, sqlstore.WithTable(testdb.Table(b, admin)), sqlstore.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	data := make([]byte, 1024)
	ids := make([]string, 100)
	exp := time.Now().Add(time.Hour)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%03d-%s", i, b.Name())
		if err := s.Set(ctx, ids[i], data, exp); err != nil {
			b.Fatal(err)
		}
	}
	request, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"request", request}, {"background", ctx}} {
		b.Run(c.name+"/Get", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, found, err := s.Get(c.ctx, ids[i%len(ids)]); err != nil || !found {
					b.Fatalf("Get: found %v, err %v", found, err)
				}
			}
		})
		b.Run(c.name+"/Set", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := s.Set(c.ctx, ids[i%len(ids)], data, exp); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/Touch", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Moves of an hour or more each time: every Touch writes.
				at := exp.Add(time.Duration(1+i%2) * time.Hour)
				if err := s.Touch(c.ctx, ids[i%len(ids)], at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
