package sqlstore

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Unit tests of the unexported helpers. The expected values are written out
// literally so that a change in a helper shows here.

func TestUnitValidIdentAccepts(t *testing.T) {
	for _, name := range []string{
		"sessions", "_", "_x1", "a1", "MySessions", "select", "sessões", "セッション",
		"利用者セッション", "user_セッション", "사용자_세션", "σύνοδοι", "сессии", "جلسات",
		strings.Repeat("a", 63), strings.Repeat("é", 31) + "x",
	} {
		if err := validIdent("table", name); err != nil {
			t.Errorf("validIdent(%q) = %v, want nil", name, err)
		}
	}
}

func TestUnitValidIdentRejects(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"", "table name is empty"},
		{strings.Repeat("a", 64), "64 bytes, more than 63"},
		{strings.Repeat("é", 32), "64 bytes, more than 63"},
		{"1sessions", `character '1' at byte 0`},
		{"my sessions", `character ' ' at byte 2`},
		{`a"b`, `character '"' at byte 1`},
		{"a`b", "character '`' at byte 1"},
		{"a.b", `character '.' at byte 1`},
		{"a\x00b", `character '\x00' at byte 1`},
		{"a\xffb", "not valid UTF-8"},
		{"a\u200fb", `character '\u200f' at byte 1`},
		{"ѕessions", "mixes"}, // Cyrillic dze, then Latin
		{"sessiοns", "mixes"}, // Greek omicron
	} {
		err := validIdent("table", tc.name)
		if err == nil {
			t.Errorf("validIdent(%q) = nil, want an error", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "sqlstore: table name") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validIdent(%q) = %q, want it to start with %q and contain %q", tc.name, err, "sqlstore: table name", tc.want)
		}
	}
}

func TestUnitIndexName(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{"sessions", "sessions_expiry_idx"},
		{strings.Repeat("a", 52), strings.Repeat("a", 52) + "_expiry_idx"},
		{strings.Repeat("a", 53), strings.Repeat("a", 43) + "_e4fa9d58_expiry_idx"},
		{strings.Repeat("a", 63), strings.Repeat("a", 43) + "_2469b9e6_expiry_idx"},
	} {
		if got := indexName(tc.table); got != tc.want {
			t.Errorf("indexName(%d bytes) = %q, want %q", len(tc.table), got, tc.want)
		}
	}
	// Long names sharing a prefix get distinct, valid index names, cut on
	// a rune boundary.
	seen := map[string]string{}
	for _, table := range []string{
		strings.Repeat("a", 60) + "bcd", strings.Repeat("a", 60) + "bce",
		strings.Repeat("é", 31) + "x", strings.Repeat("é", 31) + "y", "x" + strings.Repeat("é", 31),
	} {
		ix := indexName(table)
		if len(ix) > maxIdentLen || !utf8.ValidString(ix) || !strings.HasSuffix(ix, "_expiry_idx") {
			t.Errorf("indexName(%q) = %q (%d bytes): want at most %d bytes of valid UTF-8 ending in _expiry_idx", table, ix, len(ix), maxIdentLen)
		}
		if err := validIdent("index", ix); err != nil {
			t.Errorf("indexName(%q) = %q is not a valid identifier: %v", table, ix, err)
		}
		if other, dup := seen[ix]; dup {
			t.Errorf("indexName(%q) = indexName(%q) = %q", table, other, ix)
		}
		seen[ix] = table
	}
}

func TestUnitLockName(t *testing.T) {
	if got, want := lockName("public", "sessions"), "sqlstore_dc54aa1ba1426b6d"; got != want {
		t.Errorf("lockName(public, sessions) = %q, want %q", got, want)
	}
	if got, want := lockName("main", "sessions"), "sqlstore_cb1e0367ed7460b5"; got != want {
		t.Errorf("lockName(main, sessions) = %q, want %q", got, want)
	}
	// The separator keeps (ab, c) and (a, bc) apart; names stay short ASCII
	// (MySQL's GET_LOCK takes at most 64 characters).
	if lockName("ab", "c") == lockName("a", "bc") {
		t.Error("lockName(ab, c) == lockName(a, bc)")
	}
	long := lockName(strings.Repeat("é", 31), strings.Repeat("セ", 21))
	if len(long) != 25 || !strings.HasPrefix(long, "sqlstore_") {
		t.Errorf("lockName of long Unicode names = %q, want sqlstore_ and 16 hex digits", long)
	}
}

