package sqlstoretest

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// encryptionKey returns a random 32-byte key.
func encryptionKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// testEncryption runs the statements of encryption (the dialect's Newest,
// Page and SwapData): New refuses a wrong key over stored sessions; Rekey,
// in batches smaller than the table, rewrites every live session exactly
// once, whatever its id, so that the new key alone reads them all; and a Set
// that races Rekey is never overwritten by Rekey's older copy.
func testEncryption(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	for _, hashed := range []bool{true, false} {
		e.table = tableName()
		t.Cleanup(func(table string) func() { return func() { dropTable(t, e.db, table) } }(e.table))
		k1, k2 := encryptionKey(), encryptionKey()
		s1 := e.store(sqlstore.WithHashedIDs(hashed), sqlstore.WithEncryption(k1))
		// Ids that sort differently by bytes, by case and with padding.
		ids := []string{"a", "a ", " a", "A", "B", "b", "~", "%", "_", "0", "9z", strings.Repeat("~", 255), "Zz", "zZ"}
		for i, id := range ids {
			mustSet(t, s1, id, fmt.Appendf(nil, "one-%d", i), base.Add(time.Hour))
		}
		mustSet(t, s1, "expired", []byte("old"), base.Add(-time.Second))

		opts := append([]sqlstore.Option{sqlstore.WithTable(e.table), sqlstore.WithClock(e.clock.Now), sqlstore.WithPruneInterval(0)}, e.cfg.Options...)
		if s, err := e.cfg.new(ctx(t), e.db, append(opts, sqlstore.WithHashedIDs(hashed), sqlstore.WithEncryption(k2))...); err == nil {
			s.Close()
			t.Fatalf("hashed=%v: New with a key that opens none of the sessions succeeded", hashed)
		}

		s2 := e.store(sqlstore.WithHashedIDs(hashed), sqlstore.WithEncryption(k2, k1), sqlstore.WithPruneBatchSize(3), sqlstore.WithPrunePause(0))
		n, err := s2.Rekey(ctx(t))
		if err != nil || n != int64(len(ids)) {
			t.Fatalf("hashed=%v: Rekey = %d, %v; want %d", hashed, n, err, len(ids))
		}
		if n, err := s2.Rekey(ctx(t)); err != nil || n != 0 {
			t.Fatalf("hashed=%v: second Rekey = %d, %v; want 0", hashed, n, err)
		}
		s3 := e.store(sqlstore.WithHashedIDs(hashed), sqlstore.WithEncryption(k2))
		for i, id := range ids {
			wantGet(t, s3, id, fmt.Appendf(nil, "one-%d", i))
		}

		// Back under k1, then Rekey races a writer under k2.
		for i, id := range ids {
			mustSet(t, s1, id, fmt.Appendf(nil, "one-%d", i), base.Add(time.Hour))
		}
		var wg sync.WaitGroup
		var rekeyErr error
		wg.Go(func() { _, rekeyErr = s2.Rekey(context.Background()) })
		for i := len(ids) - 1; i >= 0; i-- {
			mustSet(t, s3, ids[i], fmt.Appendf(nil, "two-%d", i), base.Add(time.Hour))
		}
		wg.Wait()
		if rekeyErr != nil {
			t.Fatalf("hashed=%v: Rekey racing Set: %v", hashed, rekeyErr)
		}
		for i, id := range ids {
			wantGet(t, s3, id, fmt.Appendf(nil, "two-%d", i))
		}
		if st, err := s3.Stats(ctx(t)); err != nil || st.Undecryptable != 0 {
			t.Fatalf("hashed=%v: Stats = %+v, %v; want no undecryptable reads", hashed, st, err)
		}
	}
}
