package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// newKey returns a random 32-byte key and its base64.
func newKey() ([]byte, string) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k, base64.StdEncoding.EncodeToString(k)
}

// TestRekeyUsageErrors: rekey without keys, and malformed SQLSTORE_KEYS or
// SQLSTORE_PLAINTEXT_READS for any command, are usage errors that touch no
// database and never show a key.
func TestRekeyUsageErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "never.db")
	dsn := "sqlite:" + file
	_, good := newKey()
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"rekey", "-dsn", dsn}, "rekey: no keys: set SQLSTORE_KEYS"},
		{map[string]string{"SQLSTORE_KEYS": " "}, []string{"rekey", "-dsn", dsn}, "rekey: no keys"},
		{map[string]string{"SQLSTORE_KEYS": good}, []string{"rekey", "-dsn", dsn, "-batch", "0"}, "-batch 0 is not positive"},
		{map[string]string{"SQLSTORE_KEYS": good + ",not*base64"}, []string{"rekey", "-dsn", dsn}, "SQLSTORE_KEYS: keys[1] is not base64"},
		{map[string]string{"SQLSTORE_KEYS": good + ",," + good}, []string{"stats", "-dsn", dsn}, "stats: SQLSTORE_KEYS: keys[1] is empty"},
		{map[string]string{"SQLSTORE_KEYS": short}, []string{"migrate", "-dsn", dsn}, "migrate: SQLSTORE_KEYS: keys[0] is 31 bytes, want 32"},
		{map[string]string{"SQLSTORE_KEYS": good, "SQLSTORE_PLAINTEXT_READS": "maybe"}, []string{"rekey", "-dsn", dsn}, `SQLSTORE_PLAINTEXT_READS="maybe"`},
	} {
		r := runIn(t, tc.env, tc.args...)
		wantError(t, r, exitUsage, tc.want)
		if strings.Contains(r.stderr, good) || strings.Contains(r.stderr, "not*base64") {
			t.Errorf("the error shows a key: %q", r.stderr)
		}
	}
	var env []string
	env = append(env, "SQLSTORE_KEYS="+good+",AAAA")
	wantError(t, runBin(t, env, "rekey", "-dsn", dsn), exitUsage, "SQLSTORE_KEYS: keys[1] is 3 bytes, want 32")
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error touched the database file: %v", err)
	}
}

// TestRekeyCommand rotates a table's keys and encrypts a plaintext one with
// the command, on every database: stats and migrate read the keys from
// SQLSTORE_KEYS and fail loudly on a wrong key, and rekey reports what it
// rewrote, and fails when sessions are left that do not decrypt.
func TestRekeyCommand(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := setup(t, kind)
			ctx := t.Context()
			k1, b1 := newKey()
			k2, b2 := newKey()
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(k1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			for i := range 5 {
				if err := s.Set(ctx, fmt.Sprint("s", i), []byte("secret"), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			flags := []string{"-dsn", dsn, "-table", table}
			args := func(cmd string, more ...string) []string { return append(append([]string{cmd}, flags...), more...) }
			qualified := schemaOf(t, kind, dsn) + "." + table

			// A wrong key fails stats and migrate loudly.
			for _, cmd := range []string{"stats", "migrate"} {
				wantError(t, runIn(t, map[string]string{"SQLSTORE_KEYS": b2}, args(cmd)...), exitFail, cmd+": none of the 5 newest sessions in "+qualified)
			}
			wantOK(t, runIn(t, map[string]string{"SQLSTORE_KEYS": b1}, args("stats")...))

			c := &cli{progress: true} // a terminal, showing progress at once
			r := runCLI(t, c, map[string]string{"SQLSTORE_KEYS": b2 + "," + b1}, args("rekey", "-batch", "2")...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "re-encrypted 5 sessions of 5 live in "+qualified+" ("+kind+") in ") {
				t.Fatalf("rekey: status %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "\rsqlstore: rekey: 4 of 4 sessions read so far re-encrypted") || !strings.HasSuffix(r.stderr, "\r\033[K") {
				t.Errorf("rekey's progress line: %q", r.stderr)
			}
			// The binary reads SQLSTORE_KEYS from its environment.
			r = runBin(t, []string{"SQLSTORE_KEYS=" + b2}, args("rekey")...)
			wantOK(t, r)
			if !strings.HasPrefix(r.stdout, "re-encrypted 0 sessions of 5 live") {
				t.Errorf("rekey again printed %q", r.stdout)
			}
			wantOK(t, runBin(t, []string{"SQLSTORE_KEYS=" + b2}, args("migrate")...))
			wantError(t, runIn(t, map[string]string{"SQLSTORE_KEYS": b1}, args("stats")...), exitFail, "not among the keys given")
			s2, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithEncryption(k2))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			if data, found, err := s2.Get(ctx, "s3"); err != nil || !found || string(data) != "secret" {
				t.Fatalf("under the new key alone: Get = %q, %v, %v", data, found, err)
			}

			// A plaintext session among them: rekey leaves it and fails,
			// unless SQLSTORE_PLAINTEXT_READS=true.
			plain, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { plain.Close() })
			if err := plain.Set(ctx, "p", []byte("plain"), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			r = runIn(t, map[string]string{"SQLSTORE_KEYS": b2}, args("rekey")...)
			if r.code != exitFail || !strings.Contains(r.stderr, "sqlstore: rekey: re-encrypted 0 sessions of 6 live in "+qualified) ||
				!strings.Contains(r.stderr, "but 1 session did not decrypt") || !strings.Contains(r.stderr, "level=WARN") || r.stdout != "" {
				t.Fatalf("rekey over a plaintext session: status %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = runIn(t, map[string]string{"SQLSTORE_KEYS": b2, "SQLSTORE_PLAINTEXT_READS": "true"}, args("rekey")...)
			wantOK(t, r)
			if !strings.HasPrefix(r.stdout, "re-encrypted 1 session of 6 live") {
				t.Errorf("rekey with plaintext reads printed %q", r.stdout)
			}
			if data, found, err := s2.Get(ctx, "p"); err != nil || !found || string(data) != "plain" {
				t.Fatalf("the plaintext session after rekey: Get = %q, %v, %v", data, found, err)
			}
		})
	}
}
