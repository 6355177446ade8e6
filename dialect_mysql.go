package sqlstore

import (
	"fmt"
	"strings"
	"time"
)

// MySQL is the Dialect of MySQL 8, MariaDB 10.5 and later, and TiDB, over
// go-sql-driver/mysql. Expiry is a DATETIME(6) holding UTC, bound and scanned
// as text so that neither the session time_zone nor the DSN's parseTime and
// loc change it; data is LONGBLOB. Ids are compared as bytes.
var MySQL Dialect = mysql{}

type mysql struct{}

// mysqlTime is how expiry travels: UTC, milliseconds, no zone.
const mysqlTime = "2006-01-02 15:04:05.000"

func (mysql) Name() string { return "mysql" }

func (mysql) QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func (mysql) CurrentSchema() string { return `SELECT DATABASE()` }

func (mysql) Columns() string {
	return `SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?`
}

// Indexes reports every index valid: InnoDB builds one in a transaction.
func (mysql) Indexes() string {
	return `SELECT DISTINCT index_name, TRUE FROM information_schema.statistics WHERE table_schema = ? AND table_name = ?`
}

// CreateLock is empty: the one CREATE TABLE IF NOT EXISTS, index included,
// is atomic on MySQL and MariaDB.
func (mysql) CreateLock() string { return "" }

// CreateTable gives owner the id's binary comparison: owners that differ
// only in case are different users.
func (mysql) CreateTable(t Table) []string {
	idType := "VARBINARY(255)"
	if t.HashedIDs {
		idType = "CHAR(64) CHARACTER SET ascii COLLATE ascii_bin"
	}
	ttl := ""
	if t.TTL != "" {
		ttl = fmt.Sprintf(" TTL = %s + INTERVAL 0 DAY TTL_ENABLE = 'ON' TTL_JOB_INTERVAL = '%s'", t.Expiry, t.TTL)
	}
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s LONGBLOB NOT NULL, %s DATETIME(6) NOT NULL, `+
		`%s VARBINARY(255) NULL, %s DATETIME(6) NULL, %s DATETIME(6) NULL, %s BOOLEAN NOT NULL DEFAULT FALSE, `+
		`PRIMARY KEY (%s), INDEX %s (%s), INDEX %s (%s)) ENGINE = InnoDB%s`,
		t.Qualified(), t.ID, idType, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended,
		t.ID, t.Index, t.Expiry, t.OwnerIndex, t.Owner, ttl)}
}

// Upgrade adds the columns with ALGORITHM=INSTANT (MySQL 8.0.12+, MariaDB
// 10.3+: no copy, no lock beyond a moment's metadata lock) and builds the
// owner index in place, with reads and writes going on (LOCK=NONE). MySQL 8
// has no ADD COLUMN IF NOT EXISTS: the Store adds only the missing columns
// and takes a duplicate from a racing process as done.
func (mysql) Upgrade(t Table, missing []string) []string {
	var adds []string
	for _, c := range missing {
		typ := "DATETIME(6) NULL"
		switch c {
		case t.Owner:
			typ = "VARBINARY(255) NULL"
		case t.Ended:
			typ = "BOOLEAN NOT NULL DEFAULT FALSE"
		}
		adds = append(adds, fmt.Sprintf("ADD COLUMN %s %s", c, typ))
	}
	var out []string
	if len(adds) > 0 {
		out = append(out, fmt.Sprintf(`ALTER TABLE %s %s, ALGORITHM=INSTANT`, t.Qualified(), strings.Join(adds, ", ")))
	}
	return append(out, fmt.Sprintf(`ALTER TABLE %s ADD INDEX %s (%s), ALGORITHM=INPLACE, LOCK=NONE`, t.Qualified(), t.OwnerIndex, t.Owner))
}

func (mysql) DropIndex(t Table, index string) string {
	return fmt.Sprintf(`ALTER TABLE %s DROP INDEX %s, ALGORITHM=INPLACE, LOCK=NONE`, t.Qualified(), index)
}

// DDLTimeout bounds the wait for the metadata lock (a year by default).
func (mysql) DDLTimeout() (set, reset string) {
	return `SET SESSION lock_wait_timeout = 5`, `SET SESSION lock_wait_timeout = DEFAULT`
}

func (mysql) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ? AND %s > ? AND NOT %s AND (%s IS NULL OR %s > ?)`,
		t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.Created, t.Created)
}

// Set uses VALUES(), not the row alias of MySQL 8.0.19+, which MariaDB and
// TiDB reject. ON DUPLICATE KEY UPDATE has no WHERE, so every assignment
// keeps the stored value of an ended, unexpired row; and since each
// assignment sees the ones before it, ended and expiry, which decide that,
// are assigned last. VALUES(updated) is the bound "now".
func (mysql) Set(t Table) string {
	blocked := fmt.Sprintf("%s AND %s > VALUES(%s)", t.Ended, t.Expiry, t.Updated)
	expired := fmt.Sprintf("%s <= VALUES(%s)", t.Expiry, t.Updated)
	keepOr := func(col, v string) string { return fmt.Sprintf("%s = IF(%s, %s, %s)", col, blocked, col, v) }
	return fmt.Sprintf(`INSERT INTO %s (%s, %s, %s, %s, %s, %s, %s) VALUES (?, ?, ?, ?, ?, ?, FALSE) ON DUPLICATE KEY UPDATE %s`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended, strings.Join([]string{
			keepOr(t.Data, "VALUES("+t.Data+")"),
			keepOr(t.Owner, fmt.Sprintf("IF(?, VALUES(%s), IF(%s, NULL, %s))", t.Owner, expired, t.Owner)),
			keepOr(t.Created, fmt.Sprintf("IF(%s OR %s IS NULL, VALUES(%s), %s)", expired, t.Created, t.Created, t.Created)),
			keepOr(t.Updated, "VALUES("+t.Updated+")"),
			keepOr(t.Ended, "FALSE"),
			keepOr(t.Expiry, "VALUES("+t.Expiry+")"),
		}, ", "))
}

