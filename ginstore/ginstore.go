// Package ginstore makes a sqlstore.Store a github.com/gin-contrib/sessions
// Store, for Gin's session middleware (sessions is
// github.com/gin-contrib/sessions):
//
//	sqlStore, err := sqlstore.Open(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store := ginstore.New(sqlStore, hashKey, blockKey)
//	router := gin.Default()
//	router.Use(sessions.Sessions("session", store))
//
// It is a gorillastore.Store with the Options method gin-contrib/sessions
// asks for, so it behaves as gorillastore does: the cookie carries only the
// signed (and, with a block key, encrypted) session id, the database holds
// the values (under a hash of the id, sqlstore's default), and a Save whose
// values did not change only moves the expiry. A session's Options MaxAge
// sets both the cookie's Max-Age and the row's expiry; a negative MaxAge
// deletes the row and the cookie.
//
// gin-contrib/sessions has no way to change a session's id. At login, renew
// it through the store: the gorilla session that store.Get returns for the
// request is the one behind sessions.Default(c), so
//
//	gs, err := store.Get(c.Request, "session")
//	if err == nil {
//		err = store.RenewID(c.Request.Context(), gs)
//	}
//	if err != nil { ... }
//	session := sessions.Default(c)
//	session.Set("user", user) // a Set is what makes Save write
//	err = session.Save()
//
// deletes the old row and stores the values under a new id with a new
// cookie.
package ginstore

import (
	"github.com/gin-contrib/sessions"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/gorillastore"
)

var _ sessions.Store = (*Store)(nil)

// Store is a gin-contrib/sessions Store over a sqlstore.Store: the embedded
// gorillastore.Store, whose methods (Get, New, Save, RenewID, MaxAge) and
// fields (Codecs, Logger, OwnerKey) it has, plus Options, which shadows the
// embedded store's Options field (st.Store.Options is that field).
// Configure it before serving; it is then safe for concurrent use.
type Store struct {
	*gorillastore.Store
}

// New returns a gin-contrib/sessions Store over s whose cookies are signed,
// and encrypted when a block key is given, with keyPairs: hash key, block
// key (or nil), ..., as gorillastore.New takes them (the first pair signs;
// all verify, so keys rotate by prepending a pair). The default options are
// gorillastore's: Path "/", HttpOnly, SameSite Lax, MaxAge
// gorillastore.DefaultMaxAge.
func New(s *sqlstore.Store, keyPairs ...[]byte) *Store {
	return &Store{gorillastore.New(s, keyPairs...)}
}

// Options replaces the default options of new sessions with opts, in full:
// fields left zero are zero (an empty Path sends no Path attribute). Its
// MaxAge sets the expiry of the rows saved with these options and is also
// the age past which the codecs refuse a cookie (with MaxAge 0, a browser
// session, they check no age and the row lives for the store's default
// TTL).
func (st *Store) Options(opts sessions.Options) {
	st.Store.Options = opts.ToGorillaOptions()
	st.Store.MaxAge(opts.MaxAge)
}
