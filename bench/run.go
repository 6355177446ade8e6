package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Workloads, in the order they run (delete consumes what set-insert added).
const (
	wlGetHit    = "get-hit"
	wlGetMiss   = "get-miss"
	wlSetUpdate = "set-update"
	wlSetInsert = "set-insert"
	wlDelete    = "delete"
	wlTouch     = "touch"
	wlMixed     = "mixed"
)

var allWorkloads = []string{wlGetHit, wlGetMiss, wlSetUpdate, wlSetInsert, wlDelete, wlTouch, wlMixed}

// ttl is the lifetime of every session the benchmark writes.
const ttl = 24 * time.Hour

// cell is the result of one store running one workload at one concurrency
// once.
type cell struct {
	ops, errs      int64
	firstErr       string
	elapsed        time.Duration
	all, get, wr   hist
	mallocs, bytes uint64
	cpu            time.Duration // user + system CPU time of this process
}

// cpuTime returns the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerOp is the benchmark process's CPU time per operation: the client's
// cost (driver and store), which the load of other processes on the machine
// barely changes.
func (c *cell) cpuPerOp() float64 {
	if c.ops == 0 {
		return 0
	}
	return float64(c.cpu) / 1e3 / float64(c.ops)
}

func (c *cell) opsPerSec() float64 {
	if c.elapsed <= 0 {
		return 0
	}
	return float64(c.ops) / c.elapsed.Seconds()
}

func (c *cell) allocsPerOp() float64 {
	if c.ops == 0 {
		return 0
	}
	return float64(c.mallocs) / float64(c.ops)
}

func (c *cell) bytesPerOp() float64 {
	if c.ops == 0 {
		return 0
	}
	return float64(c.bytes) / float64(c.ops)
}

// keyset holds the ids a run works on.
type keyset struct {
	hit, miss []string
	data      []byte
}

