package sqlstoretest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// The tests of sessions that belong to someone: SetOwned, Sessions,
// DeleteOwner, DeleteKey, ended sessions and the absolute timeout.

// keys returns the keys of the sessions Sessions lists for owner, in order.
func keys(t testing.TB, s *sqlstore.Store, owner string) []string {
	t.Helper()
	list, err := s.Sessions(ctx(t), owner)
	if err != nil {
		t.Fatalf("Sessions(%q): %v", owner, err)
	}
	out := make([]string, len(list))
	for i, ss := range list {
		if ss.Owner != owner {
			t.Fatalf("Sessions(%q) listed a session of %q", owner, ss.Owner)
		}
		out[i] = ss.Key
	}
	return out
}

func mustSetOwned(t testing.TB, s *sqlstore.Store, id, owner string, data []byte, exp time.Time) {
	t.Helper()
	if err := s.SetOwned(ctx(t), id, owner, data, exp); err != nil {
		t.Fatalf("SetOwned(%q, %q): %v", id, owner, err)
	}
}

func testSessions(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSetOwned(t, s, "a1", "alice", []byte("one"), base.Add(time.Hour))
	e.clock.Add(time.Second)
	mustSetOwned(t, s, "b1", "bob", []byte("bob"), base.Add(time.Hour))
	e.clock.Add(time.Second)
	mustSetOwned(t, s, "a2", "alice", []byte("two"), base.Add(2*time.Hour))
	mustSet(t, s, "anon", []byte("nobody's"), base.Add(time.Hour))

	list, err := s.Sessions(ctx(t), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("Sessions(alice) = %d sessions, want 2", len(list))
	}
	// Most recently active first, with every field.
	a2, a1 := list[0], list[1]
	if a2.Key != s.Key("a2") || a1.Key != s.Key("a1") {
		t.Fatalf("Sessions(alice) keys %q, %q; want a2's then a1's", a2.Key, a1.Key)
	}
	if string(a2.Data) != "two" || !a2.Expiry.Equal(truncMs(base.Add(2*time.Hour))) ||
		!a2.Created.Equal(truncMs(base.Add(2*time.Second))) || !a2.Updated.Equal(a2.Created) {
		t.Fatalf("a2 = %+v; want data two, created = updated = base+2s, expiry base+2h", a2)
	}
	if !a1.Created.Equal(truncMs(base)) {
		t.Fatalf("a1 created %v, want %v", a1.Created, truncMs(base))
	}

	// Set keeps the owner and the creation time, and moves updated: a1 is
	// now the most recent.
	e.clock.Add(time.Second)
	mustSet(t, s, "a1", []byte("one'"), base.Add(time.Hour))
	if got := keys(t, s, "alice"); !slices.Equal(got, []string{s.Key("a1"), s.Key("a2")}) {
		t.Fatalf("after Set of a1, Sessions(alice) = %q; want a1 first, still alice's", got)
	}
	list, _ = s.Sessions(ctx(t), "alice")
	if !list[0].Created.Equal(truncMs(base)) || !list[0].Updated.Equal(truncMs(base.Add(3*time.Second))) {
		t.Fatalf("a1 after Set: created %v, updated %v; want base, base+3s", list[0].Created, list[0].Updated)
	}
	// A Touch that writes moves updated too.
	e.clock.Add(time.Second)
	if err := s.Touch(ctx(t), "a2", base.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, s, "alice"); !slices.Equal(got, []string{s.Key("a2"), s.Key("a1")}) {
		t.Fatalf("after Touch of a2, Sessions(alice) = %q; want a2 first", got)
	}
	// SetOwned moves a session to another owner, or to nobody.
	mustSetOwned(t, s, "a1", "bob", []byte("one"), base.Add(time.Hour))
	mustSetOwned(t, s, "a2", "", []byte("two"), base.Add(time.Hour))
	if got := keys(t, s, "alice"); len(got) != 0 {
		t.Fatalf("Sessions(alice) = %q after both moved, want none", got)
	}
	if got := keys(t, s, "bob"); !slices.Equal(got, []string{s.Key("a1"), s.Key("b1")}) {
		t.Fatalf("Sessions(bob) = %q, want a1 then b1", got)
	}
	// An expired session is not listed; owners are compared exactly.
	e.clock.Add(time.Hour)
	if got := keys(t, s, "bob"); len(got) != 0 {
		t.Fatalf("Sessions(bob) = %q after expiry, want none", got)
	}
	mustSetOwned(t, s, "c1", "Carol", []byte("x"), base.Add(10*time.Hour))
	if got := keys(t, s, "carol"); len(got) != 0 {
		t.Fatalf("Sessions(carol) = %q, want none (owners are case-sensitive)", got)
	}
	if got := keys(t, s, "Carol"); len(got) != 1 {
		t.Fatalf("Sessions(Carol) = %q, want c1", got)
	}
}

