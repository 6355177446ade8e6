package ginstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	// The drivers the DSNs need: import only those you use.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/ginstore"
)

// Example counts visits in a Gin session kept in a SQLite file: the
// browser's cookie carries only the signed, encrypted session id.
func Example() {
	dir, err := os.MkdirTemp("", "ginstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sqlStore, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer sqlStore.Close()

	// In production, load the keys from configuration (see Example_server).
	store := ginstore.New(sqlStore, securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	gin.SetMode(gin.ReleaseMode) // no debug lines on stdout
	router := gin.New()
	router.Use(sessions.Sessions("session", store))
	router.GET("/", func(c *gin.Context) {
		session := sessions.Default(c)
		n, _ := session.Get("count").(int)
		session.Set("count", n+1)
		if err := session.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		c.String(http.StatusOK, "visit %d", n+1)
	})
	srv := httptest.NewServer(router)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	n, _ := sqlStore.Count(context.Background())
	fmt.Println("sessions in the table:", n)
	// Output:
	// visit 1
	// visit 2
	// visit 3
	// sessions in the table: 1
}

// Example_server is a complete Gin program whose sessions live in the database of
// DATABASE_URL (postgres://..., mysql://... or sqlite:FILE): a visit counter,
// a login that gives the session a fresh id, and a logout. The cookie keys
// come from SESSION_HASH_KEY and SESSION_BLOCK_KEY, 32 bytes each in hex
// (openssl rand -hex 32). It is compiled with the tests but not run.
func Example_server() {
	hashKey, blockKey := envKey("SESSION_HASH_KEY"), envKey("SESSION_BLOCK_KEY")
	sqlStore, err := sqlstore.Open(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer sqlStore.Close()

	// To rotate keys, put the new pair first and keep the old one after it.
	store := ginstore.New(sqlStore, hashKey, blockKey)
	// Options replace the defaults in full: give every field you want.
	store.Options(sessions.Options{
		Path:     "/",
		MaxAge:   7 * 24 * 3600, // the cookie's Max-Age and the row's expiry
		Secure:   true,          // served over HTTPS
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})

	router := gin.Default()
	router.Use(sessions.Sessions("session", store))

	router.GET("/", func(c *gin.Context) {
		session := sessions.Default(c)
		n, _ := session.Get("count").(int)
		session.Set("count", n+1)
		if err := session.Save(); err != nil { // the database failed
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		c.JSON(http.StatusOK, gin.H{"count": n + 1, "user": session.Get("user")})
	})

	router.POST("/login", func(c *gin.Context) {
		// (Check the credentials first.) A fresh id at login, against
		// session fixation: renew it on the gorilla session behind
		// sessions.Default(c), then Set, which makes Save write.
		gs, err := store.Get(c.Request, "session")
		if err == nil {
			err = store.RenewID(c.Request.Context(), gs)
		}
		if err != nil {
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		session := sessions.Default(c)
		session.Set("user", c.PostForm("user"))
		if err := session.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		c.String(http.StatusOK, "logged in")
	})

	router.POST("/logout", func(c *gin.Context) {
		session := sessions.Default(c)
		session.Clear()
		session.Options(sessions.Options{Path: "/", MaxAge: -1}) // deletes the row and the cookie
		if err := session.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, "try again later")
			return
		}
		c.String(http.StatusOK, "logged out")
	})

	log.Fatal(router.Run("127.0.0.1:8080"))
}

// envKey reads a 32-byte key, hex-encoded, from the environment.
func envKey(name string) []byte {
	k, err := hex.DecodeString(os.Getenv(name))
	if err != nil || len(k) != 32 {
		log.Fatalf("%s must be 64 hex digits (32 bytes); generate one with: openssl rand -hex 32", name)
	}
	return k
}
