package sqlstore_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// BenchmarkEncryption measures Get and Set of 1 KiB and 64 KiB sessions with
// encryption off and on, side by side in one run, on each database (SQLite
// always; PostgreSQL and MariaDB with their DSNs set):
//
//	go test -run '^$' -bench Encryption -count 5 -benchmem . | tee enc.txt
//	benchstat -col /enc enc.txt
func BenchmarkEncryption(b *testing.B) {
	ctx := context.Background()
	key := crKey()
	const rows = 100
	var seq uint64 // keeps the data of each Set distinct from every earlier one
	for _, kind := range testdb.Kinds {
		b.Run("db="+kind, func(b *testing.B) {
			db := testdb.Open(b, kind)
			db.SetMaxOpenConns(4)
			db.SetMaxIdleConns(4)
			for _, size := range []int{1 << 10, 64 << 10} {
				stores := map[string]*sqlstore.Store{}
				ids := make([]string, rows)
				for i := range ids {
					ids[i] = benchID()
				}
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(i * 7) // a payload that compresses no better than real session data
				}
				exp := time.Now().Add(time.Hour)
				for _, enc := range []string{"off", "on"} {
					opts := []sqlstore.Option{sqlstore.WithTable(testdb.Table(b, db)), sqlstore.WithPruneInterval(0)}
					if enc == "on" {
						opts = append(opts, sqlstore.WithEncryption(key))
					}
					s, err := sqlstore.New(ctx, db, opts...)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { s.Close() })
					for _, id := range ids {
						if err := s.Set(ctx, id, data, exp); err != nil {
							b.Fatal(err)
						}
					}
					stores[enc] = s
				}
				for _, op := range []string{"Get", "Set"} {
					for _, enc := range []string{"off", "on"} {
						s := stores[enc]
						b.Run(fmt.Sprintf("op=%s/size=%dKiB/enc=%s", op, size>>10, enc), func(b *testing.B) {
							b.ReportAllocs()
							b.SetBytes(int64(size))
							seq += 1 << 32
							for i := 0; b.Loop(); i++ {
								id := ids[i%rows]
								if op == "Get" {
									if got, found, err := s.Get(ctx, id); err != nil || !found || len(got) != size {
										b.Fatalf("Get: %d bytes, found %v, err %v", len(got), found, err)
									}
									continue
								}
								// Every Set changes the data, as a session's
								// writes do: a write of the very bytes stored
								// is one a database may skip.
								binary.LittleEndian.PutUint64(data, seq+uint64(i))
								if err := s.Set(ctx, id, data, exp); err != nil {
									b.Fatal(err)
								}
							}
						})
					}
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
	c, err := sqlstore.NewCrypter(false, crKey())
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
