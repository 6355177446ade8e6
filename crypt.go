package sqlstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// Encryption at rest (WithEncryption). The data column of an encrypted row
// holds, in format version 1:
//
//	magic       4 bytes   0xFF 'S' 'Q' 'E'
//	version     1 byte    1
//	key id      4 bytes   the first 4 bytes of HMAC-SHA256(key, "sqlstore key id v1")
//	nonce      12 bytes   random (crypto/rand), new for every write
//	ciphertext  n bytes   AES-256-GCM of the session's n bytes of data
//	tag        16 bytes   GCM's authentication tag
//
// The additional authenticated data is the 9-byte header followed by the
// row's id column (Store.Key of the session id): a data column moved to
// another row, or a header edited to name another key or version, fails to
// authenticate. The key id names the key that opens the row, so that a read
// never tries the keys one by one.
//
// A row is taken as plaintext (written before encryption was turned on)
// exactly when its data does not begin with the 4 magic bytes. 0xFF never
// begins UTF-8 text or JSON, and gob never writes 0xFF followed by a byte
// below 0x80, so real session encodings do not begin with the magic; an
// arbitrary byte string does with probability 2^-32, and such a row is then
// refused (not found), never read as plaintext. Every row that begins with
// the magic must authenticate under a key of the store.

const (
	cryptMagic    = "\xffSQE"
	cryptVersion  = 1
	cryptIDLen    = 4
	cryptHdrLen   = len(cryptMagic) + 1 + cryptIDLen // 9
	cryptNonceLen = 12
	cryptTagLen   = 16
	// cryptOverhead is what encryption adds to each row's data: 37 bytes.
	cryptOverhead = cryptHdrLen + cryptNonceLen + cryptTagLen
	// cryptKeyLen is the size of an AES-256 key.
	cryptKeyLen = 32
	// cryptSample is how many of the newest rows New tries to decrypt.
	cryptSample = 10
)

// cryptIDLabel is the message whose HMAC under a key is that key's id.
const cryptIDLabel = "sqlstore key id v1"

// encryption is the configuration of WithEncryption and WithPlaintextReads.
type encryption struct {
	keys           [][]byte // copies of the caller's keys, the first encrypts
	plaintextReads bool
}

// WithEncryption encrypts session data with AES-256-GCM before it reaches the database. Each key is 32
// bytes; the first encrypts, every one decrypts, so keys rotate by prepending a new one.
//
// Each row names the key that encrypted it by a 4-byte fingerprint (not the
// key), carries a random nonce, and is authenticated together with its id
// column, so that data moved to another row or altered in any byte does not
// decrypt. Such a row, or one under a key the store was not given, is not
// found: Get reports found == false with a nil error (the browser gets a new
// session), Range skips it, the store logs it at Warn level with its stored
// key (never its data) and counts it in [Stats].Undecryptable. New fails when
// the table holds sessions and none of the 10 newest (by expiry) decrypts:
// the mark of a wrong or missing key, or of encryption turned on over
// plaintext rows without [WithPlaintextReads].
//
// Encryption adds 37 bytes to each row (a 9-byte header, a 12-byte nonce and
// a 16-byte tag); WithMaxDataSize limits the data the caller gives, before
// them. Touch never re-encrypts. After a key is prepended, [Store.Rekey]
// rewrites the rows still under older keys, and the old key can be dropped
// once it has run. A key should encrypt fewer than 2^32 writes (GCM with
// random nonces); rotate well before that.
//
// New fails, naming the index of the key at fault, when no key is given, a
// key is not 32 bytes, or a key repeats another. The keys are copied.
func WithEncryption(keys ...[]byte) Option {
	return func(c *config) {
		c.encryption.keys = nil
		if len(keys) == 0 {
			c.fail("WithEncryption: no keys; give at least one key of %d bytes", cryptKeyLen)
			return
		}
		for i, k := range keys {
			if len(k) != cryptKeyLen {
				c.fail("WithEncryption: keys[%d] is %d bytes; AES-256 takes keys of exactly %d bytes", i, len(k), cryptKeyLen)
				return
			}
			for j := range i {
				if bytes.Equal(keys[j], k) {
					c.fail("WithEncryption: keys[%d] repeats keys[%d]", i, j)
					return
				}
			}
			c.encryption.keys = append(c.encryption.keys, bytes.Clone(k))
		}
	}
}

