package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

const cookieName = "session"

type env struct {
	t      *testing.T
	sql    *sqlstore.Store
	clk    *testdb.OffsetClock
	writes testdb.Writes // the store's writes: "set" or "touch"
}

func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func newEnv(t *testing.T, kind string, opts ...sqlstore.Option) *env {
	t.Helper()
	db := testdb.Open(t, kind)
	e := &env{t: t, clk: &testdb.OffsetClock{}}
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithClock(e.clk.Now), sqlstore.WithPruneInterval(0), sqlstore.WithObserver(&e.writes),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.sql = s
	return e
}

// store returns a gorillastore over the env's table (whose store records
// its writes).
func (e *env) store(keyPairs ...[]byte) *Store { return New(e.sql, keyPairs...) }

func (e *env) takeOps() []string { return e.writes.Take() }

// handler serves the session operations of the tests. Every response body
// starts with "new " or "old " (IsNew), then the value asked for.
func handler(st sessions.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session, err := st.Get(r, cookieName)
		if err != nil {
			http.Error(w, "get: "+err.Error(), http.StatusInternalServerError)
			return
		}
		q := r.URL.Query()
		switch r.URL.Path {
		case "/put":
			for k, v := range q {
				session.Values[k] = v[0]
			}
		case "/big":
			n, _ := strconv.Atoi(q.Get("n"))
			session.Values["big"] = strings.Repeat("x", n)
			session.Values["n"] = n
		case "/delete":
			session.Options.MaxAge = -1
		case "/renew":
			if err := st.(*Store).RenewID(r.Context(), session); err != nil {
				http.Error(w, "renew: "+err.Error(), http.StatusInternalServerError)
				return
			}
			session.Values["renewed"] = "yes"
		case "/maxage":
			session.Options.MaxAge, _ = strconv.Atoi(q.Get("s"))
		}
		if err := session.Save(r, w); err != nil {
			http.Error(w, "save: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if session.IsNew {
			io.WriteString(w, "new ")
		} else {
			io.WriteString(w, "old ")
		}
		if k := q.Get("k"); k != "" {
			fmt.Fprint(w, session.Values[k])
		}
	})
	return mux
}

type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: srv, c: &http.Client{Jar: jar}}
}

func serve(t *testing.T, st sessions.Store) *httptest.Server {
	srv := httptest.NewServer(handler(st))
	t.Cleanup(srv.Close)
	return srv
}

// get requests path and returns the status code, body and response.
func (c *client) get(path string) (int, string, *http.Response) {
	c.t.Helper()
	resp, err := c.c.Get(c.srv.URL + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp
}

// do is get that fails the test unless the status is 200.
func (c *client) do(path string) string {
	c.t.Helper()
	code, body, _ := c.get(path)
	if code != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

func (c *client) cookie() string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

func (c *client) setCookie(v string) {
	u, _ := url.Parse(c.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: v, Path: "/"}})
}

// id decodes the session id of the client's cookie.
func (c *client) id(st *Store) string {
	c.t.Helper()
	var id string
	if err := securecookie.DecodeMulti(cookieName, c.cookie(), &id, st.Codecs...); err != nil {
		c.t.Fatalf("decoding the cookie: %v", err)
	}
	return id
}

// row returns the stored data and expiry of session id.
func (e *env) row(id string) (data []byte, exp time.Time, found bool) {
	e.t.Helper()
	return testdb.Row(e.t, e.sql, id)
}

func keys() (hash, block []byte) {
	return securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)
}

