package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadCommandsCreateNoFile checks that stats and prune on a SQLite file
// that does not exist (a mistyped path) fail, saying so, and create no
// file; that migrate names a missing directory; and that migrate still
// creates the file, after which stats works.
func TestReadCommandsCreateNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "typo.db")
	for _, d := range []string{"sqlite:" + path, "sqlite://" + path, "file:" + path, "file:" + path + "?_pragma=busy_timeout(100)"} {
		for _, cmd := range []string{"stats", "prune"} {
			want := cmd + ": no such database file " + path
			wantError(t, runIn(t, nil, cmd, "-dsn", d), exitFail, want)
			wantError(t, runBin(t, nil, cmd, "-dsn", d), exitFail, want)
			wantError(t, runIn(t, map[string]string{"DATABASE_URL": d}, cmd), exitFail, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a read command created %s", e.Name())
	}

	nested := filepath.Join(dir, "no", "such", "dir", "s.db")
	wantError(t, runIn(t, nil, "migrate", "-dsn", "sqlite:"+nested), exitFail,
		"migrate: no such directory "+filepath.Dir(nested)+" for the database file "+nested)

	r := runIn(t, nil, "migrate", "-dsn", "sqlite:"+path)
	wantOK(t, r)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("migrate did not create the file: %v", err)
	}
	r = runIn(t, nil, "stats", "-dsn", "sqlite:"+path)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "live:     0\n") {
		t.Errorf("stats on the migrated file printed %q", r.stdout)
	}
}
