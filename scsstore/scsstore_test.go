package scsstore

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// env is one database kind's store, adapter, manager and test server.
type env struct {
	t      *testing.T
	sql    *sqlstore.Store
	st     *Store
	clk    *testdb.OffsetClock
	mgr    *scs.SessionManager
	srv    *httptest.Server
	writes testdb.Writes // the store's writes: "set" or "touch"
	kind   string
	// entered and gate hold /slow: it signals entered once it has loaded
	// the session, then waits for gate.
	entered, gate chan struct{}
}

func newEnv(t *testing.T, kind string, configure func(*scs.SessionManager), opts ...sqlstore.Option) *env {
	t.Helper()
	db := testdb.Open(t, kind)
	table := testdb.Table(t, db)
	e := &env{t: t, clk: &testdb.OffsetClock{}, kind: kind}
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithTable(table), sqlstore.WithClock(e.clk.Now), sqlstore.WithPruneInterval(0), sqlstore.WithObserver(&e.writes),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.sql = s
	e.st = New(s)
	e.mgr = scs.New()
	e.mgr.Store = e.st
	e.mgr.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("scs: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	if configure != nil {
		configure(e.mgr)
	}
	e.srv = httptest.NewServer(e.mgr.LoadAndSave(e.handler()))
	t.Cleanup(e.srv.Close)
	return e
}

// handler serves the session operations the tests drive.
func (e *env) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.URL.Query() {
			e.mgr.Put(r.Context(), k, v[0])
		}
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, e.mgr.GetString(r.Context(), r.URL.Query().Get("k")))
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := e.mgr.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := e.mgr.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var id int
		fmt.Sscan(r.URL.Query().Get("user"), &id)
		e.mgr.Put(r.Context(), "userID", id)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, e.mgr.GetInt(r.Context(), "userID"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		e.mgr.GetInt(r.Context(), "userID") // loads the session
		e.entered <- struct{}{}
		<-e.gate
		if r.URL.Query().Has("change") {
			e.mgr.Put(r.Context(), "seen", time.Now().UnixNano())
		}
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := e.mgr.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
		var names []string
		err := e.mgr.Iterate(r.Context(), func(ctx context.Context) error {
			names = append(names, e.mgr.GetString(ctx, "name"))
			return nil
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sort.Strings(names)
		io.WriteString(w, strings.Join(names, ","))
	})
	return mux
}

// client is a browser with its own cookie jar.
type client struct {
	e *env
	c *http.Client
}

func (e *env) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, c: &http.Client{Jar: jar}}
}

// do requests path and returns the body, failing the test unless it is 200.
func (c *client) do(path string) string {
	c.e.t.Helper()
	resp, err := c.c.Get(c.e.srv.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.e.t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return string(b)
}

// token returns the session cookie's value, "" without one.
func (c *client) token() string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == c.e.mgr.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// setToken replaces the session cookie.
func (c *client) setToken(token string) {
	u, _ := url.Parse(c.e.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: c.e.mgr.Cookie.Name, Value: token, Path: "/"}})
}

// row returns the stored data and expiry of session id.
func (e *env) row(id string) (data []byte, exp time.Time, found bool) {
	e.t.Helper()
	return testdb.Row(e.t, e.sql, id)
}

func (e *env) takeOps() []string { return e.writes.Take() }

