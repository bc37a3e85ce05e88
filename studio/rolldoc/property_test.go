package rolldoc

import (
	"math/rand/v2"
	"testing"
)

// Random edit sequences: every edit keeps the invariants; undoing everything gives back the
// original document, redoing everything the final one.
func TestRandomEditsUndoRedo(t *testing.T) {
	for seed := range uint64(testSeeds) {
		r := rand.New(rand.NewPCG(seed, 7))
		d := New()
		for range 5 { // a few notes to start from, not undoable
			edit(d, r.IntN)
		}
		d.stack.Clear()
		start := snapshot(d)
		var log []string
		for range 60 {
			log = append(log, edit(d, r.IntN))
			if err := invariants(d); err != nil {
				t.Fatalf("seed %d after %v: %v", seed, log, err)
			}
		}
		end := snapshot(d)
		steps := 0
		for d.Undo() {
			steps++
			if err := invariants(d); err != nil {
				t.Fatalf("seed %d undo %d: %v", seed, steps, err)
			}
		}
		if diff := snapshot(d).diff(start); diff != "" {
			t.Fatalf("seed %d: undo all (%d steps) of %v: %s", seed, steps, log, diff)
		}
		for d.Redo() {
			if err := invariants(d); err != nil {
				t.Fatalf("seed %d redo: %v", seed, err)
			}
		}
		if diff := snapshot(d).diff(end); diff != "" {
			t.Fatalf("seed %d: redo all of %v: %s", seed, log, diff)
		}
	}
}

// FuzzEdits drives edit sequences from fuzz bytes and checks the same round trip.
func FuzzEdits(f *testing.F) {
	f.Add([]byte{0, 10, 20, 30, 4, 1, 2, 3, 13, 9, 9, 9, 9, 9, 24, 0, 25})
	f.Add([]byte{1, 200, 3, 9, 100, 11, 0, 19, 24, 1, 25, 8, 2})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, again and again"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 600 {
			return
		}
		pos := 0
		byteAt := func() int {
			if pos >= len(data) {
				return 0
			}
			pos++
			return int(data[pos-1])
		}
		next := func(n int) int {
			if n <= 0 {
				return 0
			}
			v := byteAt()
			if n > 256 { // two bytes for wide ranges
				v = v<<8 | byteAt()
			}
			return v % n
		}
		d := New()
		start := snapshot(d)
		for pos < len(data) {
			edit(d, next)
			if err := invariants(d); err != nil {
				t.Fatal(err)
			}
		}
		end := snapshot(d)
		for d.Undo() {
		}
		if diff := snapshot(d).diff(start); diff != "" {
			t.Fatalf("undo all: %s", diff)
		}
		for d.Redo() {
		}
		if diff := snapshot(d).diff(end); diff != "" {
			t.Fatalf("redo all: %s", diff)
		}
	})
}

var testSeeds = 40 // raised by hand for longer runs
