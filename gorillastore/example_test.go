package gorillastore_test

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
	"strings"

	"github.com/gorilla/securecookie"
	_ "modernc.org/sqlite" // the SQLite driver sqlstore.Open uses for sqlite: DSNs

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/gorillastore"
)

// Example keeps a gorilla/sessions session in a SQLite file: the cookie
// carries only the signed id, and a value far larger than a cookie can hold
// round-trips.
func Example() {
	dir, err := os.MkdirTemp("", "gorillastore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// In production, load the keys from configuration: new keys each run log
	// every user out.
	sessions := gorillastore.New(store, securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session, err := sessions.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/put" {
			session.Values["note"] = strings.Repeat("a", 10000)
		}
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		note, _ := session.Values["note"].(string)
		fmt.Fprintf(w, "new=%v note=%d bytes", session.IsNew, len(note))
	}))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for _, path := range []string{"/put", "/get"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(path, string(body))
	}
	// Output:
	// /put new=true note=10000 bytes
	// /get new=false note=10000 bytes
}

// Example_server is the complete program the README links: a login flow whose
// gorilla/sessions sessions live in the database of DATABASE_URL. The keys
// come from SESSION_HASH_KEY and SESSION_BLOCK_KEY (32 bytes each, hex). It
// is compiled with the tests but not run.
func Example_server() {
	// The drivers the DSNs need: import only those you use.
	// import (
	//	_ "github.com/go-sql-driver/mysql"
	//	_ "github.com/lib/pq"
	//	_ "modernc.org/sqlite"
	// )
	hashKey, err := hexKey("SESSION_HASH_KEY")
	if err != nil {
		log.Fatal(err)
	}
	blockKey, err := hexKey("SESSION_BLOCK_KEY")
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.Open(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// To rotate keys, put the new pair first and keep the old one after it:
	// gorillastore.New(store, newHash, newBlock, hashKey, blockKey).
	sessions := gorillastore.New(store, hashKey, blockKey)
	sessions.Options.Secure = true // served over HTTPS

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		session, err := sessions.Get(r, "session")
		if err != nil { // the database failed; the session is not lost
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		user, _ := session.Values["user"].(string)
		// Save on every request keeps the session alive; unchanged values
		// are not rewritten.
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello %q\n", user)
	})
	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		session, err := sessions.Get(r, "session")
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		// A fresh id on login, against session fixation.
		if err := sessions.RenewID(r.Context(), session); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		session.Values["user"] = r.FormValue("user")
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "logged in")
	})
	http.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		session, err := sessions.Get(r, "session")
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		session.Options.MaxAge = -1 // deletes the row and the cookie
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "logged out")
	})

	log.Println("listening on http://127.0.0.1:8080")
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// hexKey reads a 32-byte key, hex-encoded, from the environment.
func hexKey(name string) ([]byte, error) {
	k, err := hex.DecodeString(os.Getenv(name))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%s must be 64 hex digits (32 bytes); generate one with: openssl rand -hex 32", name)
	}
	return k, nil
}
