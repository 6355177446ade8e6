// Command webapp is a small web site that keeps its sessions in a SQL
// database with sqlstore, through the scs session manager
// (github.com/alexedwards/scs/v2). It is the quick start of sqlstore:
//
//	go run ./examples/webapp
//
// then open http://127.0.0.1:8080. The site has a visit counter, a login
// form that stores a user name in the session, a logout button, and a page
// with the number of active sessions. Stop it with Ctrl-C and start it
// again: the sessions are still there, because they live in the database.
//
// With no configuration the sessions go to the SQLite file sessions.db in
// the working directory. Set DATABASE_URL to use PostgreSQL or MySQL:
//
//	DATABASE_URL='postgres://user:pass@127.0.0.1:5432/db?sslmode=disable' go run ./examples/webapp
//	DATABASE_URL='mysql://user:pass@127.0.0.1:3306/db' go run ./examples/webapp
//
// Set SESSION_KEYS to encrypt the session data in the table (AES-256-GCM,
// sqlstore.WithEncryption): base64 keys of 32 bytes, comma-separated, the
// key that encrypts first. To rotate, put a new key first, run
// `sqlstore rekey` with the same keys in SQLSTORE_KEYS, then drop the old one:
//
//	SESSION_KEYS="$(head -c 32 /dev/urandom | base64)" go run ./examples/webapp
//
// Flags: -addr (or ADDR) is the address to listen on, 127.0.0.1:8080 by
// default; -table (or SESSIONS_TABLE) is the sessions table, "sessions" by
// default.
package main

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/scsstore"

	// sqlstore imports no database driver: the program chooses. These three
	// register "postgres", "mysql" and "sqlite" (pure Go, no cgo).
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "address to listen on (env ADDR)")
	table := flag.String("table", envOr("SESSIONS_TABLE", defaults.Table), "sessions table (env SESSIONS_TABLE)")
	flag.Parse()

	// Ctrl-C (SIGINT) or SIGTERM cancels ctx, which shuts the server down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, *addr, *table, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// run serves the site on addr until ctx is done, then shuts down.
func run(ctx context.Context, addr, table string, out io.Writer) error {
	// 1. The store: an empty DSN means DATABASE_URL, else SQLite's
	// sessions.db. Open creates the table if it is missing.
	opts := []sqlstore.Option{sqlstore.WithTable(table)}
	if v := os.Getenv("SESSION_KEYS"); v != "" {
		keys, err := parseKeys(v)
		if err != nil {
			return err
		}
		opts = append(opts, sqlstore.WithEncryption(keys...))
	}
	store, err := sqlstore.Open(ctx, "", opts...)
	if err != nil {
		return err
	}
	defer store.Close()

	// 2. The session manager, with sqlstore as its store.
	sessions := scs.New()
	sessions.Store = scsstore.New(store)
	sessions.Codec = scsstore.Codec{} // stable encoding: unchanged sessions are only touched
	sessions.Lifetime = 24 * time.Hour
	sessions.IdleTimeout = 30 * time.Minute
	sessions.Cookie.Name = "session"
	sessions.Cookie.HttpOnly = true
	sessions.Cookie.SameSite = http.SameSiteLaxMode // with POST-only changes, this blocks cross-site forms

	// 3. The routes. Every handler runs inside LoadAndSave, which loads the
	// session from the cookie and saves it after the handler.
	a := &app{sessions: sessions, store: store, database: databaseName(os.Getenv("DATABASE_URL"))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /sessions", a.count)

	// CrossOriginProtection rejects cross-site POSTs (CSRF) by their
	// Sec-Fetch-Site and Origin headers.
	handler := http.NewCrossOriginProtection().Handler(sessions.LoadAndSave(mux))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "webapp: sessions in %s, table %q\n", describeDatabase(), table)
	fmt.Fprintf(out, "webapp: listening on http://%s/ (Ctrl-C to stop)\n", ln.Addr())

	// 4. Serve until ctx is done, then let requests in flight finish.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "webapp: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	fmt.Fprintln(out, "webapp: stopped")
	return nil
}

// app holds what the handlers need.
type app struct {
	sessions *scs.SessionManager
	store    *sqlstore.Store
	database string // "PostgreSQL", "MySQL" or "SQLite"
}

// pageData is what page.html shows.
type pageData struct {
	Page     string // "home" or "sessions"
	Visits   int
	User     string
	Active   int64
	Database string
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

// home counts the visit and shows the counter, and who is logged in.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	visits := a.sessions.GetInt(r.Context(), "visits") + 1
	a.sessions.Put(r.Context(), "visits", visits)
	a.render(w, pageData{Page: "home", Visits: visits, User: a.sessions.GetString(r.Context(), "user")})
}

// login stores the user name in the session. It first gives the session a
// new token, so that a token seen before login (session fixation) is useless
// after it.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 64 {
		http.Error(w, "a name of 1 to 64 characters, please", http.StatusBadRequest)
		return
	}
	if err := a.sessions.RenewToken(r.Context()); err != nil {
		serverError(w, err)
		return
	}
	a.sessions.Put(r.Context(), "user", name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout deletes the session from the database and the browser.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Destroy(r.Context()); err != nil {
		serverError(w, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// count shows how many sessions are live in the table.
func (a *app) count(w http.ResponseWriter, r *http.Request) {
	n, err := a.store.Count(r.Context())
	if err != nil {
		serverError(w, err)
		return
	}
	a.render(w, pageData{Page: "sessions", Active: n, User: a.sessions.GetString(r.Context(), "user")})
}

func (a *app) render(w http.ResponseWriter, d pageData) {
	d.Database = a.database
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, d); err != nil {
		log.Printf("webapp: rendering: %v", err)
	}
}

func serverError(w http.ResponseWriter, err error) {
	log.Printf("webapp: %v", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// databaseName names the kind of database of DATABASE_URL, as Open reads it.
func databaseName(dsnStr string) string {
	_, _, dialect, _ := dsn.Parse(dsnStr)
	return map[string]string{"postgres": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite"}[dialect]
}

// describeDatabase says where the sessions are, without a password.
func describeDatabase() string {
	dbURL := os.Getenv("DATABASE_URL")
	kind := databaseName(dbURL)
	if dbURL == "" {
		path, err := filepath.Abs(dsn.DefaultSQLiteFile)
		if err != nil {
			path = dsn.DefaultSQLiteFile
		}
		return fmt.Sprintf("%s (%s)", kind, path)
	}
	return fmt.Sprintf("%s (%s)", kind, redact(dbURL))
}

// redact replaces the password of a URL with "xxxxx".
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "DATABASE_URL" // unparsable: it could hold a password anywhere
	}
	return u.Redacted()
}

// parseKeys decodes SESSION_KEYS: base64 keys, comma-separated. Its errors
// never show a key.
func parseKeys(v string) ([][]byte, error) {
	var keys [][]byte
	for i, s := range strings.Split(v, ",") {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("SESSION_KEYS: key %d is not base64", i)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
