package owner

import (
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"alice", "alice"}, {42, "42"}, {int64(-7), "-7"}, {uint8(255), "255"},
		{netip.MustParseAddr("192.0.2.1"), "192.0.2.1"}, // a fmt.Stringer
	} {
		if got, err := Of(tc.v); err != nil || got != tc.want {
			t.Errorf("Of(%#v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	for _, v := range []any{1.5, []byte("x"), struct{}{}} {
		if _, err := Of(v); err == nil {
			t.Errorf("Of(%#v) = nil error, want one", v)
		}
	}
}
