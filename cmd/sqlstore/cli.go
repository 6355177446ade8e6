package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/dsn"
	"github.com/go-sqlstore/sqlstore/internal/hook"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the command failed
	exitUsage = 2 // the command line is wrong
)

// cli runs one command line. Its fields are what the tests replace.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// progress turns on the progress line of prune on stderr: on when
	// stderr is a terminal.
	progress bool
	// progressAfter is how long a sweep runs before its progress shows,
	// and progressEvery how often the line is redrawn.
	progressAfter, progressEvery time.Duration
	// dsns holds whatever of the command line and environment could be a
	// DSN, scrubbed from every error line.
	dsns []string
	// grace is how long a command may run on after its deadline or a
	// signal before it is abandoned (defaultGrace when zero).
	grace time.Duration
	// errw is stderr as run found it, where fail writes: a command's own
	// writers are gated (see connected).
	errw io.Writer
}

// defaultGrace is the grace of a command whose deadline passed or that was
// interrupted: drivers that honour the context return within it.
const defaultGrace = 3 * time.Second

// run runs the command line args (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{
		stdout:        stdout,
		stderr:        stderr,
		getenv:        os.Getenv,
		now:           time.Now,
		progress:      isTerminal(stderr),
		progressAfter: time.Second,
		progressEvery: 200 * time.Millisecond,
	}
	return c.run(ctx, args)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	args    string // synopsis of the arguments
	flags   func(c *cli) (*flag.FlagSet, func(ctx context.Context) error)
}

func commands() []command {
	return []command{
		{"schema", "print the DDL that creates the table and its expiry index",
			"-dialect postgres|mysql|sqlite [-schema S] [-table T] [-columns id,data,expiry] [-hashed-ids=true]", (*cli).schemaCmd},
		{"migrate", "create the table and its expiry index if they are missing",
			"-dsn DSN [-schema S] [-table T] [-columns id,data,expiry] [-timeout D]", (*cli).migrateCmd},
		{"prune", "delete every expired session now, in batches",
			"-dsn DSN [-batch N] [-schema S] [-table T] [-columns id,data,expiry] [-timeout D]", (*cli).pruneCmd},
		{"stats", "print live and expired counts, oldest and newest expiry, table size",
			"-dsn DSN [-json] [-schema S] [-table T] [-columns id,data,expiry] [-timeout D]", (*cli).statsCmd},
		{"sessions", "list the live sessions of a user, most recently active first",
			"-dsn DSN -owner USER [-json] [-schema S] [-table T] [-timeout D]", (*cli).sessionsCmd},
		{"revoke", "end every live session of a user now",
			"-dsn DSN -owner USER [-schema S] [-table T] [-timeout D]", (*cli).revokeCmd},
		{"rekey", "re-encrypt, under the first key of " + keysEnv + ", the sessions under older keys",
			"-dsn DSN [-batch N] [-schema S] [-table T] [-columns id,data,expiry] [-timeout D]", (*cli).rekeyCmd},
	}
}

func findCommand(name string) (command, bool) {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `sqlstore manages the session table of github.com/go-sqlstore/sqlstore.

Usage:
  sqlstore <command> [flags]

Commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
The DSN is a URL: postgres://user:pass@host:5432/db?sslmode=disable,
mysql://user:pass@host:3306/db or sqlite:path/to/file.db. Without -dsn,
DATABASE_URL is used.

With SQLSTORE_KEYS set (base64 keys of 32 bytes, comma-separated, the key
that encrypts first), every command that connects opens the table with
encryption and fails when the keys open none of its newest sessions;
SQLSTORE_PLAINTEXT_READS=true also reads sessions written without it.

Exit status: 0 on success, 1 on failure, 2 on a usage error.
Run "sqlstore help <command>" or "sqlstore <command> -h" for its flags.
`)
}

