package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/testdb"
)

// Bounds of every wait in the end-to-end test.
const (
	buildTimeout   = 5 * time.Minute  // go build of the app
	browserTimeout = 3 * time.Minute  // the whole browser session of one database
	stepTimeout    = 30 * time.Second // one browser step
	startTimeout   = 30 * time.Second // the app printing its URL
	stopTimeout    = 15 * time.Second // the app exiting after a signal
)

// TestBrowser drives the app in headless Chromium on each database: load,
// count up, log in, restart the server process, reload (the session is still
// there), log out (it is gone).
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	bin := buildApp(t)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testBrowser(t, chromium, bin, kind) })
	}
}

// findChromium returns the path of Chromium, or skips (fails under CI=true).
func findChromium(t *testing.T) string {
	t.Helper()
	names := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testdb.Unavailable(t, "Chromium not found as %s: install the Debian packages chromium and chromium-driver, or set CHROMIUM to its path", strings.Join(names, ", "))
	return ""
}

// buildApp builds the app once, with -race when the test runs with it.
func buildApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webapp")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// appConfig is where the app of one database kind keeps its sessions.
type appConfig struct {
	dir    string   // the app's working directory
	env    []string // the app's environment
	dbURL  string   // a DSN of the database, for the test's own look at the table
	table  string
	name   string // of the kind of database, as the page shows it
	wantDB string // how the app's output names the database
}

// newAppConfig configures the app for a kind of database, with a table of
// its own that is dropped when the test ends. It skips (fails in CI) when
// the database is unreachable.
func newAppConfig(t *testing.T, kind string) appConfig {
	t.Helper()
	c := appConfig{dir: t.TempDir(), env: cleanEnv()}
	c.name = map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MySQL"}[kind]
	switch kind {
	case "sqlite":
		// No configuration at all: the default, sessions.db in the
		// working directory, table "sessions".
		c.dbURL = "sqlite:" + filepath.Join(c.dir, dsn.DefaultSQLiteFile)
		c.table = defaults.Table
		c.wantDB = c.name + " (" + filepath.Join(c.dir, dsn.DefaultSQLiteFile) + ")"
	default:
		c.dbURL = testdb.DSN(t, kind)
		db := testdb.OpenDSN(t, kind, c.dbURL) // skips (fails in CI) when unreachable
		c.table = testdb.Name("webapp")
		t.Cleanup(func() { testdb.Drop(t, db, c.table) })
		c.env = append(c.env, "DATABASE_URL="+c.dbURL, "SESSIONS_TABLE="+c.table)
		c.wantDB = c.name + " (" + sqlstore.RedactDSN(c.dbURL) + ")"
	}
	return c
}

