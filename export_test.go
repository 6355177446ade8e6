package sqlstore

import (
	"context"
	"database/sql"

	"github.com/go-sqlstore/sqlstore/internal/defaults"
)

// What the external tests (package sqlstore_test) may see of the package's
// internals: compiled into the tests only, never into the API.

// CheckID is checkID.
var CheckID = checkID

// Defaults the tests compare with.
const (
	DefaultMaxDataSize  = defaults.MaxDataSize
	DefaultIDColumn     = defaults.IDColumn
	DefaultDataColumn   = defaults.DataColumn
	DefaultExpiryColumn = defaults.ExpiryColumn
)

// UpgradeSQL returns what d's Upgrade returns for a table with the default
// names that has none of the owner, created, updated and ended columns: the
// statements of schema/*_upgrade.sql.
func UpgradeSQL(d Dialect) []string {
	cfg := defaultConfig()
	t := cfg.tableFor(d)
	return d.Upgrade(t, []string{t.Owner, t.Created, t.Updated, t.Ended})
}

// LocalGet reports whether s's Get runs its lookup without cancellation
// (LocalReader), as of now.
func (s *Store) LocalGet() bool {
	p, ok := s.req.(*prepared)
	return ok && p.local()
}

// Table returns the quoted names the store's statements use.
func (s *Store) Table() Table { return s.t }

// DB returns the store's pool.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d }

// TableSize is tableSize.
func (s *Store) TableSize(ctx context.Context) (int64, error) { return s.tableSize(ctx) }

// PruneProgress is prune.
func (s *Store) PruneProgress(ctx context.Context, progress func(int64)) (int64, error) {
	return s.prune(ctx, progress)
}