func (c *cli) commandUsage(w io.Writer, cmd command) {
	fs, _ := cmd.flags(c)
	fmt.Fprintf(w, "Usage: sqlstore %s %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.args, upperFirst(cmd.summary))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (c *cli) run(ctx context.Context, args []string) int {
	c.errw = c.stderr
	c.dsns = []string{c.getenv("DATABASE_URL")}
	for _, a := range args {
		c.dsns = append(c.dsns, a)
		if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
			c.dsns = append(c.dsns, v) // -dsn=URL
		}
	}
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			cmd, ok := findCommand(args[1])
			if !ok {
				return c.fail(name, usagef("unknown command %q; run \"sqlstore help\" for the list", args[1]))
			}
			c.commandUsage(c.stdout, cmd)
			return exitOK
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd, ok := findCommand(name)
	if !ok {
		return c.fail("", usagef("unknown command %q; run \"sqlstore help\" for the list", name))
	}
	fs, exec := cmd.flags(c)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.commandUsage(c.stdout, cmd)
			return exitOK
		}
		return c.fail(name, usagef("%v (run \"sqlstore %s -h\" for its flags)", err, name))
	}
	if fs.NArg() > 0 {
		return c.fail(name, usagef("unexpected argument %q (run \"sqlstore %s -h\" for its flags)", fs.Arg(0), name))
	}
	return c.fail(name, exec(ctx))
}

// fail prints err as one line on stderr and returns the exit status it
// calls for. The line never holds a password: every argument and
// DATABASE_URL is scrubbed from it as a DSN would be.
func (c *cli) fail(name string, err error) int {
	if err == nil {
		return exitOK
	}
	msg := dsn.ScrubText(err.Error(), c.dsns...)
	msg = strings.Join(strings.Fields(msg), " ")    // one line
	msg = strings.ReplaceAll(msg, "sqlstore: ", "") // the line starts with it once
	if name != "" && !strings.HasPrefix(msg, name+": ") {
		msg = name + ": " + msg
	}
	var ue *usageError
	errors.As(err, &ue)
	fmt.Fprintf(c.errw, "sqlstore: %s\n", msg)
	if ue != nil {
		return exitUsage
	}
	return exitFail
}

// tableFlags are the flags naming the table, shared by every command.
type tableFlags struct {
	schema, table, columns string
	ownerColumns           string
	hashedIDs              bool
}

func (f *tableFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.schema, "schema", "", "PostgreSQL schema, MySQL database or SQLite attached database of the table (default: the connection's own)")
	fs.StringVar(&f.table, "table", defaults.Table, "table name")
	fs.StringVar(&f.ownerColumns, "owner-columns", strings.Join([]string{defaults.OwnerColumn, defaults.CreatedColumn, defaults.UpdatedColumn, defaults.EndedColumn}, ","),
		"names of the owner, created, updated and ended columns, comma-separated")
	fs.StringVar(&f.columns, "columns", strings.Join([]string{defaults.IDColumn, defaults.DataColumn, defaults.ExpiryColumn}, ","),
		"names of the id, data and expiry columns, comma-separated")
	fs.BoolVar(&f.hashedIDs, "hashed-ids", true, "the id column holds hex SHA-256 hashes of the ids (the store's default; sets the id column's type)")
}

