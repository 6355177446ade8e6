package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

// testSlowDelay is how long the slow request waits in the tests: long
// enough for a sign-out to happen meanwhile.
const testSlowDelay = 3 * time.Second

// TestRun runs the app in process on SQLite, without a browser: it serves,
// refuses a cross-site POST and a bad login, lists a user's sessions, signs
// one out and all others, and stops cleanly when its context ends.
func TestRun(t *testing.T) {
	t.Setenv("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	t.Setenv("SLOW_DELAY", testSlowDelay.String())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", "sessions", out) }()

	var base string
	deadline := time.Now().Add(startTimeout)
	for base == "" {
		if m := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`).FindString(out.String()); m != "" {
			base = m
		} else if time.Now().After(deadline) {
			t.Fatalf("no URL printed within %v:\n%s", startTimeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}

	client := &http.Client{Timeout: stepTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, header http.Header) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("login", url.Values{"name": {"mallory"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}); got != http.StatusForbidden {
		t.Errorf("cross-site login: status %d, want 403", got)
	}
	if got := post("login", url.Values{"name": {"  "}}, http.Header{}); got != http.StatusBadRequest {
		t.Errorf("login with a blank name: status %d, want 400", got)
	}
	if got := post("login", url.Values{"name": {"a\x00b"}}, http.Header{}); got != http.StatusBadRequest {
		t.Errorf("login with a NUL in the name: status %d, want 400", got)
	}
	if got := post("login", url.Values{"name": {"bob"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}}); got != http.StatusSeeOther {
		t.Errorf("same-origin login: status %d, want 303", got)
	}

	testYourSessions(t, base, out)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("run did not return within %v of its context ending", stopTimeout)
	}
	if !strings.Contains(out.String(), "webapp: stopped") {
		t.Errorf("no clean stop reported:\n%s", out)
	}
}

// Browsers of the tests, as their User-Agent headers, and as the sessions
// page describes them.
const (
	laptopUA      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	laptopBrowser = "Chrome 156 on Linux"
	phoneUA       = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	phoneBrowser  = "Safari 17 on iOS"
)

// testYourSessions is the sessions page and its two sign-out buttons, with
// an HTTP client per browser (each its own cookie jar) on the app at base,
// whose output is out: carol logs in on a laptop and a phone, and dave on
// two browsers of his own.
func testYourSessions(t *testing.T, base string, out *syncBuffer) {
	laptop, phone := newVisitor(t, base, laptopUA), newVisitor(t, base, phoneUA)
	dave1, dave2 := newVisitor(t, base, laptopUA), newVisitor(t, base, laptopUA)
	for _, v := range []*visitor{laptop, phone} {
		v.login("carol")
	}
	dave1.login("dave")
	dave2.login("dave")

	// Each of carol's browsers lists both of her sessions, its own marked,
	// and not dave's.
	want := []sessionRow{{laptopBrowser, true}, {phoneBrowser, false}}
	if got := laptop.sessions(); !sameRows(got, want) {
		t.Errorf("the laptop lists %v, want %v", got, want)
	}
	if got := phone.sessions(); !sameRows(got, []sessionRow{{laptopBrowser, false}, {phoneBrowser, true}}) {
		t.Errorf("the phone lists %v, want its own and the laptop's", got)
	}
	phoneKey := laptop.otherKeys()[0]

	// A cross-site sign-out is refused, and a key that is not one of
	// carol's (one of dave's) is ignored.
	if got := laptop.post("sessions/signout", url.Values{"key": {phoneKey}}, "cross-site"); got != http.StatusForbidden {
		t.Errorf("cross-site sign-out: status %d, want 403", got)
	}
	if got := laptop.post("sessions/signout", url.Values{"key": dave1.otherKeys()}, ""); got != http.StatusSeeOther {
		t.Errorf("sign-out of someone else's session: status %d, want 303", got)
	}
	if !phone.loggedIn() || !dave2.loggedIn() {
		t.Fatalf("after a cross-site sign-out and one of dave's key: phone logged in %v, dave's second browser %v; want both",
			phone.loggedIn(), dave2.loggedIn())
	}

	// "Sign out" on the phone's row: the phone is logged out at its next
	// request, the laptop is not.
	if got := laptop.post("sessions/signout", url.Values{"key": {phoneKey}}, "same-origin"); got != http.StatusSeeOther {
		t.Errorf("sign-out: status %d, want 303", got)
	}
	if got := laptop.sessions(); !sameRows(got, []sessionRow{{laptopBrowser, true}}) {
		t.Errorf("after signing the phone out, the laptop lists %v, want itself only", got)
	}
	if phone.loggedIn() {
		t.Error("the phone is still logged in after the laptop signed it out")
	}
	if !laptop.loggedIn() {
		t.Error("the laptop was logged out by signing out the phone")
	}

	// The late write: the phone logs in again and starts a slow request
	// that changes its session; the laptop signs out everywhere else while
	// it waits; when it has saved the session, the phone is still logged
	// out.
	phone.login("carol")
	started := strings.Count(out.String(), "slow request: started")
	slowDone := make(chan int, 1)
	go func() { slowDone <- phone.post("slow", nil, "same-origin") }()
	waitForOutput(t, out, "slow request: started", started+1)
	if got := laptop.post("sessions/signout-others", nil, "same-origin"); got != http.StatusSeeOther {
		t.Errorf("sign out everywhere else: status %d, want 303", got)
	}
	if got := laptop.sessions(); !sameRows(got, []sessionRow{{laptopBrowser, true}}) {
		t.Errorf("after signing out everywhere else, the laptop lists %v, want itself only", got)
	}
	if strings.Contains(out.String(), "slow request: saving") {
		t.Fatalf("the slow request ended its wait (%v) before the sign-out was done: the race was not tested", testSlowDelay)
	}
	select {
	case got := <-slowDone:
		if got != http.StatusSeeOther {
			t.Errorf("slow request: status %d, want 303", got)
		}
	case <-time.After(testSlowDelay + stepTimeout):
		t.Fatal("the slow request did not end")
	}
	if body := phone.get(""); strings.Contains(body, `id="user"`) || strings.Contains(body, `id="note"`) {
		t.Errorf("the phone is logged in (user shown %v, note shown %v) after its slow request, which loaded the session before the sign-out and saved it after",
			strings.Contains(body, `id="user"`), strings.Contains(body, `id="note"`))
	}
	if got := laptop.sessions(); !sameRows(got, []sessionRow{{laptopBrowser, true}}) {
		t.Errorf("after the slow request, the laptop lists %v, want itself only", got)
	}
	if !laptop.loggedIn() || !dave1.loggedIn() || !dave2.loggedIn() {
		t.Errorf("signing out everywhere else logged out the laptop (%v) or dave (%v, %v)", !laptop.loggedIn(), !dave1.loggedIn(), !dave2.loggedIn())
	}
}

// waitForOutput waits until out holds s n times.
func waitForOutput(t *testing.T, out *syncBuffer, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(stepTimeout); strings.Count(out.String(), s) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen %d times in the output within %v:\n%s", s, n, stepTimeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// visitor is a browser without a browser: an HTTP client with a cookie jar
// and a User-Agent, which does not follow redirects.
type visitor struct {
	t      *testing.T
	base   string
	ua     string
	client *http.Client
}

func newVisitor(t *testing.T, base, ua string) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, base: base, ua: ua, client: &http.Client{
		Jar: jar, Timeout: stepTimeout + testSlowDelay,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns its status and body. Not on the test's
// goroutine, it must not fail the test: errors come back as status 0.
func (v *visitor) do(method, path string, form url.Values, fetchSite string) (int, string) {
	req, err := http.NewRequest(method, v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("User-Agent", v.ua)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if fetchSite != "" {
		req.Header.Set("Sec-Fetch-Site", fetchSite)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(body)
}

// post sends a form and returns the status.
func (v *visitor) post(path string, form url.Values, fetchSite string) int {
	code, _ := v.do(http.MethodPost, path, form, fetchSite)
	return code
}

// get returns the page at path, which must answer 200.
func (v *visitor) get(path string) string {
	v.t.Helper()
	code, body := v.do(http.MethodGet, path, nil, "")
	if code != http.StatusOK {
		v.t.Fatalf("GET /%s: status %d, want 200: %s", path, code, body)
	}
	return body
}

func (v *visitor) login(name string) {
	v.t.Helper()
	if got := v.post("login", url.Values{"name": {name}}, "same-origin"); got != http.StatusSeeOther {
		v.t.Fatalf("login as %s: status %d, want 303", name, got)
	}
}

func (v *visitor) loggedIn() bool {
	v.t.Helper()
	return strings.Contains(v.get(""), `id="user"`)
}

// sessionRow is a row of the list of the user's sessions, as the tests see it.
type sessionRow struct {
	Browser string
	Current bool
}

var (
	sessionRowRE = regexp.MustCompile(`<tr class="session( current)?">\s*<td class="browser">([^<]*)</td>`)
	keyRE        = regexp.MustCompile(`<input type="hidden" name="key" value="([^"]*)">`)
)

