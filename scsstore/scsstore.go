// Package scsstore makes a sqlstore.Store the session store of
// github.com/alexedwards/scs/v2:
//
//	store, err := sqlstore.Open(ctx, os.Getenv("DATABASE_URL"))
//	...
//	sessionManager := scs.New()
//	sessionManager.Store = scsstore.New(store)
//
// The Store returned by New implements scs.Store, scs.CtxStore,
// scs.IterableStore and scs.IterableCtxStore. The methods without a context
// use context.Background().
//
// # Touch instead of rewrite
//
// With an IdleTimeout, scs commits every session on every request, even one
// the request did not change, to move its expiry. The Store remembers a
// SHA-256 of the data it last loaded or committed for each recent token (a
// bounded memory, see WithMemory); when a Commit carries the same data, it
// calls sqlstore.Store.Touch, which moves the expiry without rewriting the
// data and writes nothing at all when the move is below the store's touch
// threshold (sqlstore.WithTouchThreshold, 5 seconds by default). So a busy
// site does not write a session on every request. Touch never revives a
// session: one deleted or expired between the request's load and its commit
// stays gone.
//
// # Logout stays logout
//
// Delete ends a session (sqlstore.Store.Delete): until the expiry it had, no
// commit writes it again. So a request that loaded a session before a
// logout (scs.SessionManager.Destroy) and commits after it, changed or not,
// never brings the session back.
//
// # Sessions of a user
//
// With WithOwnerKey, the Store records the user each session belongs to,
// taken from the session's values, so that the application can list a
// user's sessions and sign them out everywhere:
//
//	sessionManager.Store = scsstore.New(store, scsstore.WithOwnerKey("userID"))
//	sessionManager.Put(ctx, "userID", user.ID) // at login
//	list, err := store.Sessions(ctx, user.ID)  // "where am I logged in"
//	n, err := store.DeleteOwner(ctx, user.ID, sessionManager.Token(ctx)) // sign out everywhere else
//
// scs's default codec (scs.GobCodec) encodes a session's values, a Go map, in
// random order, so an unchanged session with two or more values is usually
// not byte-for-byte the same and is rewritten. Set the manager's Codec to
// this package's Codec, which encodes the values in key order, to make the
// Touch path apply to every unchanged session.
//
// # Iterate and hashed ids
//
// By default sqlstore stores a hash of each session id, not the id
// (sqlstore.WithHashedIDs). All and AllCtx return what is stored, so the
// tokens that scs.SessionManager.Iterate puts in each context are the
// hashes: Iterate can read every session, but a change made inside Iterate
// cannot reach the session, since the real token cannot be recovered from
// its hash. Commit and Delete (and so Commit, Destroy and RenewToken of the
// manager) refuse such a stored key with ErrStoredKey instead of writing a
// session that no cookie can name. An application that needs to change or
// destroy sessions inside Iterate (for example to log a user out
// everywhere) opens its store with sqlstore.WithHashedIDs(false).
package scsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/memo"
	"github.com/go-sqlstore/sqlstore/internal/owner"
)

