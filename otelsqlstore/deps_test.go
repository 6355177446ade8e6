package otelsqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDriverLinked proves that the package links no database driver (it
// reads MySQL's error numbers by reflection) and no OpenTelemetry SDK: a
// program links only the metric API, and the SDK or bridge it chooses.
func TestNoDriverLinked(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/go-sqlstore/sqlstore/otelsqlstore").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "go.opentelemetry.io/otel/metric\n") {
		t.Fatalf("go list printed no dependencies:\n%s", deps)
	}
	for _, pkg := range []string{"github.com/lib/pq", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql",
		"modernc.org/sqlite", "github.com/mattn/go-sqlite3", "go.opentelemetry.io/otel/sdk"} {
		if strings.Contains(deps, pkg) {
			t.Errorf("otelsqlstore depends on %s", pkg)
		}
	}
}
