package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sqlstore/sqlstore"
)

func TestRedact(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:secret@db:5432/app?sslmode=disable": "postgres://u:xxxxx@db:5432/app?sslmode=disable",
		"mysql://root@127.0.0.1:3306/test":                "mysql://root@127.0.0.1:3306/test",
		"sqlite:data/sessions.db":                         "sqlite:data/sessions.db",
		"postgres://u:sec ret@%zz/x":                      "DATABASE_URL",
	} {
		if got := redact(dsn); got != want {
			t.Errorf("redact(%q) = %q, want %q", dsn, got, want)
		}
		if strings.Contains(redact(dsn), "secret") || strings.Contains(redact(dsn), "sec ret") {
			t.Errorf("redact(%q) shows the password", dsn)
		}
	}
}

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
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", "sessions", out) }()
	var base string
	for deadline := time.Now().Add(startTimeout); base == ""; time.Sleep(10 * time.Millisecond) {
		base = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`).FindString(out.String())
		if base == "" && time.Now().After(deadline) {
			t.Fatalf("no URL printed within %v:\n%s", startTimeout, out)
		}
	}
	client := &http.Client{Timeout: stepTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"login", url.Values{"name": {"bob-the-user"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

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
