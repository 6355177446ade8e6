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

func (postgres) Indexes() string {
	return `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class r ON r.oid = i.indrelid JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = $1 AND r.relname = $2`
}

func (postgres) CreateLock() string { return `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))` }

// CreateTable makes the owner index partial: only rows with an owner, so an
// anonymous session's insert writes nothing to it; Sessions and DeleteOwner
// compare the owner with =, which implies it is not NULL, and so use it.
func (postgres) CreateTable(t Table) []string {
	idType := "varchar(255)"
	if t.HashedIDs {
		idType = "char(64)"
	}
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s %s PRIMARY KEY, %s bytea NOT NULL, %s timestamptz NOT NULL, %s varchar(255), %s timestamptz, %s timestamptz, %s boolean NOT NULL DEFAULT FALSE)`,
			t.Qualified(), t.ID, idType, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, t.Index, t.Qualified(), t.Expiry),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s) WHERE %s IS NOT NULL`, t.OwnerIndex, t.Qualified(), t.Owner, t.Owner),
	}
}

// Upgrade adds the columns in one ALTER TABLE (ADD COLUMN of a nullable
// column, or of one with a constant default, rewrites nothing) and builds
// the owner index CONCURRENTLY, without blocking writes.
func (postgres) Upgrade(t Table, missing []string) []string {
	var adds []string
	for _, c := range missing {
		adds = append(adds, fmt.Sprintf("ADD COLUMN IF NOT EXISTS %s %s", c, pgColumnType(t, c)))
	}
	var out []string
	if len(adds) > 0 {
		out = append(out, fmt.Sprintf(`ALTER TABLE %s %s`, t.Qualified(), strings.Join(adds, ", ")))
	}
	return append(out, fmt.Sprintf(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s) WHERE %s IS NOT NULL`, t.OwnerIndex, t.Qualified(), t.Owner, t.Owner))
}

// pgColumnType is the type of one of the columns Upgrade adds.
func pgColumnType(t Table, c string) string {
	switch c {
	case t.Owner:
		return "varchar(255)"
	case t.Ended:
		return "boolean NOT NULL DEFAULT FALSE"
	}
	return "timestamptz"
}

func (postgres) DropIndex(t Table, index string) string {
	if t.Schema != "" {
		index = t.Schema + "." + index
	}
	return fmt.Sprintf(`DROP INDEX CONCURRENTLY IF EXISTS %s`, index)
}

func (postgres) DDLTimeout() (set, reset string) {
	return `SET lock_timeout = '5s'`, `RESET lock_timeout`
}

func (postgres) Get(t Table) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE %s = $1 AND %s > $2 AND NOT %s AND (%s IS NULL OR %s > $3)`,
		t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.Created, t.Created)
}

// Set refuses, in the WHERE of its DO UPDATE, to overwrite a session that
// was ended and has not expired.
func (postgres) Set(t Table) string {
	return fmt.Sprintf(`INSERT INTO %[1]s AS s (%[2]s, %[3]s, %[4]s, %[5]s, %[6]s, %[7]s, %[8]s) VALUES ($1, $2, $3, $4, $5, $6, FALSE) `+
		`ON CONFLICT (%[2]s) DO UPDATE SET %[3]s = EXCLUDED.%[3]s, %[4]s = EXCLUDED.%[4]s, `+
		`%[5]s = CASE WHEN $7 THEN EXCLUDED.%[5]s WHEN s.%[4]s <= EXCLUDED.%[7]s THEN NULL ELSE s.%[5]s END, `+
		`%[6]s = CASE WHEN s.%[4]s <= EXCLUDED.%[7]s OR s.%[6]s IS NULL THEN EXCLUDED.%[6]s ELSE s.%[6]s END, `+
		`%[7]s = EXCLUDED.%[7]s, %[8]s = FALSE WHERE NOT s.%[8]s OR s.%[4]s <= EXCLUDED.%[7]s`,
		t.Qualified(), t.ID, t.Data, t.Expiry, t.Owner, t.Created, t.Updated, t.Ended)
}

func (postgres) Touch(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = $1, %s = $2 WHERE %s = $3 AND %s > $4 AND (%s <= $5 OR %s >= $6) AND NOT %s AND (%s IS NULL OR %s > $7)`,
		t.Qualified(), t.Expiry, t.Updated, t.ID, t.Expiry, t.Expiry, t.Expiry, t.Ended, t.Created, t.Created)
}

func (postgres) Delete(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s = $1`, t.Qualified(), t.Ended, t.Data, t.ID)
}

func (postgres) DeleteOwner(t Table, keep int) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s = $1 AND %s > $2 AND NOT %s%s`,
		t.Qualified(), t.Ended, t.Data, t.Owner, t.Expiry, t.Ended, keepClause(t, keep, func(i int) string { return fmt.Sprintf("$%d", i+3) }))
}

func (postgres) Sessions(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s, %s, %s FROM %s WHERE %s = $1 AND %s > $2 AND NOT %s AND (%s IS NULL OR %s > $3) ORDER BY %s DESC`,
		t.ID, t.Data, t.Created, t.Updated, t.Expiry, t.Qualified(), t.Owner, t.Expiry, t.Ended, t.Created, t.Created, t.Updated)
}

func (postgres) Count(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s > $1 AND NOT %s AND (%s IS NULL OR %s > $2)`,
		t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (postgres) Range(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s > $1 AND NOT %s AND (%s IS NULL OR %s > $2)`,
		t.ID, t.Data, t.Expiry, t.Qualified(), t.Expiry, t.Ended, t.Created, t.Created)
}

func (postgres) Clear(t Table) string { return fmt.Sprintf(`DELETE FROM %s`, t.Qualified()) }

// Prune locks a batch of expired rows through the expiry index, skipping
// rows another transaction holds, and deletes them.
func (postgres) Prune(t Table) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s <= $1 ORDER BY %s LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		t.Qualified(), t.ID, t.ID, t.Qualified(), t.Expiry, t.Expiry)
}

func (postgres) EndCreated(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = TRUE, %s = '' WHERE %s IN (SELECT %s FROM %s WHERE %s <= $1 AND NOT %s LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		t.Qualified(), t.Ended, t.Data, t.ID, t.ID, t.Qualified(), t.Created, t.Ended)
}

func (postgres) Stats(t Table) string {
	return fmt.Sprintf(`SELECT COUNT(*) FILTER (WHERE %[1]s > $1 AND NOT %[2]s AND (%[3]s IS NULL OR %[3]s > $2)), `+
		`COUNT(*) FILTER (WHERE %[1]s > $3 AND %[2]s AND (%[3]s IS NULL OR %[3]s > $4)), `+
		`COUNT(*) FILTER (WHERE %[1]s <= $5 OR %[3]s <= $6), MIN(%[1]s), MAX(%[1]s) FROM %[4]s`,
		t.Expiry, t.Ended, t.Created, t.Qualified())
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
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE NOT %s ORDER BY %s DESC LIMIT $1`, t.ID, t.Data, t.Qualified(), t.Ended, t.Expiry)
}

func (postgres) Page(t Table) string {
	return fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > $1 AND %s > $2 AND NOT %s ORDER BY %s LIMIT $3`,
		t.ID, t.Data, t.Qualified(), t.ID, t.Expiry, t.Ended, t.ID)
}

func (postgres) SwapData(t Table) string {
	return fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3 AND NOT %s`, t.Qualified(), t.Data, t.ID, t.Data, t.Ended)
}
