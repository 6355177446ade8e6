package otelsqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/go-sqlstore/sqlstore"
)

type customError struct{}

func (customError) Error() string { return "custom" }

// TestErrorType checks the values of error.type, with the drivers' own
// error types, wrapped as package sqlstore wraps them.
func TestErrorType(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("sqlstore: set: %w", err) }
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "_OTHER"},
		{sqlstore.ErrClosed, "closed"},
		{fmt.Errorf("%w: empty", sqlstore.ErrInvalidID), "invalid_id"},
		{fmt.Errorf("%w: empty", sqlstore.ErrInvalidOwner), "invalid_owner"},
		{fmt.Errorf("%w: 0001-01-01", sqlstore.ErrInvalidExpiry), "invalid_expiry"},
		{fmt.Errorf("%w: 9 bytes: %w", sqlstore.ErrDataTooLarge, &mysql.MySQLError{Number: 1153}), "data_too_large"},
		{wrap(context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("%w: %w", wrap(&pq.Error{Code: "57014"}), context.Canceled), "canceled"},
		{wrap(&pq.Error{Code: "40001"}), "40001"},
		{wrap(&pgconn.PgError{Code: "40P01"}), "40P01"},
		{wrap(&mysql.MySQLError{Number: 1213}), "1213"},
		{fmt.Errorf("%w; %w", errors.New("first"), &mysql.MySQLError{Number: 1205}), "1205"},
		{wrap(customError{}), "github.com/go-sqlstore/sqlstore/otelsqlstore.customError"},
		{wrap(errors.New("plain")), "*errors.errorString"},
	} {
		if got := errorType(c.err); got != c.want {
			t.Errorf("errorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
