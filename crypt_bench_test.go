package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// BenchmarkEncryption measures Get and Set of 1 KiB and 64 KiB sessions with
// encryption off and on, on each database (SQLite always; PostgreSQL and
// MariaDB with their DSNs set):
//
//	go test -run '^$' -bench Encryption -count 5 -benchmem . | tee enc.txt
//	benchstat -filter '.name:Encryption' enc.txt
//
// Each iteration runs the operation once on a table written without
// encryption and once on one written with it, in alternating order, and
// times each: the two are measured side by side, so that the load of a
// shared machine weighs on both alike. It reports the mean time of each
// (off-ns/op, on-ns/op) and their ratio (on/off); ns/op is their sum.
//
// Set writes one of two kinds of change: data=counter changes 8 bytes of the
// stored data, as a session that only counts visits does; data=fresh writes
// bytes that all differ from the stored ones. Encrypted, both change every
// byte of the row (a fresh nonce), so data=counter also shows what is lost
// where a database writes only the pages or bytes that changed.
func BenchmarkEncryption(b *testing.B) {
	ctx := context.Background()
	key := testKey()
	const rows, ring = 100, 8
	var seq uint64 // keeps the data of each Set distinct from every earlier one
	for _, kind := range testdb.Kinds {
		b.Run("db="+kind, func(b *testing.B) {
			// On a server both stores share one table, each with its own
			// sessions, so that neither gains from where its table lies.
			// On SQLite each has its own file: two stores writing one file
			// in turn differed by 2x with encryption off on both.
			var dbs [2]*sql.DB // off, on
			var tables [2]string
			for i := range dbs {
				if i == 0 || kind == "sqlite" {
					dbs[i] = testdb.Open(b, kind)
					dbs[i].SetMaxOpenConns(4)
					dbs[i].SetMaxIdleConns(4)
				} else {
					dbs[i] = dbs[0]
				}
			}
			for _, size := range []int{1 << 10, 64 << 10} {
				tables[0] = testdb.Table(b, dbs[0])
				tables[1] = tables[0]
				if kind == "sqlite" {
					tables[1] = testdb.Table(b, dbs[1])
				}
				var ids [2][]string              // off, on
				payloads := make([][]byte, ring) // random: compresses no better than ciphertext
				for i := range payloads {
					payloads[i] = make([]byte, size)
					_, _ = rand.Read(payloads[i])
				}
				exp := time.Now().Add(time.Hour)
				var stores [2]*sqlstore.Store   // off, on
				for _, i := range []int{1, 0} { // on first, over the empty table
					opts := []sqlstore.Option{sqlstore.WithTable(tables[i]), sqlstore.WithPruneInterval(0)}
					if i == 1 {
						opts = append(opts, sqlstore.WithEncryption(key))
					}
					s, err := sqlstore.New(ctx, dbs[i], opts...)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { s.Close() })
					stores[i] = s
				}
				for range rows {
					for i, s := range stores {
						id := benchID()
						ids[i] = append(ids[i], id)
						if err := s.Set(ctx, id, payloads[0], exp); err != nil {
							b.Fatal(err)
						}
					}
				}
				for _, op := range []string{"Get", "Set/data=counter", "Set/data=fresh"} {
					b.Run(fmt.Sprintf("op=%s/size=%dKiB", op, size>>10), func(b *testing.B) {
						b.ReportAllocs()
						seq += 1 << 32
						var took [2]time.Duration
						do := func(e, i int) {
							s, id := stores[e], ids[e][i%rows]
							switch op {
							case "Get":
								if got, found, err := s.Get(ctx, id); err != nil || !found || len(got) != size {
									b.Fatalf("Get: %d bytes, found %v, err %v", len(got), found, err)
								}
								return
							case "Set/data=counter":
								data := payloads[0]
								binary.LittleEndian.PutUint64(data, seq+uint64(i))
								if err := s.Set(ctx, id, data, exp); err != nil {
									b.Fatal(err)
								}
							default:
								data := payloads[i%ring] // differs from what the last Set of id wrote
								binary.LittleEndian.PutUint64(data, seq+uint64(i))
								if err := s.Set(ctx, id, data, exp); err != nil {
									b.Fatal(err)
								}
							}
						}
						n := 0
						for i := 0; b.Loop(); i++ {
							for k := range 2 {
								e := (i + k) % 2 // alternate which goes first
								start := time.Now()
								do(e, i)
								took[e] += time.Since(start)
							}
							n++
						}
						off, on := float64(took[0])/float64(n), float64(took[1])/float64(n)
						b.ReportMetric(off, "off-ns/op")
						b.ReportMetric(on, "on-ns/op")
						b.ReportMetric(on/off, "on/off")
					})
				}
			}
		})
	}
}

// BenchmarkCryptSealOpen measures encryption alone, without a database:
// sealing, and opening in place as Get does, 1 KiB and 64 KiB.
//
//	go test -run '^$' -bench CryptSealOpen -count 5 -benchmem .
func BenchmarkCryptSealOpen(b *testing.B) {
	c, err := sqlstore.NewCrypter(false, testKey())
	if err != nil {
		b.Fatal(err)
	}
	key := "14cfca0a6d955280ebdc3d1f762426a26b39b698cf005ff977319b22d95120b8"
	for _, size := range []int{1 << 10, 64 << 10} {
		data := make([]byte, size)
		b.Run(fmt.Sprintf("op=Seal/size=%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				c.Seal(key, data)
			}
		})
		sealed := c.Seal(key, data)
		buf := make([]byte, len(sealed))
		b.Run(fmt.Sprintf("op=Open/size=%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(buf, sealed)
				if _, err := c.Open(key, buf, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
