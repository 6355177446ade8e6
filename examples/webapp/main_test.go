package main

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRun runs the app in process on SQLite, without a browser: it serves,
// refuses a cross-site POST and a bad login, and stops cleanly when its
// context ends.
func TestRun(t *testing.T) {
	t.Setenv("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
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
	if got := post("login", url.Values{"name": {"bob"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}}); got != http.StatusSeeOther {
		t.Errorf("same-origin login: status %d, want 303", got)
	}

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
