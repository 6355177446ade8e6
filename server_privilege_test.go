package sqlstore_test

// Least privilege: a PostgreSQL role and a MariaDB user with only SELECT,
// INSERT, UPDATE and DELETE on a table a DBA created from
// CreateTableSQL (what schema/ holds) run the store, with table creation on
// or off, and run no DDL; with the table missing, New tells them what to run.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// privPassword returns a random password, safe in a URL and in SQL quotes.
func privPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// privDSN returns dsnURL logging in as user with password, and with the
// database dbName when it is not empty.
func privDSN(t *testing.T, dsnURL, user, password, dbName string) string {
	t.Helper()
	u, err := url.Parse(dsnURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	if password == "" {
		u.User = url.User(user)
	}
	if dbName != "" {
		u.Path = "/" + dbName
	}
	return u.String()
}

// privExec runs statements, failing the test on the first error.
func privExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// privExercise runs every call of the store as the restricted role, with
// table creation on and off.
func privExercise(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	ctx := context.Background()
	for _, create := range []bool{true, false} {
		st, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithCreateTable(create),
			sqlstore.WithPruneInterval(0), sqlstore.WithTouchThreshold(0))
		if err != nil {
			t.Fatalf("New(WithCreateTable(%v)) as the restricted role: %v", create, err)
		}
		now := time.Now()
		steps := []struct {
			name string
			f    func() error
		}{
			{"Set", func() error { return st.Set(ctx, "priv-a", []byte("a"), now.Add(time.Hour)) }},
			{"Set expired", func() error { return st.Set(ctx, "priv-old", []byte("old"), now.Add(-time.Hour)) }},
			{"Get", func() error {
				data, found, err := st.Get(ctx, "priv-a")
				if err == nil && (!found || string(data) != "a") {
					t.Errorf("Get = %q, %v", data, found)
				}
				return err
			}},
			{"Touch", func() error { return st.Touch(ctx, "priv-a", now.Add(2*time.Hour)) }},
			{"Count", func() error {
				n, err := st.Count(ctx)
				if err == nil && n != 1 {
					t.Errorf("Count = %d, want 1", n)
				}
				return err
			}},
			{"Range", func() error {
				n := 0
				err := st.Range(ctx, func(string, []byte, time.Time) bool { n++; return true })
				if err == nil && n != 1 {
					t.Errorf("Range saw %d sessions, want 1", n)
				}
				return err
			}},
			{"Stats", func() error { _, err := st.Stats(ctx); return err }},
			{"TableSize", func() error { _, err := st.TableSize(ctx); return err }},
			{"Prune", func() error {
				n, err := st.Prune(ctx)
				if err == nil && n != 1 {
					t.Errorf("Prune deleted %d, want 1", n)
				}
				return err
			}},
			{"Delete", func() error { return st.Delete(ctx, "priv-a") }},
			{"Clear", func() error { return st.Clear(ctx) }},
		}
		for _, s := range steps {
			if err := s.f(); err != nil {
				t.Errorf("%s as the restricted role (WithCreateTable(%v)): %v", s.name, create, err)
			}
		}
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// privMissing checks New's error, as a role without CREATE, for a table
// that does not exist: it must say what to run.
func privMissing(t *testing.T, db *sql.DB, dialect string) {
	t.Helper()
	ctx := context.Background()
	missing := testdb.Name("missing")
	for _, create := range []bool{true, false} {
		st, err := sqlstore.New(ctx, db, sqlstore.WithTable(missing), sqlstore.WithCreateTable(create), sqlstore.WithPruneInterval(0))
		if err == nil {
			st.Close()
			t.Fatalf("New(WithCreateTable(%v)) of a missing table succeeded without the right to create it", create)
		}
		for _, want := range []string{missing, "schema/" + dialect + ".sql", "sqlstore migrate"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New(WithCreateTable(%v)) error %q does not name %q", create, err, want)
			}
		}
		if create && !strings.Contains(strings.ToLower(err.Error()), "denied") {
			t.Errorf("New(WithCreateTable(true)) error %q does not carry the database's refusal", err)
		}
		t.Logf("figures: privilege %s: missing table, WithCreateTable(%v): %v", dialect, create, err)
	}
}

// TestPrivilegePostgres runs the store as a role with only SELECT, INSERT,
// UPDATE and DELETE on its table, in a database of its own where an event
// trigger refuses any DDL by that role: New must run none.
func TestPrivilegePostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsnURL := testdb.DSN(t, "postgres")
	admin := testdb.OpenDSN(t, "postgres", dsnURL)
	role, dbName, password := testdb.Name("sqlstore_role"), testdb.Name("sqlstore_priv"), privPassword()
	pg := func(name string, args ...string) string { return fixtureSQL(t, "postgres", name, args...) }
	quotedRole := sqlstore.Postgres.QuoteIdent(role)

	privExec(t, admin, pg("create_role", quotedRole, password))
	t.Cleanup(func() { privExec(t, admin, pg("drop_role", quotedRole)) })
	privExec(t, admin, pg("create_database", sqlstore.Postgres.QuoteIdent(dbName)))
	t.Cleanup(func() { privExec(t, admin, pg("drop_database", sqlstore.Postgres.QuoteIdent(dbName))) })

	// The DBA (a superuser) creates the table from CreateTableSQL, grants
	// the role the four rights and arms a trap for DDL by the role.
	dba := testdb.OpenDSN(t, "postgres", privDSN(t, dsnURL, "postgres", "", dbName))
	table := testdb.Name("sessions")
	ddl, err := sqlstore.CreateTableSQL(sqlstore.Postgres, sqlstore.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	privExec(t, dba, ddl...)
	privExec(t, dba,
		pg("grant_table_rights", sqlstore.Postgres.QuoteIdent(table), quotedRole),
		pg("ddl_trap_function", role),
		pg("ddl_trap"))

	var canCreate bool
	if err := dba.QueryRowContext(ctx, pg("may_create"), role).Scan(&canCreate); err != nil {
		t.Fatal(err)
	}
	if canCreate {
		t.Fatalf("role %s may create objects: the test would prove nothing", role)
	}

	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			db := testdb.OpenDSN(t, driver, privDSN(t, dsnURL, role, password, dbName))
			// The trap is armed: the role's own DDL fails.
			if _, err := db.ExecContext(ctx, ddl[0]); err == nil || !strings.Contains(err.Error(), "sqlstore test: DDL") {
				t.Fatalf("DDL as the restricted role = %v, want the event trigger's refusal", err)
			}
			privExercise(t, db, table)
		})
	}

	// Without the trap, New of a missing table meets the real refusal.
	privExec(t, dba, pg("drop_ddl_trap"))
	db := testdb.OpenDSN(t, "postgres", privDSN(t, dsnURL, role, password, dbName))
	privMissing(t, db, "postgres")
}