func (e *env) count() int64 {
	e.t.Helper()
	n, err := e.sql.Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func TestPutGetRenewDestroy(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		c := e.client()
		if got := c.do("/get?k=name"); got != "" {
			t.Fatalf("new session: name = %q", got)
		}
		if n := e.count(); n != 0 {
			t.Fatalf("an unmodified new session was stored: count %d", n)
		}
		c.do("/put?name=alice")
		tok := c.token()
		if tok == "" {
			t.Fatal("no session cookie after a Put")
		}
		if _, _, found := e.row(tok); !found {
			t.Fatal("no row for the session")
		}
		if got := c.do("/get?k=name"); got != "alice" {
			t.Fatalf("name = %q, want alice", got)
		}

		// RenewToken: a new token with the same data; the old one is gone.
		c.do("/renew")
		tok2 := c.token()
		if tok2 == "" || tok2 == tok {
			t.Fatalf("token after RenewToken = %q, old %q", tok2, tok)
		}
		if got := c.do("/get?k=name"); got != "alice" {
			t.Fatalf("name after RenewToken = %q, want alice", got)
		}
		if _, _, found := e.row(tok); found {
			t.Fatal("the old token's row survived RenewToken")
		}
		old := e.client()
		old.setToken(tok)
		if got := old.do("/get?k=name"); got != "" {
			t.Fatalf("the old token still reads the session: %q", got)
		}

		// Destroy: the row and the cookie go.
		c.do("/destroy")
		if _, _, found := e.row(tok2); found {
			t.Fatal("the row survived Destroy")
		}
		if got := c.token(); got != "" {
			t.Fatalf("cookie after Destroy = %q, want none", got)
		}
		if got := c.do("/get?k=name"); got != "" {
			t.Fatalf("name after Destroy = %q", got)
		}
		if n := e.count(); n != 0 {
			t.Fatalf("count after Destroy = %d, want 0", n)
		}
		// Destroying a session never stored deletes the empty token: no error.
		c.do("/destroy")
	})
}

func TestIterate(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		if got := e.client().do("/list"); got != "" {
			t.Fatalf("list of an empty table = %q", got)
		}
		a, b := e.client(), e.client()
		a.do("/put?name=alice")
		b.do("/put?name=bob")
		if got := a.do("/list"); got != "alice,bob" {
			t.Fatalf("list = %q, want alice,bob", got)
		}
		all, err := e.st.All()
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Fatalf("All returned %d sessions, want 2", len(all))
		}
		// With hashed ids (the default) All's keys are the stored hashes.
		if _, ok := all[e.sql.Key(a.token())]; !ok {
			t.Fatalf("All's keys %v lack the hash of a's token", keys(all))
		}

		// A change inside Iterate cannot reach a session: refused.
		err = e.mgr.Iterate(context.Background(), func(ctx context.Context) error {
			return e.mgr.Destroy(ctx)
		})
		if !errors.Is(err, ErrStoredKey) {
			t.Fatalf("Destroy inside Iterate: %v, want ErrStoredKey", err)
		}
		err = e.mgr.Iterate(context.Background(), func(ctx context.Context) error {
			e.mgr.Put(ctx, "name", "mallory")
			_, _, err := e.mgr.Commit(ctx)
			return err
		})
		if !errors.Is(err, ErrStoredKey) {
			t.Fatalf("Commit inside Iterate: %v, want ErrStoredKey", err)
		}
		if n := e.count(); n != 2 {
			t.Fatalf("count = %d after refused changes, want 2", n)
		}
		if got := a.do("/get?k=name"); got != "alice" {
			t.Fatalf("a's name = %q", got)
		}
	})
}

// With ids stored as given, Iterate can change and destroy sessions.
func TestIterateUnhashed(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil, sqlstore.WithHashedIDs(false))
		a, b := e.client(), e.client()
		a.do("/put?name=alice")
		b.do("/put?name=bob")
		err := e.mgr.Iterate(context.Background(), func(ctx context.Context) error {
			if e.mgr.GetString(ctx, "name") == "alice" {
				e.mgr.Put(ctx, "name", "alice2")
				_, _, err := e.mgr.Commit(ctx)
				return err
			}
			return e.mgr.Destroy(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.do("/get?k=name"); got != "alice2" {
			t.Fatalf("a's name = %q, want alice2", got)
		}
		if got := b.do("/get?k=name"); got != "" {
			t.Fatalf("b's name = %q after Destroy in Iterate", got)
		}
		if n := e.count(); n != 1 {
			t.Fatalf("count = %d, want 1", n)
		}
	})
}

