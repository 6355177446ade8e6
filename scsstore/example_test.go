package scsstore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/v2"
	_ "modernc.org/sqlite" // the SQLite driver sqlstore.Open uses for sqlite: DSNs

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/scsstore"
)

// Example serves a session in a SQLite file through scs and reads it back.
func Example() {
	dir, err := os.MkdirTemp("", "scsstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sessionManager := scs.New()
	sessionManager.Lifetime = 24 * time.Hour
	sessionManager.IdleTimeout = 20 * time.Minute
	sessionManager.Store = scsstore.New(store)

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		sessionManager.Put(r.Context(), "message", "Hello from a session!")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessionManager.GetString(r.Context(), "message"))
	})
	srv := httptest.NewServer(sessionManager.LoadAndSave(mux))
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
		if path == "/get" {
			fmt.Println("message:", string(body))
		}
	}
	n, err := store.Count(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sessions in the table:", n)
	// Output:
	// message: Hello from a session!
	// sessions in the table: 1
}

// Example_server is the complete program the README links: an HTTP server whose
// scs sessions live in the database of DATABASE_URL (PostgreSQL, MySQL or
// SQLite), or in the SQLite file sessions.db when it is unset. It is compiled
// with the tests but not run.
func Example_server() {
	// The drivers the DSNs need: import only those you use.
	// import (
	//	_ "github.com/go-sql-driver/mysql"
	//	_ "github.com/lib/pq"
	//	_ "modernc.org/sqlite"
	// )
	store, err := sqlstore.Open(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sessionManager := scs.New()
	sessionManager.Lifetime = 24 * time.Hour
	sessionManager.IdleTimeout = 30 * time.Minute
	sessionManager.Codec = scsstore.Codec{} // optional: touch unchanged sessions instead of rewriting them
	sessionManager.Store = scsstore.New(store)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := sessionManager.GetInt(r.Context(), "visits") + 1
		sessionManager.Put(r.Context(), "visits", n)
		fmt.Fprintf(w, "visit %d\n", n)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		// Renew the token when the privilege level changes.
		if err := sessionManager.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sessionManager.Put(r.Context(), "user", r.FormValue("user"))
		fmt.Fprintln(w, "logged in")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionManager.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "logged out")
	})

	log.Println("listening on http://127.0.0.1:8080")
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", sessionManager.LoadAndSave(mux)))
}
