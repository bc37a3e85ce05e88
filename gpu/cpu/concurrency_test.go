package cpu

import (
	"math/rand/v2"
	"sync"
	"testing"

	"latentstudio/gpu"
)

// TestContextsShareTheBackend runs the HDiT-shaped network from several goroutines at once,
// each with its own Context on one backend (as concurrent sessions do), and checks that every
// result equals the one computed alone.
func TestContextsShareTheBackend(t *testing.T) {
	be := New(2)
	defer be.Close()
	net := newHNet(be)
	img := randn(rand.New(rand.NewPCG(6, 6)), 8*128*64)
	run := func(c *gpu.Context, sigma float32) ([]float32, error) {
		c.Reset()
		return c.Download(net.forward(c, c.Upload(img, 1, 8, 128, 64), c.Upload([]float32{sigma}, 1)))
	}
	want := map[float32][]float32{}
	for _, s := range []float32{0.1, -0.4, 0.9} {
		c := gpu.NewContext(t.Context(), be)
		v, err := run(c, s)
		if err != nil {
			t.Fatal(err)
		}
		want[s] = v
		c.Close()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		s := []float32{0.1, -0.4, 0.9}[i%3]
		wg.Go(func() {
			c := gpu.NewContext(t.Context(), be)
			defer c.Close()
			for range 2 {
				got, err := run(c, s)
				if err != nil {
					errs <- err
					return
				}
				for j := range got {
					if got[j] != want[s][j] {
						t.Errorf("goroutine %d: element %d = %v, alone %v", i, j, got[j], want[s][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestThreadCountDoesNotChangeResults: every output element is computed by one worker in a
// fixed order, so 1, 2 or 3 threads give the same bits (the same seed gives the same music on
// any machine with the same microkernel).
func TestThreadCountDoesNotChangeResults(t *testing.T) {
	img := randn(rand.New(rand.NewPCG(8, 8)), 2*8*128*64)
	var first []float32
	for _, threads := range []int{1, 2, 3} {
		be := New(threads)
		net := newHNet(be)
		c := gpu.NewContext(t.Context(), be)
		out, err := c.Download(net.forward(c, c.Upload(img, 2, 8, 128, 64), c.Upload([]float32{0.3, -0.2}, 2)))
		be.Close()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
			continue
		}
		for i := range out {
			if out[i] != first[i] {
				t.Fatalf("%d threads: element %d = %v, 1 thread %v", threads, i, out[i], first[i])
			}
		}
	}
}
