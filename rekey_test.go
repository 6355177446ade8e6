package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestRekeyRotation writes under k1, reads under (k2, k1), rekeys, and reads
// under k2 alone: every live row is rewritten once, expired rows are left,
// a second Rekey finds nothing, and k1 alone no longer opens the table.
func TestRekeyRotation(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		for _, hashed := range []bool{true, false} {
			e.table = testdb.Table(t, e.db)
			k1, k2 := testKey(), testKey()
			s1 := e.store(sqlstore.WithEncryption(k1), sqlstore.WithHashedIDs(hashed))
			for i := range 25 {
				e.set(s1, fmt.Sprintf("live-%02d", i), fmt.Appendf(nil, "v1-%d", i))
			}
			for i := range 3 {
				if err := s1.Set(testContext(t), fmt.Sprintf("gone-%d", i), []byte("old"), cryptBase.Add(-time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			s2 := e.store(sqlstore.WithEncryption(k2, k1), sqlstore.WithHashedIDs(hashed), sqlstore.WithPruneBatchSize(7), sqlstore.WithPrunePause(0))
			for i := range 25 {
				e.want(s2, fmt.Sprintf("live-%02d", i), fmt.Appendf(nil, "v1-%d", i))
			}
			e.set(s2, "live-03", []byte("v2-3")) // already under k2
			e.set(s2, "new", []byte("v2-new"))
			n, err := s2.Rekey(testContext(t))
			if err != nil || n != 24 {
				t.Fatalf("hashed=%v: Rekey = %d, %v; want 24 (25 live under k1, one Set since)", hashed, n, err)
			}
			if n, err := s2.Rekey(testContext(t)); err != nil || n != 0 {
				t.Fatalf("hashed=%v: second Rekey = %d, %v; want 0", hashed, n, err)
			}
			only2, err := sqlstore.NewCrypter(false, k2)
			if err != nil {
				t.Fatal(err)
			}
			gone := map[string]bool{s2.Key("gone-0"): true, s2.Key("gone-1"): true, s2.Key("gone-2"): true}
			for key, stored := range e.raw(s2) {
				if live := !gone[key]; only2.Current(stored) != live {
					t.Errorf("hashed=%v: row %s under k2: %v, want %v", hashed, key, !live, live)
				}
			}
			s3 := e.store(sqlstore.WithEncryption(k2), sqlstore.WithHashedIDs(hashed))
			for i := range 25 {
				want := fmt.Appendf(nil, "v1-%d", i)
				if i == 3 {
					want = []byte("v2-3")
				}
				e.want(s3, fmt.Sprintf("live-%02d", i), want)
			}
			e.want(s3, "new", []byte("v2-new"))
			if n := e.undecryptable(s3); n != 0 {
				t.Errorf("hashed=%v: Stats.Undecryptable = %d under k2 alone, want 0", hashed, n)
			}
			if _, err := e.open(sqlstore.WithEncryption(k1), sqlstore.WithHashedIDs(hashed)); err == nil {
				t.Errorf("hashed=%v: New with the retired key alone succeeded", hashed)
			}
		}
	})
}

// TestRekeyPlaintextTransition: rows written without encryption are read
// with WithPlaintextReads, encrypted by Rekey, then read with plaintext
// reads off; before that, a Rekey without plaintext reads leaves them and
// counts them.
func TestRekeyPlaintextTransition(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		k := testKey()
		plain := e.store(sqlstore.WithPruneBatchSize(6))
		values := map[string]string{}
		for i := range 20 {
			id, v := fmt.Sprintf("p%02d", i), fmt.Sprintf("plaintext-value-%02d", i)
			values[id] = v
			e.set(plain, id, []byte(v))
		}
		e.set(plain, "empty", []byte{})
		values["empty"] = ""
		if _, err := e.open(sqlstore.WithEncryption(k)); err == nil {
			t.Fatal("New with encryption over plaintext rows succeeded without WithPlaintextReads")
		}
		mixed := e.store(sqlstore.WithEncryption(k), sqlstore.WithPlaintextReads(true), sqlstore.WithPruneBatchSize(6), sqlstore.WithPrunePause(0))
		for id, v := range values {
			e.want(mixed, id, []byte(v))
		}
		if r := e.ranged(mixed); len(r) != len(values) {
			t.Fatalf("Range with plaintext reads gave %d sessions, want %d", len(r), len(values))
		}
		// A later, encrypted session: New without plaintext reads now finds
		// one that decrypts, and refuses the plaintext ones.
		if err := mixed.Set(testContext(t), "enc", []byte("encrypted"), cryptBase.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		strict := e.store(sqlstore.WithEncryption(k), sqlstore.WithPruneBatchSize(6))
		e.want(strict, "p00", nil)
		e.want(strict, "enc", []byte("encrypted"))
		if n, err := strict.Rekey(testContext(t)); err != nil || n != 0 {
			t.Fatalf("Rekey without plaintext reads = %d, %v; want 0", n, err)
		}
		if n := e.undecryptable(strict); n != 1+int64(len(values)) {
			t.Fatalf("Stats.Undecryptable = %d, want %d (one Get, then every plaintext row Rekey left)", n, 1+len(values))
		}

		n, err := mixed.Rekey(testContext(t))
		if err != nil || n != int64(len(values)) {
			t.Fatalf("Rekey with plaintext reads = %d, %v; want %d", n, err, len(values))
		}
		for key, stored := range e.raw(strict) {
			if !bytes.HasPrefix(stored, []byte("\xffSQE")) {
				t.Errorf("row %s is still plaintext after Rekey", key)
			}
			if bytes.Contains(stored, []byte("plaintext-value")) {
				t.Errorf("row %s holds its plaintext after Rekey", key)
			}
		}
		after := e.store(sqlstore.WithEncryption(k))
		for id, v := range values {
			e.want(after, id, []byte(v))
		}
		if n := e.undecryptable(after); n != 0 {
			t.Errorf("Stats.Undecryptable = %d after the transition, want 0", n)
		}
	})
}

