package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the program chooses the driver; sqlstore imports none

	"github.com/go-sqlstore/sqlstore"
)

// tempDSN returns a SQLite DSN in a new temporary directory.
func tempDSN() (dsn string, cleanup func()) {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	return "sqlite:" + filepath.Join(dir, "sessions.db"), func() { os.RemoveAll(dir) }
}

// Open makes a store that owns its pool: here an embedded SQLite file.
func ExampleOpen() {
	dsn, cleanup := tempDSN()
	defer cleanup()
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	if err := store.Set(ctx, "session-id", []byte("user=42"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	data, found, err := store.Get(ctx, "session-id")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %v\n", data, found)
	// Output: user=42 true
}

// New makes a store over a pool the application already has, and never
// closes it.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// A pool of the application's own; for SQLite, set a busy timeout and
	// WAL so that concurrent writers wait instead of failing.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqlstore.New(ctx, db,
		sqlstore.WithTable("web_sessions"),
		sqlstore.WithPruneInterval(10*time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_, found, err := store.Get(ctx, "no-such-session")
	fmt.Println(found, err) // not found is not an error
	// Output: false <nil>
}

// Expiry is decided by the store's clock, never the database's: a session is
// live until the clock reaches its expiry.
func ExampleWithClock() {
	dsn, cleanup := tempDSN()
	defer cleanup()
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_ = store.Set(ctx, "s", []byte("x"), now.Add(time.Minute))
	_, found, _ := store.Get(ctx, "s")
	fmt.Println("before expiry:", found)
	now = now.Add(time.Minute)
	_, found, _ = store.Get(ctx, "s")
	fmt.Println("at expiry:", found)
	// Output:
	// before expiry: true
	// at expiry: false
}

// Prune deletes expired sessions now, in short batches; the background
// pruner does the same every five minutes by default.
func ExampleStore_Prune() {
	dsn, cleanup := tempDSN()
	defer cleanup()
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithPruneInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_ = store.Set(ctx, "old", []byte("x"), time.Now().Add(-time.Minute))
	_ = store.Set(ctx, "new", []byte("y"), time.Now().Add(time.Hour))
	n, err := store.Prune(ctx)
	fmt.Println(n, err)
	// Output: 1 <nil>
}

// Range streams live sessions; with hashed ids (the default) it yields the
// stored keys, which Key computes from an id.
func ExampleStore_Range() {
	dsn, cleanup := tempDSN()
	defer cleanup()
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_ = store.Set(ctx, "abc", []byte("x"), time.Now().Add(time.Hour))
	_ = store.Range(ctx, func(key string, data []byte, expiresAt time.Time) bool {
		fmt.Println(key == store.Key("abc"), len(key), string(data))
		return true
	})
	// Output: true 64 x
}