// openTable opens the app's table for the test to see what the browser
// cannot. The app must have created it.
func (c appConfig) openTable(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	store, err := sqlstore.Open(ctx, c.dbURL, sqlstore.WithTable(c.table), sqlstore.WithCreateTable(false), sqlstore.WithPruneInterval(0))
	if err != nil {
		t.Fatalf("opening the app's table: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// inTable reports whether the session token is live in the table.
func inTable(t *testing.T, store *sqlstore.Store, token string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	_, found, err := store.Get(ctx, token)
	if err != nil {
		t.Fatalf("reading session from the table: %v", err)
	}
	return found
}

func testBrowser(t *testing.T, chromium, bin, kind string) {
	cfg := newAppConfig(t, kind)
	dir, env, name := cfg.dir, cfg.env, cfg.name
	srv := startApp(t, bin, dir, env, "127.0.0.1:0")
	if !strings.Contains(srv.output(), "sessions in "+cfg.wantDB) {
		t.Errorf("the app's output does not say it uses %q:\n%s", cfg.wantDB, srv.output())
	}
	store := cfg.openTable(t)
	inDB := func(token string) bool { t.Helper(); return inTable(t, store, token) }

	b := newBrowser(t, chromium)
	home := srv.url

	// Load, then reload: the counter counts up in one session.
	b.do("load", chromedp.Navigate(home))
	b.wantText("visits", "1")
	b.wantText("database", name)
	token0 := b.sessionCookie()
	b.do("reload", chromedp.Reload())
	b.wantText("visits", "2")
	if tok := b.sessionCookie(); tok != token0 {
		t.Errorf("the session token changed on reload: %q, then %q", token0, tok)
	}
	if !inDB(token0) {
		t.Errorf("session %q is not in the table", token0)
	}

	// Log in: the name is stored, the token renewed, the old one deleted.
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	b.wantText("user", "alice")
	b.wantText("visits", "3")
	token1 := b.sessionCookie()
	if token1 == token0 {
		t.Errorf("login did not renew the session token %q", token0)
	}
	if inDB(token0) || !inDB(token1) {
		t.Errorf("after login: old token in the table %v (want false), new token %v (want true)", inDB(token0), inDB(token1))
	}

	// The sessions page counts the live sessions: this browser's only.
	b.do("sessions page", chromedp.Navigate(home+"sessions"))
	b.wantText("active", "1")
	b.do("back home", chromedp.Navigate(home))
	b.wantText("visits", "4")

	// Kill the server without warning and start it again on the same
	// address and database, then reload: the session is still there.
	srv.kill()
	srv = startApp(t, bin, dir, env, srv.addr)
	b.do("reload after restart", chromedp.Reload())
	b.wantText("user", "alice")
	b.wantText("visits", "5")
	if tok := b.sessionCookie(); tok != token1 {
		t.Errorf("the session token changed across the restart: %q, then %q", token1, tok)
	}

	// Log out: the session is gone from the table, and the page starts a
	// new one, logged out.
	b.do("log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	b.wantText("visits", "1")
	if runStep(b, "look for the user", chromedp.Evaluate[bool](`document.getElementById("user") !== null`)) {
		t.Error("the user name is still shown after logout")
	}
	if tok := b.sessionCookie(); tok == token1 {
		t.Error("the browser still has the logged-in session's token after logout")
	}
	if inDB(token1) {
		t.Errorf("session %q is still in the table after logout", token1)
	}

	// SIGTERM: a graceful shutdown, exit status 0.
	srv.stop()
}

// The second browser of TestBrowserSessions says it is Firefox on Windows,
// so that the two sessions are told apart on the page.
const (
	firefoxUA      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	firefoxBrowser = "Firefox 128 on Windows"
)

// e2eSlowDelay is how long the app's slow request waits in the browser
// test: time for the other browser to sign it out meanwhile.
const e2eSlowDelay = 5 * time.Second

// TestBrowserSessions drives two independent browsers (two Chromium
// browser contexts: separate cookie jars) logged in as the same user, on
// each database: the sessions page lists both, this device marked; "Sign
// out" in the first logs the second out at its next request; and "Sign out
// everywhere else" while the second waits in a slow request that changes
// its session leaves the second logged out when that request has saved.
func TestBrowserSessions(t *testing.T) {
	chromium := findChromium(t)
	bin := buildApp(t)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testBrowserSessions(t, chromium, bin, kind) })
	}
}

func testBrowserSessions(t *testing.T, chromium, bin, kind string) {
	cfg := newAppConfig(t, kind)
	srv := startApp(t, bin, cfg.dir, append(cfg.env, "SLOW_DELAY="+e2eSlowDelay.String()), "127.0.0.1:0")
	store := cfg.openTable(t)
	// keys returns the keys of alice's live sessions, as the table has them.
	keys := func() []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
		defer cancel()
		list, err := store.Sessions(ctx, "alice")
		if err != nil {
			t.Fatalf("listing alice's sessions in the table: %v", err)
		}
		var keys []string
		for _, s := range list {
			keys = append(keys, s.Key)
		}
		slices.Sort(keys)
		return keys
	}
	keysOf := func(tokens ...string) []string {
		var keys []string
		for _, tok := range tokens {
			keys = append(keys, store.Key(tok))
		}
		slices.Sort(keys)
		return keys
	}

	first := newBrowser(t, chromium)
	second := first.newBrowserContext(firefoxUA)
	firstBrowser := describeBrowser(runStep(first, "read the user agent", chromedp.Evaluate[string]("navigator.userAgent")))
	if !strings.HasPrefix(firstBrowser, "Chrome ") {
		t.Errorf("Chromium's own User-Agent is described as %q, want Chrome and its version", firstBrowser)
	}
	first.login(srv.url, "alice")
	second.login(srv.url, "alice")
	token1, token2 := first.sessionCookie(), second.sessionCookie()
	if token1 == "" || token2 == "" || token1 == token2 {
		t.Fatalf("the two browsers hold the session tokens %q and %q: want two, not shared", token1, token2)
	}

	// Both browsers list both sessions, each its own as this device.
	if got, want := first.sessionRows(srv.url), []sessionRow{{firstBrowser, true}, {firefoxBrowser, false}}; !sameRows(got, want) {
		t.Errorf("the first browser lists %v, want %v", got, want)
	}
	if got, want := second.sessionRows(srv.url), []sessionRow{{firstBrowser, false}, {firefoxBrowser, true}}; !sameRows(got, want) {
		t.Errorf("the second browser lists %v, want %v", got, want)
	}
	if got, want := keys(), keysOf(token1, token2); !slices.Equal(got, want) {
		t.Errorf("alice's sessions in the table: %v, want the two browsers' %v", got, want)
	}

	// The first signs the second out: gone from the list and the table,
	// and the second is logged out at its next request.
	first.do("sessions page", chromedp.Navigate(srv.url+"sessions"))
	first.submit("sign out the other session", "tr.session:not(.current) button.signout")
	if got, want := first.rows(), []sessionRow{{firstBrowser, true}}; !sameRows(got, want) {
		t.Errorf("after signing the second browser out, the first lists %v, want %v", got, want)
	}
	if inTable(t, store, token2) {
		t.Error("the signed-out session is still live in the table")
	}
	if second.loggedIn(srv.url) {
		t.Fatal("the second browser is still logged in after the first signed it out")
	}
	if !first.loggedIn(srv.url) {
		t.Error("the first browser is logged out after signing out the second")
	}

	// The late write: the second logs in again and starts a slow request
	// that changes its session (it loads the session, waits, then saves
	// it with a note). Meanwhile the first signs out everywhere else. When
	// the slow request has saved, the second is still logged out.
	second.login(srv.url, "alice")
	token3 := second.sessionCookie()
	first.do("sessions page", chromedp.Navigate(srv.url+"sessions"))
	if got := first.rows(); len(got) != 2 {
		t.Fatalf("after the second browser logged in again, the first lists %v, want 2 sessions", got)
	}
	started := strings.Count(srv.output(), "slow request: started")
	slowDone := make(chan error, 1)
	go func() {
		// Not t.Fatal on this goroutine: the error goes to the test's.
		ctx, cancel := context.WithTimeout(second.ctx, e2eSlowDelay+stepTimeout)
		defer cancel()
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("slow")))
		slowDone <- err
	}()
	waitForOutput(t, srv.out, "slow request: started", started+1) // it has loaded the session
	first.submit("sign out everywhere else", "#signout-others")
	if got, want := first.rows(), []sessionRow{{firstBrowser, true}}; !sameRows(got, want) {
		t.Errorf("after signing out everywhere else, the first browser lists %v, want %v", got, want)
	}
	if strings.Contains(srv.output(), "slow request: saving") {
		t.Fatalf("the slow request ended its wait (%v) before the sign-out was done: the race was not tested", e2eSlowDelay)
	}
	select {
	case err := <-slowDone:
		if err != nil {
			t.Fatalf("the slow request in the second browser: %v", err)
		}
	case <-time.After(e2eSlowDelay + stepTimeout + time.Second):
		t.Fatal("the slow request in the second browser did not end")
	}
	if user, note := second.hasElement("user"), second.hasElement("note"); user || note {
		t.Errorf("the page after the slow request, which loaded the session before the sign-out and saved it after, shows the user (%v) or the request's note (%v)", user, note)
	}
	if second.loggedIn(srv.url) {
		t.Error("the second browser is logged in at its next request after the slow request")
	}
	if inTable(t, store, token3) {
		t.Error("the session signed out during the slow request is live in the table again")
	}
	if got, want := keys(), keysOf(token1); !slices.Equal(got, want) {
		t.Errorf("alice's sessions in the table: %v, want the first browser's only %v", got, want)
	}
	if !first.loggedIn(srv.url) {
		t.Error("signing out everywhere else logged out the first browser")
	}
	srv.stop()
}

