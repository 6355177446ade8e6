package sqlstore

import (
	"fmt"
	"strings"
	"time"
)

// Postgres is the Dialect of PostgreSQL 11 and later, over lib/pq or pgx's
// database/sql driver. Expiry is a timestamptz; data is bytea.
var Postgres Dialect = postgres{}

type postgres struct{}

func (postgres) Name() string { return "postgres" }

func (postgres) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (postgres) CurrentSchema() string { return `SELECT current_schema()` }

func (postgres) Columns() string {
	return `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`
}

func (postgres) CreateLock() string { return `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))` }

func (postgres) CreateTable(t Table) []string {
	idType := "varchar(255)"
	if t.HashedIDs {
		idType = "char(64)"
	}
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s %s PRIMARY KEY, %s bytea NOT NULL, %s timestamptz NOT NULL)`,
			t.Qualified(), t.ID, idType, t.Data, t.Expiry),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, t.Index, t.Qualified(), t.Expiry),
	}
}

func (postgres) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = $1 AND %s > $2`, t.Data, t.Qualified(), t.ID, t.Expiry)
}

func (postgres) Set(t Table) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, %s, %s) VALUES ($1, $2, $3) ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.ID, t.Data, t.Data, t.Expiry, t.Expiry)
}

func (postgres) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s > $3 AND (%s <= $4 OR %s >= $5)`,
		t.Qualified(), t.Expiry, t.ID, t.Expiry, t.Expiry, t.Expiry)
}

func (postgres) Delete(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s = $1`, t.Qualified(), t.ID)
}

func (postgres) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > $1`, t.Qualified(), t.Expiry)
}

func (postgres) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > $1`, t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry)
}

func (postgres) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

// Prune locks a batch of expired rows through the expiry index, skipping
// rows another transaction holds, and deletes them.
func (postgres) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s <= $1 ORDER BY %s LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		t.Qualified(), t.ID, t.ID, t.Qualified(), t.Expiry, t.Expiry)
}

func (postgres) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FILTER (WHERE %s > $1), COUNT(*) FILTER (WHERE %s <= $2), MIN(%s), MAX(%s) FROM %s`,
		t.Expiry, t.Expiry, t.Expiry, t.Expiry, t.Qualified())
}

func (postgres) TableSize() string {
	return `SELECT pg_total_relation_size(format('%I.%I', $1::text, $2::text)::regclass)`
}

func (postgres) TryLock() string { return `SELECT pg_try_advisory_lock(hashtextextended($1, 0))` }
func (postgres) Unlock() string  { return `SELECT pg_advisory_unlock(hashtextextended($1, 0))` }

func (postgres) EncodeTime(t time.Time) any { return t.UTC() }

func (postgres) DecodeTime(v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected expiry type %T", v)
}

// Newest reads the expiry index backwards.
func (postgres) Newest(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s ORDER BY %s DESC LIMIT $1`, t.ID, t.Data, t.Qualified(), t.Expiry)
}

func (postgres) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > $1 AND %s > $2 ORDER BY %s LIMIT $3`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.ID)
}

func (postgres) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3`, t.Qualified(), t.Data, t.ID, t.Data)
}
