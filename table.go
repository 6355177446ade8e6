package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// validate checks the options and the identifiers they name.
func (c *config) validate() error {
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	if err := validIdent("table", c.table); err != nil {
		return err
	}
	cols := c.columns()
	for i, name := range cols {
		if err := validIdent(columnKinds[i]+" column", name); err != nil {
			return err
		}
		// MySQL and SQLite compare column names without regard to case,
		// so names that differ only in case would collide in the table.
		for j := range i {
			if strings.EqualFold(name, cols[j]) {
				hint := ""
				if i >= 3 {
					hint = "; WithOwnerColumns names the owner, created, updated and ended columns"
				}
				return fmt.Errorf("sqlstore: the %s and %s columns are both named %q: column names are not distinct (names that differ only in case collide)%s", columnKinds[j], columnKinds[i], name, hint)
			}
		}
	}
	if c.tidbTTL != "" && c.dialect != nil && c.dialect.Name() != "mysql" {
		return fmt.Errorf("sqlstore: WithTiDBTTL needs the MySQL dialect, not %s", c.dialect.Name())
	}
	return nil
}

// columnKinds names the store's columns in the order columns returns them.
var columnKinds = [...]string{"id", "data", "expiry", "owner", "created", "updated", "ended"}

// columns returns the names of the store's columns: id, data, expiry, then
// those the upgrade adds (owner, created, updated, ended).
func (c *config) columns() [7]string {
	return [...]string{c.idCol, c.dataCol, c.expiryCol, c.ownerCol, c.createdCol, c.updatedCol, c.endedCol}
}

// isBaseColumn reports whether name is the id, data or expiry column, which
// every version of the table has had.
func (c *config) isBaseColumn(name string) bool {
	return name == c.idCol || name == c.dataCol || name == c.expiryCol
}

// tableFor returns the quoted names of the configured table for dialect d.
func (c *config) tableFor(d Dialect) Table {
	t := Table{
		Name:       d.QuoteIdent(c.table),
		Index:      d.QuoteIdent(indexName(c.table)),
		OwnerIndex: d.QuoteIdent(ownerIndexName(c.table)),
		ID:         d.QuoteIdent(c.idCol),
		Data:       d.QuoteIdent(c.dataCol),
		Expiry:     d.QuoteIdent(c.expiryCol),
		Owner:      d.QuoteIdent(c.ownerCol),
		Created:    d.QuoteIdent(c.createdCol),
		Updated:    d.QuoteIdent(c.updatedCol),
		Ended:      d.QuoteIdent(c.endedCol),
		HashedIDs:  c.hashedIDs,
		TTL:        c.tidbTTL,
	}
	if c.schema != "" {
		t.Schema = d.QuoteIdent(c.schema)
	}
	return t
}

// CreateTableSQL returns the statements that create the table and its expiry
// index for dialect d with the given options, as New runs them: what the
// schema/ files hold for the default names, for a migration tool of one's own.
func CreateTableSQL(d Dialect, opts ...Option) ([]string, error) {
	if d == nil {
		return nil, errors.New("sqlstore: CreateTableSQL: nil dialect")
	}
	cfg := defaultConfig()
	cfg.dialect = d
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg.dialect.CreateTable(cfg.tableFor(cfg.dialect)), nil
}

// ensureTable checks the table and creates it when it is missing, or
// upgrades it when it predates the owner columns, when creation is on.
func (s *Store) ensureTable(ctx context.Context) error {
	// Reading the catalog while another process creates a table can meet a
	// transient conflict (a Galera node applying the DDL): retried as writes are.
	var missing []string
	var index indexState
	err := s.attempt(ctx, "", func() (err error) {
		if missing, err = s.missingColumns(ctx); err == nil && len(missing) < len(columnKinds) {
			index, err = s.ownerIndex(ctx)
		}
		return err
	})
	if err != nil {
		return err
	}
	name := s.schema + "." + s.cfg.table
	switch {
	case len(missing) == len(columnKinds):
		return s.create(ctx, name)
	case slices.ContainsFunc(missing, s.cfg.isBaseColumn):
		// The table exists without a column it always had: never alter it.
		base := slices.DeleteFunc(missing, func(c string) bool { return !s.cfg.isBaseColumn(c) })
		return fmt.Errorf("sqlstore: table %s has no column %s", name, strings.Join(base, ", no column "))
	case len(missing) == 0 && index == indexValid:
		return nil
	}
	what := "has no owner index"
	if len(missing) > 0 {
		what = "predates the columns " + strings.Join(missing, ", ")
	} else if index == indexInvalid {
		what = "has an owner index whose build failed"
	}
	if !s.cfg.createTable {
		return fmt.Errorf("sqlstore: table %s %s; upgrade it with `sqlstore migrate` or the statements of schema/%s_upgrade.sql, or use WithCreateTable(true)", name, what, s.d.Name())
	}
	err = s.upgrade(ctx)
	switch {
	case err == nil:
		s.changed = "upgraded"
		return nil
	case denied(err):
		return fmt.Errorf("sqlstore: table %s %s and this role may not alter it: %w; have a role that may run `sqlstore migrate` or schema/%s_upgrade.sql", name, what, err, s.d.Name())
	}
	return fmt.Errorf("sqlstore: upgrading table %s, which %s: %w", name, what, err)
}

