package ginstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/ginstore"
	"github.com/go-sqlstore/sqlstore/gorillastore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

const cookieName = "session"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

// newSQL returns a sqlstore.Store on a fresh table of kind whose clock the
// returned OffsetClock moves.
func newSQL(t *testing.T, kind string, opts ...sqlstore.Option) (*sqlstore.Store, *testdb.OffsetClock) {
	t.Helper()
	db := testdb.Open(t, kind)
	clk := &testdb.OffsetClock{}
	s, err := sqlstore.New(context.Background(), db, append([]sqlstore.Option{
		sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithClock(clk.Now), sqlstore.WithPruneInterval(0),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func keys() (hash, block []byte) {
	return securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32)
}

// newStore returns a ginstore.Store over s with new keys.
func newStore(s *sqlstore.Store) *ginstore.Store {
	hash, block := keys()
	return ginstore.New(s, hash, block)
}

// engine is a Gin engine with gin-contrib/sessions' middleware over store:
//
//	/count   adds one to "count" and saves; the body is the new count
//	/same    sets "count" to the value it has and saves
//	/get     the body is "count user", nothing saved
//	/login   renews the id as the package documentation says, sets "user"
//	/logout  clears the session and saves it with MaxAge -1
func engine(store *ginstore.Store) *gin.Engine {
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, store))
	fail := func(c *gin.Context, what string, err error) {
		c.String(http.StatusInternalServerError, "%s: %v", what, err)
	}
	count := func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("count").(int)
		s.Set("count", n+1)
		if err := s.Save(); err != nil {
			fail(c, "save", err)
			return
		}
		c.String(http.StatusOK, "%d", n+1)
	}
	r.GET("/count", count)
	r.GET("/app/count", count)
	r.GET("/same", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("count", s.Get("count"))
		if err := s.Save(); err != nil {
			fail(c, "save", err)
			return
		}
		c.String(http.StatusOK, "%v", s.Get("count"))
	})
	r.GET("/get", func(c *gin.Context) {
		s := sessions.Default(c)
		c.String(http.StatusOK, "%v %v", s.Get("count"), s.Get("user"))
	})
	r.GET("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		_ = s.Get("count") // the gin session is loaded before the renewal
		gs, err := store.Get(c.Request, cookieName)
		if err == nil {
			err = store.RenewID(c.Request.Context(), gs)
		}
		if err != nil {
			fail(c, "renew", err)
			return
		}
		s.Set("user", c.Query("user"))
		if err := s.Save(); err != nil {
			fail(c, "save", err)
			return
		}
		c.String(http.StatusOK, "%v %v", s.Get("count"), s.Get("user"))
	})
	r.GET("/logout", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Clear()
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		if err := s.Save(); err != nil {
			fail(c, "save", err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	return r
}

// client is a browser: an http.Client with a cookie jar, against srv.
type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := *srv.Client() // a copy: srv.Client is shared; it trusts the TLS server's certificate
	hc.Jar = jar
	return &client{t: t, srv: srv, c: &hc}
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get requests path and returns the status, the body and the response.
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

// do is get that fails the test unless the status is 2xx.
func (c *client) do(path string) string {
	c.t.Helper()
	code, body, _ := c.get(path)
	if code/100 != 2 {
		c.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

// cookie returns the value of the session cookie the jar holds, or "".
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

// id decodes the session id from the client's cookie.
func (c *client) id(store *ginstore.Store) string {
	c.t.Helper()
	var id string
	if err := securecookie.DecodeMulti(cookieName, c.cookie(), &id, store.Codecs...); err != nil {
		c.t.Fatalf("decoding the session cookie %q: %v", c.cookie(), err)
	}
	return id
}

// setCookie returns the session cookie a response set, or fails the test.
func setCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			return ck
		}
	}
	t.Fatalf("no %s cookie in %q", cookieName, resp.Header.Values("Set-Cookie"))
	return nil
}

func count(t *testing.T, s *sqlstore.Store, want int64) {
	t.Helper()
	if n, err := s.Count(context.Background()); err != nil || n != want {
		t.Fatalf("sessions in the table: %d %v, want %d", n, err, want)
	}
}

// TestCounter: a counter in a Gin session goes up across requests of one
// browser, the cookie carries only the signed id of a row in the table, and
// another browser has its own session.
func TestCounter(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, _ := newSQL(t, kind)
		store := newStore(s)
		c := newClient(t, serve(t, engine(store)))
		for want := 1; want <= 3; want++ {
			if got := c.do("/count"); got != fmt.Sprint(want) {
				t.Fatalf("request %d: count %q", want, got)
			}
		}
		if got := c.do("/get"); got != "3 <nil>" {
			t.Fatalf("/get: %q, want 3", got)
		}
		id := c.id(store)
		if len(id) != 43 || strings.Contains(c.cookie(), id) {
			t.Fatalf("cookie %q, id %q: want an encrypted 43-character id", c.cookie(), id)
		}
		if len(c.cookie()) > 300 {
			t.Fatalf("the cookie is %d bytes: it should carry only the id", len(c.cookie()))
		}
		if _, _, found := testdb.Row(t, s, id); !found {
			t.Fatal("no row for the cookie's session id")
		}
		count(t, s, 1)

		other := newClient(t, c.srv)
		if got := other.do("/count"); got != "1" {
			t.Fatalf("another browser: count %q, want 1", got)
		}
		if got := c.do("/count"); got != "4" {
			t.Fatalf("first browser after the other: %q, want 4", got)
		}
		count(t, s, 2)
	})
}

