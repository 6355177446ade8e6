package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestSessionsAndRevoke: sessions lists a user's live sessions and revoke
// ends them, for support staff and incident response.
func TestSessionsAndRevoke(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn, db, table := setup(t, kind)
			flags := []string{"-dsn", dsn, "-table", table}
			args := func(cmd string, more ...string) []string { return append(append([]string{cmd}, flags...), more...) }
			ctx := t.Context()
			clock := testdb.NewClock(time.Now())
			s, err := sqlstore.New(ctx, db, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0), sqlstore.WithClock(clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			exp := time.Now().Add(time.Hour)
			for _, id := range []string{"phone", "laptop"} {
				if err := s.SetOwned(ctx, id, "user 7", []byte(id), exp); err != nil {
					t.Fatal(err)
				}
				clock.Set(clock.Now().Add(time.Second))
			}
			if err := s.SetOwned(ctx, "other", "user 8", []byte("x"), exp); err != nil {
				t.Fatal(err)
			}

			r := runIn(t, nil, args("sessions", "-owner", "user 7")...)
			wantOK(t, r)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], `2 live sessions of "user 7" in `) ||
				!strings.HasPrefix(lines[1], s.Key("laptop")) || !strings.HasPrefix(lines[2], s.Key("phone")) {
				t.Fatalf("sessions printed %q; want a header, then laptop's and phone's keys, most recent first", r.stdout)
			}
			r = runBin(t, nil, args("sessions", "-owner", "user 7", "-json")...)
			wantOK(t, r)
			var got []sessionJSON
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var sj sessionJSON
				if err := json.Unmarshal([]byte(line), &sj); err != nil {
					t.Fatalf("sessions -json printed %q: %v", line, err)
				}
				got = append(got, sj)
			}
			if len(got) != 2 || got[0].Key != s.Key("laptop") || got[0].Created == nil || got[0].Bytes != len("laptop") ||
				!got[0].Expiry.Equal(exp.Truncate(time.Millisecond)) {
				t.Fatalf("sessions -json = %+v", got)
			}

			r = runBin(t, nil, args("revoke", "-owner", "user 7")...)
			wantOK(t, r)
			if !strings.HasPrefix(r.stdout, `ended 2 sessions of "user 7" in `) {
				t.Fatalf("revoke printed %q", r.stdout)
			}
			for _, id := range []string{"phone", "laptop"} {
				if _, found, _ := s.Get(ctx, id); found {
					t.Fatalf("%s still found after revoke", id)
				}
			}
			if _, found, _ := s.Get(ctx, "other"); !found {
				t.Fatal("revoke ended another user's session")
			}
			r = runIn(t, nil, args("sessions", "-owner", "user 7")...)
			wantOK(t, r)
			if want := fmt.Sprintf(`0 live sessions of "user 7" in %s.%s (%s)`, schemaOf(t, kind, dsn), table, kind) + "\n"; r.stdout != want {
				t.Fatalf("sessions after revoke printed %q, want %q", r.stdout, want)
			}

			wantError(t, runIn(t, nil, args("revoke")...), exitUsage, "revoke needs -owner")
			wantError(t, runIn(t, nil, args("sessions")...), exitUsage, "sessions needs -owner")
			wantError(t, runIn(t, nil, args("revoke", "-owner", strings.Repeat("u", 256))...), exitFail, "invalid owner")
		})
	}
}
