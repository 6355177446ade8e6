package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// validID is the specification CheckID must meet, written independently:
// 1 to 255 bytes, each printable ASCII (0x20 to 0x7E).
func validID(id string) bool {
	if len(id) < 1 || len(id) > 255 {
		return false
	}
	for _, c := range []byte(id) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// fuzzIDSeeds are ids at and around every edge of the rule. Those that are
// SQL themselves are in the seed corpus, testdata/fuzz.
var fuzzIDSeeds = []string{
	"", "a", " ", "~", "\x1f", "\x7f", "\x00", "\t", "\n", "abc\x00def", "é", "\xff", "\xc3\x28",
	strings.Repeat("x", 254), strings.Repeat("x", 255), strings.Repeat("x", 256), strings.Repeat("x", 255) + "\x00",
	"%_\\", `"quoted"`, "`back`", "id with spaces", "日本",
	"Zm9vYmFy", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
}

// FuzzCheckID: CheckID never panics, and accepts exactly the ids of 1 to 255
// bytes of printable ASCII; every rejection is ErrInvalidID.
func FuzzCheckID(f *testing.F) {
	for _, id := range fuzzIDSeeds {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := sqlstore.CheckID(id)
		if want := validID(id); want != (err == nil) {
			t.Fatalf("CheckID(%q) (%d bytes) = %v, want valid %v", id, len(id), err, want)
		}
		if err != nil && !errors.Is(err, sqlstore.ErrInvalidID) {
			t.Fatalf("CheckID(%q) = %v, not ErrInvalidID", id, err)
		}
	})
}

// FuzzRoundTrip: on SQLite, through a store with hashed ids and one with
// plain ids, a valid id's data round-trips byte-exact and Range yields its
// stored key; an invalid id gets ErrInvalidID from Set, Get, Touch and Delete
// and writes nothing.
func FuzzRoundTrip(f *testing.F) {
	for i, id := range fuzzIDSeeds {
		f.Add(id, []byte(id))
		f.Add(id, []byte{byte(i), 0, 0xff, '\'', '"', 0})
	}
	f.Add("empty-data", []byte{})
	f.Add("nil-ish", []byte(nil))
	f.Add("binary", bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff}, 2000))

	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	dsn := "sqlite:" + filepath.Join(f.TempDir(), "fuzz.db") + "?_pragma=synchronous(OFF)"
	var stores []*sqlstore.Store
	for _, hashed := range []bool{true, false} {
		table := "fuzz_plain"
		if hashed {
			table = "fuzz_hashed"
		}
		s, err := sqlstore.Open(ctx, dsn, sqlstore.WithTable(table), sqlstore.WithHashedIDs(hashed),
			sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(0), sqlstore.WithMaxDataSize(1<<20))
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	exp := time.Now().Add(time.Hour)

	f.Fuzz(func(t *testing.T, id string, data []byte) {
		if len(data) > 1<<20 {
			data = data[:1<<20]
		}
		for _, s := range stores {
			if err := s.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			err := s.Set(ctx, id, data, exp)
			if !validID(id) {
				if !errors.Is(err, sqlstore.ErrInvalidID) {
					t.Fatalf("Set(%q) = %v, want ErrInvalidID", id, err)
				}
				if _, _, err := s.Get(ctx, id); !errors.Is(err, sqlstore.ErrInvalidID) {
					t.Fatalf("Get(%q) = %v, want ErrInvalidID", id, err)
				}
				if err := s.Touch(ctx, id, exp); !errors.Is(err, sqlstore.ErrInvalidID) {
					t.Fatalf("Touch(%q) = %v, want ErrInvalidID", id, err)
				}
				if err := s.Delete(ctx, id); !errors.Is(err, sqlstore.ErrInvalidID) {
					t.Fatalf("Delete(%q) = %v, want ErrInvalidID", id, err)
				}
				if n, err := s.Count(ctx); err != nil || n != 0 {
					t.Fatalf("Count after an invalid Set = %d, %v; want 0", n, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Set(%q, %d bytes): %v", id, len(data), err)
			}
			got, found, err := s.Get(ctx, id)
			if err != nil || !found || !bytes.Equal(got, data) {
				t.Fatalf("Get(%q) = %q, %v, %v; want %q", id, shortString(got), found, err, shortString(data))
			}
			var keys []string
			if err := s.Range(ctx, func(k string, d []byte, _ time.Time) bool {
				keys = append(keys, k)
				if !bytes.Equal(d, data) {
					t.Errorf("Range data of %q differs", id)
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0] != s.Key(id) {
				t.Fatalf("Range keys %q, want [%q]", keys, s.Key(id))
			}
			if err := s.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, found, err := s.Get(ctx, id); err != nil || found {
				t.Fatalf("Get(%q) after Delete: found %v, %v", id, found, err)
			}
		}
	})
}
