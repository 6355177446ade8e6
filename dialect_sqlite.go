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

// LocalReads is true in WAL mode, where a reader waits for no writer and no
// checkpoint (see LocalReader). In the other journal modes a reader can wait
// in the busy handler for a writer, so there Get keeps cancellation.
func (sqlite) LocalReads() string {
	return `SELECT journal_mode = 'wal' FROM pragma_journal_mode WHERE schema = ?1`
}

// AutoCheckpoint reads the connection's wal_autocheckpoint (see
// Checkpointer).
func (sqlite) AutoCheckpoint() string { return `PRAGMA wal_autocheckpoint` }

// Checkpoint is a PASSIVE checkpoint: it copies what no reader still needs
// and waits for no lock (see Checkpointer).
func (sqlite) Checkpoint(t Table) string {
	if t.Schema == "" {
		return `PRAGMA wal_checkpoint(PASSIVE)`
	}
	return fmt.Sprintf(`PRAGMA %s.wal_checkpoint(PASSIVE)`, t.Schema)
}

func (sqlite) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (sqlite) CurrentSchema() string { return `SELECT 'main'` }

func (sqlite) Columns() string { return `SELECT name FROM pragma_table_info(?2, ?1)` }

// Indexes reports every index valid: SQLite builds one in a transaction.
func (sqlite) Indexes() string { return `SELECT name, TRUE FROM pragma_index_list(?2, ?1)` }

// CreateLock is empty: SQLite serializes writers itself.
func (sqlite) CreateLock() string { return "" }

// CreateTable puts the schema on the index names, not the table: SQLite's
// CREATE INDEX names its database that way. The owner index is partial, as
// on PostgreSQL.
func (sqlite) CreateTable(t Table) []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s TEXT NOT NULL PRIMARY KEY, %s BLOB NOT NULL, %s INTEGER NOT NULL, %s TEXT, %s INTEGER, %s INTEGER, %s INTEGER NOT NULL DEFAULT FALSE)`,
			t.Qualified(), t.ID, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, sqliteIndex(t, t.Index), t.Name, t.Expiry),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s) WHERE %s IS NOT NULL`, sqliteIndex(t, t.OwnerIndex), t.Name, t.Owner, t.Owner),
	}
}

// sqliteIndex qualifies an index name with the table's schema.
func sqliteIndex(t Table, index string) string {
	if t.Schema == "" {
		return index
	}
	return t.Schema + "." + index
}

// Upgrade adds one column per statement, as SQLite's ALTER TABLE takes
// them; ADD COLUMN only rewrites the schema, not the rows.
func (sqlite) Upgrade(t Table, missing []string) []string {
	var out []string
	for _, c := range missing {
		typ := "INTEGER"
		switch c {
		case t.Owner:
			typ = "TEXT"
		case t.Ended:
			typ = "INTEGER NOT NULL DEFAULT FALSE"
		}
		out = append(out, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s %s`, t.Qualified(), c, typ))
	}
	return append(out, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s) WHERE %s IS NOT NULL`, sqliteIndex(t, t.OwnerIndex), t.Name, t.Owner, t.Owner))
}

func (sqlite) DropIndex(t Table, index string) string {
	return fmt.Sprintf(`DROP INDEX IF EXISTS %s`, sqliteIndex(t, index))
}

// DDLTimeout is empty: the busy timeout bounds every wait.
func (sqlite) DDLTimeout() (set, reset string) { return "", "" }

func (sqlite) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ?1 AND %s > ?2 AND NOT %s AND (%s IS NULL OR %s > ?3)`,
		t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.Created, t.Created)
}

// Set refuses, in the WHERE of its DO UPDATE, to overwrite a session that
// was ended and has not expired. Unqualified names in DO UPDATE are the
// stored row's.
func (sqlite) Set(t Table) string {
	return fmt.Sprintf(`INSERT INTO %[1]s (%[2]s, %[3]s, %[4]s, %[5]s, %[6]s, %[7]s, %[8]s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, FALSE) `+
		`ON CONFLICT (%[2]s) DO UPDATE SET %[3]s = excluded.%[3]s, %[4]s = excluded.%[4]s, `+
		`%[5]s = CASE WHEN ?7 THEN excluded.%[5]s WHEN %[4]s <= excluded.%[7]s THEN NULL ELSE %[5]s END, `+
		`%[6]s = CASE WHEN %[4]s <= excluded.%[7]s OR %[6]s IS NULL THEN excluded.%[6]s ELSE %[6]s END, `+
		`%[7]s = excluded.%[7]s, %[8]s = FALSE WHERE NOT %[8]s OR %[4]s <= excluded.%[7]s`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended)
}

func (sqlite) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ?1, %s = ?2 WHERE %s = ?3 AND %s > ?4 AND (%s <= ?5 OR %s >= ?6) AND NOT %s AND (%s IS NULL OR %s > ?7)`,
		t.Qualified(), t.Expiry, t.Updated, t.ID, t.Expiry, t.Expiry, t.Expiry, t.Ended, t.Created, t.Created)
}

func (sqlite) Delete(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = X'' WHERE %s = ?1`, t.Qualified(), t.Ended, t.Data, t.ID)
}

func (sqlite) DeleteOwner(t Table, keep int) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = X'' WHERE %s = ?1 AND %s > ?2 AND NOT %s%s`,
		t.Qualified(), t.Ended, t.Data, t.Owner, t.Expiry, t.Ended, keepClause(t, keep, func(i int) string { return fmt.Sprintf("?%d", i+3) }))
}

func (sqlite) Sessions(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s, %s, %s FROM %s WHERE %s = ?1 AND %s > ?2 AND NOT %s AND (%s IS NULL OR %s > ?3) ORDER BY %s DESC`,
		t.ID, t.Data, t.Created, t.Updated, t.Expiry, t.Qualified(), t.Owner, t.Expiry, t.Ended, t.Created, t.Created, t.Updated)
}

func (sqlite) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > ?1 AND NOT %s AND (%s IS NULL OR %s > ?2)`,
		t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (sqlite) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > ?1 AND NOT %s AND (%s IS NULL OR %s > ?2)`,
		t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (sqlite) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

func (sqlite) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s <= ?1 ORDER BY %s LIMIT ?2)`,
		t.Qualified(), t.ID, t.ID, t.Qualified(), t.Expiry, t.Expiry)
}

func (sqlite) EndCreated(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = X'' WHERE %s IN (SELECT %s FROM %s WHERE %s <= ?1 AND NOT %s LIMIT ?2)`,
		t.Qualified(), t.Ended, t.Data, t.ID, t.ID, t.Qualified(), t.Created, t.Ended)
}

func (sqlite) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COALESCE(SUM(%[1]s > ?1 AND NOT %[2]s AND (%[3]s IS NULL OR %[3]s > ?2)), 0), `+
		`COALESCE(SUM(%[1]s > ?3 AND %[2]s AND (%[3]s IS NULL OR %[3]s > ?4)), 0), `+
		`COALESCE(SUM(%[1]s <= ?5 OR COALESCE(%[3]s <= ?6, FALSE)), 0), MIN(%[1]s), MAX(%[1]s) FROM %[4]s`,
		t.Expiry, t.Ended, t.Created, t.Qualified())
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
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE NOT %s ORDER BY %s DESC LIMIT ?`, t.ID, t.Data, t.Qualified(), t.Ended, t.Expiry)
}

func (sqlite) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > ? AND %s > ? AND NOT %s ORDER BY %s LIMIT ?`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.ID)
}

func (sqlite) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s = ? AND NOT %s`, t.Qualified(), t.Data, t.ID, t.Data, t.Ended)
}
