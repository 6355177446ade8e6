package scsstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestEncryptedRoundTrip: with the store encrypting (WithEncryption), a
// session scs saves reads back, Iterate sees it, and the row in the table
// holds no plaintext of its values.
func TestEncryptedRoundTrip(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		db := testdb.Open(t, kind)
		table := testdb.Table(t, db)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		enc, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(key))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { enc.Close() })
		raw, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)) // reads rows as stored
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })

		mgr := scs.New()
		mgr.Store = New(enc)
		mgr.Codec = Codec{}
		c, err := mgr.Load(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		mgr.Put(c, "name", "alice-the-secret-name")
		token, _, err := mgr.Commit(c)
		if err != nil {
			t.Fatal(err)
		}
		c, err = mgr.Load(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if got := mgr.GetString(c, "name"); got != "alice-the-secret-name" {
			t.Fatalf("name after a round trip = %q", got)
		}
		var names []string
		if err := mgr.Iterate(ctx, func(c context.Context) error {
			names = append(names, mgr.GetString(c, "name"))
			return nil
		}); err != nil || len(names) != 1 || names[0] != "alice-the-secret-name" {
			t.Fatalf("Iterate = %q, %v", names, err)
		}
		stored, _, found := testdb.Row(t, raw, token)
		if !found || !bytes.HasPrefix(stored, []byte("\xffSQE")) || bytes.Contains(stored, []byte("alice")) {
			t.Fatalf("stored row (found %v) = %q: want it encrypted", found, stored)
		}
		if _, exp, _ := testdb.Row(t, enc, token); time.Until(exp) < time.Hour {
			t.Fatalf("expiry %v: want scs's lifetime", exp)
		}
	})
}
