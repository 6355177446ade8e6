package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestUnitcheckID(t *testing.T) {
	for _, id := range []string{"a", " ", "~", strings.Repeat("x", 255), "abc-_.~!@#$%^&*()+={}[]|\\:;\"'<>,?/ `"} {
		if err := checkID(id); err != nil {
			t.Errorf("checkID(%q) = %v, want nil", id, err)
		}
	}
	for _, tc := range []struct{ id, want string }{
		{"", "empty"},
		{strings.Repeat("x", 256), "256 bytes, more than 255"},
		{"a\x00", "byte 0x00 at 1"},
		{"\x1f", "byte 0x1f at 0"},
		{"ab\x7f", "byte 0x7f at 2"},
		{"tab\there", "byte 0x09 at 3"},
		{"line\n", "byte 0x0a at 4"},
		{"sessão", "byte 0xc3 at 4"},
		{"\x80", "byte 0x80 at 0"},
	} {
		err := checkID(tc.id)
		if !errors.Is(err, ErrInvalidID) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("checkID(%q) = %v, want ErrInvalidID saying %q", tc.id, err, tc.want)
		}
	}
}
