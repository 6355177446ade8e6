package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram: 64 sub-buckets per power of two
// (under 1.6% error), fixed size, so recording allocates nothing.
type hist struct {
	n      uint64
	counts [64 * 64]uint32
}

const subBits = 6

func bucketOf(ns int64) int {
	if ns < 1<<subBits {
		if ns < 0 {
			ns = 0
		}
		return int(ns)
	}
	e := bits.Len64(uint64(ns)) - subBits // >= 1
	m := int(uint64(ns)>>uint(e-1)) & (1<<subBits - 1)
	return e<<subBits | m
}

// lowerBound returns the smallest value of bucket b.
func lowerBound(b int) int64 {
	if b < 1<<subBits {
		return int64(b)
	}
	e, m := b>>subBits, b&(1<<subBits-1)
	return int64(1<<subBits|m) << uint(e-1)
}

func (h *hist) record(d time.Duration) {
	h.counts[bucketOf(int64(d))]++
	h.n++
}

func (h *hist) merge(o *hist) {
	h.n += o.n
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// quantile returns the q-quantile (0..1), the midpoint of its bucket.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for b, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			lo := lowerBound(b)
			hi := lowerBound(b + 1)
			return time.Duration((lo + hi) / 2)
		}
	}
	return 0
}