func TestLifetime(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, func(m *scs.SessionManager) { m.Lifetime = time.Hour })
		c := e.client()
		c.do("/put?name=alice")
		e.clk.Add(59 * time.Minute)
		if got := c.do("/get?k=name"); got != "alice" {
			t.Fatalf("after 59m: name = %q, want alice", got)
		}
		e.clk.Add(2 * time.Minute)
		if got := c.do("/get?k=name"); got != "" {
			t.Fatalf("after 61m of a 1h lifetime: name = %q, want none", got)
		}
		if n := e.count(); n != 0 {
			t.Fatalf("count = %d, want 0", n)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, func(m *scs.SessionManager) {
			m.Lifetime = time.Hour
			m.IdleTimeout = 10 * time.Minute
		})
		c := e.client()
		c.do("/put?name=alice")
		_, exp, _ := e.row(c.token())
		if d := time.Until(exp); d > 10*time.Minute || d < 9*time.Minute {
			t.Fatalf("stored expiry is %v from now, want the 10m idle timeout", d)
		}
		e.clk.Add(9 * time.Minute)
		if got := c.do("/get?k=name"); got != "alice" {
			t.Fatalf("after 9m idle: name = %q, want alice", got)
		}
		e.clk.Add(2 * time.Minute)
		if got := c.do("/get?k=name"); got != "" {
			t.Fatalf("after 11m idle: name = %q, want none", got)
		}
	})
}

// An unchanged session under an IdleTimeout is touched, not rewritten, and a
// touch below the threshold writes nothing.
func TestTouchNotSet(t *testing.T) {
	for _, threshold := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("threshold=%v", threshold), func(t *testing.T) {
			eachKind(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, func(m *scs.SessionManager) {
					m.Lifetime = 24 * time.Hour
					m.IdleTimeout = time.Hour
				}, sqlstore.WithTouchThreshold(threshold))
				c := e.client()
				c.do("/put?name=alice")
				if ops := e.takeOps(); len(ops) != 1 || ops[0] != "set" {
					t.Fatalf("first Put wrote %v, want [set]", ops)
				}
				data1, exp1, _ := e.row(c.token())
				time.Sleep(20 * time.Millisecond) // scs's next expiry is later by at least this

				if got := c.do("/get?k=name"); got != "alice" {
					t.Fatalf("name = %q", got)
				}
				if ops := e.takeOps(); len(ops) != 1 || ops[0] != "touch" {
					t.Fatalf("an unchanged request wrote %v, want [touch]", ops)
				}
				data2, exp2, found := e.row(c.token())
				if !found || !bytes.Equal(data1, data2) {
					t.Fatalf("data changed by a touch (found %v)", found)
				}
				if threshold == 0 && !exp2.After(exp1) {
					t.Fatalf("with no threshold the expiry did not move: %v then %v", exp1, exp2)
				}
				if threshold > 0 && !exp2.Equal(exp1) {
					t.Fatalf("a move below the threshold was written: %v then %v", exp1, exp2)
				}

				// A changed session is written with Set.
				c.do("/put?name=bob")
				if ops := e.takeOps(); len(ops) != 1 || ops[0] != "set" {
					t.Fatalf("a change wrote %v, want [set]", ops)
				}
				if got := c.do("/get?k=name"); got != "bob" {
					t.Fatalf("name = %q, want bob", got)
				}
			})
		})
	}
}

// scs.GobCodec encodes several values in random order; Codec does not, so
// every unchanged request is a touch.
func TestCodecTouches(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, func(m *scs.SessionManager) {
			m.IdleTimeout = time.Hour
			m.Codec = Codec{}
		})
		c := e.client()
		c.do("/put?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8")
		e.takeOps()
		for i := 0; i < 10; i++ {
			if got := c.do("/get?k=h"); got != "8" {
				t.Fatalf("h = %q", got)
			}
		}
		for _, op := range e.takeOps() {
			if op != "touch" {
				t.Fatalf("an unchanged request with Codec wrote %q", op)
			}
		}
	})
}