// cleanEnv returns the environment without the app's own variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "SESSIONS_TABLE", "ADDR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// process is a running app process.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	url    string // http://addr/
	out    *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // of Wait, once exited is closed
}

var listening = regexp.MustCompile(`listening on http://(127\.0\.0\.1:[0-9]+)/`)

// startApp starts the app on addr and waits until it listens. The process
// is killed when the test ends.
func startApp(t *testing.T, bin, dir string, env []string, addr string) *process {
	t.Helper()
	a := &process{t: t, out: &syncBuffer{}, exited: make(chan struct{})}
	a.cmd = exec.Command(bin, "-addr", addr)
	a.cmd.Dir, a.cmd.Env = dir, env
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	setPdeathsig(a.cmd) // the app dies with the test binary, even on a panic
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("starting the app: %v", err)
	}
	go func() {
		a.err = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("output of the app (pid %d):\n%s", a.cmd.Process.Pid, a.out)
		}
	})

	deadline := time.After(startTimeout)
	for {
		if m := listening.FindStringSubmatch(a.output()); m != nil {
			a.addr, a.url = m[1], "http://"+m[1]+"/"
			return a
		}
		select {
		case <-a.exited:
			t.Fatalf("the app exited before listening: %v\n%s", a.err, a.out)
		case <-deadline:
			t.Fatalf("the app did not print its URL within %v:\n%s", startTimeout, a.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *process) output() string { return a.out.String() }

// kill kills the process, if it still runs, and waits for it.
func (a *process) kill() {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Kill()
	select {
	case <-a.exited:
	case <-time.After(stopTimeout):
		a.t.Errorf("the app (pid %d) did not exit within %v of SIGKILL", a.cmd.Process.Pid, stopTimeout)
	}
}

// stop sends SIGTERM and checks that the app shuts down cleanly.
func (a *process) stop() {
	a.t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-a.exited:
	case <-time.After(stopTimeout):
		a.t.Fatalf("the app did not exit within %v of SIGTERM", stopTimeout)
	}
	if a.err != nil {
		a.t.Errorf("the app exited with %v after SIGTERM, want status 0", a.err)
	}
	if !strings.Contains(a.output(), "webapp: stopped") {
		a.t.Errorf("the app did not report a clean stop:\n%s", a.output())
	}
}

// browser is a headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	// The browser lives at most browserTimeout; each step has its own
	// bound. chromedp gives Chromium a fresh user data directory of its
	// own, and removes it (with any leftover child process) on cancel.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
		cancelTimeout()
	})
	// The first Run starts Chromium; it must not run under a step's
	// timeout, which would close the browser when the step ends.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting Chromium %s: %v", chromium, err)
	}
	return &browser{t: t, ctx: tabCtx}
}