// options turns the flags into store options, checking the names the way the
// store does, so that a bad name is a usage error before any connection.
func (f *tableFlags) options() ([]sqlstore.Option, error) {
	cols := strings.Split(f.columns, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	if len(cols) != 3 || cols[0] == "" || cols[1] == "" || cols[2] == "" {
		return nil, usagef("-columns %q: want three names, id,data,expiry", f.columns)
	}
	if strings.EqualFold(cols[0], cols[1]) || strings.EqualFold(cols[0], cols[2]) || strings.EqualFold(cols[1], cols[2]) {
		return nil, usagef("-columns %q: the three names must differ, and not only in case", f.columns)
	}
	opts := []sqlstore.Option{
		sqlstore.WithTable(f.table),
		sqlstore.WithColumns(cols[0], cols[1], cols[2]),
		sqlstore.WithHashedIDs(f.hashedIDs),
	}
	if f.schema != "" {
		opts = append(opts, sqlstore.WithSchema(f.schema))
	}
	// CreateTableSQL checks names as the store does; one name at a time, so
	// that the error can name the flag.
	for _, n := range []struct {
		flag, value string
		opt         sqlstore.Option
	}{
		{"-schema", f.schema, sqlstore.WithSchema(f.schema)},
		{"-table", f.table, sqlstore.WithTable(f.table)},
		{"-columns", cols[0], sqlstore.WithColumns(cols[0], "d", "e")},
		{"-columns", cols[1], sqlstore.WithColumns("i", cols[1], "e")},
		{"-columns", cols[2], sqlstore.WithColumns("i", "d", cols[2])},
	} {
		if n.flag == "-schema" && n.value == "" {
			continue
		}
		if _, err := sqlstore.CreateTableSQL(sqlstore.SQLite, n.opt); err != nil {
			return nil, usagef("%s %q: %v", n.flag, n.value, err)
		}
	}
	ownerColumns := f.ownerColumns
	if ownerColumns == "" {
		ownerColumns = strings.Join([]string{defaults.OwnerColumn, defaults.CreatedColumn, defaults.UpdatedColumn, defaults.EndedColumn}, ",")
	}
	oc := strings.Split(ownerColumns, ",")
	for i := range oc {
		oc[i] = strings.TrimSpace(oc[i])
	}
	if len(oc) != 4 {
		return nil, usagef("-owner-columns %q: want four names, owner,created,updated,ended", f.ownerColumns)
	}
	opts = append(opts, sqlstore.WithOwnerColumns(oc[0], oc[1], oc[2], oc[3]))
	if _, err := sqlstore.CreateTableSQL(sqlstore.SQLite, opts...); err != nil {
		return nil, usagef("-columns %q, -owner-columns %q: %v", f.columns, f.ownerColumns, err)
	}
	return opts, nil
}

// dbFlags are the flags of the commands that connect.
type dbFlags struct {
	tableFlags
	dsn     string
	timeout time.Duration
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dsn, "dsn", "", "database URL: postgres://..., mysql://... or sqlite:FILE (default: $DATABASE_URL)")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up after this long, such as 30s or 5m (default: no limit)")
	f.tableFlags.register(fs)
}

// open opens a store for the flags with sqlstore.Open, with background
// pruning off.
func (c *cli) open(ctx context.Context, f *dbFlags, extra ...sqlstore.Option) (*sqlstore.Store, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	keys, err := c.keyOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, keys...)
	return sqlstore.Open(ctx, f.dsn, append(opts, append([]sqlstore.Option{sqlstore.WithPruneInterval(0)}, extra...)...)...)
}

// openExisting is open for the commands that only read or prune: a SQLite
// file that does not exist is an error, never created (SQLite's mode=rw),
// so that a mistyped path does not pass for an empty table.
func (c *cli) openExisting(ctx context.Context, f *dbFlags, extra ...sqlstore.Option) (*sqlstore.Store, error) {
	path, isFile := dsn.SQLiteFile(f.dsn)
	if isFile {
		if err := noSuchFile(path); err != nil {
			return nil, err
		}
	}
	g := *f
	g.dsn = dsn.NoCreate(f.dsn)
	s, err := c.open(ctx, &g, extra...)
	if err != nil && isFile {
		if e := noSuchFile(path); e != nil { // removed meanwhile
			return nil, e
		}
	}
	return s, err
}

// noSuchFile returns an error when the SQLite file path does not exist.
func noSuchFile(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no such database file %s; check -dsn (`sqlstore migrate` creates the file)", path)
	}
	return nil
}

// noSuchDirectory returns an error when the directory SQLite would create
// the file path in does not exist.
func noSuchDirectory(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no such directory %s for the database file %s; create it, or check -dsn", dir, path)
	}
	return nil
}

// prepare checks the DSN and the names, before any connection, and applies
// -timeout to ctx.
func (c *cli) prepare(ctx context.Context, f *dbFlags) (context.Context, context.CancelFunc, error) {
	if f.dsn == "" {
		f.dsn = c.getenv("DATABASE_URL")
	}
	if f.dsn == "" {
		return nil, nil, usagef("no database: give -dsn or set DATABASE_URL")
	}
	// An unsupported scheme or a malformed URL is a mistake in the
	// configuration, like any other usage error (the message holds no
	// password).
	if err := dsn.Check(f.dsn); err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	if f.timeout < 0 {
		return nil, nil, usagef("-timeout %v is negative", f.timeout)
	}
	if _, err := f.options(); err != nil {
		return nil, nil, err
	}
	if _, err := c.keyOptions(); err != nil { // a usage error, before any file or connection
		return nil, nil, err
	}
	if f.timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	return ctx, cancel, nil
}