// TestTouchOnUnchanged: a Save through Gin of values that did not change
// moves only the expiry (below the touch threshold: writes nothing) and
// still sends the cookie; a change rewrites the row.
func TestTouchOnUnchanged(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, clk := newSQL(t, kind, sqlstore.WithTouchThreshold(time.Hour))
		store := newStore(s)
		c := newClient(t, serve(t, engine(store)))
		c.do("/count")
		id := c.id(store)
		data1, exp1, _ := testdb.Row(t, s, id)

		clk.Add(time.Minute)
		_, body, resp := c.get("/same")
		if body != "1" {
			t.Fatalf("/same: %q", body)
		}
		setCookie(t, resp) // it was saved
		data2, exp2, _ := testdb.Row(t, s, id)
		if string(data2) != string(data1) || !exp2.Equal(exp1) {
			t.Fatalf("an unchanged save rewrote the row: expiry %v then %v", exp1, exp2)
		}

		if got := c.do("/count"); got != "2" {
			t.Fatalf("/count: %q", got)
		}
		data3, exp3, _ := testdb.Row(t, s, id)
		if string(data3) == string(data1) || exp3.Sub(exp1) < time.Minute-time.Second {
			t.Fatalf("a change did not rewrite the row: expiry %v then %v", exp1, exp3)
		}
	})
}

// TestLoginRenewsID: the login of the package documentation, through the
// store under gin-contrib/sessions, gives the browser a new session id,
// keeps the values, deletes the old row and makes the old cookie worthless.
func TestLoginRenewsID(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, _ := newSQL(t, kind)
		store := newStore(s)
		c := newClient(t, serve(t, engine(store)))
		c.do("/count")
		c.do("/count")
		id1, old := c.id(store), c.cookie()

		if got := c.do("/login?user=alice"); got != "2 alice" {
			t.Fatalf("/login: %q", got)
		}
		id2 := c.id(store)
		if id2 == id1 {
			t.Fatal("login kept the session id")
		}
		if _, _, found := testdb.Row(t, s, id1); found {
			t.Fatal("the pre-login row survived")
		}
		if _, _, found := testdb.Row(t, s, id2); !found {
			t.Fatal("no row for the new id")
		}
		count(t, s, 1)
		if got := c.do("/get"); got != "2 alice" {
			t.Fatalf("after login: %q, want the values under the new id", got)
		}

		x := newClient(t, c.srv)
		x.setCookie(old)
		if got := x.do("/get"); got != "<nil> <nil>" {
			t.Fatalf("the pre-login cookie still opens a session: %q", got)
		}
		// A browser with no session logs in too.
		y := newClient(t, c.srv)
		if got := y.do("/login?user=bob"); got != "<nil> bob" {
			t.Fatalf("login without a session: %q", got)
		}
		if got := y.do("/get"); got != "<nil> bob" {
			t.Fatalf("after a login without a session: %q", got)
		}
	})
}

