// Package memo remembers, per session id, a hash of the data last loaded or
// saved, so that the adapters can write an unchanged session with Touch
// instead of rewriting its data.
package memo

import (
	"crypto/sha256"
	"sync"
)

type digest = [sha256.Size]byte

// Memo remembers sha256(data) per sha256(id), for at most Max ids; a zero Max
// remembers nothing. It keeps two generations: new entries go to cur, and
// when cur is full it becomes old and a new cur starts, so the least recently
// used entries are dropped and at most Max entries are kept. It is safe for
// concurrent use.
type Memo struct {
	mu       sync.Mutex
	max      int
	cur, old map[digest]digest
}

// New returns a Memo of at most max ids.
func New(max int) *Memo { return &Memo{max: max} }

// Max returns the most ids m remembers.
func (m *Memo) Max() int { return m.max }

// Remember records data as the data of id.
func (m *Memo) Remember(id string, data []byte) {
	if m.max <= 0 {
		return
	}
	k, v := sha256.Sum256([]byte(id)), sha256.Sum256(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(k, v)
}

// put stores v under k; m.mu is held.
func (m *Memo) put(k, v digest) {
	if m.cur == nil {
		m.cur = make(map[digest]digest)
	}
	if _, ok := m.cur[k]; !ok && len(m.cur) >= max(m.max/2, 1) {
		// cur is full: it becomes old and the former old is dropped, so
		// at most 2*(max/2) <= max ids are kept (max for max == 1).
		m.old, m.cur = m.cur, make(map[digest]digest)
		if m.max < 2 {
			m.old = nil
		}
	}
	m.cur[k] = v
	delete(m.old, k)
}

// Forget drops what is remembered of id.
func (m *Memo) Forget(id string) {
	if m.max <= 0 {
		return
	}
	k := sha256.Sum256([]byte(id))
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cur, k)
	delete(m.old, k)
}

// Same reports whether data is what is remembered for id.
func (m *Memo) Same(id string, data []byte) bool {
	if m.max <= 0 {
		return false
	}
	k, v := sha256.Sum256([]byte(id)), sha256.Sum256(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.cur[k]; ok {
		return h == v
	}
	if h, ok := m.old[k]; ok {
		m.put(k, h) // used: keep it a generation longer
		return h == v
	}
	return false
}

// Len returns the number of remembered ids.
func (m *Memo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.old)
}
