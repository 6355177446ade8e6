package sqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDriverLinked proves that the root package links no database driver,
// so a PostgreSQL-only program carries no SQLite or MySQL code.
func TestNoDriverLinked(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/go-sqlstore/sqlstore").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "database/sql\n") {
		t.Fatalf("go list printed no dependencies:\n%s", deps)
	}
	for _, driver := range []string{"github.com/lib/pq", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "modernc.org/sqlite", "github.com/mattn/go-sqlite3"} {
		if strings.Contains(deps, driver) {
			t.Errorf("the sqlstore package depends on %s", driver)
		}
	}
}