// create creates the missing table, or reports why it cannot.
func (s *Store) create(ctx context.Context, name string) error {
	if !s.cfg.createTable {
		return fmt.Errorf("sqlstore: table %s does not exist; create it with the statements of schema/%s.sql or `sqlstore migrate`, or use WithCreateTable(true)", name, s.d.Name())
	}
	err := s.attempt(ctx, "", func() error { return s.createTable(ctx) })
	switch {
	case err == nil:
		s.changed = "created"
		return nil
	case denied(err):
		return fmt.Errorf("sqlstore: table %s does not exist and this role may not create it: %w; have a role that may create it run schema/%s.sql or `sqlstore migrate`", name, err, s.d.Name())
	case missingSchema(err):
		return fmt.Errorf("sqlstore: creating table %s: schema %s does not exist: %w", name, s.schema, err)
	}
	return fmt.Errorf("sqlstore: creating table %s: %w", name, err)
}

// indexState is what the catalog says of the owner index.
type indexState int

const (
	indexMissing indexState = iota
	indexValid
	indexInvalid // a failed concurrent build left it (PostgreSQL)
)

// ownerIndex reads the state of the table's owner index.
func (s *Store) ownerIndex(ctx context.Context) (indexState, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Indexes(), s.schema, s.cfg.table)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: reading the indexes of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	defer rows.Close()
	state, want := indexMissing, ownerIndexName(s.cfg.table)
	for rows.Next() {
		var name string
		var valid bool
		if err := rows.Scan(&name, &valid); err != nil {
			return 0, fmt.Errorf("sqlstore: reading the indexes of %s.%s: %w", s.schema, s.cfg.table, err)
		}
		if name == want {
			state = indexInvalid
			if valid {
				state = indexValid
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: reading the indexes of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	return state, nil
}

// upgrade adds the missing columns and builds the owner index, one online
// statement at a time on one connection, behind the table's lock where the
// database has one, with a short wait for each DDL lock (retried while the
// context lasts), so that many processes starting at once upgrade once and
// traffic is never queued behind the upgrade for long.
func (s *Store) upgrade(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	release, _, err := s.lock(ctx, conn, s.lockName+"_upgrade", true)
	if err != nil {
		return err
	}
	defer release()
	// Read the table again: another process may have upgraded it while
	// this one waited for the lock.
	missing, err := s.missingColumns(ctx)
	if err != nil {
		return err
	}
	index, err := s.ownerIndex(ctx)
	if err != nil {
		return err
	}
	if len(missing) == 0 && index == indexValid {
		return nil
	}
	if set, reset := s.d.DDLTimeout(); set != "" {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			return err
		}
		defer resetConn(conn, reset)
	}
	quoted := make([]string, len(missing))
	for i, c := range missing {
		quoted[i] = s.d.QuoteIdent(c)
	}
	stmts := s.d.Upgrade(s.t, quoted)
	if index == indexInvalid {
		stmts = append([]string{s.d.DropIndex(s.t, s.t.OwnerIndex)}, stmts...)
	}
	for _, q := range stmts {
		if err := s.ddl(ctx, conn, q); err != nil {
			return err
		}
	}
	return nil
}

// ddl runs one statement of an upgrade, taking "already exists" from a
// racing process as done and retrying a lock wait that timed out.
func (s *Store) ddl(ctx context.Context, conn *sql.Conn, q string) error {
	backoff := 100 * time.Millisecond
	for {
		_, err := conn.ExecContext(ctx, q)
		switch {
		case err == nil || exists(err):
			return nil
		case !lockTimeout(err) || ctx.Err() != nil:
			return err
		}
		s.log.Warn("sqlstore: upgrade waits for a lock held by a long transaction", "table", s.schema+"."+s.cfg.table, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// exists reports whether err says that the column, index or table a DDL
// statement adds is already there: PostgreSQL 42701, 42P07 and 23505 (two
// concurrent creators), MySQL 1060 and 1061, SQLite's "duplicate column".
func exists(err error) bool {
	switch sqlState(err) {
	case "42701", "42P07", "23505":
		return true
	}
	if n, ok := mysqlErrorNumber(err); ok {
		return n == 1060 || n == 1061
	}
	return strings.Contains(err.Error(), "duplicate column name")
}

// lockTimeout reports whether err is a DDL that gave up waiting for a lock
// (DDLTimeout): PostgreSQL 55P03, MySQL 1205.
func lockTimeout(err error) bool {
	n, _ := mysqlErrorNumber(err)
	return sqlState(err) == "55P03" || n == 1205
}

// resetConn restores a connection's settings before it goes back to the
// pool, or discards it if that fails.
func resetConn(conn *sql.Conn, reset string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, reset); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// missingSchema reports whether err says the schema (PostgreSQL, SQLSTATE
// 3F000) or database (MySQL error 1049) of the table does not exist.
func missingSchema(err error) bool {
	n, _ := mysqlErrorNumber(err)
	return sqlState(err) == "3F000" || n == 1049
}

// denied reports whether err is the database refusing a statement for want
// of a privilege: SQLSTATE 42501 (PostgreSQL), MySQL errors 1044, 1142 and
// 1227, or a read-only SQLite database.
func denied(err error) bool {
	if sqlState(err) == "42501" {
		return true
	}
	if n, ok := mysqlErrorNumber(err); ok {
		return n == 1044 || n == 1142 || n == 1227
	}
	return strings.Contains(err.Error(), "attempt to write a readonly database")
}

// missingColumns returns the names of the store's columns the table lacks:
// nil when it has them all, all of them when the table is missing.
func (s *Store) missingColumns(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Columns(), s.schema, s.cfg.table)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
		}
		have[c] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: reading the columns of %s.%s: %w", s.schema, s.cfg.table, err)
	}
	var missing []string
	for _, c := range s.cfg.columns() {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

// createTable runs the dialect's DDL in one transaction, behind its lock.
func (s *Store) createTable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if q := s.d.CreateLock(); q != "" {
		if _, err := tx.ExecContext(ctx, q, s.lockName); err != nil {
			return err
		}
	}
	for _, q := range s.d.CreateTable(s.t) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}
