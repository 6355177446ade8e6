package sqlstore

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/go-sqlstore/sqlstore/internal/defaults"
)

// The golden files testdata/golden/*.sql hold every statement of every
// dialect, as the dialect returns it for the names New would give it: one
// file for the default names and one for hostile ones. TestGolden checks
// them against the dialects; the other tests take the SQL they expect from
// them (helpers_test.go), so that a change of SQL shows as a diff of these
// files. After a change, `go test -run TestGolden -update .` rewrites them.

var update = flag.Bool("update", false, "rewrite testdata/golden/*.sql from the dialects")

// goldenDir is where the golden files are, relative to the package.
const goldenDir = "testdata/golden"

// goldenNames are the unquoted names a golden file is written for.
type goldenNames struct {
	Schema, Table, ID, Data, Expiry string
}

// goldenDefault are the names of a store made without WithSchema, WithTable
// or WithColumns.
var goldenDefault = goldenNames{"", defaults.Table, defaults.IDColumn, defaults.DataColumn, defaults.ExpiryColumn}

// goldenHostile are names validIdent accepts that are hard to quote right:
// reserved words in mixed and lower case, a leading underscore, Katakana and
// accented Latin, and a table of 63 bytes whose index name is shortened with
// a hash, cut back to the start of the "é" that straddles the cut.
var goldenHostile = goldenNames{
	Schema: "User",
	Table:  "_セッション_Séances_Utilisateurs_Été_Hiver_Préférées",
	ID:     "select",
	Data:   "order",
	Expiry: "Group",
}

// GoldenHostileNames gives the external tests (package sqlstore_test) the
// names of the *_hostile.sql files. It exists only in the test binary.
var GoldenHostileNames = goldenHostile

// goldenTTL is the TTL_JOB_INTERVAL of the TiDB TTL variant of mysql's
// CREATE TABLE.
const goldenTTL = "1h"

// goldenMethods are the Dialect methods that return SQL, in the order of
// the golden files. Each statement is named after its method in snake case
// (TableSize: table_size); one of several is numbered (create_table.1).
var goldenMethods = []string{
	"CurrentSchema", "Columns", "Indexes", "CreateLock", "CreateTable", "Upgrade", "DropIndex", "DDLTimeout",
	"Get", "Set", "Touch", "Delete", "DeleteOwner", "Sessions", "Count", "Range", "Clear", "Prune", "EndCreated", "Stats",
	"Newest", "Page", "SwapData",
	"TableSize", "TryLock", "Unlock", "LocalReads", "AutoCheckpoint", "Checkpoint",
}

// goldenTable builds the Table of names as New does, the columns the
// upgrade adds keeping their default names.
func goldenTable(d Dialect, n goldenNames) Table {
	cfg := defaultConfig()
	cfg.schema, cfg.table, cfg.idCol, cfg.dataCol, cfg.expiryCol = n.Schema, n.Table, n.ID, n.Data, n.Expiry
	return cfg.tableFor(d)
}

// goldenStatement is one named statement of a golden file.
type goldenStatement struct{ name, sql string }

// goldenStatements returns every statement of d for t, in file order, with
// the variants of CREATE TABLE: plain (unhashed) ids, and on MySQL a TiDB
// TTL table.
func goldenStatements(d Dialect, t Table) []goldenStatement {
	var out []goldenStatement
	addAll := func(name string, stmts []string) {
		for i, q := range stmts {
			out = append(out, goldenStatement{fmt.Sprintf("%s.%d", name, i+1), q})
		}
	}
	for _, m := range goldenMethods {
		switch m {
		case "Upgrade": // a table that has none of the added columns
			addAll("upgrade", d.Upgrade(t, []string{t.Owner, t.Created, t.Updated, t.Ended}))
			continue
		case "DropIndex":
			out = append(out, goldenStatement{"drop_index", d.DropIndex(t, t.OwnerIndex)})
			continue
		case "DDLTimeout":
			set, reset := d.DDLTimeout()
			out = append(out, goldenStatement{"ddl_timeout_set", set}, goldenStatement{"ddl_timeout_reset", reset})
			continue
		case "LocalReads": // an optional interface
			if lr, ok := d.(LocalReader); ok {
				out = append(out, goldenStatement{"local_reads", lr.LocalReads()})
			}
			continue
		case "AutoCheckpoint", "Checkpoint": // an optional interface
			if cp, ok := d.(Checkpointer); ok && m == "AutoCheckpoint" {
				out = append(out, goldenStatement{"auto_checkpoint", cp.AutoCheckpoint()})
			} else if ok {
				out = append(out, goldenStatement{"checkpoint", cp.Checkpoint(t)})
			}
			continue
		case "DeleteOwner": // with no id kept, and with two
			out = append(out, goldenStatement{"delete_owner", d.DeleteOwner(t, 0)}, goldenStatement{"delete_owner_keep_2", d.DeleteOwner(t, 2)})
			continue
		}
		method := reflect.ValueOf(d).MethodByName(m)
		var args []reflect.Value
		if method.Type().NumIn() == 1 {
			args = []reflect.Value{reflect.ValueOf(t)}
		}
		switch res := method.Call(args)[0].Interface().(type) {
		case string:
			out = append(out, goldenStatement{snakeCase(m), res})
		case []string:
			addAll(snakeCase(m), res)
		}
		if m == "CreateTable" {
			plain := t
			plain.HashedIDs = false
			addAll("create_table_plain_ids", d.CreateTable(plain))
			if d.Name() == "mysql" {
				ttl := t
				ttl.TTL = goldenTTL
				addAll("create_table_tidb_ttl", d.CreateTable(ttl))
			}
		}
	}
	return out
}