// TestPrivilegeMySQL runs the store as a MariaDB/MySQL user with only
// SELECT, INSERT, UPDATE and DELETE on its table.
func TestPrivilegeMySQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsnURL := testdb.DSN(t, "mysql")
	admin := testdb.OpenDSN(t, "mysql", dsnURL)
	user, password := testdb.Name("sqlstore_u"), privPassword()
	var dbName string
	if err := admin.QueryRowContext(ctx, sqlstore.MySQL.CurrentSchema()).Scan(&dbName); err != nil {
		t.Fatal(err)
	}

	table := testdb.Table(t, admin)
	ddl, err := sqlstore.CreateTableSQL(sqlstore.MySQL, sqlstore.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	privExec(t, admin, ddl...)
	my := func(name string, args ...string) string { return fixtureSQL(t, "mysql", name, args...) }
	privExec(t, admin, my("create_user", user, password))
	t.Cleanup(func() { privExec(t, admin, my("drop_user", user)) })
	grant := my("grant_table_rights", sqlstore.MySQL.QuoteIdent(dbName), sqlstore.MySQL.QuoteIdent(table), user)
	privExec(t, admin, grant)

	// The user holds the four rights on the one table, and nothing else:
	// SHOW GRANTS lists the global USAGE and the grant above, up to its TO.
	fourRights, _, _ := strings.Cut(grant, " TO ")
	rows, err := admin.QueryContext(ctx, my("show_grants", user))
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	rows.Close()
	for _, g := range grants {
		if strings.HasPrefix(g, my("usage_grant")) {
			continue
		}
		if !strings.HasPrefix(g, fourRights) {
			t.Fatalf("user %s holds more than the four rights: %s", user, g)
		}
	}

	db := testdb.OpenDSN(t, "mysql", privDSN(t, dsnURL, user, password, ""))
	// The user's own DDL fails, so any DDL New ran would make it fail.
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("DDL as the restricted user = %v, want a refusal", err)
		}
	}
	privExercise(t, db, table)
	privMissing(t, db, "mysql")
}