// sessions returns the rows of the visitor's sessions page.
func (v *visitor) sessions() []sessionRow {
	v.t.Helper()
	var rows []sessionRow
	for _, m := range sessionRowRE.FindAllStringSubmatch(v.get("sessions"), -1) {
		rows = append(rows, sessionRow{Browser: m[2], Current: m[1] != ""})
	}
	return rows
}

// otherKeys returns the keys of the sign-out buttons of the visitor's
// sessions page: one for each other session of the user.
func (v *visitor) otherKeys() []string {
	v.t.Helper()
	var keys []string
	for _, m := range keyRE.FindAllStringSubmatch(v.get("sessions"), -1) {
		keys = append(keys, m[1])
	}
	if len(keys) == 0 {
		v.t.Fatal("no sign-out button on the sessions page")
	}
	return keys
}

// sameRows reports whether got and want hold the same rows, in any order.
func sameRows(got, want []sessionRow) bool {
	cmp := func(a, b sessionRow) int { return strings.Compare(a.Browser, b.Browser) }
	return slices.Equal(slices.SortedFunc(slices.Values(got), cmp), slices.SortedFunc(slices.Values(want), cmp))
}

// TestDescribeBrowser shortens the User-Agent headers of common browsers.
func TestDescribeBrowser(t *testing.T) {
	for ua, want := range map[string]string{
		laptopUA: laptopBrowser,
		phoneUA:  phoneBrowser,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":                 "Chrome 156 on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0":                                              "Firefox 128 on Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0": "Edge 131 on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":         "Safari 18 on macOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":         "Chrome 131 on Android",
		"curl/8.5.0":          "Unknown browser",
		"":                    "Unknown browser",
		"Firefox/<script> on": "Firefox",
	} {
		if got := describeBrowser(ua); got != want {
			t.Errorf("describeBrowser(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestRunEncrypted runs the app with SESSION_KEYS set: a login's session is
// stored encrypted, and a malformed SESSION_KEYS stops the app at start.
func TestRunEncrypted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.db")
	t.Setenv("DATABASE_URL", "sqlite:"+file)
	t.Setenv("SESSION_KEYS", "not base64!")
	if err := run(t.Context(), "127.0.0.1:0", "sessions", &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "SESSION_KEYS: key 0 is not base64") {
		t.Fatalf("run with a malformed SESSION_KEYS = %v", err)
	}
	t.Setenv("SESSION_KEYS", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	base, client, stop := runInProcess(t)
	resp, err := client.PostForm(base+"login", url.Values{"name": {"bob-the-user"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
	stop()

	raw, err := sqlstore.Open(t.Context(), "sqlite:"+file) // no keys: reads rows as stored
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows := 0
	err = raw.Range(t.Context(), func(_ string, data []byte, _ time.Time) bool {
		rows++
		if !bytes.HasPrefix(data, []byte("\xffSQE")) || bytes.Contains(data, []byte("bob-the-user")) {
			t.Errorf("a session is stored unencrypted: %q", data)
		}
		return true
	})
	if err != nil || rows != 1 {
		t.Fatalf("Range: %d rows, %v; want the one session", rows, err)
	}
}

// TestRunMetrics runs the app with METRICS set: /debug/vars shows the
// store's operations counted by outcome.
func TestRunMetrics(t *testing.T) {
	t.Setenv("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	t.Setenv("METRICS", "1")
	base, client, stop := runInProcess(t)
	resp, err := client.PostForm(base+"login", url.Values{"name": {"erin"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get(base + "debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars struct {
		SQLStore struct {
			Operations map[string]int64 `json:"operations"`
		} `json:"sqlstore"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	if n := vars.SQLStore.Operations["set_owned written"]; n != 1 {
		t.Errorf("/debug/vars counts %d owned sessions written, want 1 (the login): %v", n, vars.SQLStore.Operations)
	}
	stop()
}

// runInProcess starts the app with run on a free port, in the environment
// the test set, and returns its base URL, a client that does not follow
// redirects, and stop, which shuts the app down and fails the test if run
// failed.
func runInProcess(t *testing.T) (base string, client *http.Client, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", "sessions", out) }()
	for deadline := time.Now().Add(startTimeout); base == ""; time.Sleep(10 * time.Millisecond) {
		base = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`).FindString(out.String())
		if base == "" && time.Now().After(deadline) {
			cancel()
			t.Fatalf("no URL printed within %v:\n%s", startTimeout, out)
		}
	}
	client = &http.Client{Timeout: stepTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return base, client, func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
	}
}