// explain rewrites an error caused by the end of ctx: a signal or -timeout.
func explain(ctx context.Context, f *dbFlags, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timed out after -timeout %v: %w", f.timeout, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("interrupted: %w", err)
	}
	return err
}

// tableName returns the store's table, qualified with its schema: the
// -schema flag, else the connection's own (PostgreSQL's current_schema(),
// MySQL's database, SQLite's "main").
func tableName(s *sqlstore.Store) string {
	i := hook.Describe(s)
	return i.Schema + "." + i.Table
}

// describe names the table and its database for messages.
func describe(s *sqlstore.Store) string {
	return tableName(s) + " (" + hook.Describe(s).Dialect + ")"
}

// plural returns "1 session" or "n sessions".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// schemaCmd prints the DDL.
func (c *cli) schemaCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	var f tableFlags
	dialect := fs.String("dialect", "", "postgres, mysql (also MariaDB) or sqlite (required)")
	f.register(fs)
	return fs, func(context.Context) error {
		dialects := map[string]sqlstore.Dialect{
			"postgres": sqlstore.Postgres, "postgresql": sqlstore.Postgres,
			"mysql": sqlstore.MySQL, "mariadb": sqlstore.MySQL,
			"sqlite": sqlstore.SQLite, "sqlite3": sqlstore.SQLite,
		}
		if *dialect == "" {
			return usagef("-dialect is required: postgres, mysql or sqlite")
		}
		d, ok := dialects[strings.ToLower(*dialect)]
		if !ok {
			return usagef("-dialect %q: want postgres, mysql or sqlite", *dialect)
		}
		opts, err := f.options()
		if err != nil {
			return err
		}
		stmts, err := sqlstore.CreateTableSQL(d, opts...)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := fmt.Fprintf(c.stdout, "%s;\n", s); err != nil {
				return fmt.Errorf("writing the DDL: %w", err)
			}
		}
		return nil
	}
}

// connected runs a command's body under the command's deadline and signal
// handling, and explains the error it returns in one line. A body still
// running defaultGrace after its context ended (a driver that cannot
// interrupt a call to a server that stopped answering) is abandoned: its
// later output is dropped, and the command fails at once.
func (c *cli) connected(ctx context.Context, f *dbFlags, body func(context.Context) error) error {
	ctx, cancel, err := c.prepare(ctx, f)
	if err != nil {
		return err
	}
	defer cancel()
	stdout, stderr := &gate{w: c.stdout}, &gate{w: c.stderr}
	c.stdout, c.stderr = stdout, stderr
	done := make(chan error, 1)
	go func() { done <- body(ctx) }()
	select {
	case err := <-done:
		return explain(ctx, f, err)
	case <-ctx.Done():
	}
	grace := c.grace
	if grace <= 0 {
		grace = defaultGrace
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return explain(ctx, f, err)
	case <-timer.C:
		stdout.close()
		stderr.close()
		return explain(ctx, f, fmt.Errorf("the database did not give up within %v; abandoned", grace))
	}
}

// gate passes writes to w until it is closed, then drops them.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errors.New("abandoned")
	}
	return g.w.Write(p)
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// migrateCmd creates the table and its index when they are missing, with
// the store's own code (sqlstore.Open with WithCreateTable(true)).
func (c *cli) migrateCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	return fs, func(ctx context.Context) error {
		return c.connected(ctx, &f, func(ctx context.Context) error {

			if path, ok := dsn.SQLiteFile(f.dsn); ok {
				if err := noSuchDirectory(path); err != nil {
					return err
				}
			}
			// A current table is left alone (New runs no DDL then), so a role
			// without CREATE or ALTER can run migrate as a check.
			s, err := c.open(ctx, &f, sqlstore.WithCreateTable(true))
			if err != nil {
				return explainCreate(err, f.dsn)
			}
			switch hook.DDL(s) {
			case "created":
				fmt.Fprintf(c.stdout, "created table %s and its indexes\n", describe(s))
			case "upgraded":
				fmt.Fprintf(c.stdout, "upgraded table %s: owner, created, updated and ended columns and the owner index %s\n", describe(s), hook.Describe(s).OwnerIndex)
			default:
				fmt.Fprintf(c.stdout, "table %s already present; nothing to do\n", describe(s))
			}
			return s.Close()
		})
	}
}

