package sqlstore_test

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestCryptNoPlaintextInTable reads every column of every row of the table
// raw and finds no stored value in any form, nor (with hashed ids) any id;
// each row is its data plus CryptOverhead bytes, a value stored twice is
// stored differently, and every value reads back through Get and Range.
func TestCryptNoPlaintextInTable(t *testing.T) {
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		for _, hashed := range []bool{true, false} {
			e.table = testdb.Table(t, e.db)
			s := e.store(sqlstore.WithEncryption(testKey()), sqlstore.WithHashedIDs(hashed))
			values := map[string][]byte{
				"user-1": []byte(`{"user":"alice@example.com","role":"admin","csrf":"q8Zt1xRk"}`),
				"user-2": []byte("secret-value-" + randomID("", 16)),
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
			for _, row := range dumpTable(t, e.db, e.table) {
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
						if hashed && len(idLeaks(cell, id)) > 0 {
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
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		for _, hashed := range []bool{true, false} {
			e.table = testdb.Table(t, e.db)
			e.log = &logBuffer{}
			s := e.store(sqlstore.WithEncryption(testKey()), sqlstore.WithHashedIDs(hashed))
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
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		s := e.store(sqlstore.WithEncryption(testKey()))
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
			if got, found, err := s.Get(testContext(t), "t"); err != nil || found {
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
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		s := e.store(sqlstore.WithEncryption(testKey()))
		e.set(s, "t", []byte("touched"))
		before := e.raw(s)[s.Key("t")]
		if err := s.Touch(testContext(t), "t", cryptBase.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, exp, _ := testdb.Row(t, s, "t"); !exp.Equal(cryptBase.Add(3 * time.Hour)) {
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
	k := testKey()
	for _, tc := range []struct {
		keys [][]byte
		want string
	}{
		{nil, "WithEncryption: no keys"},
		{[][]byte{nil}, "keys[0] is 0 bytes"},
		{[][]byte{k, k[:31]}, "keys[1] is 31 bytes"},
		{[][]byte{k, append(bytes.Clone(k), 0)}, "keys[1] is 33 bytes"},
		{[][]byte{k, testKey(), bytes.Clone(k)}, "keys[2] repeats keys[0]"},
	} {
		_, err := sqlstore.New(testContext(t), db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithEncryption(tc.keys...))
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
	forEachCryptKind(t, func(t *testing.T, e *cryptEnv) {
		k1, k2 := testKey(), testKey()
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

// mockCryptSQL returns the SQL of encryption dialect c must send for the
// default names: newest, page and swap, from the golden files.
func mockCryptSQL(t testing.TB, c mockDialect) (newest, page, swap string) {
	return goldenSQL(t, c.name, "newest"), goldenSQL(t, c.name, "page"), goldenSQL(t, c.name, "swap_data")
}

// sealedArg matches a data argument that c opens, for stored key key, to
// want, encrypted under c's first key.
type sealedArg struct {
	c    *sqlstore.Crypter
	key  string
	want []byte
}

func (m sealedArg) Match(v driver.Value) bool {
	b, ok := v.([]byte)
	if !ok || !m.c.Current(b) {
		return false
	}
	got, err := m.c.Open(m.key, bytes.Clone(b), false)
	return err == nil && bytes.Equal(got, m.want)
}

// TestMockEncryption pins the statements of encryption and their bind
// values: New's check of the keys (the 10 newest rows), Get and Set with
// encrypted data, and Rekey's pages (after, now, limit) and compare-and-swap
// (new data, key, old data), which skips rows under the first key and rows
// that do not decrypt.
func TestMockEncryption(t *testing.T) {
	k1, k2 := testKey(), testKey()
	old, err := sqlstore.NewCrypter(false, k1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := sqlstore.NewCrypter(false, k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			newest, page, swap := mockCryptSQL(t, c)
			db, mock := mockDB(t)
			c.expectCatalog(mock, true)
			mock.ExpectQuery(newest).WithArgs(10).WillReturnRows(mockRows("token", "data").
				AddRow("a", []byte("plaintext")).AddRow(mockKey, old.Seal(mockKey, []byte("x"))))
			c.expectLocalReads(mock, c.schema)
			for _, p := range []string{c.get, c.set, c.touch, c.del} {
				mock.ExpectPrepare(p)
			}
			s := newMockStore(t, c, db, sqlstore.WithEncryption(k2, k1), sqlstore.WithPruneBatchSize(2), sqlstore.WithPrunePause(0),
				sqlstore.WithLogger(slog.New(slog.DiscardHandler)))
			mockMet(t, mock)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()

			payload := []byte("payload\x00\xff")
			mock.ExpectQuery(c.get).WithArgs(mockKey, now, cut).WillReturnRows(mockRows("data").AddRow(cur.Seal(mockKey, payload)))
			if data, found, err := s.Get(t.Context(), mockID); err != nil || !found || !bytes.Equal(data, payload) {
				t.Errorf("Get = %q, %v, %v; want %q", data, found, err, payload)
			}
			mock.ExpectExec(c.set).WithArgs(mockKey, sealedArg{cur, mockKey, payload}, c.at("2024-03-06 10:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(t.Context(), mockID, payload, mockNow.Add(24*60*60*1e9)); err != nil {
				t.Errorf("Set: %v", err)
			}

			underOld, underCur := old.Seal("k1", []byte("one")), cur.Seal("k2", []byte("two"))
			mock.ExpectPrepare(swap).WillBeClosed()
			mock.ExpectQuery(page).WithArgs("", now, 2).WillReturnRows(mockRows("token", "data").
				AddRow("k1", underOld).AddRow("k2", underCur))
			mock.ExpectExec(swap).WithArgs(sealedArg{cur, "k1", []byte("one")}, "k1", underOld).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(page).WithArgs("k2", now, 2).WillReturnRows(mockRows("token", "data").
				AddRow("k3", []byte("plaintext three")))
			if n, err := s.Rekey(t.Context()); err != nil || n != 1 {
				t.Errorf("Rekey = %d, %v; want 1", n, err)
			}
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(mockRows("live", "ended", "expired", "min", "max").AddRow(int64(3), int64(0), int64(0), nil, nil))
			if st, err := s.Stats(t.Context()); err != nil || st.Undecryptable != 1 {
				t.Errorf("Stats = %+v, %v; want Undecryptable 1 (k3)", st, err)
			}
			mockMet(t, mock)
		})
	}
}

// TestMockEncryptionNewFails: when none of the newest rows decrypts, New
// fails with the reasons, and prepares nothing.
func TestMockEncryptionNewFails(t *testing.T) {
	k1, k2 := testKey(), testKey()
	old, err := sqlstore.NewCrypter(false, k1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mockDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			db, mock := mockDB(t)
			c.expectCatalog(mock, true)
			mock.ExpectQuery(goldenSQL(t, c.name, "newest")).WithArgs(10).WillReturnRows(mockRows("token", "data").
				AddRow("a", old.Seal("a", []byte("x"))).AddRow("b", old.Seal("a", []byte("x"))).AddRow("c", []byte("plain")))
			_, err := sqlstore.New(t.Context(), db, sqlstore.WithDialect(c.d), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(k2))
			for _, want := range []string{"none of the 3 newest sessions in " + c.schema + ".sessions", "which is not among the keys given (2 sessions)",
				"the data is not encrypted (written before encryption was on) and WithPlaintextReads is off (1 session)", "WithPlaintextReads(true)"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v, want an error with %q", err, want)
				}
			}
			mockMet(t, mock)
		})
	}
}