// WithPlaintextReads lets a store with encryption on read rows written before it was turned on (and Rekey
// encrypt them); off by default, so that a row nobody encrypted is never trusted silently.
//
// A plaintext row is one whose data does not begin with the header every
// encrypted row begins with (see [WithEncryption]). Writes are always
// encrypted. Without WithEncryption it changes nothing: every row is read as
// it is. Turn it off once [Store.Rekey] has encrypted the old rows.
func WithPlaintextReads(allow bool) Option {
	return func(c *config) { c.encryption.plaintextReads = allow }
}

// cryptKey is one key of a crypter.
type cryptKey struct {
	id   [cryptIDLen]byte
	aead cipher.AEAD
}

// crypter encrypts and decrypts the data of one Store.
type crypter struct {
	keys      []cryptKey // keys[0] encrypts
	plaintext bool       // WithPlaintextReads

	// newest, page and swap are the dialect's statements that New's check
	// and Rekey run.
	newest, page, swap string

	// undecryptable counts the rows Get, Range and Rekey refused since New.
	undecryptable atomic.Int64

	// beforeSwap, set by tests only, runs just before Rekey swaps the data
	// of a row, with its stored key.
	beforeSwap func(key string)
}

// keyID returns the fingerprint that names key in the rows it encrypts.
func keyID(key []byte) [cryptIDLen]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(cryptIDLabel))
	var id [cryptIDLen]byte
	copy(id[:], m.Sum(nil))
	return id
}

// newCrypter returns the crypter of e, or nil when encryption is off.
func newCrypter(e encryption, d Dialect, t Table) (*crypter, error) {
	if e.keys == nil {
		return nil, nil
	}
	c := &crypter{plaintext: e.plaintextReads, newest: d.Newest(t), page: d.Page(t), swap: d.SwapData(t)}
	for i, k := range e.keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: WithEncryption: keys[%d]: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: WithEncryption: keys[%d]: %w", i, err)
		}
		ck := cryptKey{id: keyID(k), aead: aead}
		for j := range c.keys {
			if c.keys[j].id == ck.id {
				return nil, fmt.Errorf("sqlstore: WithEncryption: keys[%d] and keys[%d] have the same fingerprint %x; generate another key", j, i, ck.id)
			}
		}
		c.keys = append(c.keys, ck)
	}
	return c, nil
}

// additional returns the additional authenticated data of a row: its header,
// then its stored key.
func additional(hdr []byte, key string) []byte {
	b := make([]byte, 0, len(hdr)+len(key))
	return append(append(b, hdr...), key...)
}

// seal encrypts data for the row of stored key key under the first key.
func (c *crypter) seal(key string, data []byte) []byte {
	k := &c.keys[0]
	out := make([]byte, cryptHdrLen+cryptNonceLen, cryptOverhead+len(data))
	copy(out, cryptMagic)
	out[len(cryptMagic)] = cryptVersion
	copy(out[len(cryptMagic)+1:], k.id[:])
	nonce := out[cryptHdrLen:]
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return k.aead.Seal(out, nonce, data, additional(out[:cryptHdrLen], key))
}

// The reasons a row does not decrypt.
var (
	errPlaintext = errors.New("the data is not encrypted (written before encryption was on) and WithPlaintextReads is off")
	errTruncated = errors.New("the data is shorter than an encrypted row")
	errAuth      = errors.New("the data fails to authenticate: altered, or moved from another row")
)

// unknownKeyError is a row encrypted under a key the store was not given.
type unknownKeyError struct{ id [cryptIDLen]byte }

func (e *unknownKeyError) Error() string {
	return fmt.Sprintf("the data is encrypted under key fingerprint %x, which is not among the keys given", e.id)
}

// versionError is a row of a format version this package does not read.
type versionError struct{ v byte }

func (e *versionError) Error() string {
	return fmt.Sprintf("the data is in encryption format version %d; this sqlstore reads version %d", e.v, cryptVersion)
}

// encrypted reports whether stored begins with the header of an encrypted row.
func encrypted(stored []byte) bool {
	return len(stored) >= len(cryptMagic) && string(stored[:len(cryptMagic)]) == cryptMagic
}

// current reports whether stored is encrypted under the first key (whether
// or not it authenticates).
func (c *crypter) current(stored []byte) bool {
	return encrypted(stored) && len(stored) >= cryptHdrLen && stored[len(cryptMagic)] == cryptVersion &&
		string(stored[len(cryptMagic)+1:cryptHdrLen]) == string(c.keys[0].id[:])
}

