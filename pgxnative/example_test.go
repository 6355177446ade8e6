package pgxnative_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/pgxnative"
)

// A Store over the pgx pool an application already has. The pool is the
// application's: close it after the Store.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgxnative.New(ctx, pool, sqlstore.WithTable("sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	if err := store.Set(ctx, "session-id", []byte("data"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
}