func testInvalidOwners(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	for _, owner := range []string{strings.Repeat("u", 256), "bad\xffutf8", "nul\x00byte"} {
		if err := s.SetOwned(ctx(t), "x", owner, nil, base.Add(time.Hour)); !errors.Is(err, sqlstore.ErrInvalidOwner) {
			t.Errorf("SetOwned(owner %q) = %v, want ErrInvalidOwner", owner, err)
		}
		if _, err := s.Sessions(ctx(t), owner); !errors.Is(err, sqlstore.ErrInvalidOwner) {
			t.Errorf("Sessions(%q) = %v, want ErrInvalidOwner", owner, err)
		}
		if _, err := s.DeleteOwner(ctx(t), owner); !errors.Is(err, sqlstore.ErrInvalidOwner) {
			t.Errorf("DeleteOwner(%q) = %v, want ErrInvalidOwner", owner, err)
		}
	}
	// "" is no owner for SetOwned, and never a target.
	mustSetOwned(t, s, "x", "", []byte("x"), base.Add(time.Hour))
	if _, err := s.Sessions(ctx(t), ""); !errors.Is(err, sqlstore.ErrInvalidOwner) {
		t.Errorf(`Sessions("") = %v, want ErrInvalidOwner`, err)
	}
	if _, err := s.DeleteOwner(ctx(t), ""); !errors.Is(err, sqlstore.ErrInvalidOwner) {
		t.Errorf(`DeleteOwner("") = %v, want ErrInvalidOwner`, err)
	}
	if _, err := s.DeleteOwner(ctx(t), "u", "bad\x01id"); !errors.Is(err, sqlstore.ErrInvalidID) {
		t.Errorf("DeleteOwner with an invalid kept id = %v, want ErrInvalidID", err)
	}
	if err := s.DeleteKey(ctx(t), ""); !errors.Is(err, sqlstore.ErrInvalidID) {
		t.Errorf(`DeleteKey("") = %v, want ErrInvalidID`, err)
	}
	// The longest owner is kept whole.
	long := strings.Repeat("é", 127) + "x"
	mustSetOwned(t, s, "long", long, []byte("x"), base.Add(time.Hour))
	if got := keys(t, s, long); len(got) != 1 {
		t.Fatalf("Sessions(255-byte owner) = %q, want one", got)
	}
	wantGet(t, s, "x", []byte("x"))
}