func TestNewSessionAndRoundTrip(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		st := e.store(keys())
		c := newClient(t, serve(t, st))
		_, body, resp := c.get("/put?name=alice")
		if body != "new " {
			t.Fatalf("first request: %q, want a new session", body)
		}
		var ck *http.Cookie
		for _, x := range resp.Cookies() {
			if x.Name == cookieName {
				ck = x
			}
		}
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != DefaultMaxAge {
			t.Fatalf("cookie %s: want Path=/, HttpOnly, SameSite=Lax, Max-Age=%d", ck, DefaultMaxAge)
		}
		id := c.id(st)
		if len(id) != 43 || strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			t.Fatalf("session id %q: want 43 printable characters (32 random bytes)", id)
		}
		if strings.Contains(ck.Value, id) {
			t.Fatal("the cookie carries the id in clear")
		}
		data, exp, found := e.row(id)
		if !found {
			t.Fatal("no row for the new session")
		}
		if strings.Contains(string(data), id) {
			t.Fatal("the row's data holds the id")
		}
		if d := exp.Sub(e.clk.Now()); d > DefaultMaxAge*time.Second || d < DefaultMaxAge*time.Second-time.Minute {
			t.Fatalf("row expires in %v, want MaxAge", d)
		}
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("second request: %q, want old alice", got)
		}

		// Values far above securecookie's 4096-byte cookie limit.
		c.do("/big?n=100000")
		if got := c.do("/get?k=big"); got != "old "+strings.Repeat("x", 100000) {
			t.Fatalf("big value: %d bytes back", len(got))
		}
		if got := c.do("/get?k=n"); got != "old 100000" {
			t.Fatalf("n = %q", got)
		}
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("name = %q after other puts", got)
		}
		if n := len(c.cookie()); n > 300 {
			t.Fatalf("the cookie is %d bytes; it should carry only the id", n)
		}
		// Another browser has its own session.
		if got := newClient(t, c.srv).do("/get?k=name"); got != "new <nil>" {
			t.Fatalf("another client: %q", got)
		}
	})
}

func TestTouchOnUnchangedValues(t *testing.T) {
	for _, threshold := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("threshold=%v", threshold), func(t *testing.T) {
			eachKind(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, sqlstore.WithTouchThreshold(threshold))
				st := e.store(keys())
				c := newClient(t, serve(t, st))
				c.do("/put?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8")
				if ops := e.takeOps(); fmt.Sprint(ops) != "[set]" {
					t.Fatalf("first save wrote %v, want [set]", ops)
				}
				id := c.id(st)
				data1, exp1, _ := e.row(id)
				e.clk.Add(time.Minute) // MaxAge counts from the store's clock
				for i := 0; i < 5; i++ {
					if got := c.do("/get?k=h"); got != "old 8" {
						t.Fatalf("h = %q", got)
					}
				}
				if ops := e.takeOps(); fmt.Sprint(ops) != "[touch touch touch touch touch]" {
					t.Fatalf("unchanged saves wrote %v, want only touches", ops)
				}
				data2, exp2, _ := e.row(id)
				if string(data1) != string(data2) {
					t.Fatal("a touch changed the data")
				}
				if want := exp1.Add(time.Minute); threshold == 0 && (exp2.Before(want) || exp2.After(want.Add(time.Minute))) {
					t.Fatalf("expiry %v, want about %v: moved by the clock's minute", exp2, want)
				}
				if threshold > 0 && !exp2.Equal(exp1) {
					t.Fatalf("a move below the threshold was written: %v then %v", exp1, exp2)
				}
				c.do("/put?a=changed")
				if ops := e.takeOps(); fmt.Sprint(ops) != "[set]" {
					t.Fatalf("a change wrote %v, want [set]", ops)
				}
				if got := c.do("/get?k=a"); got != "old changed" {
					t.Fatalf("a = %q", got)
				}
			})
		})
	}
}

func TestExpiryAndMaxAge(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, sqlstore.WithDefaultTTL(2*time.Hour))
		st := e.store(keys())
		st.MaxAge(3600)
		c := newClient(t, serve(t, st))
		c.do("/put?name=alice")
		e.clk.Add(3599 * time.Second)
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("after 3599s of 3600: %q", got)
		}
		// That Save moved the expiry to the clock's now + 3600s.
		e.clk.Add(3599 * time.Second)
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("after a save and 3599s more: %q", got)
		}
		e.clk.Add(3601 * time.Second)
		if got := c.do("/get?k=name"); got != "new <nil>" {
			t.Fatalf("after 3601s idle: %q, want a new session", got)
		}

		// MaxAge 0: a browser-session cookie, a row of the default TTL.
		c2 := newClient(t, c.srv)
		_, _, resp := c2.get("/maxage?s=0")
		if h := resp.Header.Get("Set-Cookie"); strings.Contains(h, "Max-Age") || strings.Contains(h, "Expires") {
			t.Fatalf("MaxAge 0 cookie %q has an expiry", h)
		}
		_, exp, found := e.row(c2.id(st))
		if d := exp.Sub(e.clk.Now()); !found || d > 2*time.Hour || d < 2*time.Hour-time.Minute {
			t.Fatalf("MaxAge 0 row expires in %v (found %v), want the 2h default TTL", d, found)
		}
	})
}

