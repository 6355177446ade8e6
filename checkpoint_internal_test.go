package sqlstore

import "testing"

// TestCheckpointNext checks how many writes the checkpointer lets run before
// the next checkpoint, from what the last one found in the log.
func TestCheckpointNext(t *testing.T) {
	type ckpt struct{ n, log, copied, want int64 }
	for _, c := range []struct {
		name  string
		steps []ckpt
	}{
		// 250 pages a checkpoint (a limit of 1000): 62 writes adding 4
		// pages each fill that in 62 writes; 2 pages each, in 125.
		{"steady", []ckpt{{62, 248, 248, 62}, {62, 124, 124, 125}, {125, 250, 250, 125}}},
		// A reader kept the log from starting again: only the growth
		// since the last checkpoint counts.
		{"log kept", []ckpt{{62, 248, 100, 62}, {62, 372, 372, 125}}},
		// Large sessions: 50 pages a write, so 5 writes.
		{"large", []ckpt{{62, 3100, 3100, 5}, {5, 250, 250, 5}}},
		// No log (not WAL): as rarely as allowed.
		{"no log", []ckpt{{62, -1, -1, maxCheckpointEvery}}},
		// Writes that wrote nothing (a Touch below the threshold): keep.
		{"nothing written", []ckpt{{62, 248, 248, 62}, {62, 0, 0, 62}}},
		// Tiny writes: at most maxCheckpointEvery.
		{"tiny", []ckpt{{10000, 1, 1, maxCheckpointEvery}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := &checkpointer{target: 250}
			k.every.Store(62)
			for i, s := range c.steps {
				got := k.next(s.n, s.log, s.copied)
				if got != s.want {
					t.Fatalf("step %d: next(%d, %d, %d) = %d; want %d", i, s.n, s.log, s.copied, got, s.want)
				}
				k.every.Store(got)
			}
		})
	}
}
