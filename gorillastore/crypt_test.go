package gorillastore

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestEncryptedRoundTrip: with the store encrypting (WithEncryption), a
// session gorilla/sessions saves reads back through the cookie, and the row
// in the table holds no plaintext of its values.
func TestEncryptedRoundTrip(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		db := testdb.Open(t, kind)
		table := testdb.Table(t, db)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		e := &env{t: t, clk: &testdb.OffsetClock{}}
		enc, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithClock(e.clk.Now), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(key))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { enc.Close() })
		e.sql = enc
		raw, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)) // reads rows as stored
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })

		st := e.store(keys())
		c := newClient(t, serve(t, st))
		if got := c.do("/put?name=alice-the-secret-name"); got != "new " {
			t.Fatalf("first request: %q", got)
		}
		if got := c.do("/get?k=name"); got != "old alice-the-secret-name" {
			t.Fatalf("second request: %q", got)
		}
		id := c.id(st)
		stored, _, found := testdb.Row(t, raw, id)
		if !found || !bytes.HasPrefix(stored, []byte("\xffSQE")) || bytes.Contains(stored, []byte("alice")) {
			t.Fatalf("stored row (found %v) = %q: want it encrypted", found, stored)
		}
		if data, _, found := e.row(id); !found || !bytes.Contains(data, []byte("alice-the-secret-name")) {
			t.Fatalf("the encrypting store reads %q (found %v)", data, found)
		}
	})
}
