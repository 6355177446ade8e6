// Package owner turns the value an adapter finds under its owner key into
// the owner the store records (sqlstore.Store.SetOwned).
package owner

import "fmt"

// Of returns the owner a session value names: a string as it is, an integer
// in decimal, a fmt.Stringer's String; "" (no owner) for nil.
func Of(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case fmt.Stringer:
		return v.String(), nil
	}
	return "", fmt.Errorf("%T is not a string, an integer or a fmt.Stringer", v)
}
