#!/bin/bash
# The piano-roll inpaint on the GPU machine, in one call: fresh PTX (task gpu:ptx's script), the
# fused path's checks (sampler kernel, device noise, device loop vs host loop, the model's CUDA
# parity against the PyTorch goldens, leakage), the 32-bar inpaint benchmark of the Go engine
# (fused + device sampler, and the op-by-op front with the host sampler), PyTorch's reference
# inpaint (eager and torch.compile reduce-overhead) on the same card, then the denoiser step,
# its per-kernel profile and the GEMMs. Build the test binaries first, on a machine with Go:
#   CGO_ENABLED=0 go test -c -o build/gpu/cuda.test ./gpu/cuda
#   CGO_ENABLED=0 go test -c -o build/gpu/pianoroll.test ./gpu/models/pianoroll
# and carry build/gpu. Result lines go to stdout and $OUT/results.txt, logs to $OUT/log, the new
# PTX to $OUT/ptx.tar. STAGES=abcdef selects stages (default all); PyTorch (c) runs last;
# SKIP_PTX=1 loads the tree's PTX instead of compiling.
set -uo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
OUT=${OUT:-/tmp/latent-inpaint}
BIN=$ROOT/${BIN:-build/gpu}
STAGES=${STAGES:-abcdef}
mkdir -p "$OUT"
say() { echo "$@" | tee -a "$OUT/results.txt"; }
keep() { tee -a "$OUT/log" | grep -E "$1" | tee -a "$OUT/results.txt"; }
say "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader) / $(nvcc --version | grep -o 'release [0-9.]*')"
if [ -n "${SKIP_PTX:-}" ]; then
	say "== PTX: the tree's (SKIP_PTX)"
	export LATENT_PTX_DIR=$ROOT/gpu/kernels
elif sh gpu/kernels/build.sh >>"$OUT/log" 2>&1; then
	say "== PTX: nvcc ok"
	tar -cf "$OUT/ptx.tar" -C gpu/kernels $(cd gpu/kernels && ls *.ptx sources.sum)
	export LATENT_PTX_DIR=$ROOT/gpu/kernels
else
	say "== PTX: nvcc FAILED (see log); the embedded PTX runs (no fused sampler)"
fi
export STUDIO_ENGINE=cuda
pat='PARITY|relative error|comparisons|^(--- |ok|FAIL|PASS)|panic|Error'
if [[ $STAGES == *a* ]]; then
	say "== a: checks"
	"$BIN/cuda.test" -test.v -test.run 'SamplerStep|RandNMatches|OutOfMemory|MLP|Attention|Gemm|Glue|Mapping|DenseRows' 2>&1 | keep "$pat"
	(cd gpu/models/pianoroll && "$BIN/pianoroll.test" -test.v -test.run 'Parity|Fused|Leakage|Normal') 2>&1 | keep "$pat"
	say "-- the device loop launched step by step (LATENT_FUSED_GRAPH=0), and without the σ-network hoisting too"
	(cd gpu/models/pianoroll && LATENT_FUSED_GRAPH=0 "$BIN/pianoroll.test" -test.v -test.run 'FusedSampler') 2>&1 | keep "$pat"
	(cd gpu/models/pianoroll && LATENT_FUSED_GRAPH=0 LATENT_FUSED_PRECOND=0 "$BIN/pianoroll.test" -test.v -test.run 'FusedSampler') 2>&1 | keep "$pat"
fi
if [[ $STAGES == *b* ]]; then
	say "== b: Go inpaint, 32 bars, 30 steps, U = 2 (60 evaluations)"
	(cd gpu/models/pianoroll && "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/(candidates|progress)' -test.benchtime 20x) 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- LATENT_FUSED_GRAPH=0 (step by step: a graph launch and a kernel per step)"
	(cd gpu/models/pianoroll && LATENT_FUSED_GRAPH=0 "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/candidates' -test.benchtime 20x) 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- LATENT_FUSED_GRAPH=0 LATENT_FUSED_PRECOND=0 (and the σ network inside every step's graph)"
	(cd gpu/models/pianoroll && LATENT_FUSED_GRAPH=0 LATENT_FUSED_PRECOND=0 "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/candidates' -test.benchtime 20x) 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- LATENT_FUSED_MLP=0 LATENT_FUSED_ATTN=0 (each layer as five kernels: norm+qkv, attention, out, norm+up+GEGLU, down)"
	(cd gpu/models/pianoroll && LATENT_FUSED_MLP=0 LATENT_FUSED_ATTN=0 "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/candidates' -test.benchtime 20x) 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- the default again (spread)"
	(cd gpu/models/pianoroll && "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/candidates' -test.benchtime 20x) 2>&1 | keep 'Benchmark|FAIL|panic'
	(cd gpu/models/pianoroll && timeout 90 "$BIN/pianoroll.test" -test.run '^$' -test.bench 'Inpaint32Bars/opbyop' -test.benchtime 3x) 2>&1 | keep 'Benchmark|FAIL|panic'
fi
if [[ $STAGES == *d* ]]; then
	say "== d: Go denoiser step (random weights)"
	"$BIN/cuda.test" -test.run '^$' -test.bench 'HDiT' -test.benchtime 200x 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- LATENT_FUSED_MLP=0 LATENT_FUSED_ATTN=0"
	LATENT_FUSED_MLP=0 LATENT_FUSED_ATTN=0 "$BIN/cuda.test" -test.run '^$' -test.bench 'HDiT' -test.benchtime 200x 2>&1 | keep 'Benchmark|FAIL|panic'
	say "-- the fused layer halves against the kernels they replace"
	"$BIN/cuda.test" -test.run '^$' -test.bench 'MLP|AttentionBlock|GlobalAttention|Glue' -test.benchtime 200x 2>&1 | keep 'Benchmark|FAIL|panic'
fi
if [[ $STAGES == *e* ]]; then
	say "== e: per-kernel profile"
	LATENT_PROFILE=1 "$BIN/cuda.test" -test.v -test.run HDiTProfile 2>&1 | keep 'PROFILE b=16|PROFILE b=1:|FAIL|panic'
fi
if [[ $STAGES == *f* ]]; then
	say "== f: GEMM vs cuBLASLt"
	"$BIN/cuda.test" -test.run '^$' -test.bench 'Gemm' -test.benchtime 200x 2>&1 | keep 'Benchmark|FAIL|panic'
fi
if [[ $STAGES == *c* ]]; then
	say "== c: PyTorch reference inpaint and denoiser"
	PYTHONUNBUFFERED=1 timeout ${TORCH_TIMEOUT:-600} python3 gpu/train/bench_inpaint.py assets/pianoroll-hdit.safetensors 2>>"$OUT/log" | tee -a "$OUT/results.txt"
fi
say "== done $(date -u +%FT%TZ)"