// TestRekeyLosesNoNewerWrite lands a Set, a Delete or a Touch of a session
// between Rekey's read of it and its swap, from another store: Rekey never
// writes its older copy over the Set, never revives the deleted session, and
// keeps the touched expiry.
func TestRekeyLosesNoNewerWrite(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		k1, k2 := testKey(), testKey()
		s1 := e.store(sqlstore.WithEncryption(k1))
		ids := map[string]int{}
		for i := range 30 {
			id := fmt.Sprintf("race-%02d", i)
			e.set(s1, id, fmt.Appendf(nil, "old-%d", i))
			ids[s1.Key(id)] = i
		}
		rekeyer := e.store(sqlstore.WithEncryption(k2, k1), sqlstore.WithPruneBatchSize(4), sqlstore.WithPrunePause(0))
		other := e.store(sqlstore.WithEncryption(k2, k1))
		touched := cryptBase.Add(5 * time.Hour)
		rekeyer.SetBeforeSwap(func(key string) {
			i := ids[key]
			id := fmt.Sprintf("race-%02d", i)
			var err error
			switch i % 5 {
			case 0:
				err = other.Set(context.Background(), id, fmt.Appendf(nil, "new-%d", i), cryptBase.Add(time.Hour))
			case 1:
				err = other.Delete(context.Background(), id)
			case 2:
				err = other.Touch(context.Background(), id, touched)
			}
			if err != nil {
				t.Errorf("write during Rekey: %v", err)
			}
		})
		n, err := rekeyer.Rekey(testContext(t))
		if err != nil || n != 18 {
			t.Fatalf("Rekey = %d, %v; want 18 (30, less 6 Set and 6 deleted meanwhile)", n, err)
		}
		for i := range 30 {
			id := fmt.Sprintf("race-%02d", i)
			switch i % 5 {
			case 0:
				e.want(other, id, fmt.Appendf(nil, "new-%d", i))
			case 1:
				e.want(other, id, nil)
			case 2:
				e.want(other, id, fmt.Appendf(nil, "old-%d", i))
				if _, exp, _ := testdb.Row(t, other, id); !exp.Equal(touched) {
					t.Errorf("%s: expiry %v after Rekey, want the touched %v", id, exp, touched)
				}
			default:
				e.want(other, id, fmt.Appendf(nil, "old-%d", i))
			}
		}
		if _, err := e.open(sqlstore.WithEncryption(k2)); err != nil {
			t.Fatalf("New under k2 alone after Rekey: %v", err)
		}
	})
}

