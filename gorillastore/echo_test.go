package gorillastore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/gorillastore"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// TestEcho plugs a gorillastore.Store, unchanged, into Echo's session
// middleware (github.com/labstack/echo-contrib/session).
func TestEcho(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, kind)
			s, err := sqlstore.New(context.Background(), db, sqlstore.WithTable(testdb.Table(t, db)), sqlstore.WithPruneInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			e := echo.New()
			e.Use(session.Middleware(gorillastore.New(s, securecookie.GenerateRandomKey(32))))
			e.GET("/visit", func(c echo.Context) error {
				sess, err := session.Get("session", c)
				if err != nil {
					return err
				}
				n, _ := sess.Values["visits"].(int)
				sess.Values["visits"] = n + 1
				if err := sess.Save(c.Request(), c.Response()); err != nil {
					return err
				}
				return c.String(http.StatusOK, fmt.Sprint(n+1))
			})
			e.GET("/logout", func(c echo.Context) error {
				sess, err := session.Get("session", c)
				if err != nil {
					return err
				}
				sess.Options.MaxAge = -1
				if err := sess.Save(c.Request(), c.Response()); err != nil {
					return err
				}
				return c.NoContent(http.StatusNoContent)
			})
			srv := httptest.NewServer(e)
			defer srv.Close()

			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar}
			get := func(path string) string {
				t.Helper()
				resp, err := client.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode >= 300 {
					t.Fatalf("GET %s: %s %s", path, resp.Status, b)
				}
				return strings.TrimSpace(string(b))
			}
			for want := 1; want <= 3; want++ {
				if got := get("/visit"); got != fmt.Sprint(want) {
					t.Fatalf("visit %d: got %q", want, got)
				}
			}
			if n, err := s.Count(context.Background()); err != nil || n != 1 {
				t.Fatalf("sessions in the table: %d %v, want 1", n, err)
			}
			get("/logout")
			if n, err := s.Count(context.Background()); err != nil || n != 0 {
				t.Fatalf("sessions after logout: %d %v, want 0", n, err)
			}
			if got := get("/visit"); got != "1" {
				t.Fatalf("visit after logout: %q, want 1", got)
			}
		})
	}
}
