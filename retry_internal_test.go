package sqlstore

import (
	"errors"
	"fmt"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
)

type sqlStateString string

func (e sqlStateString) Error() string { return "state " + string(e) }

func (e sqlStateString) SQLState() string { return string(e) }

// mysqlError has the shape of go-sql-driver/mysql's error, not its type.
type mysqlError struct {
	Number  uint16
	Message string
}

func (e *mysqlError) Error() string { return fmt.Sprintf("Error %d: %s", e.Number, e.Message) }

type intNumberError struct{ Number int }

func (e intNumberError) Error() string { return "number" }

func TestUnitTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sqlStateString("40001"), true},
		{sqlStateString("40P01"), true},
		{sqlStateString("23505"), false},
		{sqlStateString("57014"), false},
		{&mysqldriver.MySQLError{Number: 1213, Message: "Deadlock found"}, true},
		{&mysqldriver.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{&mysqldriver.MySQLError{Number: 1205, Message: "Lock wait timeout"}, false},
		{fmt.Errorf("exec: %w", &mysqldriver.MySQLError{Number: 1213}), true},
		{&mysqlError{Number: 1213, Message: "Deadlock found"}, false}, // the same fields, another type
		{(*mysqldriver.MySQLError)(nil), false},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", sqlStateString("40001"))), true},
		{intNumberError{Number: 1213}, false}, // a signed Number is not the MySQL driver's
		{errors.New("40001"), false},
		{nil, false},
	} {
		if tc.err == nil {
			if transient(nil) {
				t.Error("transient(nil) = true")
			}
			continue
		}
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%T %v) = %v, want %v", tc.err, tc.err, got, tc.want)
		}
	}
}

func TestUnitTooLarge(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&mysqldriver.MySQLError{Number: 8025, Message: "entry too large, the max entry size is 6291456"}, true}, // TiDB
		{&mysqldriver.MySQLError{Number: 1153, Message: "Got a packet bigger than 'max_allowed_packet' bytes"}, true},
		{fmt.Errorf("exec: %w", &mysqldriver.MySQLError{Number: 8025}), true},
		{sqlStateString("54000"), true}, // PostgreSQL program_limit_exceeded
		{&mysqldriver.MySQLError{Number: 1213}, false},
		{&mysqlError{Number: 8025}, false},
		{sqlStateString("40001"), false},
		{errors.New("entry too large"), false},
	} {
		if got := tooLarge(tc.err); got != tc.want {
			t.Errorf("tooLarge(%T %v) = %v, want %v", tc.err, tc.err, got, tc.want)
		}
	}
}
