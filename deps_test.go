package sqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDriverLinked proves that the root package links no database driver,
// so a PostgreSQL-only program carries no SQLite or MySQL code, and that
// package pgxnative links pgx and no other driver.
func TestNoDriverLinked(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	drivers := []string{"github.com/lib/pq", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "modernc.org/sqlite", "github.com/mattn/go-sqlite3"}
	for _, c := range []struct {
		pkg   string
		links string // the one driver it may link, or ""
	}{
		{"github.com/go-sqlstore/sqlstore", ""},
		{"github.com/go-sqlstore/sqlstore/pgxnative", "github.com/jackc/pgx"},
	} {
		out, err := exec.Command(goTool, "list", "-deps", c.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		deps := string(out)
		if !strings.Contains(deps, "database/sql\n") {
			t.Fatalf("go list printed no dependencies of %s:\n%s", c.pkg, deps)
		}
		for _, driver := range drivers {
			if got := strings.Contains(deps, driver); got != (driver == c.links) {
				t.Errorf("%s: depends on %s: %v, want %v", c.pkg, driver, got, driver == c.links)
			}
		}
	}
}