// TestRekeyRacingSet runs Rekey while another store Sets every session
// again, in random order, in a loop: no Set is lost, whatever the timing.
func TestRekeyRacingSet(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		k1, k2 := testKey(), testKey()
		s1 := e.store(sqlstore.WithEncryption(k1))
		const n = 150
		for i := range n {
			e.set(s1, fmt.Sprintf("r%03d", i), []byte("old"))
		}
		rekeyer := e.store(sqlstore.WithEncryption(k2, k1), sqlstore.WithPruneBatchSize(10), sqlstore.WithPrunePause(0))
		writer := e.store(sqlstore.WithEncryption(k2, k1))
		for round := range 2 {
			var wg sync.WaitGroup
			var rekeyErr error
			wg.Go(func() { _, rekeyErr = rekeyer.Rekey(testContext(t)) })
			for _, i := range rand.Perm(n) {
				if err := writer.Set(testContext(t), fmt.Sprintf("r%03d", i), fmt.Appendf(nil, "new-%d-%d", round, i), cryptBase.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if rekeyErr != nil {
				t.Fatalf("Rekey: %v", rekeyErr)
			}
			for i := range n {
				e.want(writer, fmt.Sprintf("r%03d", i), fmt.Appendf(nil, "new-%d-%d", round, i))
			}
			// Back under k1 for the next round.
			for i := range n {
				e.set(s1, fmt.Sprintf("r%03d", i), []byte("old"))
			}
		}
	})
}

// TestRekeyErrors: Rekey needs encryption, honours its context, and stops
// with ErrClosed when Close runs in the middle of it.
func TestRekeyErrors(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		plain := e.store()
		if _, err := plain.Rekey(testContext(t)); err == nil || !strings.Contains(err.Error(), "encryption is off") {
			t.Fatalf("Rekey without encryption = %v", err)
		}
		k1, k2 := testKey(), testKey()
		e.table = testdb.Table(t, e.db)
		s1 := e.store(sqlstore.WithEncryption(k1))
		for i := range 5 {
			e.set(s1, fmt.Sprintf("c%d", i), []byte("x"))
		}
		s := e.store(sqlstore.WithEncryption(k2, k1))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Rekey(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Rekey with a cancelled context = %v, want context.Canceled", err)
		}
		var closing sync.WaitGroup
		s.SetBeforeSwap(func(string) {
			closing.Go(func() { s.Close() })
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := s.Count(context.Background()); errors.Is(err, sqlstore.ErrClosed) {
					return
				}
				if time.Now().After(deadline) {
					t.Error("Close did not start")
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
		n, err := s.Rekey(testContext(t))
		if !errors.Is(err, sqlstore.ErrClosed) || n != 0 {
			t.Fatalf("Rekey with Close in the middle = %d, %v; want 0, ErrClosed", n, err)
		}
		closing.Wait()
		if _, err := s.Rekey(testContext(t)); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Rekey after Close = %v, want ErrClosed", err)
		}
		e.want(e.store(sqlstore.WithEncryption(k1)), "c0", []byte("x"))
	})
}