func TestDelete(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		st := e.store(keys())
		c := newClient(t, serve(t, st))
		c.do("/put?name=alice")
		id := c.id(st)
		old := c.cookie()
		_, _, resp := c.get("/delete")
		if _, _, found := e.row(id); found {
			t.Fatal("MaxAge -1 left the row")
		}
		h := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(h, cookieName+"=;") || !strings.Contains(h, "Max-Age=0") || !strings.Contains(h, "Expires=Thu, 01 Jan 1970") {
			t.Fatalf("Set-Cookie %q: want an empty, expired cookie", h)
		}
		if got := c.cookie(); got != "" {
			t.Fatalf("the browser kept cookie %q", got)
		}
		// The old cookie, replayed, names no session.
		c.setCookie(old)
		if got := c.do("/get?k=name"); got != "new <nil>" {
			t.Fatalf("replayed cookie after delete: %q", got)
		}
		if got := c.id(st); got == id {
			t.Fatal("a deleted session's id was reused")
		}
		// Deleting a session never saved writes only the cookie.
		if got := newClient(t, c.srv).do("/delete"); got != "new " {
			t.Fatalf("delete of a new session: %q", got)
		}
	})
}

func TestTamperedAndUnknownCookies(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		hash, block := keys()
		st := e.store(hash, block)
		srv := serve(t, st)
		c := newClient(t, srv)
		c.do("/put?name=alice")
		good := c.cookie()
		id := c.id(st)

		tampered := []byte(good)
		tampered[len(tampered)/2] ^= 1
		if tampered[len(tampered)/2] == '=' || tampered[len(tampered)/2] < '0' {
			tampered[len(tampered)/2] = 'A'
		}
		other, _ := New(e.sql, securecookie.GenerateRandomKey(32)).Codecs[0].Encode(cookieName, id)
		signedNoBlock, _ := New(e.sql, hash).Codecs[0].Encode(cookieName, id) // right hash key, not encrypted
		for name, v := range map[string]string{
			"tampered":        string(tampered),
			"unknown key":     other,
			"not encrypted":   signedNoBlock,
			"garbage":         "garbage",
			"raw id":          id,
			"other name":      mustEncode(t, st, "other", id),
			"deleted session": mustEncode(t, st, cookieName, "no-such-session"),
		} {
			t.Run(name, func(t *testing.T) {
				x := newClient(t, srv)
				x.setCookie(v)
				if got := x.do("/get?k=name"); got != "new <nil>" {
					t.Fatalf("%s cookie: %q, want a new session", name, got)
				}
				if x.id(st) == id {
					t.Fatal("the new session took the old id")
				}
			})
		}
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("the real session after the attempts: %q", got)
		}
	})
}