// snakeCase turns a method name into a statement name: TableSize, table_size.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// renderGolden renders a golden file: a header, then each statement under a
// line naming it, after a blank line. A name with nothing under it is a
// statement the dialect does without (its method returns "").
func renderGolden(d Dialect, n goldenNames, stmts []goldenStatement) string {
	var b strings.Builder
	b.WriteString("-- Code generated by TestGolden (go test -run TestGolden -update .); DO NOT EDIT.\n")
	fmt.Fprintf(&b, "-- Every statement of the %s dialect, exactly as the Store sends it, for\n", d.Name())
	schema := "no schema"
	if n.Schema != "" {
		schema = fmt.Sprintf("schema %q", n.Schema)
	}
	fmt.Fprintf(&b, "-- %s, table %q (index %q), columns %q, %q, %q.\n", schema, n.Table, indexName(n.Table), n.ID, n.Data, n.Expiry)
	b.WriteString("-- Ids are hashed except in create_table_plain_ids. A name with no statement\n")
	b.WriteString("-- under it is one the dialect does without.\n")
	for _, s := range stmts {
		fmt.Fprintf(&b, "\n-- %s\n", s.name)
		if s.sql != "" {
			b.WriteString(s.sql + "\n")
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, set := range []struct {
		suffix string
		names  goldenNames
	}{{"", goldenDefault}, {"_hostile", goldenHostile}} {
		for _, d := range []Dialect{Postgres, MySQL, SQLite} {
			path := filepath.Join(goldenDir, d.Name()+set.suffix+".sql")
			tb := goldenTable(d, set.names)
			stmts := goldenStatements(d, tb)
			checkGoldenTable(t, path, d, set.names, stmts)
			got := renderGolden(d, set.names, stmts)
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (go test -run TestGolden -update . writes it)", err)
				continue
			}
			if string(want) != got {
				t.Errorf("%s is not what the %s dialect returns (- file, + dialect); review the change, then run go test -run TestGolden -update .\n%s",
					path, d.Name(), lineDiff(string(want), got))
			}
		}
	}
}

// checkGoldenTable checks that a golden file is written for names New
// accepts, and that its Table is the one the library builds: CreateTableSQL
// returns its CREATE TABLE statements.
func checkGoldenTable(t *testing.T, path string, d Dialect, n goldenNames, stmts []goldenStatement) {
	t.Helper()
	for _, id := range []struct{ kind, name string }{
		{"schema", n.Schema}, {"table", n.Table}, {"id column", n.ID}, {"data column", n.Data}, {"expiry column", n.Expiry},
	} {
		if id.kind == "schema" && id.name == "" {
			continue
		}
		if err := validIdent(id.kind, id.name); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	opts := []Option{WithTable(n.Table), WithColumns(n.ID, n.Data, n.Expiry)}
	if n.Schema != "" {
		opts = append(opts, WithSchema(n.Schema))
	}
	for _, v := range []struct {
		prefix string
		opts   []Option
	}{
		{"create_table.", nil},
		{"create_table_plain_ids.", []Option{WithHashedIDs(false)}},
		{"create_table_tidb_ttl.", []Option{WithTiDBTTL(goldenTTL)}},
	} {
		var want []string
		for _, s := range stmts {
			if strings.HasPrefix(s.name, v.prefix) {
				want = append(want, s.sql)
			}
		}
		if want == nil {
			continue // no TTL variant but on MySQL
		}
		got, err := CreateTableSQL(d, append(slices.Clone(opts), v.opts...)...)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: CreateTableSQL = %q, %v; want the %s statements %q", path, got, err, strings.TrimSuffix(v.prefix, "."), want)
		}
	}
}

// TestGoldenCoverage checks that the golden files name every Dialect method
// that returns SQL, and that the hostile table's index name is the
// shortened one.
func TestGoldenCoverage(t *testing.T) {
	dt := reflect.TypeFor[Dialect]()
	for i := range dt.NumMethod() {
		m := dt.Method(i)
		if m.Name == "Name" || m.Name == "QuoteIdent" || m.Type.NumOut() != 1 {
			continue
		}
		if out := m.Type.Out(0); out != reflect.TypeFor[string]() && out != reflect.TypeFor[[]string]() {
			continue
		}
		if !slices.Contains(goldenMethods, m.Name) {
			t.Errorf("Dialect.%s returns SQL but is not in goldenMethods (golden_test.go)", m.Name)
		}
	}
	if ix := indexName(goldenHostile.Table); len(goldenHostile.Table) != maxIdentLen || ix == goldenHostile.Table+"_expiry_idx" {
		t.Errorf("hostile table %q (%d bytes) has index %q; want a 63-byte table whose index name is shortened", goldenHostile.Table, len(goldenHostile.Table), ix)
	}
}

// lineDiff returns the lines of want and got that differ, by a longest
// common subsequence: "- " for a line only in want, "+ " for one only in
// got, each change after the name line ("-- name") of its statement.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	name, shown := "", ""
	line := func(prefix, s string) {
		if strings.HasPrefix(s, "-- ") {
			name, shown = s, s
		} else if name != shown {
			out.WriteString("  " + name + "\n")
			shown = name
		}
		out.WriteString(strings.TrimRight(prefix+s, " ") + "\n")
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			if strings.HasPrefix(a[i], "-- ") {
				name = a[i]
			}
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			line("- ", a[i])
			i++
		default:
			line("+ ", b[j])
			j++
		}
	}
	return out.String()
}
