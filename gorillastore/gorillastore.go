// Package gorillastore makes a sqlstore.Store a github.com/gorilla/sessions
// Store, usable wherever gorilla/sessions is (net/http, Echo through
// github.com/labstack/echo-contrib/session; for Gin, see package ginstore):
//
//	store, err := sqlstore.Open(ctx, os.Getenv("DATABASE_URL"))
//	...
//	sessions := gorillastore.New(store, hashKey, blockKey)
//	session, err := sessions.Get(r, "session")
//
// The cookie carries only the session id: 32 random bytes from crypto/rand,
// signed with the hash key of a key pair and, when the pair has a block key,
// encrypted, by securecookie. The values live in the database, gob-encoded
// as gorilla's stores encode them (register custom types with
// gob.Register), so they are not capped by securecookie's 4096-byte cookie
// limit; the limit is the store's (sqlstore.WithMaxDataSize).
//
// Keys rotate by prepending a pair: New(store, newHash, newBlock, oldHash,
// oldBlock) signs new cookies with the new pair and still accepts cookies of
// the old one.
//
// A session's MaxAge (Options.MaxAge) sets both the cookie's Max-Age and the
// expiry of the row, counted from the store's clock; a MaxAge of zero makes a
// browser-session cookie and a row that lives for the store's default TTL;
// Save with a negative MaxAge deletes the row and the cookie.
//
// Get starts a new session (IsNew true, no error) when the cookie is
// missing, does not verify (tampered, signed with an unknown key, or older
// than the codecs' max age), or names a session that is not in the database
// or has expired. A database error is returned as an error: see Store.New.
//
// Stored values that cannot be decoded (a type no longer registered with
// gob after a deploy, a corrupt row) are not a database error: Get starts a
// new session, logs a warning naming only the row's key (Store.Logger), and
// the next Save writes over the row, so that logout and RenewID work.
//
// Save of a loaded session whose values did not change only moves its expiry
// (sqlstore.Store.Touch), which writes nothing when the move is below the
// store's touch threshold; so a handler may Save on every request.
package gorillastore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/hook"
	"github.com/go-sqlstore/sqlstore/internal/memo"
	"github.com/go-sqlstore/sqlstore/internal/owner"
)

var _ sessions.Store = (*Store)(nil)

// DefaultMaxAge is the MaxAge of the default Options, in seconds: 30 days.
const DefaultMaxAge = 30 * 24 * 60 * 60

// defaultMemory is how many session ids a Store remembers the data hash of,
// to tell unchanged values (written with Touch) from changed ones.
const defaultMemory = 10000

// ErrNotLoaded is returned by Save for a session whose loading failed (Get or
// New returned an error), so that a database outage never replaces a user's
// stored session with an empty one.
var ErrNotLoaded = errors.New("gorillastore: the session was not loaded (Get returned an error); not saving it")

// Store is a gorilla/sessions Store over a sqlstore.Store. It is safe for
// concurrent use once configured. Closing it is closing the sqlstore.Store.
type Store struct {
	// Codecs sign, and with a block key encrypt, the session id in the
	// cookie. New makes them from its key pairs.
	Codecs []securecookie.Codec
	// Options are the default options of new sessions.
	Options *sessions.Options
	// Logger receives the warning about stored values that cannot be
	// decoded; nil means slog.Default(). Its records name the session's
	// key in the table, never its id or values.
	Logger *slog.Logger
	// OwnerKey, when set, makes every Save that writes a session's values
	// record who it belongs to (sqlstore.Store.SetOwned): the value under
	// OwnerKey in session.Values (a string, an integer or a fmt.Stringer),
	// or nobody when there is none. Then session.Values[OwnerKey] = userID
	// at login is all an application does to list a user's sessions
	// (sqlstore.Store.Sessions) and end them (sqlstore.Store.DeleteOwner).
	OwnerKey string

	s   *sqlstore.Store
	mem *memo.Memo
}