func TestCodecDecodesGob(t *testing.T) {
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	values := map[string]any{"name": "alice", "n": 3, "ok": true}
	old, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"GobCodec": old, "Codec": must(Codec{}.Encode(deadline, values))} {
		d, v, err := Codec{}.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !d.Equal(deadline) || fmt.Sprint(v) != fmt.Sprint(values) {
			t.Fatalf("%s: decoded %v %v, want %v %v", name, d, v, deadline, values)
		}
	}
	a, _ := Codec{}.Encode(deadline, values)
	for i := 0; i < 20; i++ {
		if b, _ := (Codec{}).Encode(deadline, values); !bytes.Equal(a, b) {
			t.Fatal("Codec encoded the same session to different bytes")
		}
	}
	d, v, err := Codec{}.Decode(must(Codec{}.Encode(deadline, nil)))
	if err != nil || !d.Equal(deadline) || v == nil || len(v) != 0 {
		t.Fatalf("empty session decoded to %v %v %v", d, v, err)
	}
	if _, _, err := (Codec{}).Decode([]byte("not gob")); err == nil {
		t.Fatal("Decode of garbage succeeded")
	}
	// A corrupt encoding with more keys than values is refused.
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&codecData{Keys: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (Codec{}).Decode(buf.Bytes()); err == nil {
		t.Fatal("Decode of mismatched keys and values succeeded")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// The adapter's own contract, apart from scs.SessionManager.
func TestStoreContract(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		st := e.st
		for _, tok := range []string{"", strings.Repeat("x", 300), "bad\x00token"} {
			if b, found, err := st.Find(tok); b != nil || found || err != nil {
				t.Fatalf("Find(%q) = %v %v %v, want not found and no error", tok, b, found, err)
			}
			if err := st.Delete(tok); err != nil {
				t.Fatalf("Delete(%q): %v", tok, err)
			}
		}
		exp := time.Now().Add(time.Hour)
		if err := st.Commit("tok-1", []byte("one"), exp); err != nil {
			t.Fatal(err)
		}
		if b, found, err := st.Find("tok-1"); err != nil || !found || string(b) != "one" {
			t.Fatalf("Find = %q %v %v", b, found, err)
		}
		if err := st.Delete("tok-1"); err != nil {
			t.Fatal(err)
		}
		if _, found, err := st.Find("tok-1"); found || err != nil {
			t.Fatalf("Find after Delete = %v %v", found, err)
		}
		// A commit after Delete writes nothing: a deleted session stays
		// gone (scs itself commits a new token after Destroy or RenewToken).
		if err := st.Commit("tok-1", []byte("one"), exp); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := st.Find("tok-1"); found {
			t.Fatal("Commit after Delete brought the session back")
		}
		if err := st.Commit("tok-2", []byte("two"), exp); err != nil {
			t.Fatal(err)
		}
		all, err := st.All()
		if err != nil || all == nil || len(all) != 1 {
			t.Fatalf("All = %v %v", all, err)
		}
		// Errors of the database are errors, not "not found".
		if err := e.sql.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Find("tok-1"); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Find on a closed store: %v", err)
		}
		if err := st.Commit("tok-1", []byte("two"), exp); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Commit on a closed store: %v", err)
		}
		if err := st.Delete("tok-1"); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Delete on a closed store: %v", err)
		}
		if _, err := st.All(); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("All on a closed store: %v", err)
		}
	})
}

