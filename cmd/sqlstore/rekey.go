package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-sqlstore/sqlstore"
	"github.com/go-sqlstore/sqlstore/internal/defaults"
	"github.com/go-sqlstore/sqlstore/internal/hook"
)

// The environment variables of encryption, read by every command that
// connects. Keys never come from a flag, which other users see in ps.
const (
	// keysEnv holds the keys of sqlstore.WithEncryption: base64 of 32 bytes
	// each, comma-separated, the key that encrypts first.
	keysEnv = "SQLSTORE_KEYS"
	// plaintextEnv, when true, adds sqlstore.WithPlaintextReads(true).
	plaintextEnv = "SQLSTORE_PLAINTEXT_READS"
)

// keyOptions returns the options of encryption that the environment asks
// for: none without SQLSTORE_KEYS. A malformed value is a usage error that
// never shows a key.
func (c *cli) keyOptions() ([]sqlstore.Option, error) {
	v := strings.TrimSpace(c.getenv(keysEnv))
	if v == "" {
		return nil, nil
	}
	var keys [][]byte
	for i, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		var k []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err = enc.DecodeString(s); err == nil {
				break
			}
		}
		switch {
		case s == "":
			return nil, usagef("%s: keys[%d] is empty; want base64 of 32 bytes, comma-separated", keysEnv, i)
		case err != nil:
			return nil, usagef("%s: keys[%d] is not base64; want base64 of 32 bytes, comma-separated", keysEnv, i)
		case len(k) != 32:
			return nil, usagef("%s: keys[%d] is %d bytes, want 32 (make one with: head -c 32 /dev/urandom | base64)", keysEnv, i, len(k))
		}
		keys = append(keys, k)
	}
	opts := []sqlstore.Option{sqlstore.WithEncryption(keys...)}
	if p := c.getenv(plaintextEnv); p != "" {
		allow, err := strconv.ParseBool(p)
		if err != nil {
			return nil, usagef("%s=%q: want true or false", plaintextEnv, p)
		}
		opts = append(opts, sqlstore.WithPlaintextReads(allow))
	}
	return opts, nil
}

// rekeyCmd re-encrypts, under the first key, the sessions under older keys
// (and plaintext ones, with SQLSTORE_PLAINTEXT_READS=true).
func (c *cli) rekeyCmd() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("rekey", flag.ContinueOnError)
	var f dbFlags
	f.register(fs)
	batch := fs.Int("batch", defaults.PruneBatchSize, "sessions read per batch; each is rewritten on its own")
	return fs, func(ctx context.Context) error {
		if *batch <= 0 {
			return usagef("-batch %d is not positive", *batch)
		}
		if strings.TrimSpace(c.getenv(keysEnv)) == "" {
			return usagef("no keys: set %s to base64 keys of 32 bytes, comma-separated, the new key first", keysEnv)
		}
		return c.connected(ctx, &f, func(ctx context.Context) error {
			logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := c.open(ctx, &f, sqlstore.WithCreateTable(false), sqlstore.WithPruneBatchSize(*batch), sqlstore.WithLogger(logger))
			if err != nil {
				return err
			}
			defer s.Close()

			start := c.now()
			var shown, last time.Time
			var scanned int64
			progress := func(rewritten, read int64) {
				scanned = read
				now := c.now()
				if !c.progress || now.Sub(start) < c.progressAfter || (!last.IsZero() && now.Sub(last) < c.progressEvery) {
					return
				}
				last = now
				if shown.IsZero() {
					shown = now
				}
				fmt.Fprintf(c.stderr, "\rsqlstore: rekey: %d of %d sessions read so far re-encrypted (%v)  ", rewritten, read, now.Sub(start).Round(time.Second))
			}
			n, err := hook.Rekey(ctx, s, progress)
			took := c.now().Sub(start)
			if !shown.IsZero() {
				fmt.Fprint(c.stderr, "\r\033[K") // erase the progress line
			}
			if err != nil {
				if n > 0 {
					return fmt.Errorf("%w (after re-encrypting %s)", err, plural(n, "session"))
				}
				return err
			}
			st, err := s.Stats(ctx)
			if err != nil {
				return err
			}
			if st.Undecryptable > 0 {
				return fmt.Errorf("re-encrypted %s of %d live in %s, but %s did not decrypt with the keys given and were left as they are (logged above with their keys)",
					plural(n, "session"), scanned, describe(s), plural(st.Undecryptable, "session"))
			}
			fmt.Fprintf(c.stdout, "re-encrypted %s of %d live in %s in %v\n", plural(n, "session"), scanned, describe(s), roundDuration(took))
			return s.Close()
		})
	}
}
