package gpu_test

import (
	"context"
	"fmt"
	"log"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu" // registers the "cpu" backend
)

// A pass through the front: upload, a few ops, one error check, download.
func Example() {
	gpu.Logf = func(string, ...any) {} // keep the example's output to its result
	be, err := gpu.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer be.Close()
	w, err := gpu.NewWeightF32(be, []float32{1, 0, 0, 1, 1, 1}, 3, 2) // Linear(2 → 3), [out, in]
	if err != nil {
		log.Fatal(err)
	}
	c := gpu.NewContext(context.Background(), be)
	defer c.Close()
	for pass := range 2 { // the second pass reuses the planned arena
		c.Reset()
		x := c.Upload([]float32{1, 2, 3, 4}, 2, 2)
		y := c.Softmax(c.Linear(x, w, nil))
		out, err := c.Download(y) // the first error of the pass, if any, comes back here
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("pass %d: %.3f\n", pass, out)
	}
	// A shape mismatch names the op and the shapes; later ops do nothing.
	c.Reset()
	bad := c.Linear(c.Upload([]float32{1, 2, 3}, 1, 3), w, nil)
	_, err = c.Download(c.GELU(bad))
	fmt.Println(err)
	// Output:
	// pass 0: [0.090 0.245 0.665 0.017 0.047 0.936]
	// pass 1: [0.090 0.245 0.665 0.017 0.047 0.936]
	// gpu: linear: input F32[1,3] does not fit weight F32[3,2] (want [..., 2])
}