func TestWithMemory(t *testing.T) {
	db := testdb.Open(t, "sqlite")
	var writes testdb.Writes
	s, err := sqlstore.New(context.Background(), db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0), sqlstore.WithObserver(&writes))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := New(s); st.mem.Max() != defaultMemory {
		t.Fatalf("default memory %d", st.mem.Max())
	}
	st := New(s, WithMemory(0))
	exp := time.Now().Add(time.Hour)
	for i := 0; i < 2; i++ {
		if err := st.Commit("t", []byte("same"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if ops := writes.Take(); fmt.Sprint(ops) != "[set set]" {
		t.Fatalf("WithMemory(0) wrote %v, want [set set]", ops)
	}
}

// TestLogoutStaysLogout: a request that loaded the session before a logout
// and commits after it, whether it changed the session or not, does not log
// the user back in (with an IdleTimeout, scs commits every request).
func TestLogoutStaysLogout(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		for _, change := range []bool{false, true} {
			t.Run(fmt.Sprintf("changed=%v", change), func(t *testing.T) {
				e := newEnv(t, kind, func(m *scs.SessionManager) { m.IdleTimeout = time.Hour })
				e.entered, e.gate = make(chan struct{}), make(chan struct{})
				c := e.client()
				c.do("/login?user=7")
				token := c.token()
				path := "/slow"
				if change {
					path += "?change=1"
				}
				done := make(chan string)
				slow := &client{e: e, c: &http.Client{Jar: c.c.Jar}}
				go func() {
					resp, err := slow.c.Get(e.srv.URL + path)
					if err != nil {
						done <- err.Error()
						return
					}
					resp.Body.Close()
					done <- resp.Status
				}()
				<-e.entered
				logout := e.client()
				logout.setToken(token)
				logout.do("/destroy")
				close(e.gate)
				if status := <-done; status != "200 OK" {
					t.Fatalf("the slow request: %s", status)
				}
				if _, _, found := e.row(token); found {
					t.Fatal("the slow request's commit brought the logged-out session back")
				}
				replay := e.client()
				replay.setToken(token)
				if got := replay.do("/whoami"); got != "0" {
					t.Fatalf("after logout, the old cookie is user %s; want logged out", got)
				}
			})
		}
	})
}

// TestOwnerKey: with WithOwnerKey, the sessions of a user are listed and
// ended by the user id the app puts at login.
func TestOwnerKey(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		e.st = New(e.sql, WithOwnerKey("userID"))
		e.mgr.Store = e.st
		ctx := context.Background()
		phone, laptop, other := e.client(), e.client(), e.client()
		phone.do("/login?user=42")
		laptop.do("/login?user=42")
		other.do("/login?user=43")
		list, err := e.sql.Sessions(ctx, "42")
		if err != nil || len(list) != 2 {
			t.Fatalf("Sessions(42) = %d, %v; want phone and laptop", len(list), err)
		}
		keys := []string{list[0].Key, list[1].Key}
		if !slices.Contains(keys, e.sql.Key(phone.token())) || !slices.Contains(keys, e.sql.Key(laptop.token())) {
			t.Fatalf("Sessions(42) keys %q; want phone's and laptop's", keys)
		}
		// "Sign out everywhere else", from the phone.
		n, err := e.sql.DeleteOwner(ctx, "42", phone.token())
		if err != nil || n != 1 {
			t.Fatalf("DeleteOwner(42, keep phone) = %d, %v; want 1", n, err)
		}
		if got := laptop.do("/whoami"); got != "0" {
			t.Fatalf("laptop after sign-out everywhere else: user %s, want logged out", got)
		}
		if got := phone.do("/whoami"); got != "42" {
			t.Fatalf("phone: user %s, want 42", got)
		}
		if got := other.do("/whoami"); got != "43" {
			t.Fatalf("another user's session: user %s, want 43", got)
		}
		// A value of another type under the owner key fails the commit.
		e.st = New(e.sql, WithOwnerKey("name"))
		e.mgr.Store = e.st
		if err := e.st.set(ctx, "tok", mustEncode(t, map[string]any{"name": 1.5}), time.Now().Add(time.Hour)); err == nil {
			t.Fatal("an owner value of type float64 was accepted")
		}
	})
}

func mustEncode(t *testing.T, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(time.Now().Add(time.Hour), values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
