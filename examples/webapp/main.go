// Command webapp is a small web site that keeps its sessions in a SQL
// database with sqlstore, through the scs session manager
// (github.com/alexedwards/scs/v2). It is the quick start of sqlstore:
//
//	go run ./examples/webapp
//
// then open http://127.0.0.1:8080. The site has a visit counter, a login
// form that stores a user name in the session, a logout button, and a page
// with the number of active sessions and, for a logged-in user, every
// session of that user (the browsers they are logged in with), each with a
// sign-out button. Stop it with Ctrl-C and start it again: the sessions are
// still there, because they live in the database.
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
// default. SLOW_DELAY is how long the slow request waits, 10s by default.
package main

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

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
	// sessions.db. Open creates the table if it is missing. Its errors
	// never hold the password of the DSN, so they can be printed.
	opts := []sqlstore.Option{sqlstore.WithTable(table)}
	if v := os.Getenv("SESSION_KEYS"); v != "" { // encrypt session data at rest
		keys, err := parseKeys(v)
		if err != nil {
			return err
		}
		opts = append(opts, sqlstore.WithEncryption(keys...))
	}
	var m *metrics
	if os.Getenv("METRICS") != "" { // count the store's operations at /debug/vars
		m = newMetrics()
		opts = append(opts, sqlstore.WithObserver(m))
	}
	store, err := sqlstore.Open(ctx, "", opts...)
	if err != nil {
		return err
	}
	defer store.Close()

	// 2. The session manager, with sqlstore as its store.
	sessions := scs.New()
	// WithOwnerKey("user") records whose session it is (the name login
	// puts there), so that a user's sessions can be listed and ended. The
	// store decodes the values with the manager's codec to find it.
	sessions.Store = scsstore.New(store, scsstore.WithOwnerKey("user"), scsstore.WithCodec(scsstore.Codec{}))
	sessions.Codec = scsstore.Codec{} // stable encoding: unchanged sessions are only touched
	sessions.Lifetime = 24 * time.Hour
	sessions.IdleTimeout = 30 * time.Minute
	sessions.Cookie.Name = "session"
	sessions.Cookie.HttpOnly = true
	sessions.Cookie.SameSite = http.SameSiteLaxMode // with POST-only changes, this blocks cross-site forms

	// 3. The routes. Every handler runs inside LoadAndSave, which loads the
	// session from the cookie and saves it after the handler.
	slowDelay, err := time.ParseDuration(envOr("SLOW_DELAY", "10s"))
	if err != nil {
		return fmt.Errorf("SLOW_DELAY: %w", err)
	}
	a := &app{sessions: sessions, store: store, database: databaseName(os.Getenv("DATABASE_URL")), out: out, slowDelay: slowDelay}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /sessions", a.sessionsPage)
	mux.HandleFunc("POST /sessions/signout", a.signOut)
	mux.HandleFunc("POST /sessions/signout-others", a.signOutOthers)
	mux.HandleFunc("POST /slow", a.slow)
	if m != nil {
		mux.Handle("GET /debug/vars", expvar.Handler())
	}

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
	sessions  *scs.SessionManager
	store     *sqlstore.Store
	database  string        // "PostgreSQL", "MySQL" or "SQLite"
	out       io.Writer     // where the slow request says what it does
	slowDelay time.Duration // how long the slow request waits
}

// pageData is what page.html shows.
type pageData struct {
	Page      string // "home" or "sessions"
	Visits    int
	User      string
	Note      string // from the slow request
	SlowDelay time.Duration
	Active    int64
	Sessions  []userSession // the user's, on the sessions page
	Database  string
}

// userSession is a row of the list of the user's sessions.
type userSession struct {
	Key        string // sqlstore's key of the session, for its sign-out button
	Browser    string // as login described it
	Created    time.Time
	LastActive time.Time
	Current    bool // the session of this request: "this device"
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

// home counts the visit and shows the counter, and who is logged in.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	visits := a.sessions.GetInt(r.Context(), "visits") + 1
	a.sessions.Put(r.Context(), "visits", visits)
	a.render(w, pageData{
		Page: "home", Visits: visits, User: a.sessions.GetString(r.Context(), "user"),
		Note: a.sessions.PopString(r.Context(), "note"), SlowDelay: a.slowDelay,
	})
}

// login stores the user name in the session. It first gives the session a
// new token, so that a token seen before login (session fixation) is useless
// after it.
//
// It also keeps in the session a short description of the browser, such as
// "Chrome 156 on Linux", for the list of the user's sessions: only this
// request sees the User-Agent, and the list is read later, from another
// browser. The session is the simplest place for it: it needs no table or
// column of its own, it ends with the session, and the list reads it from
// the data that sqlstore lists (see browserIn). The description, not the
// whole header, is kept, so the list needs no parsing and the table holds
// less about the user.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 64 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		http.Error(w, "a name of 1 to 64 printable characters, please", http.StatusBadRequest)
		return
	}
	if err := a.sessions.RenewToken(r.Context()); err != nil {
		serverError(w, err)
		return
	}
	a.sessions.Put(r.Context(), "user", name)
	a.sessions.Put(r.Context(), "browser", describeBrowser(r.UserAgent()))
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

