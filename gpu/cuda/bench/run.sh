#!/bin/bash
# Everything the CUDA engine checks on the GPU machine, in one call (see README.md here):
#   PTX (task gpu:ptx's script) + ptxas resource report, parity data from PyTorch, the Go test
#   binary's parity tests and benchmarks, then PyTorch's timings at the same shapes.
# Build the Go binary first on a machine with Go:
#   CGO_ENABLED=0 go test -c -o build/cuda.test ./gpu/cuda
# and carry build/ to the GPU machine. Results land in $OUT (log.txt, test.txt, bench.txt, ptx.tar).
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/latent-bench}
mkdir -p "$OUT"
log() { echo "$@" | tee -a "$OUT/log.txt"; }
log "== $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader)"
log "== $(nvcc --version | tail -2 | head -1)"
if sh gpu/kernels/build.sh >>"$OUT/log.txt" 2>&1; then
	log "== PTX: nvcc ok"
	tar -cf "$OUT/ptx.tar" -C gpu/kernels $(cd gpu/kernels && ls *.ptx sources.sum)
else
	log "== PTX: nvcc FAILED (log above); tests below use the checked-in PTX"
fi
for f in gpu/kernels/*.cu; do
	nvcc -arch=sm_90 -cubin -O3 -std=c++17 -Xptxas -v -o /tmp/k.cubin "$f" 2>&1 | grep -E "registers|spill" | sed "s|^|$(basename $f): |"
done >>"$OUT/log.txt" 2>&1
grep -E "spill|registers" "$OUT/log.txt" | awk '{print}' | head -40
python3 gpu/cuda/bench/parity.py /tmp/parity 2>&1 | tee -a "$OUT/log.txt"
export LATENT_PTX_DIR=$PWD/gpu/kernels LATENT_PARITY_DIR=/tmp/parity
./build/cuda.test -test.v -test.run . 2>&1 | tee "$OUT/test.txt" | grep -E "PARITY|summed|^(--- |ok|FAIL|PASS)|panic|Error" | grep -v "PARITY backend" | head -120
./build/cuda.test -test.run '^$' -test.bench "${BENCH:-.}" -test.benchtime 200x >"$OUT/bench.txt" 2>&1; grep -E "FAIL|panic|Error" "$OUT/bench.txt" | head
[ -n "${SKIP_TORCH:-}" ] || PYTHONUNBUFFERED=1 python3 gpu/cuda/bench/torch_bench.py ${TORCH_ARGS:-} 2>>"$OUT/log.txt" >>"$OUT/bench.txt"
python3 gpu/cuda/bench/table.py "$OUT/bench.txt" | tee "$OUT/table.md"