func mustEncode(t *testing.T, st *Store, name, id string) string {
	t.Helper()
	v, err := securecookie.EncodeMulti(name, id, st.Codecs...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRenewID(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		st := e.store(keys())
		c := newClient(t, serve(t, st))
		c.do("/put?name=alice")
		id, old := c.id(st), c.cookie()
		if got := c.do("/renew?k=name"); got != "new alice" {
			t.Fatalf("renew: %q, want the values under a new session", got)
		}
		id2 := c.id(st)
		if id2 == id {
			t.Fatal("RenewID kept the id")
		}
		if _, _, found := e.row(id); found {
			t.Fatal("the old id's row survived RenewID")
		}
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("after renew: %q", got)
		}
		if got := c.do("/get?k=renewed"); got != "old yes" {
			t.Fatalf("after renew: renewed = %q", got)
		}
		x := newClient(t, c.srv)
		x.setCookie(old)
		if got := x.do("/get?k=name"); got != "new <nil>" {
			t.Fatalf("the pre-renew cookie still works: %q", got)
		}
		// A new session renews without a row to delete.
		if got := newClient(t, c.srv).do("/renew?k=renewed"); got != "new yes" {
			t.Fatalf("renew of a new session: %q", got)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		oldHash, oldBlock := keys()
		newHash, newBlock := keys()
		before := e.store(oldHash, oldBlock)
		c := newClient(t, serve(t, before))
		c.do("/put?name=alice")
		id := c.id(before)

		after := e.store(newHash, newBlock, oldHash, oldBlock)
		c.srv = serve(t, after)
		c.setCookie(c.cookie()) // the same cookie, on the new server
		if got := c.do("/get?k=name"); got != "old alice" {
			t.Fatalf("an old-key cookie after rotation: %q", got)
		}
		if got := c.id(after); got != id {
			t.Fatalf("rotation changed the id: %q, want %q", got, id)
		}
		// The new cookie is signed with the new pair only.
		var x string
		if err := securecookie.DecodeMulti(cookieName, c.cookie(), &x, before.Codecs...); err == nil {
			t.Fatal("the re-saved cookie still verifies with the old pair alone")
		}
		if err := securecookie.DecodeMulti(cookieName, c.cookie(), &x, New(e.sql, newHash, newBlock).Codecs...); err != nil || x != id {
			t.Fatalf("the re-saved cookie does not verify with the new pair: %v", err)
		}
		// Dropping the old pair invalidates old cookies.
		dropped := e.store(newHash, newBlock)
		d := newClient(t, serve(t, dropped))
		d.setCookie(mustEncode(t, before, cookieName, id))
		if got := d.do("/get?k=name"); got != "new <nil>" {
			t.Fatalf("an old-key cookie after dropping the old pair: %q", got)
		}
	})
}

func TestDatabaseErrors(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		st := e.store(keys())
		c := newClient(t, serve(t, st))
		c.do("/put?name=alice")
		cookie := c.cookie()
		if err := e.sql.Close(); err != nil {
			t.Fatal(err)
		}

		code, body, _ := c.get("/get?k=name")
		if code != http.StatusInternalServerError || !strings.HasPrefix(body, "get: ") || !strings.Contains(body, "closed") {
			t.Fatalf("Get on a closed store: %d %q, want the error", code, body)
		}
		if c.cookie() != cookie {
			t.Fatal("a failed load replaced the cookie")
		}

		// Directly: Get returns the error; Save of that session refuses.
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		session, err := st.Get(r, cookieName)
		if !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Get: %v, want ErrClosed", err)
		}
		if session == nil || session.IsNew || session.ID != "" || len(session.Values) != 0 {
			t.Fatalf("Get's session on error: %+v", session)
		}
		if err := st.RenewID(context.Background(), session); !errors.Is(err, ErrNotLoaded) {
			t.Fatalf("RenewID of an unloaded session: %v, want ErrNotLoaded", err)
		}
		w := httptest.NewRecorder()
		if err := session.Save(r, w); !errors.Is(err, ErrNotLoaded) {
			t.Fatalf("Save of an unloaded session: %v, want ErrNotLoaded", err)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Fatal("Save of an unloaded session set a cookie")
		}
		// A new session cannot be saved either.
		r = httptest.NewRequest("GET", "/", nil)
		session, err = st.New(r, cookieName)
		if err != nil || !session.IsNew {
			t.Fatalf("New without a cookie: %v %v", session, err)
		}
		session.Values["x"] = 1
		if err := st.Save(r, httptest.NewRecorder(), session); !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("Save on a closed store: %v, want ErrClosed", err)
		}
	})
}

func TestNoKeys(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		for _, pairs := range [][][]byte{nil, {nil, nil}} {
			e := newEnv(t, kind)
			st := New(e.sql, pairs...)
			for range 3 {
				r := httptest.NewRequest("GET", "/", nil)
				session, err := st.Get(r, cookieName)
				if err != nil {
					t.Fatal(err)
				}
				session.Values["user"] = "alice"
				w := httptest.NewRecorder()
				if err := session.Save(r, w); err == nil || !strings.Contains(err.Error(), "hash key") {
					t.Errorf("Save with key pairs %v: %v; want an error about the hash key", pairs, err)
				}
				if len(w.Result().Cookies()) != 0 {
					t.Errorf("Save with key pairs %v set a cookie", pairs)
				}
			}
			if n, err := e.sql.Count(context.Background()); err != nil || n != 0 {
				t.Errorf("after failed Saves with key pairs %v, the table holds %d rows (%v); want none", pairs, n, err)
			}
		}
	})
}

