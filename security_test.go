package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Helpers shared by the reliability tests (security, race, fuzz and time
// zone tests) carry the prefix rel, so they meet no other test's names.

// relCtx returns a context that ends with the test or after 3 minutes.
func relCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

// relDB opens kind's database (a fresh SQLite file for "sqlite") and returns
// its URL DSN, a pool on it and a fresh table name dropped at cleanup.
func relDB(t testing.TB, kind string) (dsn string, db *sql.DB, table string) {
	t.Helper()
	dsn = testdb.DSN(t, kind)
	db = testdb.OpenDSN(t, kind, dsn)
	return dsn, db, testdb.Table(t, db)
}

// relNew makes a store with sqlstore.New on db and table, with background
// pruning off, closed at cleanup.
func relNew(t testing.TB, db *sql.DB, table string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	all := append([]sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}, opts...)
	s, err := sqlstore.New(relCtx(t), db, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// relOpen makes a store with sqlstore.Open (so SQLite gets WAL and a busy
// timeout) on a fresh table of kind's database, closed before the table is
// dropped.
func relOpen(t testing.TB, kind string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	return relOpenDSN(t, kind, "", opts...)
}

// relOpenDSN is relOpen with extra DSN parameters for SQLite (such as
// "_pragma=synchronous(NORMAL)").
func relOpenDSN(t testing.TB, kind, sqliteParams string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	dsn, _, table := relDB(t, kind)
	if kind == "sqlite" && sqliteParams != "" {
		dsn += "?" + sqliteParams
	}
	all := append([]sqlstore.Option{sqlstore.WithTable(table), sqlstore.WithPruneInterval(0)}, opts...)
	s, err := sqlstore.Open(relCtx(t), dsn, all...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// relRandID returns a session id of n random hex digits after prefix.
func relRandID(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:n]
}

// relDumpTable reads every row and every column of table raw (SELECT *) and
// returns each value as text: bytes as they are, other values formatted.
func relDumpTable(t testing.TB, db *sql.DB, table string) [][]string {
	t.Helper()
	rows, err := db.QueryContext(relCtx(t), "SELECT * FROM "+table)
	if err != nil {
		t.Fatalf("SELECT * FROM %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case []byte:
				row[i] = string(v)
			case string:
				row[i] = v
			case time.Time:
				row[i] = v.Format(time.RFC3339Nano)
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// relLeaks returns the forms of id (as is, hex, base64) found in cell,
// compared case-insensitively, also inside the hex form of the cell.
func relLeaks(cell, id string) []string {
	forms := map[string]string{
		"plain":  id,
		"hex":    hex.EncodeToString([]byte(id)),
		"base64": base64.StdEncoding.EncodeToString([]byte(id)),
		"b64url": base64.RawURLEncoding.EncodeToString([]byte(id)),
	}
	hay := []string{strings.ToLower(cell), strings.ToLower(hex.EncodeToString([]byte(cell)))}
	var found []string
	for name, f := range forms {
		for _, h := range hay {
			if strings.Contains(h, strings.ToLower(f)) {
				found = append(found, name)
				break
			}
		}
	}
	return found
}

// TestSecurityHashedIDsAtRest proves that with hashed ids (the default) no
// row and no column of the table holds a session id, in plain, hex or base64
// form, that with WithHashedIDs(false) the same check does find it (so the
// check can fail), and that Range yields the stored keys.
func TestSecurityHashedIDsAtRest(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, hashed := range []bool{true, false} {
				t.Run(fmt.Sprintf("hashed=%v", hashed), func(t *testing.T) {
					_, db, table := relDB(t, kind)
					s := relNew(t, db, table, sqlstore.WithHashedIDs(hashed))
					// Ids long enough that a chance match is impossible; data
					// that never holds the id.
					ids := []string{relRandID("sess-", 43), relRandID("", 64), relRandID("x~!@#$%^&*()_+{}|:<>?", 32)}
					want := map[string]bool{}
					for i, id := range ids {
						if err := s.Set(relCtx(t), id, fmt.Appendf(nil, "user=%d;role=admin", i), time.Now().Add(time.Hour)); err != nil {
							t.Fatalf("Set: %v", err)
						}
						key := id
						if hashed {
							sum := sha256.Sum256([]byte(id))
							key = hex.EncodeToString(sum[:])
						}
						if got := s.Key(id); got != key {
							t.Fatalf("Key(%q) = %q, want %q", id, got, key)
						}
						want[key] = true
					}
					dump := relDumpTable(t, db, table)
					if len(dump) != len(ids) {
						t.Fatalf("table has %d rows, want %d", len(dump), len(ids))
					}
					cells := 0
					for _, id := range ids {
						leaked := 0
						for r, row := range dump {
							for c, cell := range row {
								cells++
								if forms := relLeaks(cell, id); len(forms) > 0 {
									leaked++
									if hashed {
										t.Errorf("row %d column %d holds the id %q (%v): %q", r, c, id, forms, cell)
									}
								}
							}
						}
						if !hashed && leaked == 0 {
							t.Errorf("with WithHashedIDs(false) the id %q is in no row: the check cannot see ids", id)
						}
					}
					got := map[string]bool{}
					err := s.Range(relCtx(t), func(id string, _ []byte, _ time.Time) bool {
						got[id] = true
						return true
					})
					if err != nil {
						t.Fatalf("Range: %v", err)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("Range yielded %v, want the stored keys %v", got, want)
					}
					// A stored key is not a usable session id.
					if hashed {
						for key := range want {
							if _, found, err := s.Get(relCtx(t), key); err != nil || found {
								t.Fatalf("Get(stored key) = found %v, %v; want not found", found, err)
							}
						}
					}
					t.Logf("%s hashed=%v: %d rows, %d cells searched for 3 ids in 4 encodings", kind, hashed, len(dump), cells)
				})
			}
		})
	}
}

// TestSecurityDataSize proves the data size limit: data up to the limit
// round-trips byte-exact, one byte more gets ErrDataTooLarge before any
// query runs and writes nothing; for the default 8 MiB and a custom limit.
func TestSecurityDataSize(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := relDB(t, kind)
			if kind == "mysql" {
				var session, global int64
				if err := db.QueryRowContext(relCtx(t), "SELECT @@session.max_allowed_packet, @@global.max_allowed_packet").Scan(&session, &global); err != nil {
					t.Fatal(err)
				}
				t.Logf("mysql max_allowed_packet: session %d, global %d (%d MiB)", session, global, global>>20)
				if global < sqlstore.DefaultMaxDataSize {
					t.Errorf("max_allowed_packet %d is below the default data limit %d", global, sqlstore.DefaultMaxDataSize)
				}
			}
			for _, limit := range []int{sqlstore.DefaultMaxDataSize, 1000} {
				t.Run(fmt.Sprint(limit), func(t *testing.T) {
					var opts []sqlstore.Option
					if limit != sqlstore.DefaultMaxDataSize {
						opts = append(opts, sqlstore.WithMaxDataSize(limit))
					}
					s := relNew(t, db, table, opts...)
					if err := s.Clear(relCtx(t)); err != nil {
						t.Fatal(err)
					}
					exp := time.Now().Add(time.Hour)
					data := make([]byte, limit)
					_, _ = rand.Read(data)
					if err := s.Set(relCtx(t), "at-limit", data, exp); err != nil {
						t.Fatalf("Set of %d bytes (the limit): %v", limit, err)
					}
					got, found, err := s.Get(relCtx(t), "at-limit")
					if err != nil || !found || !bytes.Equal(got, data) {
						t.Fatalf("Get of %d bytes: found %v, %d bytes, equal %v, err %v", limit, found, len(got), bytes.Equal(got, data), err)
					}
					over := append(data, 0x5a)
					err = s.Set(relCtx(t), "over-limit", over, exp)
					if !errors.Is(err, sqlstore.ErrDataTooLarge) {
						t.Fatalf("Set of %d bytes (limit %d) = %v, want ErrDataTooLarge", len(over), limit, err)
					}
					// Nothing is written, and a too-large Set does not touch an
					// existing session either.
					err = s.Set(relCtx(t), "at-limit", over, exp)
					if !errors.Is(err, sqlstore.ErrDataTooLarge) {
						t.Fatalf("Set of %d bytes over an existing session = %v, want ErrDataTooLarge", len(over), err)
					}
					if _, found, err := s.Get(relCtx(t), "over-limit"); err != nil || found {
						t.Fatalf("Get(over-limit) after ErrDataTooLarge: found %v, err %v", found, err)
					}
					if got, _, _ := s.Get(relCtx(t), "at-limit"); !bytes.Equal(got, data) {
						t.Fatalf("a refused Set changed the existing session")
					}
					if n, err := s.Count(relCtx(t)); err != nil || n != 1 {
						t.Fatalf("Count = %d, %v; want 1", n, err)
					}
					t.Logf("%s: %d bytes round-trip byte-exact; %d bytes get ErrDataTooLarge", kind, limit, len(over))
				})
			}
			// "Before any query": on a store whose pool is closed, the
			// oversized Set still reports ErrDataTooLarge, while a Set within
			// the limit reaches the (closed) pool and fails there.
			t.Run("BeforeAnyQuery", func(t *testing.T) {
				db2 := testdb.OpenDSN(t, kind, dsn)
				s, err := sqlstore.New(relCtx(t), db2, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithMaxDataSize(10))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				db2.Close()
				if err := s.Set(relCtx(t), "x", make([]byte, 11), time.Now().Add(time.Hour)); !errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Fatalf("Set over the limit on a closed pool = %v, want ErrDataTooLarge", err)
				}
				if err := s.Set(relCtx(t), "x", make([]byte, 10), time.Now().Add(time.Hour)); err == nil || errors.Is(err, sqlstore.ErrDataTooLarge) {
					t.Fatalf("Set within the limit on a closed pool = %v, want the pool's error", err)
				}
			})
		})
	}
	t.Run("InvalidLimit", func(t *testing.T) {
		_, db, table := relDB(t, "sqlite")
		for _, n := range []int{0, -1} {
			if _, err := sqlstore.New(relCtx(t), db, sqlstore.WithTable(table), sqlstore.WithMaxDataSize(n)); err == nil {
				t.Errorf("WithMaxDataSize(%d) accepted", n)
			}
		}
	})
}