// testEndedStaysEnded: a late write never revives a session that Delete
// ended, until the expiry it had.
func testEndedStaysEnded(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	exp := base.Add(time.Hour)
	mustSetOwned(t, s, "gone", "dave", []byte("secret"), exp)
	mustSet(t, s, "kept", []byte("k"), exp)
	if err := s.Delete(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	// The request that loaded "gone" before the logout writes it back.
	if err := s.Set(ctx(t), "gone", []byte("secret"), exp.Add(time.Hour)); err != nil {
		t.Fatalf("Set of an ended session = %v, want nil", err)
	}
	if err := s.SetOwned(ctx(t), "gone", "dave", []byte("secret"), exp); err != nil {
		t.Fatalf("SetOwned of an ended session = %v, want nil", err)
	}
	if err := s.Touch(ctx(t), "gone", exp.Add(2*time.Hour)); err != nil {
		t.Fatalf("Touch of an ended session = %v, want nil", err)
	}
	wantGet(t, s, "gone", nil)
	wantCount(t, s, 1)
	if r := ranged(t, s); len(r) != 1 {
		t.Fatalf("Range yielded %d sessions, want only kept", len(r))
	}
	if got := keys(t, s, "dave"); len(got) != 0 {
		t.Fatalf("Sessions(dave) = %q, want none", got)
	}
	st, err := s.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Live != 1 || st.Ended != 1 || st.Expired != 0 {
		t.Fatalf("Stats = %+v; want 1 live, 1 ended, 0 expired", st)
	}
	// Deleting twice, or deleting what was never stored, is a no-op.
	for _, id := range []string{"gone", "never"} {
		if err := s.Delete(ctx(t), id); err != nil {
			t.Fatalf("Delete(%q) = %v", id, err)
		}
	}
	// Until the expiry it had: then the id may start a new session.
	e.clock.Set(exp.Add(-time.Millisecond))
	mustSet(t, s, "gone", []byte("late"), exp.Add(time.Hour))
	wantGet(t, s, "gone", nil)
	e.clock.Set(exp)
	mustSet(t, s, "gone", []byte("new"), exp.Add(time.Hour))
	wantGet(t, s, "gone", []byte("new"))
	if got := keys(t, s, "dave"); len(got) != 0 {
		t.Fatalf("the new session under an ended id kept the old owner: Sessions(dave) = %q", got)
	}
	// Prune removes an ended session once it has expired.
	if err := s.Delete(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(exp.Add(time.Hour))
	if n, err := s.Prune(ctx(t)); err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2 (ended and expired, kept expired)", n, err)
	}
}

// testCreated: Created is kept by every Set of a live session; a Set over
// an expired row starts a new session, owner and Created included.
func testCreated(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSetOwned(t, s, "c", "erin", []byte("1"), base.Add(time.Minute))
	e.clock.Add(30 * time.Second)
	mustSet(t, s, "c", []byte("2"), base.Add(time.Minute))
	list, err := s.Sessions(ctx(t), "erin")
	if err != nil || len(list) != 1 || !list[0].Created.Equal(truncMs(base)) {
		t.Fatalf("Sessions(erin) = %+v, %v; want c created at base", list, err)
	}
	e.clock.Add(time.Minute) // c has expired
	mustSet(t, s, "c", []byte("3"), base.Add(time.Hour))
	wantGet(t, s, "c", []byte("3"))
	if got := keys(t, s, "erin"); len(got) != 0 {
		t.Fatalf("a Set over an expired session kept its owner: %q", got)
	}
	mustSetOwned(t, s, "c", "erin", []byte("4"), base.Add(time.Hour))
	list, _ = s.Sessions(ctx(t), "erin")
	if len(list) != 1 || !list[0].Created.Equal(truncMs(base.Add(90*time.Second))) {
		t.Fatalf("Sessions(erin) = %+v; want c created anew at base+90s", list)
	}
}

func testDeleteOwner(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	for _, id := range []string{"f1", "f2", "f3"} {
		mustSetOwned(t, s, id, "frank", []byte(id), base.Add(time.Hour))
	}
	mustSetOwned(t, s, "f-old", "frank", []byte("x"), base.Add(-time.Minute)) // expired: not counted
	mustSetOwned(t, s, "g1", "grace", []byte("g1"), base.Add(time.Hour))
	n, err := s.DeleteOwner(ctx(t), "frank", "f2")
	if err != nil || n != 2 {
		t.Fatalf("DeleteOwner(frank, keep f2) = %d, %v; want 2", n, err)
	}
	wantGet(t, s, "f2", []byte("f2"))
	wantGet(t, s, "g1", []byte("g1"))
	for _, id := range []string{"f1", "f3"} {
		wantGet(t, s, id, nil)
		mustSet(t, s, id, []byte("revived?"), base.Add(2*time.Hour))
		wantGet(t, s, id, nil)
	}
	if got := keys(t, s, "frank"); !slices.Equal(got, []string{s.Key("f2")}) {
		t.Fatalf("Sessions(frank) = %q, want only f2", got)
	}
	n, err = s.DeleteOwner(ctx(t), "frank")
	if err != nil || n != 1 {
		t.Fatalf("DeleteOwner(frank) = %d, %v; want 1 (f2)", n, err)
	}
	if n, err = s.DeleteOwner(ctx(t), "nobody-at-all"); err != nil || n != 0 {
		t.Fatalf("DeleteOwner of an unknown owner = %d, %v; want 0", n, err)
	}
}

func testDeleteKey(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	mustSetOwned(t, s, "phone", "heidi", []byte("p"), base.Add(time.Hour))
	mustSetOwned(t, s, "laptop", "heidi", []byte("l"), base.Add(time.Hour))
	list, err := s.Sessions(ctx(t), "heidi")
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions(heidi) = %d, %v", len(list), err)
	}
	// "Sign out that device": by the key the list shows.
	if err := s.DeleteKey(ctx(t), s.Key("phone")); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "phone", nil)
	wantGet(t, s, "laptop", []byte("l"))
	mustSet(t, s, "phone", []byte("p"), base.Add(time.Hour))
	wantGet(t, s, "phone", nil)
	if err := s.DeleteKey(ctx(t), "no-such-key"); err != nil {
		t.Fatalf("DeleteKey of a missing key = %v", err)
	}
}

