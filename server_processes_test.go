package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Child mode: TestRaceProcesses re-runs the test binary with these variables
// set; the child opens a store, which creates the table, then exits.
const (
	childDSNEnv    = "SQLSTORE_TEST_RACE_CHILD" // the child's DSN
	childTableEnv  = "SQLSTORE_TEST_RACE_TABLE"
	childSchemaEnv = "SQLSTORE_TEST_RACE_SCHEMA"
)

// runChildNew is the child process: it says READY, waits for the parent's
// go on stdin, so all children start at once, then opens the store with
// table creation on, writes, reads and closes it.
func runChildNew(t *testing.T, dsn string) {
	opts := []sqlstore.Option{sqlstore.WithTable(os.Getenv(childTableEnv)), sqlstore.WithPruneInterval(0), sqlstore.WithCreateTable(true)}
	if sc := os.Getenv(childSchemaEnv); sc != "" {
		opts = append(opts, sqlstore.WithSchema(sc))
	}
	fmt.Println("READY")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("child: waiting for go: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("child: Open: %v", err)
	}
	defer s.Close()
	id := fmt.Sprintf("proc-%d", os.Getpid())
	if err := s.Set(ctx, id, []byte(id), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("child: Set: %v", err)
	}
	if v, found, err := s.Get(ctx, id); err != nil || !found || string(v) != id {
		t.Fatalf("child: Get = %q, %v, %v", v, found, err)
	}
	fmt.Println("CHILD OK")
}

// TestRaceProcesses: 16 processes (this test binary, re-run) start at once
// against an empty schema (PostgreSQL), database (MariaDB) or file (SQLite)
// with table creation on: all succeed, and the catalog then holds exactly one
// table, one expiry index and one owner index.
func TestRaceProcesses(t *testing.T) {
	if dsn := os.Getenv(childDSNEnv); dsn != "" {
		runChildNew(t, dsn)
		return
	}
	const procs = 16
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			base, db, _ := openTestDB(t, kind)
			ctx := testContext(t)
			table := testdb.Name("proc")
			dsn, schema := base, ""
			var tables, indexes func() []string
			list := func(q string, args ...any) []string {
				rows, err := db.QueryContext(ctx, q, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var names []string
				for rows.Next() {
					var n string
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
					names = append(names, n)
				}
				return names
			}
			switch kind {
			case "sqlite": // a fresh file
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "procs.db")
				db = testdb.OpenDSN(t, kind, dsn)
				tables = func() []string { return list(fixtureSQL(t, kind, "catalog_tables")) }
				indexes = func() []string { return list(fixtureSQL(t, kind, "catalog_indexes")) }
			case "postgres": // a fresh schema
				schema = createNamespace(t, db, kind, "procs")
				tables = func() []string { return list(fixtureSQL(t, kind, "catalog_tables"), schema) }
				indexes = func() []string { return list(fixtureSQL(t, kind, "catalog_indexes"), schema) }
			case "mysql": // a fresh database
				name := createNamespace(t, db, kind, "procs")
				u, err := url.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				u.Path = "/" + name
				dsn = u.String()
				tables = func() []string { return list(fixtureSQL(t, kind, "catalog_tables"), name) }
				indexes = func() []string { return list(fixtureSQL(t, kind, "catalog_indexes"), name) }
			}
			if n := tables(); len(n) != 0 {
				t.Fatalf("the fresh schema already holds tables %v", n)
			}

			type child struct {
				cmd   *exec.Cmd
				stdin io.WriteCloser
				out   *bufio.Reader
				rest  bytes.Buffer
			}
			children := make([]*child, procs)
			for i := range children {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRaceProcesses$", "-test.count=1", "-test.timeout=2m")
				cmd.Env = append(os.Environ(), childDSNEnv+"="+dsn, childTableEnv+"="+table, childSchemaEnv+"="+schema)
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
				cmd.Stderr = &c.rest
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				children[i] = c
			}
			for i, c := range children { // every child is up and waiting
				line, err := c.out.ReadString('\n')
				if err != nil || strings.TrimSpace(line) != "READY" {
					t.Fatalf("child %d: %q, %v", i, line, err)
				}
			}
			for _, c := range children { // go, all at once
				if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range children {
				rest, _ := io.ReadAll(c.out)
				err := c.cmd.Wait()
				if err != nil || !strings.Contains(string(rest), "CHILD OK") {
					t.Errorf("child %d failed: %v\n%s%s", i, err, rest, c.rest.String())
				}
			}
			if t.Failed() {
				return
			}
			gotTables, gotIndexes := tables(), indexes()
			if len(gotTables) != 1 || gotTables[0] != table {
				t.Errorf("tables after %d concurrent creators: %v, want [%s]", procs, gotTables, table)
			}
			slices.Sort(gotIndexes)
			if want := []string{table + "_expiry_idx", table + "_owner_idx"}; !slices.Equal(gotIndexes, want) {
				t.Errorf("indexes after %d concurrent creators: %v, want %v", procs, gotIndexes, want)
			}
			qualified := table
			if schema != "" {
				qualified = schema + "." + table
			} else if u, _ := url.Parse(dsn); kind == "mysql" {
				qualified = strings.TrimPrefix(u.Path, "/") + "." + table
			}
			n := countRows(t, db, qualified)
			if n != procs {
				t.Errorf("rows after %d processes: %d; want %d", procs, n, procs)
			}
			t.Logf("%s: %d processes created the table at once: all succeeded; tables %v, indexes %v, %d rows", kind, procs, gotTables, gotIndexes, n)
		})
	}
}