func TestUnitTruncMilli(t *testing.T) {
	zone := time.FixedZone("X", 5*3600+1800)
	in := time.Date(2024, 3, 5, 10, 20, 30, 123999999, zone)
	got := truncMilli(in)
	if want := time.Date(2024, 3, 5, 10, 20, 30, 123000000, zone); !got.Equal(want) || got.Location() != zone {
		t.Errorf("truncMilli(%v) = %v, want %v in the same zone", in, got, want)
	}
	// A monotonic reading is dropped, so == comparisons of stored times hold.
	if now := truncMilli(time.Now()); now != now.Round(0) {
		t.Error("truncMilli kept the monotonic clock reading")
	}
}

func TestUnitTimeCodecs(t *testing.T) {
	kolkata := time.FixedZone("IST", 5*3600+1800)
	in := time.Date(2024, 3, 6, 15, 0, 0, 987000000, kolkata) // 09:30:00.987 UTC
	utc := time.Date(2024, 3, 6, 9, 30, 0, 987000000, time.UTC)

	// PostgreSQL: a time.Time in UTC.
	pv, ok := Postgres.EncodeTime(in).(time.Time)
	if !ok || !pv.Equal(utc) || pv.Location() != time.UTC {
		t.Errorf("Postgres.EncodeTime = %#v, want %v in UTC", Postgres.EncodeTime(in), utc)
	}
	if got, err := Postgres.DecodeTime(in); err != nil || !got.Equal(utc) || got.Location() != time.UTC {
		t.Errorf("Postgres.DecodeTime = %v, %v; want %v in UTC", got, err, utc)
	}
	if _, err := Postgres.DecodeTime("2024-03-06"); err == nil {
		t.Error("Postgres.DecodeTime(string) = nil error")
	}

	// MySQL: text, UTC, milliseconds, whatever the zone of the input.
	if got := MySQL.EncodeTime(in); got != "2024-03-06 09:30:00.987" {
		t.Errorf("MySQL.EncodeTime = %#v, want %q", got, "2024-03-06 09:30:00.987")
	}
	if got := MySQL.EncodeTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)); got != "2024-01-02 03:04:05.000" {
		t.Errorf("MySQL.EncodeTime(whole second) = %#v, want the .000", got)
	}
	for _, v := range []any{
		[]byte("2024-03-06 09:30:00.987000"), // DATETIME(6) without parseTime
		"2024-03-06 09:30:00.987",
		// parseTime=true&loc=Asia/Kolkata labels the stored UTC wall clock
		// with the loc: the wall clock is what counts.
		time.Date(2024, 3, 6, 9, 30, 0, 987000000, kolkata),
	} {
		if got, err := MySQL.DecodeTime(v); err != nil || !got.Equal(utc) || got.Location() != time.UTC {
			t.Errorf("MySQL.DecodeTime(%#v) = %v, %v; want %v in UTC", v, got, err, utc)
		}
	}
	if got, err := MySQL.DecodeTime([]byte("2024-03-06 09:30:00")); err != nil || !got.Equal(utc.Truncate(time.Second)) {
		t.Errorf("MySQL.DecodeTime(no fraction) = %v, %v", got, err)
	}
	for _, v := range []any{int64(1), []byte("yesterday"), nil} {
		if _, err := MySQL.DecodeTime(v); err == nil {
			t.Errorf("MySQL.DecodeTime(%#v) = nil error", v)
		}
	}

	// SQLite: Unix milliseconds.
	if got := SQLite.EncodeTime(in); got != int64(1709717400987) {
		t.Errorf("SQLite.EncodeTime = %#v, want int64(1709717400987)", got)
	}
	if got, err := SQLite.DecodeTime(int64(1709717400987)); err != nil || !got.Equal(utc) || got.Location() != time.UTC {
		t.Errorf("SQLite.DecodeTime = %v, %v; want %v in UTC", got, err, utc)
	}
	if _, err := SQLite.DecodeTime("1709717400987"); err == nil {
		t.Error("SQLite.DecodeTime(string) = nil error")
	}

	// Every dialect round-trips millisecond times across the range Set accepts.
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		for _, tt := range []time.Time{
			time.Date(1970, 1, 1, 0, 0, 0, 1000000, time.UTC),
			time.Date(2038, 1, 19, 3, 14, 8, 0, kolkata), // past MySQL TIMESTAMP's end
			time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC),
		} {
			v := d.EncodeTime(tt)
			if b, ok := v.(string); ok {
				v = []byte(b) // how the MySQL driver returns it
			}
			got, err := d.DecodeTime(v)
			if err != nil || !got.Equal(tt) {
				t.Errorf("%s: DecodeTime(EncodeTime(%v)) = %v, %v", d.Name(), tt, got, err)
			}
		}
	}
}
