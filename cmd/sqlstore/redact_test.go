package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// specials are characters that URLs treat specially, or that net/url
// refuses in user info, each tried inside a password.
var specials = []string{"/", "#", "?", "%", "@", ":", " ", "&", "=", "+", ";", "[", "]", "'", `"`, "`", `\`, "ä", "€", "%zz", "%41", "@@", "/@", ":@/"}

// leaks reports whether s shows a piece of a password made by password.
func leaks(s string) bool { return strings.Contains(s, "Alpha7") || strings.Contains(s, "Omega9") }

// password returns a password holding special between two markers.
func password(special string) string { return "Alpha7" + special + "Omega9" }

// wantHidden checks that r failed with one line on stderr that shows no
// piece of the password.
func wantHidden(t *testing.T, r result, what string) {
	t.Helper()
	if r.code == exitOK || leaks(r.stdout+r.stderr) || !strings.HasPrefix(r.stderr, "sqlstore: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("%s: status %d, stdout %q, stderr %q; want a failure on one line without the password", what, r.code, r.stdout, r.stderr)
	}
}

// TestErrorsNeverShowThePassword runs every command with DSNs of every
// scheme whose password holds a special character, raw and
// percent-encoded, given with -dsn, -dsn=, DATABASE_URL, as a stray argument
// and as a bad flag value, in process and (for PostgreSQL and MySQL) as the
// built binary, with servers that refuse the connection.
func TestErrorsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	nowhere := "sqlite:" + filepath.Join(t.TempDir(), "never.db")
	for _, sp := range specials {
		pw := password(sp)
		enc := url.UserPassword("user", pw).String()
		for _, scheme := range []string{"postgres", "postgresql", "mysql", "sqlite", "file", "redis"} {
			for i, d := range []string{
				scheme + "://user:" + pw + "@127.0.0.1:1/db?sslmode=disable",
				scheme + "://" + enc + "@127.0.0.1:1/db?sslmode=disable",
			} {
				for _, args := range [][]string{
					{"stats", "-dsn", d},
					{"prune", "-dsn=" + d},
					{"migrate", "-dsn", d, "-timeout", "30s"},
					{"stats", "-dsn", nowhere, d},
					{"stats", "-dsn", nowhere, "-timeout", d},
				} {
					wantHidden(t, runIn(t, nil, args...), strings.Join(args, " "))
				}
				wantHidden(t, runIn(t, map[string]string{"DATABASE_URL": d}, "stats"), "DATABASE_URL="+d+" stats")
				if scheme == "postgres" || i == 0 && scheme == "mysql" {
					wantHidden(t, runBin(t, nil, "stats", "-dsn", d), "binary stats -dsn "+d)
					wantHidden(t, runBin(t, []string{"DATABASE_URL=" + d}, "migrate"), "binary DATABASE_URL="+d+" migrate")
				}
			}
		}
	}
}
