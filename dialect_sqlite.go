package sqlstore

import (
	"fmt"
	"strings"
	"time"
)

// SQLite is the Dialect of SQLite 3.24 and later, over modernc.org/sqlite or
// mattn/go-sqlite3. Expiry is an INTEGER of Unix milliseconds: SQLite has no
// time type, drivers write time.Time as text in varying formats, and text
// compares wrongly across time zones, while an integer is exact, compact and
// ordered. Data is a BLOB. The table is an ordinary rowid table with the id
// as its primary key: with sessions of a kilobyte or more, a WITHOUT ROWID
// table spills rows to overflow pages and reads an order of magnitude slower.
var SQLite Dialect = sqlite{}

type sqlite struct{}

func (sqlite) Name() string { return "sqlite" }

// SerialWrites is true: SQLite takes one writer at a time (see SerialWriter).
func (sqlite) SerialWrites() bool { return true }

func (sqlite) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (sqlite) CurrentSchema() string { return `SELECT 'main'` }

func (sqlite) Columns() string { return `SELECT name FROM pragma_table_info(?2, ?1)` }

// CreateLock is empty: SQLite serializes writers itself.
func (sqlite) CreateLock() string { return "" }

// CreateTable puts the schema on the index name, not the table: SQLite's
// CREATE INDEX names its database that way.
func (sqlite) CreateTable(t Table) []string {
	index := t.Index
	if t.Schema != "" {
		index = t.Schema + "." + t.Index
	}
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s TEXT NOT NULL PRIMARY KEY, %s BLOB NOT NULL, %s INTEGER NOT NULL)`,
			t.Qualified(), t.ID, t.Data, t.Expiry),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, index, t.Name, t.Expiry),
	}
}

func (sqlite) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ? AND %s > ?`, t.Data, t.Qualified(), t.ID, t.Expiry)
}

func (sqlite) Set(t Table) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, %s, %s) VALUES (?, ?, ?) ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s, %s = excluded.%s`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.ID, t.Data, t.Data, t.Expiry, t.Expiry)
}

func (sqlite) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s > ? AND (%s <= ? OR %s >= ?)`,
		t.Qualified(), t.Expiry, t.ID, t.Expiry, t.Expiry, t.Expiry)
}

func (sqlite) Delete(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, t.Qualified(), t.ID)
}

func (sqlite) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > ?`, t.Qualified(), t.Expiry)
}

func (sqlite) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > ?`, t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry)
}

func (sqlite) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

func (sqlite) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s <= ?1 ORDER BY %s LIMIT ?2)`,
		t.Qualified(), t.ID, t.ID, t.Qualified(), t.Expiry, t.Expiry)
}

func (sqlite) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COALESCE(SUM(%s > ?1), 0), COALESCE(SUM(%s <= ?2), 0), MIN(%s), MAX(%s) FROM %s`,
		t.Expiry, t.Expiry, t.Expiry, t.Expiry, t.Qualified())
}

// TableSize needs the dbstat virtual table (modernc.org/sqlite has it;
// mattn/go-sqlite3 only when built with the sqlite_dbstat tag).
func (sqlite) TableSize() string {
	return `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat(?1) WHERE name = ?2 OR name IN (SELECT name FROM pragma_index_list(?2, ?1))`
}

// TryLock is empty: a SQLite database is one file that serializes writers.
func (sqlite) TryLock() string { return "" }
func (sqlite) Unlock() string  { return "" }

func (sqlite) EncodeTime(t time.Time) any { return t.UnixMilli() }

func (sqlite) DecodeTime(v any) (time.Time, error) {
	if ms, ok := v.(int64); ok {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected expiry type %T", v)
}

// Newest reads the expiry index backwards.
func (sqlite) Newest(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s ORDER BY %s DESC LIMIT ?`, t.ID, t.Data, t.Qualified(), t.Expiry)
}

func (sqlite) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > ? AND %s > ? ORDER BY %s LIMIT ?`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.ID)
}

func (sqlite) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?`, t.Qualified(), t.Data, t.ID, t.Data)
}