func TestEncodeStable(t *testing.T) {
	values := map[any]any{"a": 1, "b": "two", 3: true, "d": []string{"x"}, "e": 2.5}
	first, err := encode(values)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		b, err := encode(values)
		if err != nil || string(b) != string(first) {
			t.Fatal("the same values encoded to different bytes")
		}
	}
	got, err := decode(first)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(values) {
		t.Fatalf("decode = %v %v, want %v", got, err, values)
	}
	if _, err := encode(map[any]any{"f": func() {}}); err == nil {
		t.Fatal("encoding a func succeeded")
	}
	if _, err := decode([]byte("junk")); err == nil {
		t.Fatal("decoding junk succeeded")
	}
}

// accountHandler serves login, a slow request held between its load and its
// save, logout and whoami, for the tests of sessions that belong to a user.
func accountHandler(st *Store, entered, gate chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session, err := st.Get(r, cookieName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/login":
			if err := st.RenewID(r.Context(), session); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			session.Values["user"] = r.URL.Query().Get("user")
		case "/slow":
			entered <- struct{}{}
			<-gate
			if r.URL.Query().Has("change") {
				session.Values["seen"] = time.Now().UnixNano()
			}
		case "/logout":
			session.Options.MaxAge = -1
		}
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, session.Values["user"])
	})
	return mux
}

// TestLogoutStaysLogout: a request that loaded the session before a logout
// and saves it after, changed or not, does not log the user back in.
func TestLogoutStaysLogout(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		for _, change := range []bool{false, true} {
			t.Run(fmt.Sprintf("changed=%v", change), func(t *testing.T) {
				e := newEnv(t, kind)
				entered, gate := make(chan struct{}), make(chan struct{})
				srv := httptest.NewServer(accountHandler(e.store(keys()), entered, gate))
				defer srv.Close()
				c := newClient(t, srv)
				c.do("/login?user=ann")
				cookie := c.cookie()
				path := "/slow"
				if change {
					path += "?change=1"
				}
				done := make(chan int)
				go func() {
					req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
					req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						done <- 0
						return
					}
					resp.Body.Close()
					done <- resp.StatusCode
				}()
				<-entered
				c.do("/logout")
				close(gate)
				if code := <-done; code != http.StatusOK {
					t.Fatalf("the slow request: status %d", code)
				}
				if n, err := e.sql.Count(context.Background()); err != nil || n != 0 {
					t.Fatalf("Count after logout = %d, %v; want 0 live sessions", n, err)
				}
				replay := newClient(t, srv)
				u, _ := url.Parse(srv.URL)
				replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: cookie, Path: "/"}})
				if got := replay.do("/whoami"); got != "<nil>" {
					t.Fatalf("after logout, the old cookie is user %q; want logged out", got)
				}
			})
		}
	})
}

// TestOwnerKey: with OwnerKey, the sessions of a user are listed and ended
// by the user id the app puts in the session at login.
func TestOwnerKey(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		st := e.store(keys())
		st.OwnerKey = "user"
		srv := httptest.NewServer(accountHandler(st, nil, nil))
		defer srv.Close()
		ctx := context.Background()
		phone, laptop, other := newClient(t, srv), newClient(t, srv), newClient(t, srv)
		phone.do("/login?user=ann")
		laptop.do("/login?user=ann")
		other.do("/login?user=bob")
		list, err := e.sql.Sessions(ctx, "ann")
		if err != nil || len(list) != 2 {
			t.Fatalf("Sessions(ann) = %d, %v; want phone and laptop", len(list), err)
		}
		n, err := e.sql.DeleteOwner(ctx, "ann")
		if err != nil || n != 2 {
			t.Fatalf("DeleteOwner(ann) = %d, %v; want 2", n, err)
		}
		for _, c := range []*client{phone, laptop} {
			if got := c.do("/whoami"); got != "<nil>" {
				t.Fatalf("a session of ann after DeleteOwner: user %q, want logged out", got)
			}
		}
		if got := other.do("/whoami"); got != "bob" {
			t.Fatalf("bob's session: user %q, want bob", got)
		}
	})
}