// testDeleteOwnerRace: goroutines keep writing the sessions of one owner
// while DeleteOwner runs once; every session was live when it ran, so
// afterwards none is found, however the writes and it interleaved.
func testDeleteOwnerRace(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store()
	n := cfg.Concurrency
	for i := range n {
		mustSetOwned(t, s, fmt.Sprintf("race-%d", i), "ivan", []byte("v0"), base.Add(time.Hour))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id := fmt.Sprintf("race-%d", i)
			for j := range 10 {
				var err error
				if j%2 == 0 {
					err = s.SetOwned(ctx(t), id, "ivan", fmt.Appendf(nil, "v%d", j+1), base.Add(time.Hour))
				} else {
					err = s.Set(ctx(t), id, fmt.Appendf(nil, "v%d", j+1), base.Add(time.Hour))
				}
				if err != nil {
					t.Errorf("write %s: %v", id, err)
					return
				}
			}
		}()
	}
	var ended int64
	var derr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		ended, derr = s.DeleteOwner(ctx(t), "ivan")
	}()
	close(start)
	wg.Wait()
	if derr != nil || ended != int64(n) {
		t.Fatalf("DeleteOwner during the writes = %d, %v; want all %d", ended, derr, n)
	}
	for i := range n {
		wantGet(t, s, fmt.Sprintf("race-%d", i), nil)
	}
	if got := keys(t, s, "ivan"); len(got) != 0 {
		t.Fatalf("%d sessions of ivan found after DeleteOwner", len(got))
	}
}

func testAbsoluteTimeout(t *testing.T, cfg Config) {
	e := newEnv(t, cfg)
	s := e.store(sqlstore.WithAbsoluteTimeout(time.Hour))
	mustSetOwned(t, s, "abs", "judy", []byte("x"), base.Add(10*time.Hour))
	mustSet(t, s, "young", []byte("y"), base.Add(10*time.Hour))
	e.clock.Add(30 * time.Minute)
	mustSet(t, s, "younger", []byte("z"), base.Add(10*time.Hour))
	e.clock.Add(30*time.Minute - time.Millisecond)
	wantGet(t, s, "abs", []byte("x"))
	// Activity does not extend it.
	if err := s.Touch(ctx(t), "abs", base.Add(20*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Millisecond) // an hour after creation
	wantGet(t, s, "abs", nil)
	wantGet(t, s, "young", nil)
	wantGet(t, s, "younger", []byte("z"))
	wantCount(t, s, 1)
	if got := keys(t, s, "judy"); len(got) != 0 {
		t.Fatalf("Sessions(judy) = %q past the absolute timeout", got)
	}
	if err := s.Touch(ctx(t), "abs", base.Add(30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "abs", nil)
	st, err := s.Stats(ctx(t))
	if err != nil || st.Live != 1 || st.Ended != 0 || st.Expired != 2 {
		t.Fatalf("Stats = %+v, %v; want 1 live, 2 expired", st, err)
	}
	// An ended session past the limit counts once, as expired.
	mustSet(t, s, "younger2", []byte("w"), base.Add(10*time.Hour))
	if err := s.Delete(ctx(t), "younger2"); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Stats(ctx(t)); err != nil || st.Live != 1 || st.Ended != 1 || st.Expired != 2 {
		t.Fatalf("Stats = %+v, %v; want 1 live, 1 ended, 2 expired", st, err)
	}
	if n, err := s.Prune(ctx(t)); err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 sessions past the absolute timeout", n, err)
	}
	// A request that loaded one before the limit and writes it back after
	// the sweep does not start it again.
	mustSet(t, s, "abs", []byte("late"), base.Add(20*time.Hour))
	wantGet(t, s, "abs", nil)
	if n, err := s.Prune(ctx(t)); err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v; want 0", n, err)
	}
	// The same table without the limit: younger is still there.
	plain := e.store()
	wantGet(t, plain, "younger", []byte("z"))
	// Prune removes the rows at the expiry they had: abs, touched to 20h
	// before the limit, stays until then.
	e.clock.Set(base.Add(10 * time.Hour))
	if n, err := s.Prune(ctx(t)); err != nil || n != 3 {
		t.Fatalf("Prune at the expiry = %d, %v; want 3 rows removed", n, err)
	}
}