// storeCreateHint starts the hint the store adds to a failed creation,
// whatever the cause: that a role with more privileges should create the
// table, with schema/DIALECT.sql or `sqlstore migrate`.
const storeCreateHint = "; have a role that may create it"

// explainCreate gives a failed migrate the hint its cause calls for. The
// store's own hint blames privileges, and names `sqlstore migrate`, whatever
// went wrong: it is dropped, and a privilege problem, a missing schema or
// database, or nothing more is said instead.
func explainCreate(err error, dsnStr string) error {
	msg := err.Error()
	base, _, storeHint := strings.Cut(msg, storeCreateHint)
	_, _, dialect, _ := dsn.Parse(dsnStr)
	var hint string
	switch {
	case hook.Denied(err):
		hint = "; the DSN's role may not create it: run migrate as a role that may, or have one run the statements `sqlstore schema -dialect " + dialect + "` prints"
	case hook.MissingSchema(err):
		what := "schema"
		if dialect == "mysql" {
			what = "database"
		}
		hint = "; create the " + what + " first, or name an existing one with -schema"
	default:
		if !storeHint {
			return err
		}
	}
	return &rewritten{msg: base + hint, err: err}
}

// rewritten is an error whose message was rewritten; its chain is the
// original's.
type rewritten struct {
	msg string
	err error
}

func (e *rewritten) Error() string { return e.msg }
func (e *rewritten) Unwrap() error { return e.err }

// pruneCmd runs one full sweep.
func (c *cli) pruneCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	batch := fs.Int("batch", defaults.PruneBatchSize, "rows deleted per batch, each batch its own short transaction")
	return fs, func(ctx context.Context) error {
		if *batch <= 0 {
			return usagef("-batch %d is not positive", *batch)
		}
		return c.connected(ctx, &f, func(ctx context.Context) error {

			s, err := c.openExisting(ctx, &f, sqlstore.WithCreateTable(false), sqlstore.WithPruneBatchSize(*batch))
			if err != nil {
				return err
			}
			defer s.Close()

			start := c.now()
			var shown, last time.Time
			progress := func(total int64) {
				if !c.progress {
					return
				}
				now := c.now()
				if now.Sub(start) < c.progressAfter || (!last.IsZero() && now.Sub(last) < c.progressEvery) {
					return
				}
				last = now
				if shown.IsZero() {
					shown = now
				}
				fmt.Fprintf(c.stderr, "\rsqlstore: prune: %d expired sessions deleted so far (%v)  ", total, now.Sub(start).Round(time.Second))
			}
			n, err := hook.Prune(ctx, s, progress)
			took := c.now().Sub(start)
			if !shown.IsZero() {
				fmt.Fprint(c.stderr, "\r\033[K") // erase the progress line
			}
			if err != nil {
				if n > 0 {
					return fmt.Errorf("%w (after deleting %s)", err, plural(n, "expired session"))
				}
				return err
			}
			fmt.Fprintf(c.stdout, "pruned %s from %s in %v\n", plural(n, "expired session"), describe(s), roundDuration(took))
			return s.Close()
		})
	}
}

// roundDuration keeps a duration readable: microseconds below a
// millisecond, milliseconds below a minute, seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// statsJSON is the -json output of stats.
type statsJSON struct {
	Dialect   string     `json:"dialect"`
	Table     string     `json:"table"`
	Live      int64      `json:"live"`
	Expired   int64      `json:"expired"`
	Oldest    *time.Time `json:"oldest_expiry"` // null on an empty table
	Newest    *time.Time `json:"newest_expiry"`
	SizeBytes *int64     `json:"size_bytes"` // null when the database does not say
}

