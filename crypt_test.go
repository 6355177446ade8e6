package sqlstore_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Tests of encryption at rest (WithEncryption, WithPlaintextReads, Rekey)
// on every database. Their helpers carry the prefix cr.

// crKey returns a random 32-byte key.
func crKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// crBase is the clock of the stores of these tests.
var crBase = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

// crLog collects what the stores log, safe for concurrent use.
type crLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *crLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *crLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// crEnv is one test's database, table, clock and log.
type crEnv struct {
	t     *testing.T
	kind  string
	db    *sql.DB
	table string
	clock *testdb.Clock
	log   *crLog
}

// crKinds runs fn on every database kind, in parallel.
func crKinds(t *testing.T, fn func(t *testing.T, e *crEnv)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, crSetup(t, kind))
		})
	}
}

func crSetup(t *testing.T, kind string) *crEnv {
	t.Helper()
	db := testdb.Open(t, kind)
	return &crEnv{t: t, kind: kind, db: db, table: testdb.Table(t, db), clock: testdb.NewClock(crBase), log: &crLog{}}
}

// open makes a store on the env's table, closed at cleanup, and returns
// New's error.
func (e *crEnv) open(opts ...sqlstore.Option) (*sqlstore.Store, error) {
	e.t.Helper()
	all := append([]sqlstore.Option{
		sqlstore.WithTable(e.table), sqlstore.WithPruneInterval(0), sqlstore.WithClock(e.clock.Now),
		sqlstore.WithTouchThreshold(0), sqlstore.WithLogger(slog.New(slog.NewTextHandler(e.log, nil))),
	}, opts...)
	s, err := sqlstore.New(relCtx(e.t), e.db, all...)
	if err == nil {
		e.t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// store is open that fails the test on an error.
func (e *crEnv) store(opts ...sqlstore.Option) *sqlstore.Store {
	e.t.Helper()
	s, err := e.open(opts...)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return s
}

// ph returns the i-th placeholder of the env's database.
func (e *crEnv) ph(i int) string {
	if e.kind == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// raw returns the data column of every row of the table, by id column.
func (e *crEnv) raw(s *sqlstore.Store) map[string][]byte {
	e.t.Helper()
	tb := s.Table()
	rows, err := e.db.QueryContext(relCtx(e.t), "SELECT "+tb.ID+", "+tb.Data+" FROM "+tb.Qualified())
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var (
			k string
			d []byte
		)
		if err := rows.Scan(&k, &d); err != nil {
			e.t.Fatal(err)
		}
		out[k] = d
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// setRaw writes data into the data column of the row of stored key key.
func (e *crEnv) setRaw(s *sqlstore.Store, key string, data []byte) {
	e.t.Helper()
	tb := s.Table()
	q := fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s = %s", tb.Qualified(), tb.Data, e.ph(1), tb.ID, e.ph(2))
	res, err := e.db.ExecContext(relCtx(e.t), q, data, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		e.t.Fatalf("UPDATE of %s changed %d rows (%v), want 1", key, n, err)
	}
}

func (e *crEnv) set(s *sqlstore.Store, id string, data []byte) {
	e.t.Helper()
	if err := s.Set(relCtx(e.t), id, data, crBase.Add(time.Hour)); err != nil {
		e.t.Fatalf("Set(%q): %v", id, err)
	}
}

// want checks that Get of id finds want, or finds nothing when want is nil,
// and never fails.
func (e *crEnv) want(s *sqlstore.Store, id string, want []byte) {
	e.t.Helper()
	got, found, err := s.Get(relCtx(e.t), id)
	switch {
	case err != nil:
		e.t.Fatalf("Get(%q): %v", id, err)
	case want == nil && found:
		e.t.Fatalf("Get(%q) found %q, want not found", id, trimTo(got, 40))
	case want != nil && (!found || !bytes.Equal(got, want)):
		e.t.Fatalf("Get(%q) = %q, %v; want %q", id, trimTo(got, 40), found, trimTo(want, 40))
	}
}

func trimTo(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (e *crEnv) undecryptable(s *sqlstore.Store) int64 {
	e.t.Helper()
	st, err := s.Stats(relCtx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Undecryptable
}

// ranged returns the data Range yields, by stored key.
func (e *crEnv) ranged(s *sqlstore.Store) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := s.Range(relCtx(e.t), func(id string, data []byte, _ time.Time) bool {
		out[id] = string(data)
		return true
	})
	if err != nil {
		e.t.Fatalf("Range: %v", err)
	}
	return out
}

// TestCryptNoPlaintextInTable reads every column of every row of the table
// raw and finds no stored value in any form, nor (with hashed ids) any id;
// each row is its data plus CryptOverhead bytes, a value stored twice is
// stored differently, and every value reads back through Get and Range.
func TestCryptNoPlaintextInTable(t *testing.T) {
	crKinds(t, func(t *testing.T, e *crEnv) {
		for _, hashed := range []bool{true, false} {
			e.table = testdb.Table(t, e.db)
			s := e.store(sqlstore.WithEncryption(crKey()), sqlstore.WithHashedIDs(hashed))
			values := map[string][]byte{
				"user-1": []byte(`{"user":"alice@example.com","role":"admin","csrf":"q8Zt1xRk"}`),
				"user-2": []byte("secret-value-" + relRandID("", 16)),
				"user-3": bytes.Repeat([]byte("REPEATED-PLAINTEXT-BLOCK"), 3000), // 72 KB of one pattern
				"user-4": []byte("secret-value-twin"),
				"user-5": []byte("secret-value-twin"), // same data as user-4
				"empty":  {},
			}
			for id, v := range values {
				e.set(s, id, v)
			}
			raw := e.raw(s)
			if len(raw) != len(values) {
				t.Fatalf("hashed=%v: %d rows, want %d", hashed, len(raw), len(values))
			}
			for id, v := range values {
				stored := raw[s.Key(id)]
				if len(stored) != len(v)+sqlstore.CryptOverhead {
					t.Errorf("hashed=%v: %s: stored %d bytes for %d, want %d more", hashed, id, len(stored), len(v), sqlstore.CryptOverhead)
				}
			}
			if bytes.Equal(raw[s.Key("user-4")][9:], raw[s.Key("user-5")][9:]) {
				t.Errorf("hashed=%v: the same data under two ids is stored the same", hashed)
			}
			before := raw[s.Key("user-4")]
			e.set(s, "user-4", values["user-4"])
			if bytes.Equal(before, e.raw(s)[s.Key("user-4")]) {
				t.Errorf("hashed=%v: the same data set twice is stored the same (no fresh nonce)", hashed)
			}
			for _, row := range relDumpTable(t, e.db, e.table) {
				for _, cell := range row {
					hexCell := hex.EncodeToString([]byte(cell))
					for id, v := range values {
						if len(v) == 0 {
							continue
						}
						probe := v[:min(len(v), 12)]
						if strings.Contains(cell, string(probe)) || strings.Contains(hexCell, hex.EncodeToString(probe)) {
							t.Errorf("hashed=%v: the table holds the plaintext of %s", hashed, id)
						}
						if hashed && len(relLeaks(cell, id)) > 0 {
							t.Errorf("hashed=%v: the table holds the id %s", hashed, id)
						}
					}
				}
			}
			for id, v := range values {
				e.want(s, id, v)
			}
			r := e.ranged(s)
			for id, v := range values {
				if got, ok := r[s.Key(id)]; !ok || got != string(v) {
					t.Errorf("hashed=%v: Range gave %s %q, want %q", hashed, id, trimTo([]byte(got), 40), trimTo(v, 40))
				}
			}
			if n := e.undecryptable(s); n != 0 {
				t.Errorf("hashed=%v: Stats.Undecryptable = %d, want 0", hashed, n)
			}
		}
	})
}

// TestCryptMovedDataNotFound copies a row's data column to another id, and
// swaps the data of two rows: each such row is not found (no error), skipped
// by Range, counted in Stats and logged at Warn with its key, never its data.
func TestCryptMovedDataNotFound(t *testing.T) {
	crKinds(t, func(t *testing.T, e *crEnv) {
		for _, hashed := range []bool{true, false} {
			e.table = testdb.Table(t, e.db)
			e.log = &crLog{}
			s := e.store(sqlstore.WithEncryption(crKey()), sqlstore.WithHashedIDs(hashed))
			for _, id := range []string{"a", "b", "c", "d"} {
				e.set(s, id, []byte("data-of-"+id))
			}
			raw := e.raw(s)
			e.setRaw(s, s.Key("b"), raw[s.Key("a")]) // a's data copied under b
			e.setRaw(s, s.Key("c"), raw[s.Key("d")]) // c and d swapped
			e.setRaw(s, s.Key("d"), raw[s.Key("c")])
			e.want(s, "a", []byte("data-of-a"))
			for _, id := range []string{"b", "c", "d"} {
				e.want(s, id, nil)
			}
			if n := e.undecryptable(s); n != 3 {
				t.Errorf("hashed=%v: Stats.Undecryptable = %d after 3 refused Gets, want 3", hashed, n)
			}
			r := e.ranged(s)
			if len(r) != 1 || r[s.Key("a")] != "data-of-a" {
				t.Errorf("hashed=%v: Range gave %v, want only a", hashed, r)
			}
			if n := e.undecryptable(s); n != 6 {
				t.Errorf("hashed=%v: Stats.Undecryptable = %d after Range skipped 3 more, want 6", hashed, n)
			}
			logged := e.log.String()
			if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, s.Key("b")) || !strings.Contains(logged, "authenticate") {
				t.Errorf("hashed=%v: the log does not report b's key at Warn: %s", hashed, logged)
			}
			if strings.Contains(logged, "data-of") {
				t.Errorf("hashed=%v: the log shows session data: %s", hashed, logged)
			}
			// The same data under the right id reads again.
			e.setRaw(s, s.Key("b"), raw[s.Key("b")])
			e.want(s, "b", []byte("data-of-b"))
		}
	})
}

// TestCryptTamperedByte changes every bit position class of every byte of a
// stored row, truncates it at every length and extends it: each is not
// found, without an error; the untouched row is found.
func TestCryptTamperedByte(t *testing.T) {
	crKinds(t, func(t *testing.T, e *crEnv) {
		s := e.store(sqlstore.WithEncryption(crKey()))
		e.set(s, "t", []byte("tamper-me"))
		key := s.Key("t")
		orig := e.raw(s)[key]
		var variants [][]byte
		for i := range orig {
			for _, bit := range []byte{0x01, 0x80} {
				v := bytes.Clone(orig)
				v[i] ^= bit
				variants = append(variants, v)
			}
		}
		for n := range len(orig) {
			variants = append(variants, bytes.Clone(orig[:n]))
		}
		variants = append(variants, append(bytes.Clone(orig), 0))
		for i, v := range variants {
			e.setRaw(s, key, v)
			if got, found, err := s.Get(relCtx(t), "t"); err != nil || found {
				t.Fatalf("variant %d (%x): Get = %q, %v, %v; want not found, no error", i, v, got, found, err)
			}
		}
		if n := e.undecryptable(s); n != int64(len(variants)) {
			t.Errorf("Stats.Undecryptable = %d, want %d", n, len(variants))
		}
		e.setRaw(s, key, orig)
		e.want(s, "t", []byte("tamper-me"))
	})
}

// TestCryptTouchKeepsData: Touch moves the expiry and leaves the stored data
// as it was, byte for byte.
func TestCryptTouchKeepsData(t *testing.T) {
	crKinds(t, func(t *testing.T, e *crEnv) {
		s := e.store(sqlstore.WithEncryption(crKey()))
		e.set(s, "t", []byte("touched"))
		before := e.raw(s)[s.Key("t")]
		if err := s.Touch(relCtx(t), "t", crBase.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, exp, _ := testdb.Row(t, s, "t"); !exp.Equal(crBase.Add(3 * time.Hour)) {
			t.Fatalf("expiry after Touch = %v", exp)
		}
		if after := e.raw(s)[s.Key("t")]; !bytes.Equal(before, after) {
			t.Fatal("Touch rewrote the data")
		}
		e.want(s, "t", []byte("touched"))
	})
}

// TestCryptKeyErrors: New names the key at fault.
func TestCryptKeyErrors(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, "sqlite")
	k := crKey()
	for _, tc := range []struct {
		keys [][]byte
		want string
	}{
		{nil, "WithEncryption: no keys"},
		{[][]byte{nil}, "keys[0] is 0 bytes"},
		{[][]byte{k, k[:31]}, "keys[1] is 31 bytes"},
		{[][]byte{k, append(bytes.Clone(k), 0)}, "keys[1] is 33 bytes"},
		{[][]byte{k, crKey(), bytes.Clone(k)}, "keys[2] repeats keys[0]"},
	} {
		_, err := sqlstore.New(relCtx(t), db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithEncryption(tc.keys...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("New(WithEncryption(%d keys)) = %v, want an error with %q", len(tc.keys), err, tc.want)
		}
		if _, err := sqlstore.NewCrypter(false, tc.keys...); err == nil {
			t.Errorf("NewCrypter(%d keys) accepted them", len(tc.keys))
		}
	}
	// The keys are copied: changing the caller's slice changes nothing.
	c, err := sqlstore.NewCrypter(false, k)
	if err != nil {
		t.Fatal(err)
	}
	sealed := c.Seal("id", []byte("x"))
	k[0] ^= 1
	if got, err := c.Open("id", sealed, false); err != nil || string(got) != "x" {
		t.Fatalf("after the caller changed its key: Open = %q, %v", got, err)
	}
}

// TestCryptWrongKeyFailsNew: over sessions none of whose newest decrypt, New
// fails loudly, naming the cause; with one right key among them, or over an
// empty table, it succeeds.
func TestCryptWrongKeyFailsNew(t *testing.T) {
	crKinds(t, func(t *testing.T, e *crEnv) {
		k1, k2 := crKey(), crKey()
		if _, err := e.open(sqlstore.WithEncryption(k2)); err != nil {
			t.Fatalf("New over an empty table: %v", err)
		}
		s1 := e.store(sqlstore.WithEncryption(k1))
		for i := range 3 {
			e.set(s1, fmt.Sprintf("s%d", i), []byte("x"))
		}
		_, err := e.open(sqlstore.WithEncryption(k2))
		if err == nil || !strings.Contains(err.Error(), "none of the 3 newest sessions") || !strings.Contains(err.Error(), "not among the keys given") {
			t.Fatalf("New with a wrong key = %v, want the loud error", err)
		}
		if _, err := e.open(sqlstore.WithEncryption(k2, k1)); err != nil {
			t.Fatalf("New with the key among others: %v", err)
		}
		// Encryption turned on over plaintext rows, without plaintext reads.
		e.table = testdb.Table(t, e.db)
		plain := e.store()
		for i := range 12 {
			e.set(plain, fmt.Sprintf("p%d", i), []byte("plain"))
		}
		_, err = e.open(sqlstore.WithEncryption(k1))
		if err == nil || !strings.Contains(err.Error(), "none of the 10 newest sessions") || !strings.Contains(err.Error(), "WithPlaintextReads") {
			t.Fatalf("New with encryption over plaintext rows = %v, want the loud error", err)
		}
		if _, err := e.open(sqlstore.WithEncryption(k1), sqlstore.WithPlaintextReads(true)); err != nil {
			t.Fatalf("New with plaintext reads over plaintext rows: %v", err)
		}
	})
}
