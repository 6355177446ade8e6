package main

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0, time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d > 0.02 || d < -0.02 {
			t.Errorf("q%.2f = %v, want %v ±2%%", c.q, got, c.want)
		}
	}
	for _, ns := range []int64{0, 1, 63, 64, 65, 1000, 1 << 40} {
		b := bucketOf(ns)
		if lo, hi := lowerBound(b), lowerBound(b+1); ns < lo || ns >= hi {
			t.Errorf("%d in bucket %d [%d,%d)", ns, b, lo, hi)
		}
	}
}

func TestInsKey(t *testing.T) {
	seen := map[string]bool{}
	for n := int64(0); n < 1000; n++ {
		k := insKey(n)
		if len(k) != 43 || seen[k] {
			t.Fatalf("insKey(%d) = %q: want 43 characters, distinct", n, k)
		}
		seen[k] = true
	}
	if a, b := insKey(7), insKey(7); a != b {
		t.Fatalf("insKey is not deterministic: %q, %q", a, b)
	}
}