// open decrypts stored, the data of the row of stored key key. With inPlace
// it decrypts into stored's own memory, which it overwrites whether or not it
// succeeds. A plaintext row is returned as it is when plaintext reads are
// on. It returns an error of the reasons above when the row does not
// decrypt; never a panic, whatever stored holds.
func (c *crypter) open(key string, stored []byte, inPlace bool) ([]byte, error) {
	if !encrypted(stored) {
		if c.plaintext {
			if stored == nil {
				stored = []byte{}
			}
			return stored, nil
		}
		return nil, errPlaintext
	}
	if len(stored) < cryptOverhead {
		return nil, errTruncated
	}
	if v := stored[len(cryptMagic)]; v != cryptVersion {
		return nil, &versionError{v}
	}
	var id [cryptIDLen]byte
	copy(id[:], stored[len(cryptMagic)+1:cryptHdrLen])
	var k *cryptKey
	for i := range c.keys {
		if c.keys[i].id == id {
			k = &c.keys[i]
			break
		}
	}
	if k == nil {
		return nil, &unknownKeyError{id}
	}
	nonce := stored[cryptHdrLen : cryptHdrLen+cryptNonceLen]
	sealed := stored[cryptHdrLen+cryptNonceLen:]
	var dst []byte
	if inPlace {
		dst = sealed[:0]
	}
	data, err := k.aead.Open(dst, nonce, sealed, additional(stored[:cryptHdrLen], key))
	if err != nil {
		return nil, errAuth
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// decrypt decrypts in place the data of the row of stored key key that op
// read. A row that does not decrypt is reported as missing: counted, logged
// at Warn level with its key and the reason (never its data), and ok false.
func (s *Store) decrypt(op Op, key string, stored []byte) (data []byte, ok bool) {
	data, err := s.crypt.open(key, stored, true)
	if err != nil {
		s.refused(op, key, err)
		return nil, false
	}
	return data, true
}

// refused counts and logs a row that op could not decrypt.
func (s *Store) refused(op Op, key string, err error) {
	s.crypt.undecryptable.Add(1)
	s.log.Warn("sqlstore: session data does not decrypt; treated as not found",
		"op", string(op), "table", s.schema+"."+s.cfg.table, "key", key, "reason", err.Error())
}

// sealData returns what Set stores for data under stored key key: data
// itself without encryption.
func (s *Store) sealData(key string, data []byte) []byte {
	if s.crypt == nil {
		return data
	}
	return s.crypt.seal(key, data)
}

// undecryptable returns Stats.Undecryptable.
func (s *Store) undecryptable() int64 {
	if s.crypt == nil {
		return 0
	}
	return s.crypt.undecryptable.Load()
}

// plural returns "1 session" or "n sessions".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checkKeys makes a misconfiguration loud: with encryption on, it fails when
// the table holds sessions and none of the newest few decrypts with the keys
// given. Some that do not (a key dropped on purpose, a few tampered rows)
// are no error.
func (s *Store) checkKeys(ctx context.Context) error {
	if s.crypt == nil {
		return nil
	}
	name := s.schema + "." + s.cfg.table
	rows, err := s.db.QueryContext(ctx, s.crypt.newest, cryptSample)
	if err != nil {
		return fmt.Errorf("sqlstore: checking the encryption keys against %s: %w", name, err)
	}
	defer rows.Close()
	var (
		n       int
		reasons []string
		counts  = map[string]int{}
	)
	for rows.Next() {
		var (
			key  string
			data []byte
		)
		if err := rows.Scan(&key, &data); err != nil {
			return fmt.Errorf("sqlstore: checking the encryption keys against %s: %w", name, err)
		}
		n++
		_, err := s.crypt.open(key, data, true)
		if err == nil {
			return nil // one decrypts: the keys fit the table
		}
		r := err.Error()
		if counts[r] == 0 {
			reasons = append(reasons, r)
		}
		counts[r]++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: checking the encryption keys against %s: %w", name, err)
	}
	if n == 0 {
		return nil // an empty table fits any keys
	}
	ids := make([]string, len(s.crypt.keys))
	for i, k := range s.crypt.keys {
		ids[i] = hex.EncodeToString(k.id[:])
	}
	var why []string
	for _, r := range reasons {
		why = append(why, fmt.Sprintf("%s (%s)", r, plural(counts[r], "session")))
	}
	return fmt.Errorf("sqlstore: none of the %d newest sessions in %s decrypts with the keys given (fingerprints %s): %s; "+
		"check WithEncryption's keys (a wrong or missing key would log every user out), or add WithPlaintextReads(true) to read rows written without encryption",
		n, name, strings.Join(ids, ", "), strings.Join(why, "; "))
}