// Touch names the primary key as its index. Its WHERE also bounds expiry,
// so without the hint MySQL and MariaDB weigh the expiry index for every
// Touch (a single-table UPDATE gets no shortcut for a primary key lookup, as
// a SELECT does): estimating its ranges reads that index on each call, and
// when the window starts before now the expiry index is chosen and scanned
// from the window's end up, for one row.
func (mysql) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s FORCE INDEX (PRIMARY) SET %s = ?, %s = ? WHERE %s = ? AND %s > ? AND (%s <= ? OR %s >= ?) AND NOT %s AND (%s IS NULL OR %s > ?)`,
		t.Qualified(), t.Expiry, t.Updated, t.ID, t.Expiry, t.Expiry, t.Expiry, t.Ended, t.Created, t.Created)
}

func (mysql) Delete(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s = ?`, t.Qualified(), t.Ended, t.Data, t.ID)
}

func (mysql) DeleteOwner(t Table, keep int) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s = ? AND %s > ? AND NOT %s%s`,
		t.Qualified(), t.Ended, t.Data, t.Owner, t.Expiry, t.Ended, keepClause(t, keep, func(int) string { return "?" }))
}

func (mysql) Sessions(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s, %s, %s FROM %s WHERE %s = ? AND %s > ? AND NOT %s AND (%s IS NULL OR %s > ?) ORDER BY %s DESC`,
		t.ID, t.Data, t.Created, t.Updated, t.Expiry, t.Qualified(), t.Owner, t.Expiry, t.Ended, t.Created, t.Created, t.Updated)
}

func (mysql) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > ? AND NOT %s AND (%s IS NULL OR %s > ?)`,
		t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (mysql) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > ? AND NOT %s AND (%s IS NULL OR %s > ?)`,
		t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (mysql) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

// Prune uses DELETE ... ORDER BY ... LIMIT: MySQL and MariaDB refuse LIMIT
// in an IN subquery.
func (mysql) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s <= ? ORDER BY %s LIMIT ?`, t.Qualified(), t.Expiry, t.Expiry)
}

func (mysql) EndCreated(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s <= ? AND NOT %s LIMIT ?`, t.Qualified(), t.Ended, t.Data, t.Created, t.Ended)
}

func (mysql) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COALESCE(SUM(%[1]s > ? AND NOT %[2]s AND (%[3]s IS NULL OR %[3]s > ?)), 0), `+
		`COALESCE(SUM(%[1]s > ? AND %[2]s AND (%[3]s IS NULL OR %[3]s > ?)), 0), `+
		`COALESCE(SUM(%[1]s <= ? OR COALESCE(%[3]s <= ?, FALSE)), 0), MIN(%[1]s), MAX(%[1]s) FROM %[4]s`,
		t.Expiry, t.Ended, t.Created, t.Qualified())
}

// TableSize reports InnoDB's estimate, which lags recent writes.
func (mysql) TableSize() string {
	return `SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`
}

// TryLock uses GET_LOCK, which is per server (per node on Galera).
func (mysql) TryLock() string { return `SELECT GET_LOCK(?, 0)` }
func (mysql) Unlock() string  { return `SELECT RELEASE_LOCK(?)` }

func (mysql) EncodeTime(t time.Time) any { return t.UTC().Format(mysqlTime) }

// DecodeTime accepts the text the driver returns without parseTime, and the
// time.Time it returns with it, whose wall clock is the stored UTC whatever
// loc it was labelled with.
func (mysql) DecodeTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		y, mo, d := v.Date()
		h, mi, s := v.Clock()
		return time.Date(y, mo, d, h, mi, s, v.Nanosecond(), time.UTC), nil
	case []byte:
		return time.ParseInLocation("2006-01-02 15:04:05.999999", string(v), time.UTC)
	case string:
		return time.ParseInLocation("2006-01-02 15:04:05.999999", v, time.UTC)
	}
	return time.Time{}, fmt.Errorf("unexpected expiry type %T", v)
}

// Newest reads the expiry index backwards.
func (mysql) Newest(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE NOT %s ORDER BY %s DESC LIMIT ?`, t.ID, t.Data, t.Qualified(), t.Ended, t.Expiry)
}

func (mysql) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > ? AND %s > ? AND NOT %s ORDER BY %s LIMIT ?`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.ID)
}

func (mysql) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s = ? AND NOT %s`, t.Qualified(), t.Data, t.ID, t.Data, t.Ended)
}