// New returns a gorilla/sessions Store over s whose cookies are signed, and
// encrypted when a block key is given, with keyPairs: hash key, block key
// (or nil), hash key, block key, ..., as securecookie.CodecsFromPairs takes
// them. The first pair signs new cookies; all of them verify. At least one
// hash key is needed: without one, Save fails before it writes anything. The default Options are Path
// "/", HttpOnly, SameSite Lax and MaxAge DefaultMaxAge (set Secure when the
// site is served over HTTPS).
func New(s *sqlstore.Store, keyPairs ...[]byte) *Store {
	st := &Store{
		Codecs: securecookie.CodecsFromPairs(keyPairs...),
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   DefaultMaxAge,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		},
		s:   s,
		mem: memo.New(defaultMemory),
	}
	st.MaxAge(DefaultMaxAge)
	return st
}

// MaxAge sets the MaxAge of the default Options and the max age the codecs
// accept a cookie for, in seconds.
func (st *Store) MaxAge(age int) {
	st.Options.MaxAge = age
	for _, c := range st.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(age)
		}
	}
}

// Get returns the session name of the request, loading it once per request
// through the request's sessions.Registry, as gorilla's stores do.
func (st *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New loads the session name of the request's cookie, or starts a new one
// (IsNew true) when there is no valid cookie, no live session for it, or
// stored values that cannot be decoded (then with the stored id, which Save
// overwrites). It returns an error only when the database fails; the
// session it then returns is empty and Save refuses it with ErrNotLoaded.
func (st *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(st, name)
	opts := *st.Options
	session.Options = &opts
	session.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return session, nil
	}
	var id string
	if securecookie.DecodeMulti(name, c.Value, &id, st.Codecs...) != nil {
		return session, nil // tampered, unknown key or too old: a new session
	}
	data, found, err := st.s.Get(r.Context(), id)
	if errors.Is(err, sqlstore.ErrInvalidID) {
		return session, nil // a signed cookie of a malformed id: a new session
	}
	if err != nil {
		session.IsNew = false // with no ID: see Save
		return session, fmt.Errorf("gorillastore: loading session %q: %w", name, err)
	}
	if !found {
		st.mem.Forget(id)
		return session, nil
	}
	values, err := decode(data)
	if err != nil {
		// Not an outage: the row is unreadable for good. Start over
		// under the same id, so that Save writes over the row and a
		// logout deletes it; refusing would lock the user out until the
		// row expires.
		st.logger().Warn("gorillastore: stored session values cannot be decoded; starting a new session",
			"session", name, "key", st.s.Key(id), "error", err)
		st.mem.Forget(id)
		session.ID = id
		return session, nil
	}
	st.mem.Remember(id, data)
	session.ID = id
	session.Values = values
	session.IsNew = false
	return session, nil
}

// logger returns the Logger, else slog.Default().
func (st *Store) logger() *slog.Logger {
	if st.Logger != nil {
		return st.Logger
	}
	return slog.Default()
}

