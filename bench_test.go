package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Benchmarks of each operation on each database, for quick checks during
// work:
//
//	go test -run '^$' -bench . -benchmem
//	go test -run '^$' -bench 'Store/postgres/Get$' -cpuprofile cpu.out -benchmem
//
// PostgreSQL and MariaDB need SQLSTORE_POSTGRES_DSN and SQLSTORE_MYSQL_DSN
// (skipped when unset). The comparison with other stores and with the
// one-statement floor of each driver is the tool in bench/ (BENCHMARKS.md).

const (
	benchRows    = 1000
	benchPayload = 1024
)

// benchStore returns a store over a fresh table of kind holding benchRows
// sessions, and their ids.
func benchStore(b *testing.B, kind string) (*sqlstore.Store, []string, []byte) {
	b.Helper()
	db := testdb.Open(b, kind)
	db.SetMaxIdleConns(16)
	if kind != "sqlite" { // SQLite's pool has no limit, as Open leaves it (LocalReader)
		db.SetMaxOpenConns(16)
	}
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db, sqlstore.WithTable(testdb.Table(b, db)), sqlstore.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	data := make([]byte, benchPayload)
	ids := make([]string, benchRows)
	exp := time.Now().Add(time.Hour)
	for i := range ids {
		ids[i] = benchID()
		if err := s.Set(ctx, ids[i], data, exp); err != nil {
			b.Fatal(err)
		}
	}
	return s, ids, data
}

// benchID returns an id shaped like the ones session managers make: 43
// characters of base64 of 32 random bytes.
func benchID() string {
	var r [32]byte
	_, _ = rand.Read(r[:])
	return base64.RawURLEncoding.EncodeToString(r[:])
}

func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			s, ids, data := benchStore(b, kind)
			b.Run("Get", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, found, err := s.Get(ctx, ids[i%len(ids)]); err != nil || !found {
						b.Fatalf("Get: found %v, err %v", found, err)
					}
				}
			})
			b.Run("GetMiss", func(b *testing.B) {
				b.ReportAllocs()
				id := benchID()
				for b.Loop() {
					if _, found, err := s.Get(ctx, id); err != nil || found {
						b.Fatalf("Get: found %v, err %v", found, err)
					}
				}
			})
			b.Run("GetParallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(8) // 16 goroutines on 2 CPUs
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						if _, found, err := s.Get(ctx, ids[i%len(ids)]); err != nil || !found {
							b.Errorf("Get: found %v, err %v", found, err)
							return
						}
					}
				})
			})
			b.Run("Set", func(b *testing.B) {
				b.ReportAllocs()
				exp := time.Now().Add(time.Hour)
				for i := 0; b.Loop(); i++ {
					if err := s.Set(ctx, ids[i%len(ids)], data, exp); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Touch", func(b *testing.B) {
				b.ReportAllocs()
				base := time.Now().Add(time.Hour)
				for i := 0; b.Loop(); i++ {
					// Moves of an hour or more each time: every Touch writes.
					exp := base.Add(time.Duration(1+i/len(ids)%2) * time.Hour)
					if err := s.Touch(ctx, ids[i%len(ids)], exp); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Delete", func(b *testing.B) {
				b.ReportAllocs()
				exp := time.Now().Add(time.Hour)
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					id := fmt.Sprintf("del-%d-%s", i, ids[0])
					if err := s.Set(ctx, id, data, exp); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if err := s.Delete(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("MixedParallel", func(b *testing.B) {
				// 90% Get, 8% Touch to now + 1 h (mostly throttled), 2% Set.
				b.ReportAllocs()
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						id := ids[i*7919%len(ids)]
						var err error
						switch r := i % 50; {
						case r < 45:
							_, _, err = s.Get(ctx, id)
						case r < 49:
							err = s.Touch(ctx, id, time.Now().Add(time.Hour))
						default:
							err = s.Set(ctx, id, data, time.Now().Add(time.Hour))
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkSQLiteGet reads with the context of an HTTP request (one that
// can be cancelled), from one goroutine and from 16, through a store on a
// pool without a limit, as Open makes it, where Get's lookup runs without
// per-query cancellation (LocalReader), and through the same store while
// SetMaxOpenConns(16) limits the pool, where it keeps it. A regression of
// the local path shows as the two converging:
//
//	go test -run '^$' -bench SQLiteGet -benchmem -count 6
func BenchmarkSQLiteGet(b *testing.B) {
	s, ids, _ := benchStore(b, "sqlite")
	for _, pool := range []struct {
		name string
		max  int
	}{{"local", 0}, {"limited-pool", 16}} {
		s.DB().SetMaxOpenConns(pool.max)
		if s.LocalGet() != (pool.max == 0) {
			b.Fatalf("%s: LocalGet = %v", pool.name, s.LocalGet())
		}
		b.Run(pool.name, func(b *testing.B) {
			b.Run("1", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ctx, cancel := context.WithCancel(context.Background())
					if _, found, err := s.Get(ctx, ids[i%len(ids)]); err != nil || !found {
						b.Fatalf("Get: found %v, err %v", found, err)
					}
					cancel()
				}
			})
			b.Run("16", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(8) // 16 goroutines on 2 CPUs
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						ctx, cancel := context.WithCancel(context.Background())
						_, found, err := s.Get(ctx, ids[i%len(ids)])
						cancel()
						if err != nil || !found {
							b.Errorf("Get: found %v, err %v", found, err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkSQLiteWriteSlots writes (Set, Touch and Delete on 200 ids, as
// TestRaceSQLiteLocked does) from 16 and from 512 goroutines through a store
// made by Open, with one write slot (the default), two, and the queue off
// (WithWriteSlots(0)). ns/op is the time per write of the whole process;
// slowest-ms is the longest single write. It is how BENCHMARKS.md chose the
// default:
//
//	go test -run '^$' -bench SQLiteWriteSlots -benchtime 3s
func BenchmarkSQLiteWriteSlots(b *testing.B) {
	for _, goroutines := range []int{16, 512} {
		for _, slots := range []int{1, 2, 0} {
			b.Run(fmt.Sprintf("goroutines=%d/slots=%d", goroutines, slots), func(b *testing.B) {
				s := openTestStore(b, "sqlite", sqlstore.WithTouchThreshold(0), sqlstore.WithWriteSlots(slots))
				ctx := testContext(b)
				var (
					worker, slowest, failed atomic.Int64
				)
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((goroutines + procs - 1) / procs)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					w := int(worker.Add(1))
					r := mrand.New(mrand.NewPCG(uint64(w), 7))
					for seq := 0; pb.Next(); seq++ {
						id := fmt.Sprintf("lock-%03d", r.IntN(200))
						t0 := time.Now()
						var err error
						switch r.IntN(4) {
						case 0, 1:
							err = s.Set(ctx, id, taggedValue(w%100, seq%10000, 0), time.Now().Add(time.Hour))
						case 2:
							err = s.Touch(ctx, id, time.Now().Add(time.Duration(2+r.IntN(100))*time.Hour))
						default:
							err = s.Delete(ctx, id)
						}
						if d := int64(time.Since(t0)); d > slowest.Load() {
							slowest.Store(d) // racy max: good enough for a report
						}
						if err != nil && failed.Add(1) <= 3 {
							b.Error(err)
						}
					}
				})
				b.ReportMetric(float64(slowest.Load())/1e6, "slowest-ms")
			})
		}
	}
}
