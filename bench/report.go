package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// report gathers everything a run measured.
type report struct {
	o         *options
	targets   []*target
	res       map[*target]map[string][]*cell
	started   time.Time
	extra     []string // Markdown sections of the pruning, scale and throttling tests
	extraErrs int
}

var dbTitle = map[string]string{"postgres": "PostgreSQL", "mysql": "MySQL / MariaDB", "sqlite": "SQLite"}

func (r *report) stat(t *target, wl string, c int) (stat, bool) {
	cs := r.res[t][cellKey(wl, c)]
	if len(cs) == 0 {
		return stat{}, false
	}
	return summarize(cs), true
}

// floorOf returns the floor of t's driver on t's database.
func (r *report) floorOf(t *target) *target {
	for _, f := range r.targets {
		if f.kind == kindFloor && f.db == t.db && f.driver == t.driver {
			return f
		}
	}
	return nil
}

// peerOn reports whether t is a peer on db, over a driver's own pool
// (native) or over database/sql.
func (t *target) peerOn(db string, native bool) bool {
	return t.kind == kindPeer && t.db == db && t.native == native
}

// bestPeer returns the fastest peer of a cell on db; native selects peers
// over a driver's own pool, else those over database/sql.
func (r *report) bestPeer(db, wl string, c int, native bool) (*target, stat) {
	var best *target
	var bs stat
	for _, t := range r.targets {
		if !t.peerOn(db, native) {
			continue
		}
		if s, ok := r.stat(t, wl, c); ok && (best == nil || s.ops > bs.ops) {
			best, bs = t, s
		}
	}
	return best, bs
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func fmtOps(x float64) string {
	switch {
	case x >= 100_000:
		return fmt.Sprintf("%.0fk", x/1000)
	case x >= 10_000:
		return fmt.Sprintf("%.1fk", x/1000)
	}
	return fmt.Sprintf("%.0f", x)
}

func fmtUS(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func (r *report) dbs() []string {
	var out []string
	for _, db := range []string{"postgres", "mysql", "sqlite"} {
		for _, t := range r.targets {
			if t.db == db {
				out = append(out, db)
				break
			}
		}
	}
	return out
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.o
	fmt.Fprintf(&b, "# Benchmark results, %s\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command, in bench/: `%s`. Summary and method: [BENCHMARKS.md](../../BENCHMARKS.md).\n\n", commandLine())
	fmt.Fprintf(&b, "Run %s; %s.\n", r.started.UTC().Format("2006-01-02 15:04 MST"), machine())
	ctxNote := "each call with a context that can be cancelled (as an HTTP request's; scs's stores take none)"
	if backgroundCtx {
		ctxNote = "each call with context.Background() (-background-ctx)"
	}
	fmt.Fprintf(&b, "Payload %d B, %d rows per table, %v measured per cell after %v warm-up, medians of %d interleaved repeats, pools of %d connections, %s.\n\n",
		o.payload, o.rows, o.duration, o.warmup, o.repeats, o.conns, ctxNote)
	if len(o.workloads) > 0 {
		b.WriteString(r.summary())
	}
	for _, db := range r.dbs() {
		fmt.Fprintf(&b, "\n## %s\n", dbTitle[db])
		for _, wl := range o.workloads {
			fmt.Fprintf(&b, "\n**%s**\n\n", wl)
			b.WriteString("| store | driver | conc | ops/s | p50 | p99 | allocs/op | B/op | client CPU/op | errors | × floor | × best peer (database/sql) |\n")
			b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, c := range o.concs {
				_, bp := r.bestPeer(db, wl, c, false)
				for _, t := range r.targets {
					if t.db != db {
						continue
					}
					s, ok := r.stat(t, wl, c)
					if !ok {
						continue
					}
					fl := "–"
					if f := r.floorOf(t); f != nil && f != t {
						fs, _ := r.stat(f, wl, c)
						fl = ratio(s.ops, fs.ops)
					}
					name := t.name
					if t.kind == kindSQLStore {
						name = "**" + name + "**"
					}
					errs := fmt.Sprint(s.errs)
					if s.errs > 0 {
						errs += " (" + html.EscapeString(trunc(s.firstErr, 60)) + ")"
					}
					fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.1f | %.0f | %.0f µs | %s | %s | %s |\n",
						name, t.driver, c, fmtOps(s.ops), fmtUS(s.p50), fmtUS(s.p99), s.allocs, s.bytes, s.cpu, errs, fl, ratio(s.ops, bp.ops))
				}
			}
		}
	}
	for _, x := range r.extra {
		b.WriteString("\n" + x)
	}
	return b.String()
}

func trunc(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// summary checks the targets of issue 5 for each sqlstore variant and cell.
func (r *report) summary() string {
	var b strings.Builder
	b.WriteString("## Targets\n\n")
	b.WriteString("Each sqlstore variant against the floor of its own driver (target ≥ 0.90), the best peer over database/sql on the same database (target ≥ 1.0) and, on PostgreSQL, the best peer over pgx's own pool (target ≥ 0.90); allocations per Get and Set against the floor's (target ≤ floor + 4). Each ratio is the ratio of medians, followed by the lowest and highest ratio of single repeats (both stores measured in the same round of that cell, seconds apart). ✗ marks a miss of the median, ✗✗ one that misses in every repeat.\n\n")
	b.WriteString("| database | store (driver) | workload | conc | ops/s | × floor | × best database/sql peer | × best native peer | allocs/op (floor) | client CPU/op (floor) |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	misses, firm := 0, 0
	for _, t := range r.targets {
		if t.kind != kindSQLStore {
			continue
		}
		f := r.floorOf(t)
		for _, wl := range r.o.workloads {
			for _, c := range r.o.concs {
				s, ok := r.stat(t, wl, c)
				if !ok {
					continue
				}
				var fs stat
				if f != nil {
					fs, _ = r.stat(f, wl, c)
				}
				// mark checks a median ratio against its target and adds
				// the range of the ratios of single repeats (the two
				// measured seconds apart, so they share the
				// machine's load): a miss in every repeat is firm, one
				// whose range reaches the target is the machine's noise.
				mark := func(x, y, target float64, per []float64) string {
					if y == 0 {
						return "–"
					}
					lo, hi := rangeOf(per)
					rng := ""
					if len(per) > 1 {
						rng = fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
					}
					if x/y < target {
						misses++
						if hi < target {
							firm++
							return fmt.Sprintf("%.2f ✗✗%s", x/y, rng)
						}
						return fmt.Sprintf("%.2f ✗%s", x/y, rng)
					}
					return fmt.Sprintf("%.2f%s", x/y, rng)
				}
				_, bp := r.bestPeer(t.db, wl, c, false)
				_, np := r.bestPeer(t.db, wl, c, true)
				mine := r.res[t][cellKey(wl, c)]
				perFloor := perRepeat(mine, func(i int) float64 { return opsAt(r.res[f][cellKey(wl, c)], i) })
				perPeer := perRepeat(mine, func(i int) float64 { return r.bestPeerAt(t.db, wl, c, false, i) })
				perNative := perRepeat(mine, func(i int) float64 { return r.bestPeerAt(t.db, wl, c, true, i) })
				al := fmt.Sprintf("%.1f (%.1f)", s.allocs, fs.allocs)
				if (wl == wlGetHit || wl == wlGetMiss || wl == wlSetUpdate || wl == wlSetInsert) && s.allocs > fs.allocs+4 {
					al += " ✗"
					misses++
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %.0f µs (%.0f) |\n", dbTitle[t.db], t.label(), wl, c, fmtOps(s.ops),
					mark(s.ops, fs.ops, 0.90, perFloor), mark(s.ops, bp.ops, 1.0, perPeer), mark(s.ops, np.ops, 0.90, perNative), al, s.cpu, fs.cpu)
			}
		}
	}
	fmt.Fprintf(&b, "\n%d ratios miss their target (✗); %d of them miss in every repeat (✗✗).\n", misses, firm)
	return b.String()
}

// svg draws ops/s per store per database: one panel per database, one group
// of horizontal bars per workload and concurrency, each bar scaled to the
// fastest store of its group and labelled with its ops/s.
func (r *report) svg() string {
	const (
		left, barH, gap, width, labelW = 250, 11, 10, 900, 80
	)
	colors := map[string]string{"sqlstore": "#1f6fd1", "floor": "#9a9a9a"}
	peerColors := []string{"#e07b22", "#c4392f", "#8a4fbf", "#2e9e5b"}
	pi := 0
	colorOf := func(t *target) string {
		if t.kind == kindVariant {
			return "#b9d3f3"
		}
		if c, ok := colors[t.name]; ok && t.kind != kindPeer {
			if t.kind == kindSQLStore && t.driver != "lib/pq" && t.driver != "go-sql-driver/mysql" && t.driver != "modernc" {
				return "#6fa8ef"
			}
			return c
		}
		key := "peer:" + t.name
		if c, ok := colors[key]; ok {
			return c
		}
		colors[key] = peerColors[pi%len(peerColors)]
		pi++
		return colors[key]
	}
	var body strings.Builder
	y := 40
	for _, db := range r.dbs() {
		var ts []*target
		for _, t := range r.targets {
			if t.db == db {
				ts = append(ts, t)
			}
		}
		fmt.Fprintf(&body, `<text x="10" y="%d" font-size="18" font-weight="bold">%s</text>`+"\n", y, dbTitle[db])
		y += 12
		// legend
		lx := 10
		for _, t := range ts {
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>`+"\n",
				lx, y, colorOf(t), lx+14, y+9, html.EscapeString(t.label()))
			lx += 20 + 6*len(t.label())
			if lx > width-150 {
				lx = 10
				y += 16
			}
		}
		y += 26
		for _, wl := range r.o.workloads {
			for _, c := range r.o.concs {
				maxOps := 0.0
				for _, t := range ts {
					if s, ok := r.stat(t, wl, c); ok {
						maxOps = math.Max(maxOps, s.ops)
					}
				}
				fmt.Fprintf(&body, `<text x="10" y="%d" font-size="12" font-weight="bold">%s, %d goroutine%s</text>`+"\n", y+barH, wl, c, map[bool]string{true: "s"}[c > 1])
				for _, t := range ts {
					s, ok := r.stat(t, wl, c)
					if !ok {
						continue
					}
					w := 0.0
					if maxOps > 0 {
						w = float64(width-left-labelW) * s.ops / maxOps
					}
					fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>`, left-6, y+barH-2, html.EscapeString(t.label()))
					fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, w, barH-1, colorOf(t))
					fmt.Fprintf(&body, `<text x="%.1f" y="%d" font-size="10">%s/s</text>`+"\n", float64(left)+w+4, y+barH-2, fmtOps(s.ops))
					y += barH
				}
				y += gap
			}
		}
		y += 20
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">`+"\n", width, y)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="11">Session store operations per second (higher is better; bars scaled to the fastest of each group). %d B payload, %d rows, medians of %d runs, %s.</text>`+"\n",
		r.o.payload, r.o.rows, r.o.repeats, r.started.UTC().Format("2006-01-02"))
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

// opsAt returns the ops/s of the i-th repeat of a cell, 0 if there is none.
func opsAt(cs []*cell, i int) float64 {
	if i < len(cs) {
		return cs[i].opsPerSec()
	}
	return 0
}

// bestPeerAt returns the ops/s of the fastest peer in the i-th repeat of a
// cell on db (native: over a driver's own pool), 0 if there is none.
func (r *report) bestPeerAt(db, wl string, c int, native bool, i int) float64 {
	best := 0.0
	for _, t := range r.targets {
		if t.peerOn(db, native) {
			best = max(best, opsAt(r.res[t][cellKey(wl, c)], i))
		}
	}
	return best
}

// perRepeat returns, for each repeat of mine, its ops/s over other's in the
// same repeat (skipping repeats where other has none).
func perRepeat(mine []*cell, other func(i int) float64) []float64 {
	var out []float64
	for i, c := range mine {
		if o := other(i); o > 0 {
			out = append(out, c.opsPerSec()/o)
		}
	}
	return out
}

// rangeOf returns the lowest and highest of xs (0, 0 for none).
func rangeOf(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