// statsCmd prints the table's statistics.
func (c *cli) statsCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	return fs, func(ctx context.Context) error {
		return c.connected(ctx, &f, func(ctx context.Context) error {

			s, err := c.openExisting(ctx, &f, sqlstore.WithCreateTable(false))
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := s.Stats(ctx)
			if err != nil {
				return err
			}
			out := statsJSON{Dialect: hook.Describe(s).Dialect, Table: tableName(s), Live: st.Live, Expired: st.Expired}
			if !st.Oldest.IsZero() {
				o, n := st.Oldest.UTC(), st.Newest.UTC()
				out.Oldest, out.Newest = &o, &n
			}
			if size, err := hook.TableSize(ctx, s); err == nil {
				out.SizeBytes = &size
			} else if ctx.Err() != nil {
				return err
			}

			if *asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return fmt.Errorf("writing the statistics: %w", err)
				}
				return s.Close()
			}
			when := func(t *time.Time) string {
				if t == nil {
					return "none (no sessions)"
				}
				return t.Format(time.RFC3339Nano)
			}
			size := "unknown"
			if out.SizeBytes != nil {
				size = fmt.Sprintf("%d bytes (%s)", *out.SizeBytes, humanBytes(*out.SizeBytes))
			}
			fmt.Fprintf(c.stdout, "table:    %s\nlive:     %d\nexpired:  %d\noldest:   %s\nnewest:   %s\nsize:     %s\n",
				out.Table+" ("+out.Dialect+")", out.Live, out.Expired, when(out.Oldest), when(out.Newest), size)
			return s.Close()
		})
	}
}

// sessionJSON is one line of sessions -json.
type sessionJSON struct {
	Key     string     `json:"key"`
	Created *time.Time `json:"created"` // null for a session from before the owner columns
	Updated time.Time  `json:"last_active"`
	Expiry  time.Time  `json:"expiry"`
	Bytes   int        `json:"bytes"`
}

// ownerFlag registers -owner, which sessions and revoke need.
func ownerFlag(fs *flag.FlagSet) *string {
	return fs.String("owner", "", "the user whose sessions to list or end, as the application records it")
}

// sessionsCmd lists the live sessions of an owner.
func (c *cli) sessionsCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	owner := ownerFlag(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per session instead of text")
	return fs, func(ctx context.Context) error {
		if *owner == "" {
			return usagef("sessions needs -owner")
		}
		return c.connected(ctx, &f, func(ctx context.Context) error {
			s, err := c.openExisting(ctx, &f, sqlstore.WithCreateTable(false))
			if err != nil {
				return err
			}
			defer s.Close()
			list, err := s.Sessions(ctx, *owner)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.stdout)
			if !*asJSON {
				fmt.Fprintf(c.stdout, "%s of %q in %s\n", plural(int64(len(list)), "live session"), *owner, describe(s))
			}
			for _, ss := range list {
				out := sessionJSON{Key: ss.Key, Updated: ss.Updated.UTC(), Expiry: ss.Expiry.UTC(), Bytes: len(ss.Data)}
				if !ss.Created.IsZero() {
					t := ss.Created.UTC()
					out.Created = &t
				}
				if *asJSON {
					if err := enc.Encode(out); err != nil {
						return fmt.Errorf("writing the sessions: %w", err)
					}
					continue
				}
				created := "unknown"
				if out.Created != nil {
					created = out.Created.Format(time.RFC3339)
				}
				fmt.Fprintf(c.stdout, "%s  created %s  last active %s  expires %s\n",
					ss.Key, created, out.Updated.Format(time.RFC3339), out.Expiry.Format(time.RFC3339))
			}
			return s.Close()
		})
	}
}

// revokeCmd ends every live session of an owner.
func (c *cli) revokeCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	owner := ownerFlag(fs)
	return fs, func(ctx context.Context) error {
		if *owner == "" {
			return usagef("revoke needs -owner")
		}
		return c.connected(ctx, &f, func(ctx context.Context) error {
			s, err := c.openExisting(ctx, &f, sqlstore.WithCreateTable(false))
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.DeleteOwner(ctx, *owner)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "ended %s of %q in %s\n", plural(n, "session"), *owner, describe(s))
			return s.Close()
		})
	}
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
