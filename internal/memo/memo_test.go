package memo

import (
	"fmt"
	"sync"
	"testing"
)

func TestMemoryBounded(t *testing.T) {
	for _, max := range []int{1, 2, 7, 100} {
		m := New(max)
		for i := 0; i < 10*max+10; i++ {
			m.Remember(fmt.Sprint("id", i), []byte{byte(i)})
			if n := m.Len(); n > max {
				t.Fatalf("max %d: %d entries", max, n)
			}
		}
		last := 10*max + 9
		if !m.Same(fmt.Sprint("id", last), []byte{byte(last)}) {
			t.Fatalf("max %d: the latest id was forgotten", max)
		}
		if m.Same(fmt.Sprint("id", last), []byte("other")) {
			t.Fatalf("max %d: other data matched", max)
		}
		if m.Same("tok0", []byte{0}) {
			t.Fatalf("max %d: the oldest id was kept", max)
		}
	}
	// A id in use survives a generation change.
	m := New(10)
	m.Remember("hot", []byte("x"))
	for i := 0; i < 100; i++ {
		m.Remember(fmt.Sprint("id", i), nil)
		if !m.Same("hot", []byte("x")) {
			t.Fatalf("a id used on every request was forgotten after %d others", i)
		}
	}
	// A id not used for 7 other ids (max 10) is still remembered (in
	// the old generation), and is forgotten after max others.
	m = New(10)
	m.Remember("idle", []byte("x"))
	for i := 0; i < 7; i++ {
		m.Remember(fmt.Sprint("other", i), nil)
	}
	if !m.Same("idle", []byte("x")) {
		t.Fatal("a id was forgotten after 7 others (max 10)")
	}
	for i := 0; i < 10; i++ {
		m.Remember(fmt.Sprint("more", i), nil)
	}
	if m.Same("idle", []byte("x")) {
		t.Fatal("a id was kept after max others")
	}
	off := New(0)
	off.Remember("a", nil)
	if off.Same("a", nil) || off.Len() != 0 {
		t.Fatal("New(0) remembered")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := New(64)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				tok := fmt.Sprint("id", (g*7+i)%100)
				m.Remember(tok, []byte(tok))
				m.Same(tok, []byte(tok))
				if i%10 == 0 {
					m.Forget(tok)
				}
			}
		}()
	}
	wg.Wait()
	if n := m.Len(); n > 64 {
		t.Fatalf("%d entries, max 64", n)
	}
}
