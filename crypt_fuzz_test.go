package sqlstore_test

import (
	"bytes"
	"testing"

	"github.com/go-sqlstore/sqlstore"
)

// FuzzCryptOpen: the decoder of stored data never panics, whatever the bytes
// and the stored key, and leaves its input alone unless asked to decrypt in
// place; a row without the header is plaintext (returned unchanged with
// plaintext reads, refused without); data sealed for a stored key opens to
// itself for that key only, and a sealed row changed in any byte does not
// open. Its seeds run in every go test; go test -fuzz FuzzCryptOpen explores.
func FuzzCryptOpen(f *testing.F) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	strict, err := sqlstore.NewCrypter(false, k1, k2)
	if err != nil {
		f.Fatal(err)
	}
	lax, err := sqlstore.NewCrypter(true, k1, k2)
	if err != nil {
		f.Fatal(err)
	}
	other, err := sqlstore.NewCrypter(false, k2, k1)
	if err != nil {
		f.Fatal(err)
	}
	const magic = "\xffSQE"
	sealed := strict.Seal("key", []byte("hello"))
	for _, s := range [][]byte{
		nil, {}, {0xff}, []byte(magic), []byte(magic + "\x01"), []byte(magic + "\x01\x00\x00\x00\x00"),
		append([]byte(magic+"\x01\x00\x00\x00\x00"), make([]byte, 28)...), // unknown key, zero nonce and tag
		append([]byte(magic+"\x02"), sealed[5:]...),                       // unknown version
		sealed, sealed[:len(sealed)-1], append(bytes.Clone(sealed), 0), other.Seal("key", []byte("hello")),
		strict.Seal("key", nil), []byte(`{"user":"alice"}`), {0x0e, 0xff, 0x81, 0x03}, // JSON, gob
	} {
		f.Add(s, "key", []byte("data"), uint(len(s)/2), byte(0x01))
	}
	f.Add([]byte{}, "", []byte{}, uint(0), byte(0x80))
	f.Add([]byte(magic), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", bytes.Repeat([]byte{0}, 300), uint(4), byte(0xff))

	f.Fuzz(func(t *testing.T, stored []byte, key string, data []byte, pos uint, mask byte) {
		hasMagic := bytes.HasPrefix(stored, []byte(magic))
		for _, c := range []*sqlstore.Crypter{strict, lax} {
			for _, inPlace := range []bool{false, true} {
				in := bytes.Clone(stored)
				got, err := c.Open(key, in, inPlace)
				if !inPlace && !bytes.Equal(in, stored) {
					t.Fatalf("Open changed its input without inPlace")
				}
				switch {
				case err == nil && got == nil:
					t.Fatalf("Open(%x) = nil data and no error", stored)
				case !hasMagic && c == lax && (err != nil || !bytes.Equal(got, stored)):
					t.Fatalf("lax Open of plaintext %x = %x, %v; want it unchanged", stored, got, err)
				case !hasMagic && c == strict && err == nil:
					t.Fatalf("strict Open accepted plaintext %x", stored)
				case hasMagic && err == nil && len(got) != len(stored)-sqlstore.CryptOverhead:
					t.Fatalf("Open(%x) = %d bytes, want %d", stored, len(got), len(stored)-sqlstore.CryptOverhead)
				}
			}
		}

		s := strict.Seal(key, data)
		if len(s) != len(data)+sqlstore.CryptOverhead || !bytes.HasPrefix(s, []byte(magic)) || !strict.Current(s) || other.Current(s) {
			t.Fatalf("Seal(%d bytes) = %d bytes %x...", len(data), len(s), s[:min(len(s), 9)])
		}
		for _, c := range []*sqlstore.Crypter{strict, lax, other} {
			got, err := c.Open(key, bytes.Clone(s), true)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Open(Seal(%x)) = %x, %v", data, got, err)
			}
		}
		if _, err := strict.Open(key+"x", bytes.Clone(s), false); err == nil {
			t.Fatal("a sealed row opened under another stored key")
		}
		if mask != 0 {
			bad := bytes.Clone(s)
			bad[pos%uint(len(bad))] ^= mask
			if got, err := strict.Open(key, bytes.Clone(bad), true); err == nil {
				t.Fatalf("a sealed row changed at %d opened to %x", pos%uint(len(bad)), got)
			}
			// With plaintext reads, a change to the magic makes a row that
			// reads as plaintext: the changed bytes, never the sealed data.
			if got, err := lax.Open(key, bytes.Clone(bad), false); err == nil && !bytes.Equal(got, bad) {
				t.Fatalf("a sealed row changed at %d opened to %x", pos%uint(len(bad)), got)
			}
		}
	})
}
