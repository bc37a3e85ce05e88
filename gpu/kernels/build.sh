#!/bin/sh
# Compiles every kernel file to PTX for compute_80 (the driver JIT-compiles it for sm_80, sm_90
# and newer) and records the sources' hash, which CI compares (it has no nvcc). Needs nvcc
# (CUDA 12.x or 13.x): run it on the GPU machine. `task gpu:ptx` runs this script.
set -eu
cd "$(dirname "$0")"
for f in *.cu; do
	nvcc -arch=compute_80 -ptx -O3 -std=c++17 -o "${f%.cu}.ptx" "$f"
done
sha256sum *.cu *.cuh > sources.sum
