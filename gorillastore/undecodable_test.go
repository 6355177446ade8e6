package gorillastore

import (
	"bytes"
	"context"
	"encoding/gob"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// goneA is a type a deploy stops registering: its values are written under
// the gob name below, then the name is changed to one no type has.
type goneA struct{ Secret string }

func init() { gob.RegisterName("gorillastoretest.goneA", goneA{}) }

// logBuffer is a log destination safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// undecodable returns stored values that cannot be decoded: a corrupt row,
// or values of a type that is no longer registered with gob.
func undecodable(t *testing.T) map[string][]byte {
	t.Helper()
	data, err := encode(map[any]any{"user": "alice", "thing": goneA{Secret: "TopSecretValue"}})
	if err != nil {
		t.Fatal(err)
	}
	gone := bytes.ReplaceAll(data, []byte("gorillastoretest.goneA"), []byte("gorillastoretest.goneB"))
	if _, err := decode(gone); err == nil {
		t.Fatal("values of an unregistered type decode")
	}
	return map[string][]byte{
		"corrupt":      append([]byte("TopSecretValue"), data[:len(data)/2]...),
		"unregistered": gone,
	}
}

func TestUndecodableSession(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		for what, bad := range undecodable(t) {
			e := newEnv(t, kind)
			st := e.store(keys())
			logs := &logBuffer{}
			st.Logger = slog.New(slog.NewTextHandler(logs, nil))
			c := newClient(t, serve(t, st))
			if got := c.do("/put?name=alice"); got != "new " {
				t.Fatalf("first request: %q", got)
			}
			id := c.id(st)
			spoil := func() {
				t.Helper()
				if err := e.sql.Set(context.Background(), id, bad, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}

			// Get starts a new session, without error; Save writes over
			// the bad row, under the same id.
			spoil()
			code, body, _ := c.get("/put?x=1")
			if code != http.StatusOK || body != "new " {
				t.Fatalf("%s: a request with undecodable values: %d %q; want 200 and a new session", what, code, body)
			}
			if c.id(st) != id {
				t.Errorf("%s: the session's id changed; want the bad row overwritten", what)
			}
			data, _, found := e.row(id)
			if v, err := decode(data); !found || err != nil || v["x"] != "1" || v["name"] != nil {
				t.Errorf("%s: after Save the row holds %v (found %v, err %v); want the new session's values", what, v, found, err)
			}
			if got := c.do("/get?k=x"); got != "old 1" {
				t.Errorf("%s: the next request: %q; want the saved session", what, got)
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, e.sql.Key(id)) || strings.Count(out, "\n") != 1 {
				t.Errorf("%s: log %q; want one warning naming the key %s", what, out, e.sql.Key(id))
			}
			if strings.Contains(out, "TopSecretValue") || strings.Contains(out, "alice") || strings.Contains(out, id) {
				t.Errorf("%s: log %q shows the session's values or id", what, out)
			}

			// Logout deletes the bad row and the cookie.
			spoil()
			if got := c.do("/delete"); got != "new " {
				t.Errorf("%s: logout with undecodable values: %q", what, got)
			}
			if _, _, found := e.row(id); found {
				t.Errorf("%s: logout left the bad row", what)
			}
			if c.cookie() != "" {
				t.Errorf("%s: logout left the cookie", what)
			}

			// RenewID drops the bad row and gives a new id.
			c.do("/put?name=bob")
			id = c.id(st)
			spoil()
			if got := c.do("/renew?k=renewed"); got != "new yes" {
				t.Errorf("%s: RenewID with undecodable values: %q", what, got)
			}
			if _, _, found := e.row(id); found || c.id(st) == id {
				t.Errorf("%s: RenewID kept the bad row (%v) or the id", what, found)
			}

			// A database error is still an error.
			if err := e.sql.Close(); err != nil {
				t.Fatal(err)
			}
			if code, body, _ := c.get("/get"); code != http.StatusInternalServerError || !strings.HasPrefix(body, "get: ") {
				t.Errorf("%s: Get on a closed store: %d %q; want the error", what, code, body)
			}
		}
	})
}