// Compile-time checks that Store is every kind of scs store.
var (
	_ scs.Store            = (*Store)(nil)
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableStore    = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// defaultMemory is how many tokens a Store remembers the data hash of, unless
// WithMemory says otherwise. Each entry takes about 100 bytes.
const defaultMemory = 10000

// ErrStoredKey is returned by Commit and Delete for a token that is a stored
// key (the hex SHA-256 of a token) of a store with hashed ids, as the tokens
// of scs's Iterate are: see the package documentation.
var ErrStoredKey = errors.New("scsstore: token is a hashed key from All/Iterate; with hashed ids a session cannot be changed through Iterate (use sqlstore.WithHashedIDs(false))")

// Store is an scs session store over a sqlstore.Store. It is safe for
// concurrent use. Closing it is closing the sqlstore.Store.
type Store struct {
	s        *sqlstore.Store
	hashed   bool
	mem      *memo.Memo
	ownerKey string    // WithOwnerKey
	codec    scs.Codec // WithCodec
}

// An Option configures a Store.
type Option func(*Store)

// WithMemory sets how many tokens the Store remembers the data hash of, to
// tell an unchanged commit (written with Touch) from a changed one (written
// with Set). When more tokens are active, the least recently used are
// forgotten, and their next unchanged commit is a Set. Zero turns the memory
// off: every commit is a Set. The default is 10000.
func WithMemory(n int) Option {
	return func(s *Store) {
		if n < 0 {
			n = 0
		}
		s.mem = memo.New(n)
	}
}

// WithOwnerKey makes every commit that writes a session's data record who
// it belongs to (sqlstore.Store.SetOwned): the value the session holds under
// key (a string, an integer or a fmt.Stringer), or nobody when it holds
// none. With it, sessionManager.Put(ctx, key, userID) at login is all an
// application does to list a user's sessions (sqlstore.Store.Sessions) and
// end them (sqlstore.Store.DeleteOwner). The values are decoded with the
// codec of WithCodec.
func WithOwnerKey(key string) Option {
	return func(s *Store) { s.ownerKey = key }
}

// WithCodec sets the codec WithOwnerKey decodes a session's values with: the
// manager's (scs.SessionManager.Codec), which the Store cannot see. The
// default is scs.GobCodec, which also decodes this package's Codec.
func WithCodec(c scs.Codec) Option {
	return func(s *Store) { s.codec = c }
}

// New returns an scs store over s.
func New(s *sqlstore.Store, opts ...Option) *Store {
	st := &Store{s: s, mem: memo.New(defaultMemory), codec: scs.GobCodec{}}
	for _, o := range opts {
		o(st)
	}
	st.hashed = s.Key("x") != "x"
	return st
}

// Find returns the data of the live session token, with found false for a
// missing, expired or malformed token.
func (st *Store) Find(token string) ([]byte, bool, error) {
	return st.FindCtx(context.Background(), token)
}

// FindCtx is Find with a context.
func (st *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, found, err := st.s.Get(ctx, token)
	if errors.Is(err, sqlstore.ErrInvalidID) {
		return nil, false, nil // a malformed token is not found, as scs wants
	}
	if err != nil {
		return nil, false, fmt.Errorf("scsstore: find: %w", err)
	}
	if !found {
		st.mem.Forget(token)
		return nil, false, nil
	}
	st.mem.Remember(token, b)
	return b, true, nil
}

// Commit stores data b for token until expiry. When b is what this Store last
// loaded or committed for token, it only moves the expiry (see the package
// documentation).
func (st *Store) Commit(token string, b []byte, expiry time.Time) error {
	return st.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context.
func (st *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if st.isStoredKey(token) {
		return ErrStoredKey
	}
	if st.mem.Same(token, b) {
		if err := st.s.Touch(ctx, token, expiry); err != nil {
			st.mem.Forget(token)
			return fmt.Errorf("scsstore: commit: %w", err)
		}
		return nil
	}
	err := st.set(ctx, token, b, expiry)
	if err != nil {
		st.mem.Forget(token)
		return fmt.Errorf("scsstore: commit: %w", err)
	}
	st.mem.Remember(token, b)
	return nil
}

// set writes the session, with its owner when WithOwnerKey is set.
func (st *Store) set(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if st.ownerKey == "" {
		return st.s.Set(ctx, token, b, expiry)
	}
	_, values, err := st.codec.Decode(b)
	if err != nil {
		return fmt.Errorf("decoding the values for the owner: %w", err)
	}
	owner, err := owner.Of(values[st.ownerKey])
	if err != nil {
		return fmt.Errorf("the value under the owner key %q: %w", st.ownerKey, err)
	}
	return st.s.SetOwned(ctx, token, owner, b, expiry)
}

// Delete deletes session token. A missing or malformed token (scs deletes
// the empty token of a session never committed) is not an error.
func (st *Store) Delete(token string) error {
	return st.DeleteCtx(context.Background(), token)
}

// DeleteCtx is Delete with a context.
func (st *Store) DeleteCtx(ctx context.Context, token string) error {
	if st.isStoredKey(token) {
		return ErrStoredKey
	}
	st.mem.Forget(token)
	if err := st.s.Delete(ctx, token); err != nil && !errors.Is(err, sqlstore.ErrInvalidID) {
		return fmt.Errorf("scsstore: delete: %w", err)
	}
	return nil
}

// All returns the data of every live session, keyed by what the store keeps
// as the id: with hashed ids (the default), the hash of the token (see the
// package documentation). With no live session it returns an empty map.
func (st *Store) All() (map[string][]byte, error) {
	return st.AllCtx(context.Background())
}

// AllCtx is All with a context.
func (st *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	m := map[string][]byte{}
	err := st.s.Range(ctx, func(id string, data []byte, _ time.Time) bool {
		m[id] = data
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("scsstore: all: %w", err)
	}
	return m, nil
}

// isStoredKey reports whether token looks like a hashed stored key (64
// lowercase hex digits) of a store with hashed ids. scs's own tokens are 43
// characters of base64url, so none of them does.
func (st *Store) isStoredKey(token string) bool {
	if !st.hashed || len(token) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Codec is an scs.Codec that encodes a session with gob like scs.GobCodec,
// but with its values in key order, so that the same session always encodes
// to the same bytes and an unchanged session is written with Touch. Values
// nested in a map are still encoded in random order. Codec decodes what
// scs.GobCodec encoded too, so an application can switch to it with
// sessions in its table; scs.GobCodec does not decode what Codec encodes.
// Values of custom types must be registered with gob.Register, as with
// scs.GobCodec.
type Codec struct{}

var _ scs.Codec = Codec{}

// codecData is the encoded form. Values holds the values as scs.GobCodec
// encodes them, and is only read; Keys and Vals hold them in key order.
type codecData struct {
	Deadline time.Time
	Values   map[string]any
	Keys     []string
	Vals     []any
}

// Encode encodes a session's deadline and values.
func (Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	d := codecData{Deadline: deadline, Keys: make([]string, 0, len(values))}
	for k := range values {
		d.Keys = append(d.Keys, k)
	}
	slices.Sort(d.Keys)
	d.Vals = make([]any, len(d.Keys))
	for i, k := range d.Keys {
		d.Vals[i] = values[k]
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&d); err != nil {
		return nil, fmt.Errorf("scsstore: encode: %w", err)
	}
	return b.Bytes(), nil
}

// Decode decodes what Encode or scs.GobCodec encoded.
func (Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	var d codecData
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&d); err != nil {
		return time.Time{}, nil, fmt.Errorf("scsstore: decode: %w", err)
	}
	if len(d.Keys) != len(d.Vals) {
		return time.Time{}, nil, errors.New("scsstore: decode: corrupt session data")
	}
	values := d.Values
	if values == nil {
		values = make(map[string]any, len(d.Keys))
	}
	for i, k := range d.Keys {
		values[k] = d.Vals[i]
	}
	return d.Deadline, values, nil
}
