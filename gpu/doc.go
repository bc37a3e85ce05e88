// Package gpu is the engine's front: tensors, the backend registry (Open "auto" | "cuda" |
// "cpu"), and Context, which runs ops on a backend with shape checks, a replayable arena,
// deferred errors and cancellation. Model code uses only this package; backends (gpu/cpu,
// gpu/cuda) implement Kernels and register themselves when imported. See README.md.
package gpu