// sessionsPage shows how many sessions are live in the table and, to a
// logged-in user, the user's sessions.
func (a *app) sessionsPage(w http.ResponseWriter, r *http.Request) {
	n, err := a.store.Count(r.Context())
	if err != nil {
		serverError(w, err)
		return
	}
	d := pageData{Page: "sessions", Active: n, User: a.sessions.GetString(r.Context(), "user")}
	if d.User != "" {
		if d.Sessions, err = a.userSessions(r.Context(), d.User); err != nil {
			serverError(w, err)
			return
		}
	}
	a.render(w, d)
}

// userSessions lists the live sessions of user, most recently active first,
// the current one marked. sqlstore knows them by key: the SHA-256 of the
// token (hashed ids, the default), so the page never shows another
// session's token.
func (a *app) userSessions(ctx context.Context, user string) ([]userSession, error) {
	list, err := a.store.Sessions(ctx, user)
	if err != nil {
		return nil, err
	}
	current := a.store.Key(a.sessions.Token(ctx))
	rows := make([]userSession, len(list))
	for i, s := range list {
		rows[i] = userSession{
			Key: s.Key, Browser: a.browserIn(s.Data),
			Created: s.Created, LastActive: s.Updated, Current: s.Key == current,
		}
	}
	return rows, nil
}

// browserIn returns the browser description that login kept in a session.
// The data sqlstore lists is what the manager stored, so the manager's codec
// decodes it.
func (a *app) browserIn(data []byte) string {
	_, values, err := a.sessions.Codec.Decode(data)
	if b, ok := values["browser"].(string); err == nil && ok {
		return b
	}
	return "Unknown browser"
}

// signOut ends one session of the logged-in user, by the key the sessions
// page shows. A key that is not one of the user's live sessions (ended
// meanwhile, or not the user's) is ignored: a user signs out only their own.
// The browser of that session is logged out at its next request.
func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	if user := a.sessions.GetString(r.Context(), "user"); user != "" {
		key := r.PostFormValue("key")
		list, err := a.store.Sessions(r.Context(), user)
		if err != nil {
			serverError(w, err)
			return
		}
		if slices.ContainsFunc(list, func(s sqlstore.Session) bool { return s.Key == key }) {
			if err := a.store.DeleteKey(r.Context(), key); err != nil {
				serverError(w, err)
				return
			}
		}
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// signOutOthers ends every session of the logged-in user but this one.
func (a *app) signOutOthers(w http.ResponseWriter, r *http.Request) {
	if user := a.sessions.GetString(r.Context(), "user"); user != "" {
		if _, err := a.store.DeleteOwner(r.Context(), user, a.sessions.Token(r.Context())); err != nil {
			serverError(w, err)
			return
		}
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// slow stands for a request that takes a while (a payment, an upload) and
// then changes the session: it waits SLOW_DELAY, then leaves a note. It
// shows that a sign-out is final. Start it in one browser and, while it
// waits, sign that browser out from another: the slow request loaded the
// session before the sign-out and saves it after, but sqlstore writes
// nothing for an ended session, so the browser stays logged out.
func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(a.out, "webapp: slow request: started, waiting %v\n", a.slowDelay)
	select {
	case <-time.After(a.slowDelay):
	case <-r.Context().Done():
		return
	}
	fmt.Fprintln(a.out, "webapp: slow request: saving the session")
	a.sessions.Put(r.Context(), "note", "Your slow request finished at "+time.Now().Format(time.TimeOnly)+".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// describeBrowser shortens a User-Agent header to what a person recognizes,
// such as "Chrome 156 on Linux". It knows the common browsers and systems
// only.
func describeBrowser(ua string) string {
	// Order matters: Edge and Opera say Chrome too, Chrome says Safari, and
	// iOS says "like Mac OS X", Android says Linux.
	browser, system := "Unknown browser", ""
	for _, b := range [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Version/", "Safari"}, // also HeadlessChrome/
	} {
		if _, version, ok := strings.Cut(ua, b[0]); ok {
			major, _, _ := strings.Cut(version, ".")
			browser = b[1]
			if n := len(major); n > 0 && n <= 4 && strings.Trim(major, "0123456789") == "" {
				browser += " " + major
			}
			break
		}
	}
	for _, s := range [][2]string{
		{"Windows", "Windows"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"},
		{"CrOS", "ChromeOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s[0]) {
			system = " on " + s[1]
			break
		}
	}
	return browser + system
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

// describeDatabase says where the sessions are, without a password:
// sqlstore.RedactDSN hides it, however the URL is written.
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
	return fmt.Sprintf("%s (%s)", kind, sqlstore.RedactDSN(dbURL))
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
