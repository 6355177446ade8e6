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

// CreateLock is empty: the one CREATE TABLE IF NOT EXISTS, index included,
// is atomic on MySQL and MariaDB.
func (mysql) CreateLock() string { return "" }

func (mysql) CreateTable(t Table) []string {
	idType := "VARBINARY(255)"
	if t.HashedIDs {
		idType = "CHAR(64) CHARACTER SET ascii COLLATE ascii_bin"
	}
	ttl := ""
	if t.TTL != "" {
		ttl = fmt.Sprintf(" TTL = %s + INTERVAL 0 DAY TTL_ENABLE = 'ON' TTL_JOB_INTERVAL = '%s'", t.Expiry, t.TTL)
	}
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s %s NOT NULL, %s LONGBLOB NOT NULL, %s DATETIME(6) NOT NULL, PRIMARY KEY (%s), INDEX %s (%s)) ENGINE = InnoDB%s`,
		t.Qualified(), t.ID, idType, t.Data, t.Expiry, t.ID, t.Index, t.Expiry, ttl)}
}

func (mysql) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ? AND %s > ?`, t.Data, t.Qualified(), t.ID, t.Expiry)
}

// Set uses VALUES(), not the row alias of MySQL 8.0.19+, which MariaDB and
// TiDB reject.
func (mysql) Set(t Table) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, %s, %s) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s)`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.Data, t.Data, t.Expiry, t.Expiry)
}

func (mysql) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s > ? AND (%s <= ? OR %s >= ?)`,
		t.Qualified(), t.Expiry, t.ID, t.Expiry, t.Expiry, t.Expiry)
}

func (mysql) Delete(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, t.Qualified(), t.ID)
}

func (mysql) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > ?`, t.Qualified(), t.Expiry)
}

func (mysql) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > ?`, t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry)
}

func (mysql) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

// Prune uses DELETE ... ORDER BY ... LIMIT: MySQL and MariaDB refuse LIMIT
// in an IN subquery.
func (mysql) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s <= ? ORDER BY %s LIMIT ?`, t.Qualified(), t.Expiry, t.Expiry)
}

func (mysql) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COALESCE(SUM(%s > ?), 0), COALESCE(SUM(%s <= ?), 0), MIN(%s), MAX(%s) FROM %s`,
		t.Expiry, t.Expiry, t.Expiry, t.Expiry, t.Qualified())
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
	return fmt.Sprintf(`SELECT %s, %s FROM %s ORDER BY %s DESC LIMIT ?`, t.ID, t.Data, t.Qualified(), t.Expiry)
}

func (mysql) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > ? AND %s > ? ORDER BY %s LIMIT ?`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.ID)
}

func (mysql) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?`, t.Qualified(), t.Data, t.ID, t.Data)
}
