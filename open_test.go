package sqlstore_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// redactSpecials are characters that URLs treat specially, or that net/url
// refuses in user info, each tried inside a password.
var redactSpecials = []string{"/", "#", "?", "%", "@", ":", " ", "&", "=", "+", ";", "[", "]", "'", `"`, "`", `\`, "ä", "€", "%zz", "%41", "@@", "/@", ":@/"}

// redactLeaks reports whether s shows a piece of a password made by
// redactPassword.
func redactLeaks(s string) bool {
	return strings.Contains(s, "Alpha7") || strings.Contains(s, "Omega9")
}

// redactPassword returns a password holding special between two markers.
func redactPassword(special string) string { return "Alpha7" + special + "Omega9" }

// TestOpenNeverShowsThePassword opens dsns of every scheme whose password
// holds a special character, written raw and percent-encoded, against
// servers that refuse the connection: no error shows any of the password.
func TestOpenNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	for _, sp := range redactSpecials {
		pw := redactPassword(sp)
		enc := url.UserPassword("user", pw).String()
		for _, scheme := range []string{"postgres", "postgresql", "mysql", "sqlite", "sqlite3", "file", "redis"} {
			for _, d := range []string{
				scheme + "://user:" + pw + "@127.0.0.1:1/db?sslmode=disable",
				scheme + "://" + enc + "@127.0.0.1:1/db?sslmode=disable",
				scheme + "://127.0.0.1:1/db?sslmode=disable&password=" + url.QueryEscape(pw),
			} {
				if scheme == "sqlite" || scheme == "sqlite3" || scheme == "file" {
					if !strings.Contains(d, "@") {
						continue // a file path, not a password
					}
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				s, err := sqlstore.Open(ctx, d, sqlstore.WithPruneInterval(0))
				cancel()
				if err == nil {
					s.Close()
					t.Errorf("Open(%q) succeeded; want an error", d)
					continue
				}
				if redactLeaks(err.Error()) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
					t.Errorf("Open(%q) error %q: shows the password, or does not start with sqlstore:", d, err)
				}
			}
		}
	}
}

// TestRedactDSN checks the exported redaction on a few dsns.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:S3cret%2F@db:5432/sessions?sslmode=require", "postgres://app:xxxxx@db:5432/sessions?sslmode=require"},
		{"postgres://app:S3cr/et@db/sessions", "postgres://xxxxx@db/sessions"},
		{"mysql://root@127.0.0.1:3306/test", "mysql://root@127.0.0.1:3306/test"},
		{"sqlite:data/sessions.db", "sqlite:data/sessions.db"},
	} {
		if got := sqlstore.RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
