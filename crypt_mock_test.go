package sqlstore_test

import (
	"bytes"
	"database/sql/driver"
	"log/slog"
	"strings"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/go-sqlstore/sqlstore"
)

// smCrypt returns the SQL of encryption dialect c must send for the
// default names: newest, page and swap, from the golden files.
func smCrypt(t testing.TB, c smDialect) (newest, page, swap string) {
	return goldenSQL(t, c.name, "newest"), goldenSQL(t, c.name, "page"), goldenSQL(t, c.name, "swap_data")
}

// smSealed matches a data argument that c opens, for stored key key, to
// want, encrypted under c's first key.
type smSealed struct {
	c    *sqlstore.Crypter
	key  string
	want []byte
}

func (m smSealed) Match(v driver.Value) bool {
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
	k1, k2 := crKey(), crKey()
	old, err := sqlstore.NewCrypter(false, k1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := sqlstore.NewCrypter(false, k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			newest, page, swap := smCrypt(t, c)
			db, mock := smMock(t)
			c.expectCatalog(mock, true)
			mock.ExpectQuery(newest).WithArgs(10).WillReturnRows(smRows("token", "data").
				AddRow("a", []byte("plaintext")).AddRow(smKey, old.Seal(smKey, []byte("x"))))
			for _, p := range []string{c.get, c.set, c.touch, c.del} {
				mock.ExpectPrepare(p)
			}
			s := smNew(t, c, db, sqlstore.WithEncryption(k2, k1), sqlstore.WithPruneBatchSize(2), sqlstore.WithPrunePause(0),
				sqlstore.WithLogger(slog.New(slog.DiscardHandler)))
			smMet(t, mock)
			now, cut := c.at("2024-03-05 10:20:30.123"), c.cutoff()

			payload := []byte("payload\x00\xff")
			mock.ExpectQuery(c.get).WithArgs(smKey, now, cut).WillReturnRows(smRows("data").AddRow(cur.Seal(smKey, payload)))
			if data, found, err := s.Get(t.Context(), smID); err != nil || !found || !bytes.Equal(data, payload) {
				t.Errorf("Get = %q, %v, %v; want %q", data, found, err, payload)
			}
			mock.ExpectExec(c.set).WithArgs(smKey, smSealed{cur, smKey, payload}, c.at("2024-03-06 10:20:30.123"), nil, now, now, false).WillReturnResult(sqlmock.NewResult(0, 1))
			if err := s.Set(t.Context(), smID, payload, smNow.Add(24*60*60*1e9)); err != nil {
				t.Errorf("Set: %v", err)
			}

			underOld, underCur := old.Seal("k1", []byte("one")), cur.Seal("k2", []byte("two"))
			mock.ExpectPrepare(swap).WillBeClosed()
			mock.ExpectQuery(page).WithArgs("", now, 2).WillReturnRows(smRows("token", "data").
				AddRow("k1", underOld).AddRow("k2", underCur))
			mock.ExpectExec(swap).WithArgs(smSealed{cur, "k1", []byte("one")}, "k1", underOld).WillReturnResult(sqlmock.NewResult(0, 1))
			mock.ExpectQuery(page).WithArgs("k2", now, 2).WillReturnRows(smRows("token", "data").
				AddRow("k3", []byte("plaintext three")))
			if n, err := s.Rekey(t.Context()); err != nil || n != 1 {
				t.Errorf("Rekey = %d, %v; want 1", n, err)
			}
			mock.ExpectQuery(c.stats).WithArgs(now, cut, now, cut, now, cut).WillReturnRows(smRows("live", "ended", "expired", "min", "max").AddRow(int64(3), int64(0), int64(0), nil, nil))
			if st, err := s.Stats(t.Context()); err != nil || st.Undecryptable != 1 {
				t.Errorf("Stats = %+v, %v; want Undecryptable 1 (k3)", st, err)
			}
			smMet(t, mock)
		})
	}
}

// TestMockEncryptionNewFails: when none of the newest rows decrypts, New
// fails with the reasons, and prepares nothing.
func TestMockEncryptionNewFails(t *testing.T) {
	k1, k2 := crKey(), crKey()
	old, err := sqlstore.NewCrypter(false, k1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range smDialects(t) {
		t.Run(c.name, func(t *testing.T) {
			db, mock := smMock(t)
			c.expectCatalog(mock, true)
			mock.ExpectQuery(goldenSQL(t, c.name, "newest")).WithArgs(10).WillReturnRows(smRows("token", "data").
				AddRow("a", old.Seal("a", []byte("x"))).AddRow("b", old.Seal("a", []byte("x"))).AddRow("c", []byte("plain")))
			_, err := sqlstore.New(t.Context(), db, sqlstore.WithDialect(c.d), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(k2))
			for _, want := range []string{"none of the 3 newest sessions in " + c.schema + ".sessions", "which is not among the keys given (2 sessions)",
				"the data is not encrypted (written before encryption was on) and WithPlaintextReads is off (1 session)", "WithPlaintextReads(true)"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("New = %v, want an error with %q", err, want)
				}
			}
			smMet(t, mock)
		})
	}
}