// Save writes the session to the database and its id to the response's
// cookie. With a negative MaxAge it deletes the session and the cookie. A
// new session gets a new random id. Unchanged values of a loaded session are
// not rewritten: only the expiry moves (see the package documentation).
func (st *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	if session.ID == "" && !session.IsNew {
		return ErrNotLoaded
	}
	ctx := r.Context()
	name := session.Name()
	if session.Options.MaxAge < 0 {
		if session.ID != "" {
			st.mem.Forget(session.ID)
			if err := st.s.Delete(ctx, session.ID); err != nil {
				return fmt.Errorf("gorillastore: deleting session %q: %w", name, err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(name, "", session.Options))
		return nil
	}
	fresh := session.ID == ""
	if fresh {
		id, err := newID()
		if err != nil {
			return err
		}
		session.ID = id
	}
	// The cookie first: a Store without a usable hash key must fail before
	// it writes a row, not leave one behind on every request.
	encoded, err := securecookie.EncodeMulti(name, session.ID, st.Codecs...)
	if err != nil {
		if fresh {
			session.ID = ""
		}
		return fmt.Errorf("gorillastore: signing the cookie of session %q (does New have a hash key?): %w", name, err)
	}
	data, err := encode(session.Values)
	if err != nil {
		return fmt.Errorf("gorillastore: encoding session %q: %w", name, err)
	}
	var expiry time.Time // zero: the store's default TTL
	if session.Options.MaxAge > 0 {
		expiry = hook.Now(st.s).Add(time.Duration(session.Options.MaxAge) * time.Second)
	}
	if !session.IsNew && st.mem.Same(session.ID, data) {
		err = st.s.Touch(ctx, session.ID, expiry)
	} else {
		if err = st.set(ctx, session, data, expiry); err == nil {
			st.mem.Remember(session.ID, data)
		}
	}
	if err != nil {
		st.mem.Forget(session.ID)
		return fmt.Errorf("gorillastore: saving session %q: %w", name, err)
	}
	http.SetCookie(w, sessions.NewCookie(name, encoded, session.Options))
	return nil
}

// set writes the session, with its owner when OwnerKey is set.
func (st *Store) set(ctx context.Context, session *sessions.Session, data []byte, expiry time.Time) error {
	if st.OwnerKey == "" {
		return st.s.Set(ctx, session.ID, data, expiry)
	}
	who, err := owner.Of(session.Values[st.OwnerKey])
	if err != nil {
		return fmt.Errorf("the value under OwnerKey %q: %w", st.OwnerKey, err)
	}
	return st.s.SetOwned(ctx, session.ID, who, data, expiry)
}

// RenewID deletes the stored session and clears its id, so that the next
// Save stores the values under a new random id and sends a new cookie. Call
// it when the privilege level changes, as at login, so that an id seen
// before the change is worthless after it (session fixation). The session
// counts as new until then. A session whose loading failed is refused with
// ErrNotLoaded.
func (st *Store) RenewID(ctx context.Context, session *sessions.Session) error {
	if session.ID == "" && !session.IsNew {
		return ErrNotLoaded
	}
	if session.ID != "" {
		st.mem.Forget(session.ID)
		if err := st.s.Delete(ctx, session.ID); err != nil {
			return fmt.Errorf("gorillastore: renewing the id of session %q: %w", session.Name(), err)
		}
	}
	session.ID = ""
	session.IsNew = true
	return nil
}

// newID returns 32 random bytes from crypto/rand as unpadded base64url: 43
// printable characters.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("gorillastore: generating a session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// stored is the encoded form of a session's values: keys and values in a
// stable order, so that the same values encode to the same bytes.
type stored struct {
	Keys, Vals []any
}

// encode gob-encodes values with the keys in a stable order (by type and
// printed value; ties keep no particular order, which costs at most a
// rewrite of unchanged values).
func encode(values map[any]any) ([]byte, error) {
	type kv struct {
		sortKey string
		k, v    any
	}
	kvs := make([]kv, 0, len(values))
	for k, v := range values {
		kvs = append(kvs, kv{fmt.Sprintf("%T\x00%#v", k, k), k, v})
	}
	slices.SortFunc(kvs, func(a, b kv) int {
		if a.sortKey < b.sortKey {
			return -1
		}
		if a.sortKey > b.sortKey {
			return 1
		}
		return 0
	})
	d := stored{Keys: make([]any, len(kvs)), Vals: make([]any, len(kvs))}
	for i, p := range kvs {
		d.Keys[i], d.Vals[i] = p.k, p.v
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(data []byte) (map[any]any, error) {
	var d stored
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&d); err != nil {
		return nil, err
	}
	if len(d.Keys) != len(d.Vals) {
		return nil, errors.New("corrupt session data")
	}
	values := make(map[any]any, len(d.Keys))
	for i, k := range d.Keys {
		values[k] = d.Vals[i]
	}
	return values, nil
}
