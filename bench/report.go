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

// bestPeer returns the fastest peer of a cell on db; native selects peers
// over a driver's own pool, else those over database/sql.
func (r *report) bestPeer(db, wl string, c int, native bool) (*target, stat) {
	var best *target
	var bs stat
	for _, t := range r.targets {
		if t.kind != kindPeer || t.db != db || t.native != native {
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
	fmt.Fprintf(&b, "## Results\n\nRun %s; %s.\n", r.started.UTC().Format("2006-01-02 15:04 MST"), machine())
	fmt.Fprintf(&b, "Payload %d B, %d rows per table, %v measured per cell after %v warm-up, medians of %d interleaved repeats, pools of %d connections.\n\n",
		o.payload, o.rows, o.duration, o.warmup, o.repeats, o.conns)
	b.WriteString(r.summary())
	for _, db := range r.dbs() {
		fmt.Fprintf(&b, "\n### %s\n", dbTitle[db])
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
	b.WriteString("### Targets\n\n")
	b.WriteString("Each sqlstore variant against the floor of its own driver (target ≥ 0.90), the best peer over database/sql on the same database (target ≥ 1.0) and, on PostgreSQL, the best peer over pgx's own pool (target ≥ 0.90); allocations per Get and Set against the floor's (target ≤ floor + 4). ✗ marks a miss.\n\n")
	b.WriteString("| database | store (driver) | workload | conc | ops/s | × floor | × best database/sql peer | × best native peer | allocs/op (floor) | client CPU/op (floor) |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	misses := 0
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
				mark := func(x, y, target float64) string {
					if y == 0 {
						return "–"
					}
					if x/y < target {
						misses++
						return fmt.Sprintf("%.2f ✗", x/y)
					}
					return fmt.Sprintf("%.2f", x/y)
				}
				_, bp := r.bestPeer(t.db, wl, c, false)
				_, np := r.bestPeer(t.db, wl, c, true)
				al := fmt.Sprintf("%.1f (%.1f)", s.allocs, fs.allocs)
				if (wl == wlGetHit || wl == wlGetMiss || wl == wlSetUpdate || wl == wlSetInsert) && s.allocs > fs.allocs+4 {
					al += " ✗"
					misses++
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %.0f µs (%.0f) |\n", dbTitle[t.db], t.label(), wl, c, fmtOps(s.ops),
					mark(s.ops, fs.ops, 0.90), mark(s.ops, bp.ops, 1.0), mark(s.ops, np.ops, 0.90), al, s.cpu, fs.cpu)
			}
		}
	}
	fmt.Fprintf(&b, "\n%d ratios miss their target.\n", misses)
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