// newBrowserContext returns a tab in a new browser context of b's Chromium,
// which shares nothing with b's (like an incognito window): its own cookie
// jar. Its requests send the User-Agent header ua.
func (b *browser) newBrowserContext(ua string) *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	// The first Run creates the browser context and its tab: no timeout.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
		return err
	}))
	if err != nil {
		b.t.Fatalf("opening a new browser context: %v", err)
	}
	return &browser{t: b.t, ctx: ctx}
}

// login logs in as name on the app at home.
func (b *browser) login(home, name string) {
	b.t.Helper()
	b.do("log in as "+name,
		chromedp.Navigate(home),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	b.wantText("user", name)
}

// submit clicks the button that sel selects, and waits for the page the
// form's answer leads to.
func (b *browser) submit(step, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser step %q: %v", step, err)
	}
}

// hasElement reports whether the page has an element with the id.
func (b *browser) hasElement(id string) bool {
	b.t.Helper()
	return runStep(b, "look for #"+id, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q) !== null", id)))
}

// loggedIn opens the home page of the app at home and reports whether it
// shows a logged-in user.
func (b *browser) loggedIn(home string) bool {
	b.t.Helper()
	b.do("home page", chromedp.Navigate(home))
	return b.hasElement("user")
}

// rows returns the rows of the list of the user's sessions on the page.
func (b *browser) rows() []sessionRow {
	b.t.Helper()
	return runStep(b, "read the sessions", chromedp.Evaluate[[]sessionRow](`Array.from(document.querySelectorAll("tr.session"),
		r => ({Browser: r.querySelector(".browser").textContent.trim(), Current: r.classList.contains("current")}))`))
}

// sessionRows opens the sessions page of the app at home and returns its rows.
func (b *browser) sessionRows(home string) []sessionRow {
	b.t.Helper()
	b.do("sessions page", chromedp.Navigate(home+"sessions"))
	return b.rows()
}

// do runs actions within stepTimeout.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	runStep(b, step, chromedp.Steps(actions...))
}

// runStep runs an action that returns a value within stepTimeout.
func runStep[T any](b *browser, step string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%v)", err, stepTimeout)
		}
		b.t.Fatalf("browser step %q: %v", step, err)
	}
	return v
}

// wantText checks the text of the element with the id.
func (b *browser) wantText(id, want string) {
	b.t.Helper()
	got := runStep(b, "read #"+id, chromedp.Text(chromedp.ID(id)))
	if strings.TrimSpace(got) != want {
		b.t.Errorf("#%s = %q, want %q", id, got, want)
	}
}

// sessionCookie returns the session token the browser holds, "" if none,
// and checks the cookie's attributes.
func (b *browser) sessionCookie() string {
	b.t.Helper()
	res := runStep(b, "read cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
	})
	for _, c := range res.Cookies {
		if c.Name != "session" {
			continue
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
			b.t.Errorf("session cookie HttpOnly=%v SameSite=%q, want true and Lax", c.HTTPOnly, c.SameSite)
		}
		return c.Value
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
