package sqlstore

// What the external tests see of encryption (crypt.go, rekey.go): compiled
// into the tests only.

// CryptOverhead is the bytes encryption adds to each row.
const CryptOverhead = cryptOverhead

// SetBeforeSwap makes Rekey call f with the stored key of each row just
// before it swaps that row's data, so that a test can land a write between
// Rekey's read of a row and its swap. Set it before Rekey runs.
func (s *Store) SetBeforeSwap(f func(key string)) { s.crypt.beforeSwap = f }

// Crypter is the encryption of a Store, without a Store.
type Crypter struct{ c *crypter }

// NewCrypter returns the crypter of WithEncryption(keys...) and
// WithPlaintextReads(plaintext), or the error New would return.
func NewCrypter(plaintext bool, keys ...[]byte) (*Crypter, error) {
	cfg := defaultConfig()
	WithEncryption(keys...)(&cfg)
	WithPlaintextReads(plaintext)(&cfg)
	if len(cfg.errs) > 0 {
		return nil, cfg.errs[0]
	}
	c, err := newCrypter(cfg.encryption, SQLite, Table{})
	return &Crypter{c}, err
}

// Seal encrypts data for the row of stored key key.
func (c *Crypter) Seal(key string, data []byte) []byte { return c.c.seal(key, data) }

// Open decrypts stored, the data of the row of stored key key, in stored's
// own memory with inPlace.
func (c *Crypter) Open(key string, stored []byte, inPlace bool) ([]byte, error) {
	return c.c.open(key, stored, inPlace)
}

// Current reports whether stored is under the first key.
func (c *Crypter) Current(stored []byte) bool { return c.c.current(stored) }