// TestOptions: the store's Options set the cookie's attributes, the row's
// expiry and the codecs' max age.
func TestOptions(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, clk := newSQL(t, kind, sqlstore.WithDefaultTTL(2*time.Hour))
		hash, block := keys()
		store := ginstore.New(s, hash, block)
		srv := httptest.NewTLSServer(engine(store)) // Secure cookies go back over HTTPS only
		t.Cleanup(srv.Close)

		// The defaults, gorillastore's.
		c := newClient(t, srv)
		_, _, resp := c.get("/count")
		if ck := setCookie(t, resp); ck.Path != "/" || !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != gorillastore.DefaultMaxAge {
			t.Fatalf("default cookie %s", ck)
		}

		store.Options(sessions.Options{Path: "/", MaxAge: 600, Secure: true, HttpOnly: false, SameSite: http.SameSiteStrictMode})
		c = newClient(t, srv)
		_, _, resp = c.get("/count")
		ck := setCookie(t, resp)
		if ck.Path != "/" || ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != 600 {
			t.Fatalf("cookie %s: want Path=/, no HttpOnly, Secure, SameSite=Strict, Max-Age=600", ck)
		}
		_, exp, found := testdb.Row(t, s, c.id(store))
		if d := exp.Sub(clk.Now()); !found || d > 600*time.Second || d < 590*time.Second {
			t.Fatalf("row expires in %v (found %v), want 600s", d, found)
		}
		if got := c.do("/count"); got != "2" {
			t.Fatalf("the Secure cookie did not come back: count %q", got)
		}

		// MaxAge 0: a browser-session cookie and a row of the default TTL.
		store.Options(sessions.Options{Path: "/app", HttpOnly: true, SameSite: http.SameSiteNoneMode, Secure: true})
		c = newClient(t, srv)
		_, _, resp = c.get("/app/count")
		ck = setCookie(t, resp)
		h := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
		if ck.Path != "/app" || !ck.HttpOnly || ck.SameSite != http.SameSiteNoneMode || strings.Contains(h, "Max-Age") || strings.Contains(h, "Expires") {
			t.Fatalf("Set-Cookie %q: want Path=/app, HttpOnly, SameSite=None and no expiry", h)
		}
		var id string
		if err := securecookie.DecodeMulti(cookieName, ck.Value, &id, store.Codecs...); err != nil {
			t.Fatal(err)
		}
		_, exp, found = testdb.Row(t, s, id)
		if d := exp.Sub(clk.Now()); !found || d > 2*time.Hour || d < 2*time.Hour-time.Minute {
			t.Fatalf("MaxAge 0 row expires in %v (found %v), want the 2h default TTL", d, found)
		}
		if got := c.do("/app/count"); got != "2" {
			t.Fatalf("the /app cookie did not come back: count %q", got)
		}
		if got := c.do("/get"); got != "<nil> <nil>" {
			t.Fatalf("the /app cookie was sent to /: %q", got)
		}

		// MaxAge 1 bounds the cookie's age too: two seconds later the codecs
		// refuse it although its row, by the store's clock, is live.
		store.Options(sessions.Options{Path: "/", MaxAge: 1, Secure: true})
		c = newClient(t, srv)
		c.do("/count")
		old := c.cookie()
		time.Sleep(2100 * time.Millisecond)
		clk.Add(-time.Minute)
		if err := securecookie.DecodeMulti(cookieName, old, &id, securecookie.CodecsFromPairs(hash, block)...); err != nil {
			t.Fatalf("the cookie does not verify with the keys alone: %v", err)
		}
		if _, _, found := testdb.Row(t, s, id); !found {
			t.Fatal("the row should still be live by the store's clock")
		}
		c.setCookie(old) // the jar dropped it after its Max-Age: send it as an attacker would
		if got := c.do("/count"); got != "1" {
			t.Fatalf("a cookie older than MaxAge 1: count %q, want a new session", got)
		}
	})
}