// insKey returns the n-th id that set-insert adds to a store: 43
// characters of base64 of a hash of n, random-looking like every real
// session id, so that inserts land all over the key index for every store
// (ids in order would favour the stores that keep ids as given over
// sqlstore, which stores their hash).
func insKey(n int64) string {
	var in [8]byte
	binary.LittleEndian.PutUint64(in[:], uint64(n))
	sum := sha256.Sum256(in[:])
	var out [43]byte
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// backgroundCtx is the -background-ctx flag.
var backgroundCtx bool

type worker struct {
	rng          *rand.Rand
	all, get, wr hist
	ops, errs    int64
	firstErr     error
}

// runCell runs workload wl on t with conc goroutines: warm for warm, then
// measure for dur.
func runCell(ctx context.Context, t *target, ks *keyset, wl string, conc int, warm, dur time.Duration) *cell {
	ctx, cancel := context.WithTimeout(ctx, warm+dur+2*time.Minute)
	defer cancel()
	workers := make([]*worker, conc)
	for i := range workers {
		workers[i] = &worker{rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))}
	}
	// Each operation gets the cell's context, which can be cancelled, as
	// an HTTP request's can; with -background-ctx, one that cannot.
	opCtx := ctx
	if backgroundCtx {
		opCtx = context.Background()
	}
	var measuring, stop atomic.Bool
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				m := measuring.Load()
				d, isGet, err := op(opCtx, t, ks, wl, w.rng)
				if !m {
					continue
				}
				if err != nil {
					// A failed operation is not throughput: count it
					// apart, keep it out of ops/s and the latencies.
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					continue
				}
				w.ops++
				w.all.record(d)
				if isGet {
					w.get.record(d)
				} else {
					w.wr.record(d)
				}
			}
		}()
	}
	sleepCtx(ctx, warm)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	measuring.Store(true)
	sleepCtx(ctx, dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	cpu1 := cpuTime()
	runtime.ReadMemStats(&m1)
	stop.Store(true)
	wg.Wait()
	c := &cell{elapsed: elapsed, mallocs: m1.Mallocs - m0.Mallocs, bytes: m1.TotalAlloc - m0.TotalAlloc, cpu: cpu1 - cpu0}
	for _, w := range workers {
		c.ops += w.ops
		c.errs += w.errs
		c.all.merge(&w.all)
		c.get.merge(&w.get)
		c.wr.merge(&w.wr)
		if w.firstErr != nil && c.firstErr == "" {
			c.firstErr = w.firstErr.Error()
		}
	}
	if ctx.Err() != nil && c.firstErr == "" {
		c.errs++
		c.firstErr = "cell timed out: " + ctx.Err().Error()
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errNotFound and errFound flag a get-hit that missed and a get-miss that
// hit: the benchmark would measure the wrong thing.
var (
	errNotFound  = fmt.Errorf("get-hit: session not found")
	errFound     = fmt.Errorf("get-miss: session found")
	errPoolEmpty = fmt.Errorf("delete: no session left to delete (refill too small)")
)

// op runs one operation of wl and returns its latency. Choosing the key and
// the expiry happens before the clock starts.
func op(ctx context.Context, t *target, ks *keyset, wl string, rng *rand.Rand) (time.Duration, bool, error) {
	switch wl {
	case wlGetHit, wlGetMiss:
		keys, want := ks.hit, true
		if wl == wlGetMiss {
			keys, want = ks.miss, false
		}
		id := keys[rng.IntN(len(keys))]
		start := time.Now()
		found, err := t.st.Get(ctx, id)
		d := time.Since(start)
		if err == nil && found != want {
			err = errNotFound
			if !want {
				err = errFound
			}
		}
		return d, true, err
	case wlSetUpdate:
		id := ks.hit[rng.IntN(len(ks.hit))]
		exp := time.Now().Add(ttl)
		start := time.Now()
		err := t.st.Set(ctx, id, ks.data, exp)
		return time.Since(start), false, err
	case wlSetInsert:
		id := insKey(t.insNext.Add(1) - 1)
		exp := time.Now().Add(ttl)
		start := time.Now()
		err := t.st.Set(ctx, id, ks.data, exp)
		return time.Since(start), false, err
	case wlDelete:
		n := t.delNext.Add(1) - 1
		if n >= t.insNext.Load() {
			// Nothing left to delete: the pool was too small.
			return 0, false, errPoolEmpty
		}
		id := insKey(n)
		start := time.Now()
		err := t.st.Delete(ctx, id)
		return time.Since(start), false, err
	case wlTouch:
		// A move of up to an hour: nearly every Touch writes, throttled or not.
		id := ks.hit[rng.IntN(len(ks.hit))]
		exp := time.Now().Add(ttl + time.Duration(rng.IntN(3600))*time.Second)
		start := time.Now()
		err := t.st.Touch(ctx, id, ks.data, exp)
		return time.Since(start), false, err
	case wlMixed:
		return mixedOp(ctx, t.st, ks, rng)
	}
	return 0, false, fmt.Errorf("unknown workload %q", wl)
}

// mixedOp is the shape of real traffic: 90% Get, 8% Touch to now+TTL (an
// idle timeout moving on every request), 2% Set.
func mixedOp(ctx context.Context, st store, ks *keyset, rng *rand.Rand) (time.Duration, bool, error) {
	id := ks.hit[rng.IntN(len(ks.hit))]
	r := rng.IntN(100)
	exp := time.Now().Add(ttl)
	start := time.Now()
	switch {
	case r < 90:
		found, err := st.Get(ctx, id)
		d := time.Since(start)
		if err == nil && !found {
			err = errNotFound
		}
		return d, true, err
	case r < 98:
		err := st.Touch(ctx, id, ks.data, exp)
		return time.Since(start), false, err
	default:
		err := st.Set(ctx, id, ks.data, exp)
		return time.Since(start), false, err
	}
}

// stat is the median over repeats of one cell.
type stat struct {
	ops, p50, p99, allocs, bytes float64 // p50, p99 in microseconds
	cpu                          float64 // client CPU µs per op
	errs                         int64
	firstErr                     string
	n                            int
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(cs []*cell) stat {
	var ops, p50, p99, al, by, cpu []float64
	st := stat{n: len(cs)}
	for _, c := range cs {
		ops = append(ops, c.opsPerSec())
		p50 = append(p50, float64(c.all.quantile(0.5))/1e3)
		p99 = append(p99, float64(c.all.quantile(0.99))/1e3)
		al = append(al, c.allocsPerOp())
		by = append(by, c.bytesPerOp())
		cpu = append(cpu, c.cpuPerOp())
		st.errs += c.errs
		if st.firstErr == "" {
			st.firstErr = c.firstErr
		}
	}
	st.ops, st.p50, st.p99, st.allocs, st.bytes, st.cpu = median(ops), median(p50), median(p99), median(al), median(by), median(cpu)
	return st
}
