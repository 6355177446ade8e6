package main

import (
	"context"
	"errors"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// specials are characters that URLs treat specially, or that net/url
// refuses in user info, each tried inside a password.
var specials = []string{"/", "#", "?", "%", "@", ":", " ", "&", "=", "+", ";", "[", "]", "'", `"`, "`", `\`, "ä", "€", "%zz", "%41", "@@", "/@", ":@/"}

// leaks reports whether s shows a piece of a password made by password.
func leaks(s string) bool { return strings.Contains(s, "Alpha7") || strings.Contains(s, "Omega9") }

// password returns a password holding special between two markers.
func password(special string) string { return "Alpha7" + special + "Omega9" }

// runAppOnce runs the built app with DATABASE_URL set to dsn until it exits,
// and returns its exit status and output.
func runAppOnce(t *testing.T, bin, dsn string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	cmd.Dir, cmd.Env = t.TempDir(), append(cleanEnv(), "DATABASE_URL="+dsn)
	setPdeathsig(cmd)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running the app: %v", err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestStartupNeverShowsThePassword starts the built app (with its own
// drivers: lib/pq for PostgreSQL) with DATABASE_URL of every scheme, the
// password holding a special character, raw and percent-encoded, against
// servers that refuse the connection: it exits 1, and its output shows no
// piece of the password.
func TestStartupNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	bin := buildApp(t)
	for _, sp := range specials {
		pw := password(sp)
		enc := url.UserPassword("user", pw).String()
		for _, d := range []string{
			"postgres://user:" + pw + "@127.0.0.1:1/db?sslmode=disable",
			"postgresql://" + enc + "@127.0.0.1:1/db?sslmode=disable",
			"mysql://user:" + pw + "@127.0.0.1:1/db",
			"mysql://" + enc + "@127.0.0.1:1/db",
			"sqlite://user:" + pw + "@127.0.0.1:1/db",
			"redis://user:" + pw + "@127.0.0.1:1/0",
		} {
			code, out := runAppOnce(t, bin, d)
			if code != 1 || leaks(out) || !strings.HasPrefix(out, "webapp: sqlstore: ") {
				t.Errorf("DATABASE_URL=%s: status %d, output %q; want 1 and a sqlstore error without the password", d, code, out)
			}
		}
	}
}

// TestStartupLineHidesThePassword starts the built app on the PostgreSQL
// test server with a password in DATABASE_URL (ignored by a server that
// trusts the test's connections) and checks the line naming the database.
func TestStartupLineHidesThePassword(t *testing.T) {
	t.Parallel()
	dsn := testdb.DSN(t, "postgres")
	db := testdb.OpenDSN(t, "postgres", dsn) // skips (fails in CI) when unreachable
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := u.User.Password(); has || u.User == nil {
		t.Skipf("the test server's DSN names no user or has a password of its own: a made-up one would not log in")
	}
	u.User = url.UserPassword(u.User.Username(), password("/@ "))
	withPassword := u.String()
	table := testdb.Name("webapp")
	t.Cleanup(func() { testdb.Drop(t, db, table) })
	bin := buildApp(t)
	env := append(cleanEnv(), "DATABASE_URL="+withPassword, "SESSIONS_TABLE="+table)
	app := startApp(t, bin, t.TempDir(), env, "127.0.0.1:0")
	want := "sessions in PostgreSQL (" + u.Scheme + "://" + u.User.Username() + ":xxxxx@" + u.Host + u.Path
	if out := app.output(); leaks(out) || !strings.Contains(out, want) {
		t.Errorf("the app's output %q shows the password, or does not contain %q", out, want)
	}
	app.kill()
}
