package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// validate checks the options and the identifiers they name.
func (c *config) validate() error {
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	for _, id := range []struct{ kind, name string }{
		{"table", c.table}, {"id column", c.idCol}, {"data column", c.dataCol}, {"expiry column", c.expiryCol},
	} {
		if err := validIdent(id.kind, id.name); err != nil {
			return err
		}
	}
	// MySQL and SQLite compare column names without regard to case, so
	// names that differ only in case would collide in the table.
	if strings.EqualFold(c.idCol, c.dataCol) || strings.EqualFold(c.idCol, c.expiryCol) || strings.EqualFold(c.dataCol, c.expiryCol) {
		return fmt.Errorf("sqlstore: column names %q, %q, %q are not distinct (names that differ only in case collide)", c.idCol, c.dataCol, c.expiryCol)
	}
	if c.tidbTTL != "" && c.dialect != nil && c.dialect.Name() != "mysql" {
		return fmt.Errorf("sqlstore: WithTiDBTTL needs the MySQL dialect, not %s", c.dialect.Name())
	}
	return nil
}

// tableFor returns the quoted names of the configured table for dialect d.
func (c *config) tableFor(d Dialect) Table {
	t := Table{
		Name:      d.QuoteIdent(c.table),
		Index:     d.QuoteIdent(indexName(c.table)),
		ID:        d.QuoteIdent(c.idCol),
		Data:      d.QuoteIdent(c.dataCol),
		Expiry:    d.QuoteIdent(c.expiryCol),
		HashedIDs: c.hashedIDs,
		TTL:       c.tidbTTL,
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

// ensureTable checks the table and creates it when it is missing and
// creation is on.
func (s *Store) ensureTable(ctx context.Context) error {
	// Reading the catalog while another process creates a table can meet a
	// transient conflict (a Galera node applying the DDL): retried as writes are.
	var missing []string
	err := s.attempt(ctx, func() (err error) {
		missing, err = s.missingColumns(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if missing == nil {
		return nil
	}
	name := s.schema + "." + s.cfg.table
	if len(missing) < 3 { // the table exists without some columns: never alter it
		return fmt.Errorf("sqlstore: table %s has no column %s", name, strings.Join(missing, ", no column "))
	}
	if !s.cfg.createTable {
		return fmt.Errorf("sqlstore: table %s does not exist; create it with the statements of schema/%s.sql or `sqlstore migrate`, or use WithCreateTable(true)", name, s.d.Name())
	}
	err = s.attempt(ctx, func() error { return s.createTable(ctx) })
	switch {
	case err == nil:
		return nil
	case denied(err):
		return fmt.Errorf("sqlstore: table %s does not exist and this role may not create it: %w; have a role that may create it run schema/%s.sql or `sqlstore migrate`", name, err, s.d.Name())
	case missingSchema(err):
		return fmt.Errorf("sqlstore: creating table %s: schema %s does not exist: %w", name, s.schema, err)
	}
	return fmt.Errorf("sqlstore: creating table %s: %w", name, err)
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
// nil when it has them all, all three when the table is missing.
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
	for _, c := range []string{s.cfg.idCol, s.cfg.dataCol, s.cfg.expiryCol} {
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
		if _, err := tx.ExecContext(ctx, q, s.lock); err != nil {
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