// TestLogout: Clear and MaxAge -1 delete the row and the cookie; the old
// cookie, replayed, opens nothing.
func TestLogout(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, _ := newSQL(t, kind)
		store := newStore(s)
		c := newClient(t, serve(t, engine(store)))
		c.do("/login?user=alice")
		c.do("/count")
		id, old := c.id(store), c.cookie()
		count(t, s, 1)

		_, _, resp := c.get("/logout")
		if ck := setCookie(t, resp); ck.Value != "" || ck.MaxAge >= 0 {
			t.Fatalf("logout cookie %s: want an empty, expired cookie", ck)
		}
		if _, found, err := s.Get(context.Background(), id); err != nil || found {
			t.Fatalf("the row after logout: found %v, %v", found, err)
		}
		count(t, s, 0)
		if got := c.cookie(); got != "" {
			t.Fatalf("the browser kept the cookie %q", got)
		}
		if got := c.do("/get"); got != "<nil> <nil>" {
			t.Fatalf("after logout: %q", got)
		}
		c.setCookie(old)
		if got := c.do("/count"); got != "1" {
			t.Fatalf("the replayed cookie after logout: count %q, want 1", got)
		}
		if c.id(store) == id {
			t.Fatal("the logged-out id was reused")
		}
	})
}

// TestRestart: a new engine and a new sqlstore.Store, on a new pool, over
// the same table and with the same keys, take the old cookie's session up.
func TestRestart(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		dsn := testdb.DSN(t, kind)
		db1 := testdb.OpenDSN(t, kind, dsn)
		table := testdb.Table(t, db1)
		hash, block := keys()
		s1, err := sqlstore.New(context.Background(), db1, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		store1 := ginstore.New(s1, hash, block)
		srv1 := httptest.NewServer(engine(store1))
		c := newClient(t, srv1)
		c.do("/login?user=alice")
		c.do("/count")
		c.do("/count")
		id, cookie := c.id(store1), c.cookie()
		srv1.Close()
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}

		db2 := testdb.OpenDSN(t, kind, dsn)
		s2, err := sqlstore.New(context.Background(), db2, sqlstore.WithTable(table), sqlstore.WithPruneInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		store2 := ginstore.New(s2, hash, block)
		c.srv = serve(t, engine(store2))
		c.setCookie(cookie)
		if got := c.do("/count"); got != "3" {
			t.Fatalf("after the restart: count %q, want 3", got)
		}
		if got := c.do("/get"); got != "3 alice" {
			t.Fatalf("after the restart: %q", got)
		}
		if got := c.id(store2); got != id {
			t.Fatalf("the restart changed the id: %q, want %q", got, id)
		}
		count(t, s2, 1)

		// Other keys after the restart: the cookie opens nothing.
		d := newClient(t, serve(t, engine(newStore(s2))))
		d.setCookie(cookie)
		if got := d.do("/get"); got != "<nil> <nil>" {
			t.Fatalf("the cookie under other keys: %q", got)
		}
	})
}

// TestDatabaseError: gin-contrib/sessions only logs a failed load, so the
// Save that follows must refuse (gorillastore.ErrNotLoaded) rather than
// replace the stored session with an empty one.
func TestDatabaseError(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		s, _ := newSQL(t, kind)
		store := newStore(s)
		c := newClient(t, serve(t, engine(store)))
		c.do("/count")
		cookie := c.cookie()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		code, body, resp := c.get("/count")
		if code != http.StatusInternalServerError || !strings.Contains(body, gorillastore.ErrNotLoaded.Error()) {
			t.Fatalf("/count on a closed store: %d %q, want ErrNotLoaded", code, body)
		}
		if len(resp.Cookies()) != 0 || c.cookie() != cookie {
			t.Fatal("a failed load replaced the cookie")
		}
		code, body, _ = c.get("/login?user=mallory")
		if code != http.StatusInternalServerError || !strings.HasPrefix(body, "renew: ") || !strings.Contains(body, sqlstore.ErrClosed.Error()) {
			t.Fatalf("/login on a closed store: %d %q, want the load's error", code, body)
		}
	})
}
